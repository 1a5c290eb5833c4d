"""The internal back channel through the Gateway (components/tenant/gateway.py): each municipality's listener in its
own ListenerSet on a port that is a pure function of its slug, one route with its realm's exact back-channel paths
next to Keycloak, a ClusterIP Service in front of the Envoy pods with that port only; two municipalities on one port
are refused when the tenant files are read, naming the newer file."""

from __future__ import annotations

import itertools
import os

import pytest

from catalogue import names
from catalogue.tenants import TenantError, load_all
from components.tenant import gateway


def test_a_municipalitys_port_is_a_pure_function_of_its_slug_in_the_back_channel_range():
    ports = {slug: names.backchannel_port(slug) for slug in ("verl", "rietberg", "guetersloh", "werther")}
    assert ports == {slug: names.backchannel_port(slug) for slug in reversed(list(ports))}
    assert all(names.BACKCHANNEL_PORT_BASE <= p < names.BACKCHANNEL_PORT_BASE + names.BACKCHANNEL_PORT_SPAN
               for p in ports.values())


def test_two_municipalities_on_one_port_are_refused_naming_the_newer_file(tenants_copy):
    clash = next(f"town-{i}" for i in itertools.count() if names.backchannel_port(f"town-{i}")
                 == names.backchannel_port("verl"))
    text = (tenants_copy / "verl.yaml").read_text()
    text = text.replace("slug: verl", f"slug: {clash}").replace("urbanstack.verl.example", f"{clash}.example") \
        .replace('ags: "05754044"', 'ags: "05754999"')
    newer = tenants_copy / f"{clash}.yaml"
    newer.write_text(text)
    older = (tenants_copy / "verl.yaml").stat().st_mtime
    os.utime(newer, (older + 60, older + 60))
    with pytest.raises(TenantError) as err:
        load_all([tenants_copy])
    message = str(err.value)
    assert f"{clash}.yaml" in message and f"back-channel port {names.backchannel_port('verl')}" in message
    assert "verl.yaml:3" in message, "names the file that has the port already"
    assert not any(line.startswith(str(tenants_copy / "verl.yaml")) and "back-channel" in line
                   for line in message.splitlines()), "the older file is not blamed"


def test_the_example_tenants_load_with_distinct_ports():
    tenants = load_all()
    assert len({names.backchannel_port(slug) for slug in tenants}) == len(tenants)


def test_each_municipality_gets_an_internal_http_listener_that_admits_routes_from_urban_identity_only():
    listener = gateway.backchannel_listener("verl")
    assert listener == {"name": "backchannel", "protocol": "HTTP", "port": names.backchannel_port("verl"),
                        "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {
                            "matchLabels": {"kubernetes.io/metadata.name": names.NS_IDENTITY}}},
                            "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]}}
    assert "hostname" not in listener and "tls" not in listener


def test_the_route_serves_exactly_the_realms_discovery_token_userinfo_and_keys_paths():
    spec = gateway.backchannel_route_spec("verl")
    assert spec["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "ListenerSet",
                                   "name": names.LISTENER_SET, "namespace": "verl", "sectionName": "backchannel"}]
    (rule,) = spec["rules"]
    assert [m["path"] for m in rule["matches"]] == [
        {"type": "Exact", "value": "/realms/verl/.well-known/openid-configuration"},
        {"type": "Exact", "value": "/realms/verl/protocol/openid-connect/token"},
        {"type": "Exact", "value": "/realms/verl/protocol/openid-connect/userinfo"},
        {"type": "Exact", "value": "/realms/verl/protocol/openid-connect/certs"}]
    assert "headers" not in str(rule["matches"]) and "method" not in str(rule["matches"])


def test_the_service_in_front_of_the_envoy_pods_is_cluster_internal_with_the_municipalitys_port_only():
    spec = gateway.backchannel_service_spec("verl")
    port = names.backchannel_port("verl")
    assert spec["type"] == "ClusterIP" and spec["selector"] == names.GATEWAY_POD_LABELS
    assert spec["ports"] == [{"name": "backchannel", "port": port, "targetPort": port, "protocol": "TCP"}], \
        "Envoy Gateway keeps listener ports from 1024 up as the proxy's ports"
    assert names.backchannel_base_url("verl") == f"http://backchannel-verl.urban-gateway.svc:{port}"


def test_the_municipalitys_policy_on_the_envoy_pods_admits_only_its_declared_pods_on_its_port():
    (rule,) = gateway.backchannel_ingress("verl")
    assert rule["ports"] == [{"protocol": "TCP", "port": names.backchannel_port("verl")}]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "verl"}},
                             "podSelector": {"matchLabels": {"urban-stack/oidc-backchannel": "internal"}}}]


def test_the_back_channel_objects_in_shared_namespaces_come_from_the_municipalitys_stack(plan_stack):
    verl = plan_stack("verl")
    route = verl.find("HTTPRoute", "verl-backchannel", names.NS_IDENTITY)
    service = verl.find("Service", "backchannel-verl", names.NS_GATEWAY)
    policy = verl.find("NetworkPolicy", "backchannel-verl", names.NS_GATEWAY)
    assert route and service and policy
    shared = plan_stack("shared")
    in_shared = [r for r in shared.kube_objects() if "backchannel" in str((r.inputs.get("metadata") or {}).get("name"))]
    assert in_shared == [], "the shared stack makes nothing per municipality for the back channel"
