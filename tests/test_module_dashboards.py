"""The `dashboards` module: Apache Superset with a Celery worker, a Valkey cache and login through the realm.

Stated on the offline plans of synthetic municipalities that book only what a test needs
(tests/plan_files.plan_booking: slug `contract`, domain `contract.example.org`), so that these tests
depend on no other module.
"""

from __future__ import annotations

import re
import sys
import types

import pytest

from catalogue import names
from catalogue.modules.dashboards import SPEC
from catalogue.shared_config import load_file
from catalogue.versions import IMAGES
from components import k8s as kb
from components.tenant import netpol
from tests.module_contract import check_module
from tests.plan_files import plan_booking as shared_plan_booking

REGISTRY = load_file().imageRegistry
"""Where the pods pull the images built here from (stacks/Pulumi.shared.yaml)."""


def plan_booking(plan_stack, tmp_path, modules: dict, plan_name: str = "small"):
    return shared_plan_booking(plan_stack, tmp_path / "tenants", modules, plan_name)


def one(plan, kind, name):
    (obj,) = plan.find(kind, name)
    return obj.inputs


def container(plan, kind, name):
    (c,) = one(plan, kind, name)["spec"]["template"]["spec"]["containers"]
    return c


def env_of(c) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def init_job(plan):
    (job,) = [r.inputs for r in plan.find("Job") if r.inputs["metadata"]["name"].startswith("dashboards-init-")]
    return job


def init_script(plan) -> str:
    (c,) = init_job(plan)["spec"]["template"]["spec"]["containers"]
    return c["command"][-1]


@pytest.fixture(scope="module")
def booked(plan_stack, tmp_path_factory):
    """A municipality (plan `small`) that books dashboards with default options."""
    plan, _ = plan_booking(plan_stack, tmp_path_factory.mktemp("booked"), {"dashboards": {}})
    return plan


@pytest.fixture
def superset_config(booked, monkeypatch):
    """superset_config.py from the ConfigMap, executed with stand-ins for Superset's own modules."""
    files = one(booked, "ConfigMap", "dashboards-config")["data"]

    class RedisCache:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    stubs = {
        "flask_appbuilder": types.ModuleType("flask_appbuilder"),
        "flask_appbuilder.security": types.ModuleType("flask_appbuilder.security"),
        "flask_appbuilder.security.manager": types.ModuleType("flask_appbuilder.security.manager"),
        "flask_caching": types.ModuleType("flask_caching"),
        "flask_caching.backends": types.ModuleType("flask_caching.backends"),
        "flask_caching.backends.rediscache": types.ModuleType("flask_caching.backends.rediscache"),
        "superset": types.ModuleType("superset"),
        "superset.security": types.ModuleType("superset.security"),
        "urbanstack_security": types.ModuleType("urbanstack_security"),
    }
    stubs["flask_appbuilder.security.manager"].AUTH_OAUTH = "AUTH_OAUTH"
    stubs["flask_caching.backends.rediscache"].RedisCache = RedisCache
    stubs["superset.security"].SupersetSecurityManager = object
    for name, mod in stubs.items():
        monkeypatch.setitem(sys.modules, name, mod)
    exec(compile(files["urbanstack_security.py"], "urbanstack_security.py", "exec"),
         stubs["urbanstack_security"].__dict__)
    env = {
        "SUPERSET_SECRET_KEY": "k" * 64, "DATABASE_USER": "superset", "DATABASE_PASSWORD": "p@ss",
        "DATABASE_HOST": "postgis-rw.contract.svc", "DATABASE_PORT": "5432", "DATABASE_DB": "superset",
        "VALKEY_HOST": "dashboards-cache.contract.svc", "VALKEY_PORT": "6379", "VALKEY_PASSWORD": "v",
        "OIDC_BACKCHANNEL_URL": f"{names.backchannel_base_url('contract')}/realms/contract/",
        "OIDC_CLIENT_ID": "dashboards",
        "OIDC_CLIENT_SECRET": "s",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace: dict = {}
    exec(compile(files["superset_config.py"], "superset_config.py", "exec"), namespace)
    return namespace


# -- booking ----------------------------------------------------------------------------------------------

def test_a_municipality_without_dashboards_gets_no_superset(plan_stack, tmp_path):
    plan, _ = plan_booking(plan_stack, tmp_path, {"lowCode": {}})
    labelled = [r for r in plan.kube_objects()
                if (r.inputs.get("metadata") or {}).get("labels", {}).get("urban-stack/module") == "dashboards"]
    assert labelled == []
    assert "superset" not in {(r.inputs.get("spec") or {}).get("name") for r in plan.find("Database")}
    assert IMAGES["superset"].ref_from(REGISTRY) not in str([r.inputs for r in plan.kube_objects()])


def test_a_municipality_that_books_dashboards_gets_web_worker_cache_and_an_init_job(booked):
    assert container(booked, "Deployment", "dashboards-web")["image"] == IMAGES["superset"].ref_from(REGISTRY)
    assert container(booked, "Deployment", "dashboards-worker")["image"] == IMAGES["superset"].ref_from(REGISTRY)
    assert container(booked, "Deployment", "dashboards-cache")["image"] == IMAGES["valkey"].ref_from(REGISTRY)
    assert init_job(booked)["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGES["superset"].ref_from(REGISTRY)


def test_superset_honours_the_module_contract_in_every_plan(plan_stack, tmp_path):
    for plan_name in ("small", "large"):
        plan, tenant = plan_booking(plan_stack, tmp_path, {"dashboards": {}}, plan_name)
        assert check_module(plan, SPEC, tenant) == [], plan_name


# -- image and hardening ----------------------------------------------------------------------------------

def test_the_superset_image_is_the_dev_variant_of_a_release_that_ships_psycopg2_and_authlib(booked):
    assert re.fullmatch(r"\d+\.\d+\.\d+-dev", IMAGES["superset"].tag)
    assert "python -c 'import psycopg2, authlib'" in init_script(booked)


def test_the_cache_is_valkey_from_the_valkey_project_not_bitnami():
    assert IMAGES["valkey"].repository == "docker.io/valkey/valkey"
    assert "bitnami" not in IMAGES["superset"].repository + IMAGES["valkey"].repository


@pytest.mark.parametrize("name", ["dashboards-web", "dashboards-worker", "dashboards-cache"])
def test_every_container_runs_as_uid_10001_on_a_read_only_root_filesystem(booked, name):
    c = container(booked, "Deployment", name)
    sc = c["securityContext"]
    assert sc["runAsUser"] == 10001 and sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"]


def test_superset_writes_only_to_emptydirs_for_its_home_and_tmp(booked):
    pod = one(booked, "Deployment", "dashboards-web")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"] if not m.get("readOnly")}
    assert set(writable) == {"/tmp", "/app/superset_home"}
    assert all("emptyDir" in volumes[m["name"]] for m in writable.values())


def test_requests_and_limits_come_from_the_sizing_catalogue(plan_stack, tmp_path):
    plan, _ = plan_booking(plan_stack, tmp_path, {"dashboards": {}}, "large")
    for key in ("web", "worker", "cache"):
        d = one(plan, "Deployment", f"dashboards-{key}")
        assert d["spec"]["template"]["spec"]["containers"][0]["resources"] == \
            SPEC.workloads[key].size_for("large").resources()
        assert d["spec"]["replicas"] == SPEC.workloads[key].replicas["large"]


def test_web_and_worker_get_a_disruption_budget_where_they_run_more_than_one_replica(plan_stack, tmp_path):
    plan, _ = plan_booking(plan_stack, tmp_path, {"dashboards": {}}, "large")
    assert {r.inputs["metadata"]["name"] for r in plan.find("PodDisruptionBudget")} >= \
        {"dashboards-web", "dashboards-worker"}
    small, _ = plan_booking(plan_stack, tmp_path, {"dashboards": {}}, "small")
    assert not [r for r in small.find("PodDisruptionBudget") if r.inputs["metadata"]["name"].startswith("dash")]


# -- configuration and login ------------------------------------------------------------------------------

def test_superset_logs_in_through_the_realm_with_pkce(superset_config):
    assert superset_config["AUTH_TYPE"] == "AUTH_OAUTH"
    (provider,) = superset_config["OAUTH_PROVIDERS"]
    app = provider["remote_app"]
    assert provider["name"] == "keycloak" and provider["token_key"] == "access_token"
    # Discovery (and with it token, userinfo, keys) from the municipality's internal back-channel listener of the
    # Gateway, never the public address.
    assert app["server_metadata_url"] == (f"{names.backchannel_base_url('contract')}/realms/contract"
                                          "/.well-known/openid-configuration")
    assert app["client_id"] == "dashboards" and app["client_secret"] == "s"
    assert app["client_kwargs"]["code_challenge_method"] == "S256"
    assert "openid" in app["client_kwargs"]["scope"].split()


def test_realm_groups_map_to_superset_roles_and_everyone_else_gets_nothing(superset_config):
    assert superset_config["AUTH_ROLES_MAPPING"] == {"admins": ["Admin"], "editors": ["Alpha"], "viewers": ["Gamma"]}
    assert superset_config["AUTH_ROLES_SYNC_AT_LOGIN"] is True
    assert superset_config["AUTH_USER_REGISTRATION_ROLE"] == "Public"


def test_the_realms_groups_claim_becomes_the_users_role_keys(superset_config):
    manager = superset_config["CUSTOM_SECURITY_MANAGER"]()
    info = manager.oauth_user_info("keycloak", {"userinfo": {
        "preferred_username": "anna", "email": "anna@verl.example", "given_name": "Anna",
        "family_name": "Muster", "groups": ["editors"]}})
    assert info == {"username": "anna", "first_name": "Anna", "last_name": "Muster",
                    "email": "anna@verl.example", "role_keys": ["editors"]}


def test_metadata_database_cache_and_broker_come_from_the_environment(superset_config):
    assert superset_config["SECRET_KEY"] == "k" * 64
    assert superset_config["SQLALCHEMY_DATABASE_URI"] == \
        "postgresql+psycopg2://superset:p%40ss@postgis-rw.contract.svc:5432/superset"
    assert superset_config["CeleryConfig"].broker_url == "redis://:v@dashboards-cache.contract.svc:6379/0"
    assert superset_config["CACHE_CONFIG"]["CACHE_REDIS_URL"] == "redis://:v@dashboards-cache.contract.svc:6379/2"
    assert superset_config["RESULTS_BACKEND"].kwargs["db"] == 1
    assert superset_config["ENABLE_PROXY_FIX"] is True and superset_config["SESSION_COOKIE_SECURE"] is True


def test_no_secret_value_is_in_the_config_map_every_secret_comes_from_a_secret(booked):
    files = one(booked, "ConfigMap", "dashboards-config")["data"]
    assert "mock-" not in str(files)
    env = env_of(container(booked, "Deployment", "dashboards-web"))
    assert env["SUPERSET_SECRET_KEY"] == {"secretKeyRef": {"name": "dashboards-secrets", "key": "secret-key"}}
    assert env["OIDC_CLIENT_SECRET"] == {"secretKeyRef": {"name": "dashboards-oidc", "key": "client-secret"}}
    assert env["DATABASE_PASSWORD"] == {"secretKeyRef": {"name": "db-superset", "key": "password"}}
    assert set(one(booked, "Secret", "dashboards-secrets")["stringData"]) == {"secret-key", "valkey-password"}


def test_the_metadata_database_superset_is_in_the_municipalitys_cluster(booked):
    assert "superset" in {(r.inputs.get("spec") or {}).get("name") for r in booked.find("Database")}
    env = env_of(container(booked, "Deployment", "dashboards-web"))
    assert env["DATABASE_HOST"] == "postgis-rw.contract.svc" and env["DATABASE_DB"] == "superset"


# -- init job and datasource ------------------------------------------------------------------------------

def test_the_init_job_migrates_and_initialises_before_web_and_worker_start(booked):
    script = init_script(booked)
    assert script.index("superset db upgrade") < script.index("superset init")
    assert init_job(booked)["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    for name in ("dashboards-web", "dashboards-worker"):
        (dep,) = booked.find("Deployment", name)
        assert "kubernetes:batch/v1:Job::dashboards-init" in dep.depends_on


def test_the_superset_datasource_is_read_only(booked):
    script = init_script(booked)
    (c,) = init_job(booked)["spec"]["template"]["spec"]["containers"]
    env = env_of(c)
    assert 'superset set-database-uri -d "Geodaten (PostGIS, nur lesen)"' in script
    assert "/geodata?options=-c%20default_transaction_read_only%3Don" in script
    assert env["GEODATA_USER"] == {"secretKeyRef": {"name": "db-geodata-readonly", "key": "username"}}
    assert env["GEODATA_PASSWORD"] == {"secretKeyRef": {"name": "db-geodata-readonly", "key": "password"}}
    assert "db-geodata" not in {v["secretKeyRef"]["name"] for v in env.values() if isinstance(v, dict)}


def test_without_the_datasource_option_no_datasource_is_registered(plan_stack, tmp_path):
    plan, _ = plan_booking(plan_stack, tmp_path, {"dashboards": {"readOnlyDatasource": False}})
    assert "set-database-uri" not in init_script(plan)
    assert "db-geodata-readonly" not in str(init_job(plan))


def test_the_init_job_runs_again_when_what_it_runs_changes(plan_stack, tmp_path, booked):
    plan, _ = plan_booking(plan_stack, tmp_path, {"dashboards": {"readOnlyDatasource": False}})
    assert init_job(plan)["metadata"]["name"] != init_job(booked)["metadata"]["name"]
    assert re.fullmatch(r"dashboards-init-[0-9a-f]{10}", init_job(booked)["metadata"]["name"])


# -- valkey -----------------------------------------------------------------------------------------------

def test_valkey_is_a_password_protected_cache_without_persistence(booked):
    d = one(booked, "Deployment", "dashboards-cache")
    args = d["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--requirepass") + 1] == "$(VALKEY_PASSWORD)"
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"
    assert args[args.index("--maxmemory-policy") + 1] == "volatile-lru"
    assert "volumeClaimTemplates" not in d["spec"]
    assert not booked.find("PersistentVolumeClaim")


def test_valkey_keeps_below_its_memory_limit(booked):
    c = container(booked, "Deployment", "dashboards-cache")
    maxmemory = int(c["args"][c["args"].index("--maxmemory") + 1].removesuffix("mb"))
    assert maxmemory < int(c["resources"]["limits"]["memory"].removesuffix("Mi"))


# -- probes -----------------------------------------------------------------------------------------------

def test_web_is_probed_on_its_health_endpoint(booked):
    c = container(booked, "Deployment", "dashboards-web")
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http", "scheme": "HTTP"}


def test_the_worker_is_pinged_over_the_broker_and_valkey_with_its_cli(booked):
    worker = container(booked, "Deployment", "dashboards-worker")
    for probe in ("livenessProbe", "readinessProbe"):
        cmd = worker[probe]["exec"]["command"][-1]
        assert "inspect ping" in cmd and 'celery@${HOSTNAME}' in cmd
        assert worker[probe]["timeoutSeconds"] >= 20
    cache = container(booked, "Deployment", "dashboards-cache")
    assert "valkey-cli" in cache["livenessProbe"]["exec"]["command"][-1]


# -- exposure and network ---------------------------------------------------------------------------------

def test_superset_is_routed_on_dashboards_dot_domain_to_the_web_service(booked):
    route = one(booked, "HTTPRoute", "dashboards")
    assert route["spec"]["hostnames"] == ["dashboards.contract.example.org"]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "dashboards-web", "port": 8088}]
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "ListenerSet",
                                            "name": "urban-listeners", "namespace": "contract", "sectionName": "https"}]


def _ports(rules):
    return {p["port"] for r in rules for p in r.get("ports", [])}


def test_network_policies_allow_exactly_the_modules_flows(booked):
    to_cache = netpol.to_pods(kb.selector_labels("dashboards", "contract-dashboards", "cache"), 6379)
    web = one(booked, "NetworkPolicy", "dashboards-web")["spec"]
    assert web["ingress"] == [netpol.from_gateway(8088)]
    assert web["egress"] == [netpol.to_database(), netpol.to_keycloak("contract"), to_cache]
    worker = one(booked, "NetworkPolicy", "dashboards-worker")["spec"]
    assert worker["ingress"] == [] and worker["egress"] == [netpol.to_database(), to_cache]
    cache = one(booked, "NetworkPolicy", "dashboards-cache")["spec"]
    assert cache["egress"] == [] and _ports(cache["ingress"]) == {6379}
    sources = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
               for rule in cache["ingress"] for peer in rule["from"]]
    assert sorted(sources) == ["web", "worker"]
    init = one(booked, "NetworkPolicy", "dashboards-init")["spec"]
    assert init["ingress"] == [] and init["egress"] == [netpol.to_database()]

