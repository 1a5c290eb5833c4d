"""Every Secret, ConfigMap and ServiceAccount a pod template names is created by the plan (or, listed with its
reason, by a controller at run time): deleting one on a copy of the real plan fails with the file and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plan_files import edit
from urbanstack.checks import references
from urbanstack.checks.base import load_plan


def add_volume(volume: dict):
    """An edit that adds ``volume`` to a workload's pod template."""
    def change(obj: dict) -> None:
        spec = obj["spec"]["template"]["spec"]
        spec["volumes"] = [*(spec.get("volumes") or []), volume]
    return change


def test_the_crafted_copy_passes_and_the_figure_counts_pod_templates_per_origin(crafted):
    result = references.run(load_plan(crafted))
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.figure().startswith(f"references: {result.checked} pod templates checked [ours ")
    assert "pod templates], 0 failures" in result.figure()
    assert "references to Secrets, ConfigMaps and ServiceAccounts" in result.figure()


def test_a_deleted_secret_fails_every_pod_that_reads_it(crafted):
    (crafted / "verl" / "secret-verl-db-superset.yaml").unlink()
    failures = [f for f in references.run(load_plan(crafted)).failures if "verl/db-superset" in f.message]
    assert failures
    assert {f.rule for f in failures} == {"references"}
    assert any(f.file.endswith("verl/deployment-verl-dashboards-web.yaml") for f in failures)
    assert "env[" in failures[0].message and "is created by no object of the plan" in failures[0].message


def test_a_chart_pod_mounting_a_secret_only_a_hook_would_create_fails(crafted):
    # What the kube-prometheus-stack operator did before its TLS was turned off: Secret kps-admission comes from hooks.
    path = next((crafted / "shared" / "chart-kube-prometheus-stack").glob("deployment-*-kps-operator.yaml"))
    edit(path, add_volume({"name": "tls-secret", "secret": {"secretName": "kps-admission"}}))
    [failure] = [f for f in references.run(load_plan(crafted)).failures if f.file.endswith(path.name)]
    assert "volumes[tls-secret]: Secret urban-monitoring/kps-admission is created by no object" in failure.message


def test_optional_references_are_not_required(crafted):
    path = crafted / "verl" / "deployment-verl-dashboards-web.yaml"
    edit(path, add_volume({"name": "extra", "configMap": {"name": "nowhere", "optional": True}}))
    assert not [f for f in references.run(load_plan(crafted)).failures if "nowhere" in f.message]


def test_a_certificates_secret_counts_as_created(crafted):
    path = crafted / "verl" / "deployment-verl-dashboards-web.yaml"
    certificate = next((crafted / "verl").glob("certificate-*.yaml"))
    import yaml

    secret_name = yaml.safe_load(certificate.read_text())["spec"]["secretName"]
    edit(path, add_volume({"name": "tls", "secret": {"secretName": secret_name}}))
    assert references.run(load_plan(crafted)).failures == []


def test_the_envoy_proxies_need_the_certgen_job_for_their_certificate(crafted):
    (crafted / "shared" / "job-urban-gateway-envoy-gateway-gateway-helm-certgen.yaml").unlink()
    messages = [f.message for f in references.run(load_plan(crafted)).failures]
    assert any("Secret urban-gateway/envoy-gateway is created by no object" in m for m in messages)
    assert any("Secret urban-gateway/envoy is created by no object" in m for m in messages)


def test_an_entry_of_the_runtime_list_that_nothing_uses_fails(crafted, tmp_path):
    runtime = tmp_path / "runtime.yaml"
    runtime.write_text(references.RUNTIME_FILE.read_text() + (
        "- kind: Secret\n  name: \"{name}-stale\"\n  createdBy: {kind: Namespace}\n"
        "  reason: an entry that no pod of the plan references at all, kept only for this test\n"))
    messages = [f.message for f in references.run(load_plan(crafted), runtime).failures]
    assert messages == ["run-time Secret '{name}-stale' (made for each Namespace) matches no reference of the plan "
                        "(its creator is missing or no pod uses it): remove it"]


def test_a_runtime_entry_without_a_reason_is_refused(tmp_path):
    bad = tmp_path / "runtime.yaml"
    bad.write_text("- kind: Secret\n  name: x\n  createdBy: {kind: Namespace}\n")
    with pytest.raises(ValueError, match=r"entry 1: needs a reason"):
        references.load_runtime_objects(Path(bad))


def test_the_same_object_in_two_stacks_fails_naming_both(crafted):
    """What slug 'job-verl' did before it was reserved: its realm Secret realm-job-verl is verl's Secret of its
    realm-job client (made by verl's stack, docs/decisions/0013), in the same namespace; validate and plan passed,
    the cluster refused. Here stack rietberg stands in for the stack of 'job-verl'."""
    import shutil

    import yaml

    verl = next((crafted / "verl").glob("secret-urban-identity-realm-job-verl.yaml"))
    copy = crafted / "rietberg" / "secret-urban-identity-realm-job-verl.yaml"
    shutil.copy(verl, copy)
    obj = yaml.safe_load(copy.read_text())
    obj["metadata"]["labels"]["urban-stack/tenant"] = "rietberg"
    copy.write_text(yaml.safe_dump(obj))
    failures = [f for f in references.run(load_plan(crafted)).failures if "more than one stack" in f.message]
    assert failures and all("Secret urban-identity/realm-job-verl is created by more than one stack: " in f.message
                            and "stack rietberg (" in f.message and "stack verl (" in f.message for f in failures)
    assert any(f.file.endswith("rietberg/secret-urban-identity-realm-job-verl.yaml")
               or f.file.endswith("verl/secret-urban-identity-realm-job-verl.yaml") for f in failures)


def test_in_the_real_plan_every_object_is_created_by_one_stack_only(crafted):
    result = references.run(load_plan(crafted))
    assert not [f for f in result.failures if "more than one stack" in f.message]
    assert "each created by one stack only" in result.figure()


# -- Gateway API references (urbanstack/checks/gateway_api.py) ---------------------------------------------------

def gateway_failures(plan_dir: Path) -> list:
    return [f for f in references.run(load_plan(plan_dir)).failures if "parentRef" in f.message
            or "listener" in f.message or "allowedListeners" in f.message or "certificateRefs" in f.message]


def test_the_real_plans_routes_listenersets_and_certificates_resolve(crafted):
    result = references.run(load_plan(crafted))
    assert gateway_failures(crafted) == []
    # cell kreis: three municipalities; cell stadt-guetersloh: Gütersloh
    assert "3 ListenerSet(s)" in result.figure() and "1 ListenerSet(s)" in result.figure()
    assert "merged listeners without conflict" in result.figure()


def test_a_route_of_one_municipality_on_anothers_listenerset_is_never_attached(crafted):
    path = crafted / "rietberg" / "httproute-rietberg-https-redirect.yaml"

    def onto_verl(obj: dict) -> None:
        obj["spec"]["parentRefs"] = [{**obj["spec"]["parentRefs"][0], "namespace": "verl"}]
    edit(path, onto_verl)
    [failure] = [f for f in gateway_failures(crafted) if f.file.endswith(path.name)]
    assert "ListenerSet verl/urban-listeners listener 'http' does not admit HTTPRoutes of namespace 'rietberg'" \
        in failure.message


def test_a_listenerset_from_a_namespace_the_gateway_does_not_admit_fails(crafted):
    def platform_namespace(obj: dict) -> None:
        obj["metadata"]["labels"]["urban-stack/tenant"] = "shared"
    edit(crafted / "verl" / "namespace-cluster-verl.yaml", platform_namespace)
    failures = gateway_failures(crafted)
    assert any("ListenerSet verl/urban-listeners: Gateway urban-gateway/urban-gateway does not admit ListenerSets "
               "from namespace 'verl'" in f.message for f in failures)


def test_two_municipalities_on_one_back_channel_port_conflict(crafted):
    port = None

    def read_port(obj: dict) -> None:
        nonlocal port
        port = next(lst["port"] for lst in obj["spec"]["listeners"] if lst["name"] == "backchannel")
    edit(crafted / "verl" / "listenerset-verl-urban-listeners.yaml", read_port)

    def same_port(obj: dict) -> None:
        for lst in obj["spec"]["listeners"]:
            if lst["name"] == "backchannel":
                lst["port"] = port
    edit(crafted / "rietberg" / "listenerset-rietberg-urban-listeners.yaml", same_port)
    [failure] = [f for f in gateway_failures(crafted) if f"port {port}" in f.message]
    # Of two ListenerSets created together, the first by namespace/name keeps the port (Gateway API precedence).
    assert "are those of ListenerSet rietberg/urban-listeners listener 'backchannel'" in failure.message
    assert failure.file.endswith("verl/listenerset-verl-urban-listeners.yaml")


def test_a_certificate_secret_in_another_namespace_needs_a_reference_grant(crafted):
    def elsewhere(obj: dict) -> None:
        for lst in obj["spec"]["listeners"]:
            if lst["name"] == "https":
                lst["tls"]["certificateRefs"][0]["namespace"] = "rietberg"
    edit(crafted / "verl" / "listenerset-verl-urban-listeners.yaml", elsewhere)
    [failure] = [f for f in gateway_failures(crafted) if "certificateRefs" in f.message]
    assert "Secret rietberg/verl-tls in another namespace and no ReferenceGrant there" in failure.message
