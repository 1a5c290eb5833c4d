"""Chart values of the shared stack read against the pinned charts themselves (``vendor/charts/<chart>-<version>``).

Helm merges our values over the chart's ``values.yaml``; what a template renders depends on the merged result.
These tests merge the way Helm does (maps deep, everything else replaced, ``null`` deletes) and apply the
template's own condition, quoted next to each test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from catalogue.paths import ROOT
from catalogue.shared_config import SHARED_CONFIG, stack_config
from catalogue.versions import CHARTS
from tests.plan_files import read


def chart_dir(key: str) -> Path:
    spec = CHARTS[key]
    return ROOT / "vendor" / "charts" / f"{spec.chart.rsplit('/', 1)[-1]}-{spec.version}"


def helm_merge(defaults: Any, values: Any) -> Any:
    """Helm's coalescing of user values over chart defaults."""
    if not (isinstance(defaults, dict) and isinstance(values, dict)):
        return values
    out = dict(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = helm_merge(defaults.get(key), value)
    return out


def merged_values(plan, key: str) -> dict:
    found = [r for r in plan.of_type("kubernetes:helm.sh/v4:Chart") if r.name == key]
    assert len(found) == 1
    defaults = yaml.safe_load((chart_dir(key) / "values.yaml").read_text(encoding="utf-8"))
    return helm_merge(defaults, found[0].inputs["values"])


@pytest.fixture(scope="module")
def production(plan_stack):
    return plan_stack("shared")


def test_the_pinned_charts_are_the_ones_read_here():
    for key in ("kube-prometheus-stack", "opencost"):
        meta = yaml.safe_load((chart_dir(key) / "Chart.yaml").read_text(encoding="utf-8"))
        assert meta["version"].lstrip("v") == CHARTS[key].version.lstrip("v")


@pytest.mark.parametrize(("section", "workload"), [("prometheus", "Prometheus"), ("alertmanager", "Alertmanager")])
def test_prometheus_and_alertmanager_budgets_let_exactly_one_pod_go_and_set_one_field(real_plan_dir, section, workload):
    # templates/{prometheus,alertmanager}/podDisruptionBudget.yaml of kube-prometheus-stack 88.5.3 write every key
    # of podDisruptionBudget but `enabled` (toYaml (omit ... "enabled")) over the default minAvailable: 1. The API
    # server rejects a PodDisruptionBudget that sets both minAvailable and maxUnavailable, or an empty one.
    template = (chart_dir("kube-prometheus-stack") / "templates" / section / "podDisruptionBudget.yaml").read_text()
    assert f'omit .Values.{section}.podDisruptionBudget "enabled"' in template
    pdb = rendered(real_plan_dir, "chart-kube-prometheus-stack", "PodDisruptionBudget", f"kps-{section}")["spec"]
    replicas = rendered(real_plan_dir, "chart-kube-prometheus-stack", workload, f"kps-{section}")["spec"]["replicas"]
    assert replicas > 1, "production runs several replicas behind a budget"
    fields = [f for f in ("minAvailable", "maxUnavailable") if f in pdb]
    assert len(fields) == 1, pdb
    allowed = pdb["maxUnavailable"] if fields == ["maxUnavailable"] else replicas - pdb["minAvailable"]
    assert isinstance(pdb[fields[0]], int) and allowed == 1, pdb


# ---- What the charts render with our values (the real offline plan, rendered by Helm's engine) ----------------

def rendered(real_plan_dir: Path, folder: str, kind: str, name: str) -> dict:
    """One chart-rendered (``chart-*``) or operator-made (``operator-*``) object of the shared stack's plan."""
    for path in sorted((real_plan_dir / "shared" / folder).glob(f"{kind.lower()}-*.yaml")):
        obj = read(path)
        if obj.get("kind") == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"{folder}: no {kind} {name}")


def containers(obj: dict) -> list[dict]:
    spec = obj["spec"]["template"]["spec"]
    return [*(spec.get("initContainers") or []), *spec["containers"]]


BOUNDED_WORKLOADS = [
    ("chart-cert-manager", "Deployment", "cert-manager"),
    ("chart-cert-manager", "Deployment", "cert-manager-webhook"),
    ("chart-cert-manager", "Deployment", "cert-manager-cainjector"),
    ("chart-cloudnative-pg", "Deployment", "cloudnative-pg"),
    ("chart-plugin-barman-cloud", "Deployment", "plugin-barman-cloud"),
    ("chart-envoy-gateway", "Deployment", "envoy-gateway"),
    ("chart-rook-ceph", "Deployment", "rook-ceph-operator"),
    ("chart-opencost", "Deployment", "opencost"),
    ("chart-kube-prometheus-stack", "Deployment", "kps-operator"),
    ("chart-kube-prometheus-stack", "Deployment", "kube-prometheus-stack-kube-state-metrics"),
    ("chart-kube-prometheus-stack", "Deployment", "kube-prometheus-stack-grafana"),
    ("chart-kube-prometheus-stack", "DaemonSet", "kube-prometheus-stack-prometheus-node-exporter"),
]


@pytest.mark.parametrize(("folder", "kind", "name"), BOUNDED_WORKLOADS)
def test_every_platform_chart_container_has_cpu_and_memory_requests_and_limits(real_plan_dir, folder, kind, name):
    # The charts leave resources empty or set requests only (cert-manager v1.21.1, grafana and node-exporter
    # values.yaml `resources: {}`); the values give every container both, so no platform pod runs unbounded.
    for c in containers(rendered(real_plan_dir, folder, kind, name)):
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res.get(part) or {}), f"{name}/{c['name']}: {part} {res}"


@pytest.mark.parametrize("name", ["cert-manager", "cert-manager-webhook", "cert-manager-cainjector"])
def test_cert_manager_runs_as_a_high_uid(real_plan_dir, name):
    # hack/containers/Containerfile.* of cert-manager: a static binary on distroless static, USER 1000.
    for c in containers(rendered(real_plan_dir, "chart-cert-manager", "Deployment", name)):
        assert c["securityContext"]["runAsUser"] >= 10000 and c["securityContext"]["runAsNonRoot"] is True


def test_opencost_and_the_ceph_csi_operator_run_as_high_uids(real_plan_dir):
    opencost = containers(rendered(real_plan_dir, "chart-opencost", "Deployment", "opencost"))[0]
    assert opencost["securityContext"]["runAsUser"] >= 10000
    csi = rendered(real_plan_dir, "chart-rook-ceph", "Deployment", "ceph-csi-controller-manager")
    pod_sc = csi["spec"]["template"]["spec"]["securityContext"]
    assert pod_sc["runAsUser"] == 65532 and pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}


def test_node_exporter_keeps_only_the_host_namespaces_it_needs_and_no_capabilities(real_plan_dir):
    ds = rendered(real_plan_dir, "chart-kube-prometheus-stack", "DaemonSet",
                  "kube-prometheus-stack-prometheus-node-exporter")
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = containers(ds)[0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(("folder", "name"), [("chart-envoy-gateway", "envoy-gateway"),
                                              ("chart-kube-prometheus-stack", "kube-prometheus-stack-grafana")])
def test_controllers_that_write_no_files_get_a_read_only_root(real_plan_dir, folder, name):
    for c in containers(rendered(real_plan_dir, folder, "Deployment", name)):
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]


def test_the_rook_operator_cannot_escalate_and_uses_the_runtime_seccomp_profile(real_plan_dir):
    sc = containers(rendered(real_plan_dir, "chart-rook-ceph", "Deployment", "rook-ceph-operator"))[0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["runAsUser"] == 2016 and sc["capabilities"] == {"drop": ["ALL"]}


def test_the_operator_made_alertmanager_and_config_reloader_containers_have_requests_and_limits(real_plan_dir):
    # The Alertmanager CR carries alertmanagerSpec.resources (kube-prometheus-stack 88.5.3
    # templates/alertmanager/alertmanager.yaml renders it only when set); the operator copies it to the
    # alertmanager container, and gives its config-reloaders the resources of its --config-reloader-* flags,
    # leaving out a quantity of 0 (prometheus-operator v0.93.0 pkg/operator/config.go).
    cr = rendered(real_plan_dir, "chart-kube-prometheus-stack", "Alertmanager", "kps-alertmanager")
    operator = rendered(real_plan_dir, "chart-kube-prometheus-stack", "Deployment", "kps-operator")
    args = dict(a.split("=", 1) for a in containers(operator)[0]["args"] if a.startswith("--config-reloader-"))
    for res in (cr["spec"]["resources"], {"requests": {"cpu": args["--config-reloader-cpu-request"],
                                                        "memory": args["--config-reloader-memory-request"]},
                                           "limits": {"cpu": args["--config-reloader-cpu-limit"],
                                                      "memory": args["--config-reloader-memory-limit"]}}):
        for part in ("requests", "limits"):
            assert all(res[part].get(k) not in (None, "0") for k in ("cpu", "memory")), res


# ---- OpenCost: its config directory and the platform price list, as chart 2.5.17 renders them ------------------

def opencost_container(real_plan_dir: Path) -> dict:
    [exporter] = [c for c in rendered(real_plan_dir, "chart-opencost", "Deployment", "opencost")["spec"]["template"]
                  ["spec"]["containers"] if c["name"] == "opencost"]
    return exporter


def test_opencost_writes_its_config_path_on_a_writable_volume_under_a_read_only_root(real_plan_dir):
    # opencost chart 2.5.17 templates/deployment.yaml: CONFIG_PATH = customPricing.configPath, and with custom
    # pricing on the chart mounts its own emptyDir `custom-configs` there (since 2.5.5, opencost-helm-chart#316).
    # A second volume of ours at the same path would make the API server refuse the Deployment.
    deployment = rendered(real_plan_dir, "chart-opencost", "Deployment", "opencost")
    exporter = opencost_container(real_plan_dir)
    assert exporter["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e.get("value") for e in exporter["env"]}
    mount_paths = [m["mountPath"] for m in exporter["volumeMounts"]]
    assert len(mount_paths) == len(set(mount_paths)), f"a mount path used twice: {mount_paths}"
    [mount] = [m for m in exporter["volumeMounts"] if m["mountPath"] == env["CONFIG_PATH"]]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mount["name"]]
    assert not mount.get("readOnly")


def test_opencost_reads_the_platform_price_list_in_eur_from_the_configmap_it_is_pointed_at(real_plan_dir):
    # opencost chart 2.5.17: the pricing ConfigMap carries every costModel key flat (templates/
    # configmap-custom-pricing.yaml), and PRICING_CONFIGMAP_NAME names it to OpenCost (templates/deployment.yaml).
    from components.shared.monitoring import opencost_cost_model

    env = {e["name"]: e.get("value") for e in opencost_container(real_plan_dir)["env"]}
    pricing = rendered(real_plan_dir, "chart-opencost", "ConfigMap", env["PRICING_CONFIGMAP_NAME"])
    provider = stack_config(SHARED_CONFIG).get("urban-stack:pricesProvider")
    model = opencost_cost_model(provider)
    data = pricing["data"]
    assert set(data) == {*model, "provider"} and data["provider"] == "custom"
    for key, value in model.items():  # Helm's `quote` prints numbers the Go way ("0" for 0.0): compare as numbers
        assert (float(data[key]) if isinstance(value, float) else data[key]) == value, key
    assert data["currencyCode"] == "EUR"
