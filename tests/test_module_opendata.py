"""The `openData` module: CKAN with DCAT-AP.de, Solr, a Valkey cache and a datastore with two users.

Stated on the offline plans of synthetic municipalities that book only what a test needs
(tests/plan_files.plan_booking: slug `contract`, name "Vertragsprüfung", domain `contract.example.org`).
"""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest
import yaml

from catalogue.modules.opendata import SPEC, STORAGE_PATH
from catalogue.paths import ROOT
from catalogue.shared_config import load_file
from catalogue.tenants import TenantError, load_all
from catalogue.versions import IMAGES
from components import k8s as kb
from components.base import DatabaseInfo
from components.modules import opendata
from components.tenant import netpol
from tests.module_contract import booked_alone, check_module
from tests.plan_files import plan_booking as shared_plan_booking

REGISTRY = load_file().imageRegistry
"""Where the pods pull the images built here from (stacks/Pulumi.shared.yaml)."""

DOCKERFILE = ROOT / "images" / "ckan" / "Dockerfile"
CONTRIBUTOR = "http://dcat-ap.de/def/contributors/stadtGuetersloh"


def plan_booking(plan_stack, folder: Path, modules: dict, plan_name: str = "small"):
    return shared_plan_booking(plan_stack, folder, modules, plan_name)


def one(plan, kind, name):
    (obj,) = plan.find(kind, name)
    return obj.inputs


def pod(plan, kind, name):
    return one(plan, kind, name)["spec"]["template"]["spec"]


def env_of(container) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def secret_ref(name, key):
    return {"secretKeyRef": {"name": name, "key": key}}


def init_job(plan):
    (job,) = [r.inputs for r in plan.find("Job") if r.inputs["metadata"]["name"].startswith("opendata-init-")]
    return job


def init_container(plan):
    (c,) = init_job(plan)["spec"]["template"]["spec"]["containers"]
    return c


def config_files(plan) -> dict:
    return one(plan, "ConfigMap", "opendata-config")["data"]


def ckan_ini(plan) -> configparser.ConfigParser:
    """ckan.ini read as CKAN reads it: ``configparser.ConfigParser`` with basic interpolation, keys as written and
    the defaults ``here`` and ``__file__`` (ckan/cli/__init__.py ``CKANConfigLoader``)."""
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser.read_string(config_files(plan)["ckan.ini"])
    parser["DEFAULT"]["here"] = "/srv/app"
    parser["DEFAULT"]["__file__"] = "/srv/app/ckan.ini"
    return parser


@pytest.fixture(scope="module")
def booked(plan_stack, tmp_path_factory):
    """A municipality (plan `small`) that books openData with a contributor ID."""
    plan, _ = plan_booking(plan_stack, tmp_path_factory.mktemp("booked") / "tenants",
                           {"openData": {"contributorId": CONTRIBUTOR}})
    return plan


# -- booking ----------------------------------------------------------------------------------------------

def test_a_municipality_without_open_data_gets_no_ckan(plan_stack, tmp_path):
    plan, _ = plan_booking(plan_stack, tmp_path / "tenants", {"lowCode": {}})
    labelled = [r for r in plan.kube_objects()
                if (r.inputs.get("metadata") or {}).get("labels", {}).get("urban-stack/module") == "opendata"]
    assert labelled == []
    assert not {"ckan", "datastore"} & {(r.inputs.get("spec") or {}).get("name") for r in plan.find("Database")}
    assert IMAGES["ckan"].ref_from(REGISTRY) not in str([r.inputs for r in plan.kube_objects()])


def test_a_municipality_that_books_open_data_gets_ckan_solr_valkey_and_an_init_job(booked):
    assert pod(booked, "StatefulSet", "opendata-web")["containers"][0]["image"] == IMAGES["ckan"].ref_from(REGISTRY)
    assert pod(booked, "StatefulSet", "opendata-solr")["containers"][0]["image"] == IMAGES["ckan-solr"].ref_from(REGISTRY)
    assert pod(booked, "Deployment", "opendata-cache")["containers"][0]["image"] == IMAGES["valkey"].ref_from(REGISTRY)
    assert init_container(booked)["image"] == IMAGES["ckan"].ref_from(REGISTRY)


def test_ckan_honours_the_module_contract_in_every_plan(plan_stack, tmp_path):
    for plan_name in ("small", "large"):
        plan, tenant = plan_booking(plan_stack, tmp_path / plan_name, {"openData": {}}, plan_name)
        assert check_module(plan, SPEC, tenant) == [], plan_name


# -- image ------------------------------------------------------------------------------------------------

def test_the_ckan_image_is_built_here_from_the_official_base_of_the_pinned_release():
    text = DOCKERFILE.read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM docker\.io/ckan/ckan-base:(\S+)$", text, flags=re.MULTILINE)
    assert IMAGES["ckan"].tag.startswith(f"{base}-"), "the image tag names the CKAN release it is built on"
    assert IMAGES["ckan"].built_here and "make images" in text, "published by `make images` to imageRegistry"
    for package in ("GovDataOfficial/ckanext-dcatde.git@${DCATDE_COMMIT}", "ckanext-oidc-pkce==", "ckanapi=="):
        assert package in text
    assert re.search(r"ARG DCATDE_VERSION=\d+\.\d+\.\d+\nARG DCATDE_COMMIT=[0-9a-f]{40}\n", text), \
        "dcatde is pinned to a release and installed by that release's commit"
    assert "pip3 check" in text


def test_solr_is_ckans_own_solr_image_with_the_ckan_2_11_schema():
    assert IMAGES["ckan-solr"].repository == "docker.io/ckan/ckan-solr"
    assert IMAGES["ckan-solr"].tag.startswith("2.11-solr")
    assert "bitnami" not in IMAGES["valkey"].repository


@pytest.mark.parametrize(("kind", "name"), [("StatefulSet", "opendata-web"), ("StatefulSet", "opendata-solr"),
                                            ("Deployment", "opendata-cache")])
def test_every_container_runs_as_uid_10001_on_a_read_only_root_filesystem(booked, kind, name):
    sc = pod(booked, kind, name)["containers"][0]["securityContext"]
    assert sc["runAsUser"] == 10001 and sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"]


def test_requests_and_limits_come_from_the_sizing_catalogue(plan_stack, tmp_path):
    plan, _ = plan_booking(plan_stack, tmp_path / "tenants", {"openData": {}}, "large")
    for kind, key in (("StatefulSet", "web"), ("StatefulSet", "solr"), ("Deployment", "cache")):
        spec = one(plan, kind, f"opendata-{key}")["spec"]
        assert spec["template"]["spec"]["containers"][0]["resources"] == \
            SPEC.workloads[key].size_for("large").resources()
        assert spec["replicas"] == SPEC.workloads[key].replicas["large"]


# -- configuration ----------------------------------------------------------------------------------------

def test_ckan_ini_enables_dcat_ap_de_and_logs_in_through_the_realm(booked):
    app = ckan_ini(booked)["app:main"]
    plugins = app["ckan.plugins"].split()
    assert {"dcat", "dcatde", "datastore", "oidc_pkce"} <= set(plugins)
    assert plugins[-1] == "envvars", "ckanext-envvars must be the last plugin"
    assert app["ckanext.dcat.rdf.profiles"].split() == ["euro_dcat_ap_2", "dcatap_de"]
    assert app["ckanext.dcat.enable_rdf_endpoints"] == "true"
    assert app["ckan.site_url"] == app["ckanext.dcat.base_uri"] == "https://opendata.contract.example.org"
    assert app["ckanext.oidc_pkce.token_path"] == "/protocol/openid-connect/token"
    assert app["ckan.auth.create_user_via_web"] == "false" and app["ckan.auth.anon_create_dataset"] == "false"


def test_the_catalogue_is_public_behind_no_login(booked):
    route = one(booked, "HTTPRoute", "opendata")
    assert route["spec"]["hostnames"] == ["opendata.contract.example.org"]
    assert route["spec"]["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                       "backendRefs": [{"name": "opendata-web", "port": 5000}]}]
    assert [c["name"] for c in pod(booked, "StatefulSet", "opendata-web")["containers"]] == ["ckan"]
    assert SPEC.public is True


def test_site_title_and_language_come_from_the_tenant_file(plan_stack, tmp_path, booked):
    assert ckan_ini(booked)["app:main"]["ckan.site_title"] == "Open Data Vertragsprüfung"
    plan, _ = plan_booking(plan_stack, tmp_path / "tenants",
                           {"openData": {"siteTitle": "Offene Daten Testhausen", "locale": "en"}})
    app = ckan_ini(plan)["app:main"]
    assert app["ckan.site_title"] == "Offene Daten Testhausen" and app["ckan.locale_default"] == "en"


@pytest.mark.parametrize("title", ["100% offen %(here)s", "Daten %", "%%(__file__)s"])
def test_a_percent_sign_in_the_site_title_reaches_ckan_as_written(plan_stack, tmp_path, title):
    plan, _ = plan_booking(plan_stack, tmp_path / "tenants", {"openData": {"siteTitle": title}})
    assert ckan_ini(plan)["app:main"]["ckan.site_title"] == title


def test_no_secret_is_in_the_config_map_every_secret_comes_from_a_secret(booked):
    assert "mock-" not in str(config_files(booked))
    env = env_of(pod(booked, "StatefulSet", "opendata-web")["containers"][0])
    assert env["CKAN___SECRET_KEY"] == secret_ref("opendata-secrets", "secret-key")
    assert env["CKANEXT__OIDC_PKCE__BASE_URL"] == secret_ref("opendata-oidc", "issuer-url")
    assert env["CKANEXT__OIDC_PKCE__CLIENT_SECRET"] == secret_ref("opendata-oidc", "client-secret")
    assert set(one(booked, "Secret", "opendata-secrets")["stringData"]) == {"secret-key", "valkey-password"}


# -- databases --------------------------------------------------------------------------------------------

def test_ckans_databases_are_in_the_municipalitys_cluster(booked):
    assert {"ckan", "datastore"} <= {(r.inputs.get("spec") or {}).get("name") for r in booked.find("Database")}


def test_the_datastore_has_a_read_write_user_and_a_read_only_user(booked):
    env = env_of(pod(booked, "StatefulSet", "opendata-web")["containers"][0])
    assert env["DATASTORE_DB_USER"] == secret_ref("db-datastore", "username")
    reader = env["DATASTORE_READER_USER"]["secretKeyRef"]["name"]
    assert reader not in {"db-datastore", "db-ckan"}, "the read-only user is neither owner role"
    env_sh = config_files(booked)["env.sh"]
    assert ("CKAN_DATASTORE_WRITE_URL=\"postgresql://${DATASTORE_DB_USER}:${DATASTORE_DB_PASSWORD}"
            "@${DB_HOST}:${DB_PORT}/datastore\"") in env_sh
    assert ("CKAN_DATASTORE_READ_URL=\"postgresql://${DATASTORE_READER_USER}:${DATASTORE_READER_PASSWORD}"
            "@${DB_HOST}:${DB_PORT}/datastore\"") in env_sh


def test_ckan_reads_the_datastore_with_the_dedicated_role_once_the_database_component_offers_it():
    interim = DatabaseInfo(cluster="postgis", host="h", port=5432, credentials={"datastore": "db-datastore"},
                           readonly_secret="db-geodata-readonly")
    assert opendata.datastore_reader(interim) == "db-geodata-readonly"
    dedicated = DatabaseInfo(cluster="postgis", host="h", port=5432, readonly_secret="db-geodata-readonly",
                             credentials={"datastore": "db-datastore", "datastore_readonly": "db-datastore-readonly"})
    assert opendata.datastore_reader(dedicated) == "db-datastore-readonly"


def test_the_init_job_grants_the_read_only_user_as_the_datastore_owner(booked):
    script = init_container(booked)["command"][-1]
    assert script.index("ckan -c \"$CKAN_INI\" db init") < script.index("datastore_permissions.py")
    grants = config_files(booked)["datastore_permissions.py"]
    compile(grants, "datastore_permissions.py", "exec")
    assert '"datastore", "set-permissions"' in grants
    assert 'psycopg2.connect(os.environ["CKAN_DATASTORE_WRITE_URL"])' in grants
    assert "REVOKE CONNECT, TEMPORARY ON DATABASE datastore FROM PUBLIC" in grants
    assert "REVOKE CONNECT, TEMPORARY ON DATABASE ckan FROM PUBLIC" in grants
    assert re.search(r're\.sub\(r"\^\\\\connect', grants), "the psql meta-command is dropped"


def test_the_init_job_runs_after_solr_and_valkey_and_before_the_web_server(booked):
    (job,) = [r for r in booked.find("Job") if r.inputs["metadata"]["name"].startswith("opendata-init-")]
    assert set(job.depends_on) >= {"kubernetes:apps/v1:StatefulSet::opendata-solr",
                                   "kubernetes:apps/v1:Deployment::opendata-cache"}
    (web,) = booked.find("StatefulSet", "opendata-web")
    assert "kubernetes:batch/v1:Job::opendata-init" in web.depends_on


def test_the_init_job_runs_again_when_what_it_runs_changes(plan_stack, tmp_path, booked):
    plan, _ = plan_booking(plan_stack, tmp_path / "tenants", {"openData": {"siteTitle": "Anders"}})
    assert init_job(plan)["metadata"]["name"] != init_job(booked)["metadata"]["name"]


# -- organization and contributor ID ----------------------------------------------------------------------

def test_the_contributor_id_is_stored_on_the_municipalitys_organization(booked):
    env = env_of(init_container(booked))
    assert env["ORG_NAME"] == "contract" and env["ORG_TITLE"] == "Vertragsprüfung"
    assert json.loads(env["ORG_EXTRAS"]) == [{"key": "contributorID", "value": json.dumps([CONTRIBUTOR])}]
    script = init_container(booked)["command"][-1]
    assert "organization_create" in script and "organization_patch" in script


def test_without_a_contributor_id_the_organization_has_no_extras(plan_stack, tmp_path):
    plan, _ = plan_booking(plan_stack, tmp_path / "tenants", {"openData": {}})
    assert json.loads(env_of(init_container(plan))["ORG_EXTRAS"]) == []


def test_a_contributor_id_outside_dcat_ap_de_is_refused_with_file_and_field(tmp_path):
    folder = tmp_path / "tenants"
    folder.mkdir()
    doc = booked_alone("openData")
    doc["modules"] = {"openData": {"contributorId": "https://example.org/me"}}
    path = folder / "contract.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(TenantError) as exc:
        load_all([folder])
    problems = [str(p) for p in exc.value.problems]
    assert any(p.startswith(f"{path}:") and ": modules.openData.contributorId: " in p
               and "dcat-ap.de/def/contributors" in p for p in problems), problems


# -- storage ----------------------------------------------------------------------------------------------

def test_uploads_and_the_search_index_live_on_protected_volumes(booked):
    for name, claim, path in (("opendata-web", "storage", "/var/lib/ckan"), ("opendata-solr", "data", "/var/solr")):
        (sts,) = booked.find("StatefulSet", name)
        assert [t["metadata"]["name"] for t in sts.inputs["spec"]["volumeClaimTemplates"]] == [claim]
        mounts = {m["name"]: m["mountPath"] for m in sts.inputs["spec"]["template"]["spec"]["containers"][0]
                  ["volumeMounts"]}
        assert mounts[claim] == path
        assert sts.protect and sts.retain_on_delete


def test_valkey_is_a_password_protected_cache_without_persistence(booked):
    d = one(booked, "Deployment", "opendata-cache")
    args = d["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--requirepass") + 1] == "$(VALKEY_PASSWORD)"
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"
    assert "volumeClaimTemplates" not in d["spec"]


# -- probes -----------------------------------------------------------------------------------------------

def test_ckan_and_solr_are_probed_on_their_health_endpoints(booked):
    ckan = pod(booked, "StatefulSet", "opendata-web")["containers"][0]
    solr = pod(booked, "StatefulSet", "opendata-solr")["containers"][0]
    for probe in ("livenessProbe", "readinessProbe"):
        assert ckan[probe]["httpGet"]["path"] == "/api/3/action/status_show"
        assert solr[probe]["httpGet"]["path"] == "/solr/ckan/admin/ping"


# -- network ----------------------------------------------------------------------------------------------

def test_network_policies_allow_exactly_the_modules_flows(booked):
    sel = {part: kb.selector_labels("opendata", "contract-opendata", part) for part in ("web", "init", "solr", "cache")}
    to_solr, to_cache = netpol.to_pods(sel["solr"], 8983), netpol.to_pods(sel["cache"], 6379)
    web = one(booked, "NetworkPolicy", "opendata-web")["spec"]
    assert web["ingress"] == [netpol.from_gateway(5000)]
    assert web["egress"] == [netpol.to_database(), *netpol.to_keycloak_public(), to_solr, to_cache]
    init = one(booked, "NetworkPolicy", "opendata-init")["spec"]
    assert init["ingress"] == [] and init["egress"] == [netpol.to_database(), to_solr, to_cache]
    solr = one(booked, "NetworkPolicy", "opendata-solr")["spec"]
    assert solr["egress"] == [] and solr["ingress"] == [netpol.from_pods(sel["web"], 8983),
                                                       netpol.from_pods(sel["init"], 8983)]
    cache = one(booked, "NetworkPolicy", "opendata-cache")["spec"]
    assert cache["egress"] == [] and cache["ingress"] == [netpol.from_pods(sel["web"], 6379),
                                                         netpol.from_pods(sel["init"], 6379)]


# -- effective configuration: ckan.ini overridden by the environment ----------------------------------------

CKAN_CORE_ENV = {"CKAN_SITE_URL": "ckan.site_url", "CKAN_STORAGE_PATH": "ckan.storage_path",
                 "CKAN_SOLR_URL": "solr_url", "CKAN_SQLALCHEMY_URL": "sqlalchemy.url", "CKAN_REDIS_URL": "ckan.redis.url",
                 "CKAN_SITE_ID": "ckan.site_id", "CKAN_DATASTORE_WRITE_URL": "ckan.datastore.write_url",
                 "CKAN_DATASTORE_READ_URL": "ckan.datastore.read_url"}
"""Part of CKAN 2.11's ``CONFIG_FROM_ENV_VARS`` (ckan/config/environment.py): variable -> setting."""


def envvars_key(var: str) -> str:
    """ckanext-envvars' ``_envvar_to_ini`` for undeclared keys: drop ``CKAN___``, lower case, ``__`` -> ``.``."""
    return var.removeprefix("CKAN___").lower().replace("__", ".")


def effective_settings(ini: configparser.RawConfigParser, image_env: dict, pod_env: dict) -> dict:
    """What CKAN runs with: the ini's [app:main], then the process environment (the image's ENV, replaced by
    the container's env of the same name) as CKAN core and then ckanext-envvars apply it."""
    settings = dict(ini.items("app:main"))
    environ = {**image_env, **{k: v for k, v in pod_env.items() if isinstance(v, str)}}
    for var, key in CKAN_CORE_ENV.items():
        if environ.get(var):
            settings[key] = environ[var]
    for var, value in environ.items():
        if var.startswith("CKAN"):
            settings[envvars_key(var)] = value
    return settings


def test_the_base_image_environment_does_not_override_site_url_or_plugins(booked):
    """ckan/ckan-base sets CKAN_SITE_URL=http://localhost:5000 and its own CKAN__PLUGINS: left alone, the OIDC
    callback would be http://localhost:5000/... and oidc_pkce, dcat and activity would not be loaded."""
    ini = ckan_ini(booked)
    web = pod(booked, "StatefulSet", "opendata-web")["containers"][0]
    for container in (web, init_container(booked)):
        settings = effective_settings(ini, opendata.BASE_IMAGE_ENV, env_of(container))
        assert settings["ckan.site_url"] == "https://opendata.contract.example.org"
        assert settings["ckan.plugins"].split() == list(opendata.PLUGINS)
        assert "oidc_pkce" in settings["ckan.plugins"].split() and "activity" in settings["ckan.plugins"].split()
        assert settings["ckan.storage_path"] == STORAGE_PATH


def test_every_base_image_variable_ckan_or_uwsgi_reads_is_set_on_the_pods(booked):
    web = env_of(pod(booked, "StatefulSet", "opendata-web")["containers"][0])
    for var in opendata.BASE_IMAGE_ENV:
        assert var in web, f"{var} from the base image would take effect"
    assert web["CKAN_INI"] == f"{opendata.CONFIG_DIR}/ckan.ini"
    assert web["UWSGI_HARAKIRI"] == opendata.UWSGI[opendata.UWSGI.index("--harakiri") + 1]
