"""rei3: REI3 with its database in the municipality's cluster, a writable config file, a persistent file
store and the OIDC client credentials for the one-time login setup.

Plans use tenant files written for each test (only this module booked); the init container's script that
renders config.json is run for real on a temporary folder.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from catalogue.modules.rei3 import DATA, SPEC
from components.modules import rei3
from components.tenant import netpol
from tests.module_contract import check_module
from tests.plan_files import add_installed_crds, plan_booking
from urbanstack.checks import schemas
from urbanstack.checks.base import load_plan
from urbanstack.engine.plan import write_plan

SLUG = "contract"


def plan_with(plan_stack, tmp_path, options: dict | None = None, key: str = "rei3", plan_name: str = "medium"):
    return plan_booking(plan_stack, tmp_path / "tenants", {key: options or {}}, plan_name)


@pytest.fixture
def planned(plan_stack, tmp_path):
    return plan_with(plan_stack, tmp_path)


def statefulset(plan) -> dict:
    (sts,) = plan.find("StatefulSet", "rei3-app")
    return sts.inputs


def config_template(plan) -> dict:
    (cm,) = plan.find("ConfigMap", "rei3-config")
    return json.loads(cm.inputs["data"]["config.json"])


def env(c) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def test_the_module_honours_the_module_contract(planned):
    plan, tenant = planned
    assert check_module(plan, SPEC, tenant) == []


def test_a_municipality_without_rei3_gets_none_of_it(plan_stack, tmp_path):
    plan, _ = plan_with(plan_stack, tmp_path, key="lowCode")
    assert not [r for r in plan.kube_objects()
                if (r.inputs["metadata"].get("labels") or {}).get("urban-stack/module") == "rei3"]
    assert not [r for r in plan.kube_objects() if r.inputs.get("kind") == "Database" and r.inputs["spec"]["name"] == "rei3"]


def test_rei3_uses_its_own_database_in_the_municipality_cluster(planned):
    plan, _ = planned
    (db,) = [r.inputs for r in plan.kube_objects() if r.inputs.get("kind") == "Database"
             and r.inputs["spec"]["name"] == "rei3"]
    assert db["spec"]["owner"] == "rei3"
    cfg = config_template(plan)["db"]
    assert (cfg["embedded"], cfg["host"], cfg["port"], cfg["name"], cfg["user"]) == (
        False, f"postgis-rw.{SLUG}.svc", 5432, "rei3", "rei3")
    assert cfg["pass"] == rei3.PASSWORD_PLACEHOLDER, "no password in the ConfigMap"
    (init,) = statefulset(plan)["spec"]["template"]["spec"]["initContainers"]
    assert env(init)["DB_PASSWORD"] == {"secretKeyRef": {"name": "db-rei3", "key": "password"}}


def test_the_config_file_lives_on_the_writable_persistent_volume(planned):
    plan, _ = planned
    spec = statefulset(plan)["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["resources"]["requests"]["storage"] == "25Gi"
    (app,) = spec["template"]["spec"]["containers"]
    assert app["args"] == ["-run", "-http", "-config", "/opt/r3/data/config.json"]
    assert {"name": "data", "mountPath": "/opt/r3/data", "readOnly": False} in app["volumeMounts"]
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    paths = config_template(plan)["paths"]
    assert all(paths[k].startswith("/opt/r3/data/") for k in ("files", "certificates", "temp", "transfer"))
    assert config_template(plan)["web"] == {"cert": "", "key": "", "listen": "0.0.0.0", "port": 8080,
                                            "tlsMinVersion": "1.2"}


def test_the_volume_is_protected_and_rei3_runs_a_single_replica(plan_stack, tmp_path):
    plan, _ = plan_with(plan_stack, tmp_path, plan_name="large")
    (sts,) = plan.find("StatefulSet", "rei3-app")
    assert sts.inputs["spec"]["replicas"] == 1 and sts.protect and sts.retain_on_delete


def run_render(tmp_path: Path, template: dict, password: str) -> dict:
    data, config = tmp_path / "data", tmp_path / "config"
    data.mkdir(exist_ok=True)
    config.mkdir(exist_ok=True)
    (config / "config.json").write_text(json.dumps(template, indent=2), encoding="utf-8")
    script = rei3.RENDER_CONFIG.replace(DATA, str(data)).replace("/config/config.json", str(config / "config.json"))
    subprocess.run(["sh", "-c", script], check=True, env={"DB_PASSWORD": password, "PATH": "/usr/bin:/bin"})
    assert {p.name for p in data.iterdir()} >= {"files", "certificates", "temp", "transfer"}
    return json.loads((data / "config.json").read_text(encoding="utf-8"))


def test_the_init_container_renders_config_json_and_keeps_the_node_id_rei3_wrote(tmp_path):
    template = rei3.config_template("postgis-rw.x.svc", 5432)
    first = run_render(tmp_path, template, "s3cret")
    assert first["db"]["pass"] == "s3cret" and first["cluster"]["nodeId"] == ""
    # REI3 rewrites the file (tab-indented) with its node ID; a later start keeps it and the new password.
    first["cluster"]["nodeId"] = "6f1c2d9e-0b7a-4c51-9e3a-2f4b5c6d7e8f"
    (tmp_path / "data" / "config.json").write_text(json.dumps(first, indent="\t"), encoding="utf-8")
    second = run_render(tmp_path, template, "rotated")
    assert second["cluster"]["nodeId"] == "6f1c2d9e-0b7a-4c51-9e3a-2f4b5c6d7e8f"
    assert second["db"]["pass"] == "rotated"


def test_the_oidc_client_credentials_are_delivered_for_the_one_time_login_setup(planned):
    plan, _ = planned
    assert plan.find("Secret", "rei3-oidc")
    (app,) = statefulset(plan)["spec"]["template"]["spec"]["containers"]
    e = env(app)
    for var, key in (("OIDC_ISSUER_URL", "issuer-url"), ("OIDC_CLIENT_ID", "client-id"),
                     ("OIDC_CLIENT_SECRET", "client-secret")):
        assert e[var] == {"secretKeyRef": {"name": "rei3-oidc", "key": key}}
    # The one-time step in REI3's admin UI, and changing the built-in admin/admin, are the operator's to do.
    guide = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "Secret `rei3-oidc`" in guide and "`admin`/`admin`" in guide
    assert "one-time step" in rei3.Component.__doc__ and "Module first steps" in rei3.Component.__doc__


def test_rei3_is_behind_the_gateway_with_probes_and_exactly_its_flows(planned):
    plan, tenant = planned
    (route,) = plan.find("HTTPRoute", "rei3")
    assert route.inputs["spec"]["hostnames"] == [f"rei3.{tenant.domain}"]
    assert route.inputs["spec"]["rules"][0]["backendRefs"] == [{"name": "rei3-app", "port": 8080}]
    (app,) = statefulset(plan)["spec"]["template"]["spec"]["containers"]
    assert app["readinessProbe"]["httpGet"]["port"] == "http" and "tcpSocket" in app["livenessProbe"]
    (policy,) = plan.find("NetworkPolicy", "rei3-app")
    spec = policy.inputs["spec"]
    assert [p["port"] for p in spec["ingress"][0]["ports"]] == [8080]
    assert spec["egress"] == [netpol.to_database(), *netpol.to_keycloak_public()]
    assert netpol.to_internet_https() in spec["egress"], "REI3's online repository and mail relays"


def test_every_object_validates_against_the_kubernetes_and_crd_schemas(planned, tmp_path, real_plan_dir):
    plan, _ = planned
    write_plan([plan], tmp_path / "plan")
    add_installed_crds(tmp_path / "plan", real_plan_dir)  # the CRDs shared installs
    mine = {f"{r.inputs['kind'].lower()}-{SLUG}-{r.inputs['metadata']['name']}" for r in plan.kube_objects()
            if (r.inputs["metadata"].get("labels") or {}).get("urban-stack/module") == "rei3"}
    assert mine <= {p.stem for p in (tmp_path / "plan" / SLUG).glob("*.yaml")}
    failures = [f for f in schemas.run(load_plan(tmp_path / "plan")).failures if Path(f.file).stem in mine]
    assert failures == []
