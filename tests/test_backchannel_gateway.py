"""The internal back channel on the shared Gateway (components/shared/gateway.py): one listener per municipality on a
port that is a pure function of its slug, one route with its realm's exact back-channel paths, a ClusterIP Service
in front of the Envoy pods; two municipalities on one port, or more listeners than the Gateway API allows, are
refused naming the files."""

from __future__ import annotations

import itertools

import pytest

from catalogue import names
from catalogue.shared_config import load_file
from catalogue.tenants import load_all
from components.shared import gateway


def municipalities(slugs) -> dict:
    verl = load_all()["verl"]
    return {slug: verl.model_copy(update={"slug": slug, "domain": f"{slug}.example.org"}) for slug in slugs}


def test_a_municipalitys_port_does_not_move_when_others_join_or_leave():
    few = gateway.backchannel_ports(municipalities(["verl", "rietberg"]))
    more = gateway.backchannel_ports(municipalities(["verl", "rietberg", "guetersloh", "harsewinkel", "werther"]))
    assert few == {slug: more[slug] for slug in few}
    assert all(names.BACKCHANNEL_PORT_BASE <= p < names.BACKCHANNEL_PORT_BASE + names.BACKCHANNEL_PORT_SPAN
               for p in more.values())


def test_two_municipalities_on_one_port_are_refused_naming_both_files():
    clash = next(f"town-{i}" for i in itertools.count() if names.backchannel_port(f"town-{i}")
                 == names.backchannel_port("verl"))
    first, second = sorted([clash, "verl"])
    with pytest.raises(ValueError, match=rf"tenants/{second}\.yaml: slug: its back-channel port "
                                         rf"{names.backchannel_port('verl')} .* tenants/{first}\.yaml"):
        gateway.listeners(load_file(), municipalities(["verl", clash]))


def test_each_municipality_gets_an_internal_http_listener_that_admits_routes_from_urban_identity_only():
    tenants = municipalities(["verl", "rietberg"])
    by_name = {lst["name"]: lst for lst in gateway.listeners(load_file(), tenants)}
    for slug in tenants:
        listener = by_name[names.backchannel_listener(slug)]
        assert listener == {"name": f"backchannel-{slug}", "protocol": "HTTP", "port": names.backchannel_port(slug),
                            "allowedRoutes": gateway.routes_from(names.NS_IDENTITY)}
        assert "hostname" not in listener and "tls" not in listener


def test_twenty_municipalities_fit_on_the_gateway_and_twenty_one_do_not():
    slugs = [f"town-{i}" for i in range(21)]
    assert len(gateway.listeners(load_file(), municipalities(slugs[:20]))) == 63
    with pytest.raises(ValueError, match=r"21 municipalities need 66 listeners .* at most 64"):
        gateway.listeners(load_file(), municipalities(slugs))


def test_the_route_serves_exactly_the_realms_discovery_token_userinfo_and_keys_paths():
    spec = gateway.backchannel_route_spec("verl")
    assert spec["parentRefs"] == [{"name": names.GATEWAY_NAME, "namespace": names.NS_GATEWAY,
                                   "sectionName": "backchannel-verl"}]
    (rule,) = spec["rules"]
    assert [m["path"] for m in rule["matches"]] == [
        {"type": "Exact", "value": "/realms/verl/.well-known/openid-configuration"},
        {"type": "Exact", "value": "/realms/verl/protocol/openid-connect/token"},
        {"type": "Exact", "value": "/realms/verl/protocol/openid-connect/userinfo"},
        {"type": "Exact", "value": "/realms/verl/protocol/openid-connect/certs"}]
    assert "headers" not in str(rule["matches"]) and "method" not in str(rule["matches"])


def test_the_service_in_front_of_the_envoy_pods_is_cluster_internal_with_one_port_per_municipality():
    tenants = municipalities(["verl", "rietberg"])
    spec = gateway.backchannel_service_spec(tenants)
    assert spec["type"] == "ClusterIP" and spec["selector"] == names.GATEWAY_POD_LABELS
    assert sorted(p["port"] for p in spec["ports"]) == sorted(names.backchannel_port(s) for s in tenants)
    assert all(p["targetPort"] == p["port"] for p in spec["ports"]), \
        "Envoy Gateway keeps listener ports from 1024 up as container ports"
    assert names.backchannel_base_url("verl") == \
        f"http://keycloak-backchannel.urban-gateway.svc:{names.backchannel_port('verl')}"
