"""The modules' OIDC back channel (discovery, token, userinfo, keys) goes to their municipality's internal listener of
the shared Gateway (never to Keycloak's pods), the browser's front channel to the public issuer, so logins work
however the Gateway's public address is published (docs/operations.md, "Traffic to the Gateway's public address").
Stated on the offline plan of a synthetic municipality booking every module with a login
(tests/plan_files.plan_booking: slug `contract`)."""

from __future__ import annotations

import json

import pytest

from catalogue import labels, names
from catalogue.modules import CATALOGUE
from tests.plan_files import SLUG, plan_booking

BASE = f"http://backchannel-{SLUG}.urban-gateway.svc:{names.backchannel_port(SLUG)}"
INTERNAL = f"{BASE}/realms/{SLUG}"


@pytest.fixture(scope="module")
def plan(plan_stack, tmp_path_factory):
    plan, _ = plan_booking(plan_stack, tmp_path_factory.mktemp("backchannel") / "tenants",
                           {"dashboards": {}, "lowCode": {}, "urbanData": {}, "openData": {}, "rei3": {}})
    return plan


def secret_data(plan, name) -> dict:
    (secret,) = plan.find("Secret", name)
    return secret.inputs["stringData"]


def container(plan, kind, workload, name) -> dict:
    (obj,) = plan.find(kind, workload)
    (c,) = [c for c in obj.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return c


def env(c) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def test_no_secret_or_container_of_a_municipality_names_keycloaks_in_cluster_service(plan):
    """Issue 23 item 2: the module pods' back channel no longer goes to keycloak-service:8080 (no network path)."""
    for obj in plan.kube_objects():
        if (obj.inputs.get("metadata") or {}).get("namespace") == SLUG:
            assert names.KEYCLOAK_SERVICE not in json.dumps(obj.inputs), obj.inputs["metadata"]["name"]


def test_the_pods_that_call_the_back_channel_carry_the_label_their_catalogue_entry_declares(plan):
    declared = {f"{spec.name}-{workload}": kind for spec in CATALOGUE.values()
                for workload, kind in spec.backchannel.items()}
    assert declared == {"dashboards-web": "internal", "lowcode-editor": "internal", "urbandata-http": "internal",
                        "urbandata-mqtt": "internal", "opendata-web": "public", "rei3-app": "public"}
    seen = {}
    for kind in ("Deployment", "StatefulSet"):
        for obj in plan.kube_objects():
            if obj.inputs.get("kind") != kind:
                continue
            template = obj.inputs["spec"]["template"]["metadata"]["labels"]
            if labels.OIDC_BACKCHANNEL in template:
                seen[obj.inputs["metadata"]["name"]] = template[labels.OIDC_BACKCHANNEL]
                assert labels.OIDC_BACKCHANNEL not in obj.inputs["spec"]["selector"]["matchLabels"], \
                    "the selector is immutable: the label stays out of it"
    assert seen == declared


def test_every_oidc_secret_names_the_public_login_page_and_internal_back_channel_endpoints(plan):
    for module in ("dashboards", "lowcode", "urbandata", "opendata"):
        data = secret_data(plan, f"{module}-oidc")
        issuer = data["issuer-url"]
        assert issuer.startswith("https://") and issuer.endswith(f"/realms/{SLUG}")
        assert data["auth-url"] == f"{issuer}/protocol/openid-connect/auth", "the browser opens the public page"
        assert data["backchannel-url"] == INTERNAL
        assert data["token-url"] == f"{INTERNAL}/protocol/openid-connect/token"
        assert data["userinfo-url"] == f"{INTERNAL}/protocol/openid-connect/userinfo"
        assert data["jwks-url"] == f"{INTERNAL}/protocol/openid-connect/certs"


def test_municipality_realms_accept_the_plain_http_back_channel_from_pod_addresses(plan):
    (secret,) = plan.find("Secret", f"realm-{SLUG}")
    realm = json.loads(secret.inputs["stringData"]["realm.json"])
    assert realm["sslRequired"] == "external", "with 'all' Keycloak answers 'HTTPS required' to the back channel"


def test_node_red_proxy_redeems_and_verifies_in_cluster_and_sends_the_browser_to_the_public_page(plan):
    e = env(container(plan, "StatefulSet", "lowcode-editor", "oauth2-proxy"))
    assert e["OAUTH2_PROXY_SKIP_OIDC_DISCOVERY"] == "true"
    ref = {name: e[name]["secretKeyRef"] for name in ("OAUTH2_PROXY_OIDC_ISSUER_URL", "OAUTH2_PROXY_LOGIN_URL",
                                                       "OAUTH2_PROXY_REDEEM_URL", "OAUTH2_PROXY_OIDC_JWKS_URL",
                                                       "OAUTH2_PROXY_PROFILE_URL")}
    assert {r["name"] for r in ref.values()} == {"lowcode-oidc"}
    assert {n: r["key"] for n, r in ref.items()} == {
        "OAUTH2_PROXY_OIDC_ISSUER_URL": "issuer-url", "OAUTH2_PROXY_LOGIN_URL": "auth-url",
        "OAUTH2_PROXY_REDEEM_URL": "token-url", "OAUTH2_PROXY_OIDC_JWKS_URL": "jwks-url",
        "OAUTH2_PROXY_PROFILE_URL": "userinfo-url"}


def test_superset_reads_discovery_from_the_in_cluster_service(plan):
    e = env(container(plan, "Deployment", "dashboards-web", "superset"))
    assert e["OIDC_BACKCHANNEL_URL"] == {"secretKeyRef": {"name": "dashboards-oidc", "key": "backchannel-url"}}
    assert "OIDC_ISSUER" not in e


def test_frost_reads_an_adapter_configuration_that_points_at_keycloaks_in_cluster_service(plan):
    adapter = json.loads(secret_data(plan, "urbandata-oidc")["keycloak.json"])
    assert adapter["auth-server-url"] == BASE and adapter["realm"] == SLUG
    assert adapter["resource"] == "urbandata" and adapter["use-resource-role-mappings"] is True
    assert adapter["ssl-required"] == "external", "Envoy reaches FROST over plain HTTP from a pod address"
    for kind, workload, name in (("Deployment", "urbandata-http", "frost-http"),
                                 ("Deployment", "urbandata-mqtt", "frost-mqtt")):
        c = container(plan, kind, workload, name)
        assert env(c)["auth_keycloakConfigFile"] == "/etc/frost/keycloak/keycloak.json"
        assert {"name": "keycloak", "mountPath": "/etc/frost/keycloak", "readOnly": True} in c["volumeMounts"]
    (http,) = plan.find("Deployment", "urbandata-http")
    (volume,) = [v for v in http.inputs["spec"]["template"]["spec"]["volumes"] if v["name"] == "keycloak"]
    assert volume["secret"]["secretName"] == "urbandata-oidc"
