"""No chart of the platform relies on a Helm hook: ``helm.v4.Chart`` never runs hooks (pulumi-kubernetes 4.34.2,
``urbanstack/engine/render.py``), so whatever a hook would have made is made by the stack itself, before the chart, or the
chart is configured not to need it. The only hooks left out are checks and tests.
"""

from __future__ import annotations

import pytest

from catalogue import names
from urbanstack.engine.plan import manifest
from urbanstack.engine.render import HOOK_ANNOTATION, chart_folder, documents, render_stack

CHECKS_ONLY = {
    # cert-manager v1.21.1 templates/startupapicheck-*.yaml (helm.sh/hook: post-install): runs `cmctl check api`
    # until the webhook answers, so that `helm install --wait` returns only then; it creates nothing others use.
    "cert-manager": {"Job cert-manager-startupapicheck", "Role cert-manager-startupapicheck:create-cert",
                     "RoleBinding cert-manager-startupapicheck:create-cert",
                     "ServiceAccount cert-manager-startupapicheck"},
    # kube-prometheus-stack 88.5.3 renders no hook with our values: its admission-webhook Jobs are off (below), and
    # grafana 12.11.1 (grafana-community) ships no `helm test` pod: its .helmignore line `tests/` also leaves out
    # templates/tests/ when the chart is packaged (grafana 10.2.0 under 79.7.1 still had one).
}
ENVOY_GATEWAY_CERTGEN = "envoy-gateway-gateway-helm-certgen"
"""The chart's name for its certgen hook objects (``eg.fullname``-certgen of release ``envoy-gateway``)."""
REPLACED_BY_OUR_OBJECTS = {"envoy-gateway": {"ServiceAccount", "Role", "RoleBinding", "ClusterRole",
                                              "ClusterRoleBinding", "MutatingWebhookConfiguration", "Job"}}
CERTGEN_SECRETS = {"envoy-gateway", "envoy", "envoy-rate-limit", "envoy-oidc-hmac"}
"""What ``envoy-gateway certgen`` writes (envoyproxy/gateway v1.9.0 internal/provider/kubernetes CertsToSecret)."""


@pytest.fixture(scope="module")
def shared(plan_stack):
    return plan_stack("shared")


def skipped(shared) -> dict[str, set[str]]:
    return {r.folder.removeprefix("chart-"): {h.split(" (")[0] for h in r.skipped_hooks}
            for r in render_stack(shared) if r.skipped_hooks}


def hook_documents(shared, key: str) -> list[dict]:
    """The hook objects chart ``key`` renders with the values the stack gives it."""
    from helm_python import Chart as HelmChart

    from catalogue.versions import CHARTS
    from urbanstack.engine.offline import integral_numbers

    [res] = [r for r in shared.of_type("kubernetes:helm.sh/v4:Chart") if r.name == key]
    inputs = integral_numbers(res.inputs)
    with HelmChart.load(chart_folder(CHARTS[key])) as chart:
        rendered = chart.render(values=inputs["values"], name=inputs["name"], namespace=inputs["namespace"])
    return [d for path, text in rendered.items() if not path.endswith("NOTES.txt") for d in documents(text)
            if HOOK_ANNOTATION in ((d.get("metadata") or {}).get("annotations") or {})]


def test_the_only_hooks_left_out_are_checks_tests_and_the_envoy_certgen_we_create_ourselves(shared):
    found = skipped(shared)
    for key, hooks in CHECKS_ONLY.items():
        assert found.pop(key) == hooks
    assert {key: {h.split(" ")[0] for h in hooks} for key, hooks in found.items()} == REPLACED_BY_OUR_OBJECTS


def test_the_prometheus_operator_needs_no_admission_certificate_from_a_hook(shared):
    values = next(r for r in shared.of_type("kubernetes:helm.sh/v4:Chart") if r.name == "kube-prometheus-stack")
    operator = values.inputs["values"]["prometheusOperator"]
    assert operator["admissionWebhooks"]["enabled"] is False
    assert operator["tls"]["enabled"] is False


def test_envoy_gateways_certgen_hook_is_created_as_our_own_objects_running_what_the_chart_runs(shared):
    hooks = hook_documents(shared, "envoy-gateway")
    assert {h["kind"] for h in hooks} == REPLACED_BY_OUR_OBJECTS["envoy-gateway"]
    for hook in hooks:
        md = hook["metadata"]
        [ours] = [manifest(r.inputs) for r in shared.find(hook["kind"], md["name"], md.get("namespace"))]
        if hook["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            assert ours["subjects"] == hook["subjects"] and ours["roleRef"] == hook["roleRef"]
        if hook["kind"] == "ClusterRole":
            assert ours["rules"] == hook["rules"]
        if hook["kind"] == "MutatingWebhookConfiguration":
            assert ours["webhooks"] == hook["webhooks"]
        if hook["kind"] == "Role":
            # No more than the chart grants; get/update only on the Secrets certgen writes.
            [theirs] = hook["rules"]
            for rule in ours["rules"]:
                assert rule["apiGroups"] == theirs["apiGroups"] and rule["resources"] == theirs["resources"]
                assert set(rule["verbs"]) <= set(theirs["verbs"])
                assert "create" in rule["verbs"] or set(rule["resourceNames"]) == CERTGEN_SECRETS
            assert {v for r in ours["rules"] for v in r["verbs"]} == set(theirs["verbs"])
        if hook["kind"] == "Job":
            theirs = hook["spec"]["template"]["spec"]
            mine = ours["spec"]["template"]["spec"]
            assert mine["serviceAccountName"] == theirs["serviceAccountName"] == ENVOY_GATEWAY_CERTGEN
            assert mine["restartPolicy"] == "Never"
            [c_theirs], [c_mine] = theirs["containers"], mine["containers"]
            for field in ("image", "command", "args", "env", "securityContext"):
                assert c_mine.get(field) == c_theirs.get(field), f"certgen container: {field}"
            assert ours["spec"]["backoffLimit"] == hook["spec"]["backoffLimit"]
            # A Pulumi-managed Job must not delete itself after it finished.
            assert "ttlSecondsAfterFinished" not in ours["spec"]


def test_certgen_alone_gets_an_api_token_mounted_where_in_cluster_clients_read_it(shared):
    [job] = shared.find("Job", ENVOY_GATEWAY_CERTGEN, names.NS_GATEWAY)
    pod = manifest(job.inputs)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    [volume] = pod["volumes"]
    sources = volume["projected"]["sources"]
    assert {"serviceAccountToken", "configMap", "downwardAPI"} == {k for s in sources for k in s}
    [mount] = pod["containers"][0]["volumeMounts"]
    assert mount == {"name": volume["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                     "readOnly": True}


def test_the_envoy_gateway_chart_is_installed_after_its_certgen_job_and_the_job_after_its_rbac_and_webhook(shared):
    [chart] = [r for r in shared.of_type("kubernetes:helm.sh/v4:Chart") if r.name == "envoy-gateway"]
    [job] = shared.find("Job", ENVOY_GATEWAY_CERTGEN, names.NS_GATEWAY)
    assert "kubernetes:batch/v1:Job::envoy-gateway-certgen" in chart.depends_on
    assert {"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding::envoy-gateway-certgen",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding::envoy-gateway-certgen",
            "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration::envoy-gateway-topology-injector",
            } <= set(job.depends_on)
