"""urbanData: FROST-Server (OGC SensorThings API) with HTTP, MQTT over WebSocket, PostGIS and Keycloak login.

Each test plans a municipality from a tenant file written for it (only this module booked, so the test does
not depend on other modules) and states what the plan must contain.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalogue.modules.urbandata import CLIENT_ROLES, SPEC
from components import k8s as kb
from components.tenant import netpol
from tests.module_contract import check_module
from tests.plan_files import add_installed_crds, plan_booking
from urbanstack.checks import schemas
from urbanstack.checks.base import load_plan
from urbanstack.engine.plan import write_plan

SLUG = "contract"


def plan_with(plan_stack, tmp_path, options: dict | None, plan_name: str = "medium", key: str = "urbanData"):
    return plan_booking(plan_stack, tmp_path / "tenants", {key: options or {}}, plan_name)


def one(plan, kind, name):
    (obj,) = plan.find(kind, name)
    return obj.inputs


def container(plan, workload, name, kind="Deployment"):
    pod = one(plan, kind, workload)["spec"]["template"]["spec"]
    (c,) = [c for c in pod["containers"] if c["name"] == name]
    return c


def env(c) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def module_objects(plan, name="urbandata"):
    return [r for r in plan.kube_objects()
            if ((r.inputs.get("metadata") or {}).get("labels") or {}).get("urban-stack/module") == name]


@pytest.fixture
def full(plan_stack, tmp_path):
    return plan_with(plan_stack, tmp_path, {"mqtt": True, "publicRead": True})


@pytest.fixture
def private_http_only(plan_stack, tmp_path):
    return plan_with(plan_stack, tmp_path, {"mqtt": False, "publicRead": False})


def test_the_module_honours_the_module_contract(full, private_http_only):
    for plan, tenant in (full, private_http_only):
        assert check_module(plan, SPEC, tenant) == []


def test_a_municipality_without_urban_data_gets_no_frost(plan_stack, tmp_path):
    plan, _ = plan_with(plan_stack, tmp_path, {}, key="lowCode")
    assert module_objects(plan) == []
    assert not [r for r in plan.kube_objects() if r.inputs.get("kind") == "Database"
                and r.inputs["spec"]["name"] == "sensorthings"]


def test_frost_http_stores_in_the_sensorthings_database_with_its_owner_role(full):
    plan, _ = full
    e = env(container(plan, "urbandata-http", "frost-http"))
    assert e["persistence_db_url"] == f"jdbc:postgresql://postgis-rw.{SLUG}.svc:5432/sensorthings"
    assert e["persistence_db_username"] == {"secretKeyRef": {"name": "db-sensorthings", "key": "username"}}
    assert e["persistence_db_password"] == {"secretKeyRef": {"name": "db-sensorthings", "key": "password"}}
    assert e["persistence_autoUpdateDatabase"] == "true"
    (db,) = [r.inputs for r in plan.kube_objects() if r.inputs.get("kind") == "Database"
             and r.inputs["spec"]["name"] == "sensorthings"]
    assert db["spec"]["owner"] == "sensorthings"


def test_only_the_http_server_migrates_the_schema(full):
    plan, _ = full
    assert env(container(plan, "urbandata-mqtt", "frost-mqtt"))["persistence_autoUpdateDatabase"] == "false"


def test_the_service_root_url_is_the_public_https_address(full):
    plan, tenant = full
    for workload, name in (("urbandata-http", "frost-http"), ("urbandata-mqtt", "frost-mqtt")):
        assert env(container(plan, workload, name))["serviceRootUrl"] == f"https://urbandata.{tenant.domain}/FROST-Server"


def test_login_is_frost_keycloak_provider_configured_from_the_municipality_realm(full):
    plan, _ = full
    for workload, name in (("urbandata-http", "frost-http"), ("urbandata-mqtt", "frost-mqtt")):
        e = env(container(plan, workload, name))
        assert e["auth_provider"] == "de.fraunhofer.iosb.ilt.frostserver.auth.keycloak.KeycloakAuthProvider"
        assert e["auth_keycloakConfigFile"] == "/etc/frost/keycloak/keycloak.json"
        assert "auth_keycloakConfigUrl" not in e, "no download through the public address"
        assert {e[f"auth_role_{r}"] for r in ("read", "create", "update", "delete", "admin")} == set(
            CLIENT_ROLES)


def test_frost_roles_are_declared_as_client_roles_for_the_realm_groups():
    roles = SPEC.client_roles
    assert roles["read"] == ("admins", "editors", "viewers")
    assert "viewers" not in roles["create"] + roles["update"] + roles["delete"]
    assert roles["admin"] == ("admins",)


def test_public_read_allows_anonymous_get_and_cross_origin_reads_only(full):
    plan, _ = full
    e = env(container(plan, "urbandata-http", "frost-http"))
    assert e["auth_allowAnonymousRead"] == "true"
    assert e["http_cors_enable"] == "true"
    assert e["http_cors_allowed_methods"] == "GET, HEAD, OPTIONS"


def test_without_public_read_every_request_needs_a_login_and_cors_stays_off(private_http_only):
    plan, _ = private_http_only
    e = env(container(plan, "urbandata-http", "frost-http"))
    assert e["auth_allowAnonymousRead"] == "false"
    assert "http_cors_enable" not in e


def test_mqtt_is_offered_as_secure_websocket_on_the_module_host(full):
    plan, tenant = full
    route = one(plan, "HTTPRoute", "urbandata")
    assert route["spec"]["hostnames"] == [f"urbandata.{tenant.domain}"]
    rules = {r["matches"][0]["path"]["value"]: r["backendRefs"][0] for r in route["spec"]["rules"]}
    assert rules == {"/": {"name": "urbandata-http", "port": 8080}, "/mqtt": {"name": "urbandata-mqtt", "port": 9876}}
    e = env(container(plan, "urbandata-mqtt", "frost-mqtt"))
    assert e["mqtt_WebsocketPort"] == "9876"
    assert e["mqtt_exposedEndpoints"] == f"wss://urbandata.{tenant.domain}/mqtt"
    assert one(plan, "Service", "urbandata-mqtt")["spec"]["ports"] == [
        {"name": "websocket", "port": 9876, "targetPort": "websocket", "protocol": "TCP"}]


def test_http_and_mqtt_exchange_events_over_the_mosquitto_bus(full):
    plan, _ = full
    for workload, name in (("urbandata-http", "frost-http"), ("urbandata-mqtt", "frost-mqtt")):
        e = env(container(plan, workload, name))
        assert e["bus_busImplementationClass"] == "de.fraunhofer.iosb.ilt.frostserver.messagebus.MqttMessageBus"
        assert e["bus_mqttBroker"] == "tcp://urbandata-bus:1883"
    conf = one(plan, "ConfigMap", "urbandata-bus")["data"]["mosquitto.conf"]
    assert "listener 1883" in conf and "persistence false" in conf


def test_without_mqtt_there_is_no_mqtt_server_no_bus_and_http_uses_the_in_process_bus(private_http_only):
    plan, _ = private_http_only
    names = {(r.inputs["kind"], r.inputs["metadata"]["name"]) for r in module_objects(plan)}
    assert not any(n.startswith(("urbandata-mqtt", "urbandata-bus")) for _, n in names), names
    e = env(container(plan, "urbandata-http", "frost-http"))
    assert e["bus_busImplementationClass"] == "de.fraunhofer.iosb.ilt.frostserver.messagebus.InternalMessageBus"
    assert [r["matches"][0]["path"]["value"] for r in one(plan, "HTTPRoute", "urbandata")["spec"]["rules"]] == ["/"]


def test_network_policies_allow_exactly_the_frost_flows(full):
    plan, _ = full
    http = one(plan, "NetworkPolicy", "urbandata-http")["spec"]
    assert [p["port"] for p in http["ingress"][0]["ports"]] == [8080]
    assert "urban-gateway" in str(http["ingress"][0]["from"])
    bus_peer = netpol.to_pods(kb.selector_labels("urbandata", f"{SLUG}-urbandata", "bus"), 1883)
    assert http["egress"] == [netpol.to_database(), netpol.to_keycloak(SLUG), bus_peer]
    mqtt = one(plan, "NetworkPolicy", "urbandata-mqtt")["spec"]
    assert [p["port"] for p in mqtt["ingress"][0]["ports"]] == [9876]
    assert mqtt["egress"] == [netpol.to_database(), netpol.to_keycloak(SLUG), bus_peer]
    bus = one(plan, "NetworkPolicy", "urbandata-bus")["spec"]
    sources = [rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for rule in bus["ingress"]]
    assert sorted(sources) == ["http", "mqtt"]
    assert bus["egress"] == [] and bus["policyTypes"] == ["Ingress", "Egress"]


def test_every_container_runs_read_only_with_probes_and_sized_by_plan(plan_stack, tmp_path):
    plan, _ = plan_with(plan_stack, tmp_path, {"mqtt": True}, plan_name="large")
    http = one(plan, "Deployment", "urbandata-http")
    assert http["spec"]["replicas"] == 3
    assert plan.find("PodDisruptionBudget", "urbandata-http")
    for workload in ("urbandata-http", "urbandata-mqtt", "urbandata-bus"):
        for c in one(plan, "Deployment", workload)["spec"]["template"]["spec"]["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
            assert "livenessProbe" in c and "readinessProbe" in c, c["name"]
    assert container(plan, "urbandata-http", "frost-http")["resources"]["requests"] == {"cpu": "1000m", "memory": "2048Mi"}
    mounts = {m["mountPath"] for m in container(plan, "urbandata-http", "frost-http")["volumeMounts"]}
    assert {"/tmp", "/usr/local/tomcat/temp", "/usr/local/tomcat/work", "/usr/local/tomcat/logs"} <= mounts


def test_every_object_validates_against_the_kubernetes_and_crd_schemas(full, tmp_path, real_plan_dir):
    plan, _ = full
    write_plan([plan], tmp_path / "plan")
    add_installed_crds(tmp_path / "plan", real_plan_dir)  # the CRDs shared installs
    mine = {f"{r.inputs['kind'].lower()}-{SLUG}-{r.inputs['metadata']['name']}" for r in module_objects(plan)}
    assert mine <= {p.stem for p in (tmp_path / "plan" / SLUG).glob("*.yaml")}
    result = schemas.run(load_plan(tmp_path / "plan"))
    failures = [f for f in result.failures if Path(f.file).stem in mine]
    assert failures == []


def test_the_sensorthings_database_has_the_postgis_extension(full):
    plan, _ = full
    (db,) = [r.inputs for r in plan.kube_objects() if r.inputs.get("kind") == "Database"
             and r.inputs["spec"]["name"] == "sensorthings"]
    assert {"name": "postgis", "ensure": "present"} in db["spec"].get("extensions", [])
