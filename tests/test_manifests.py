"""The manifest walker (``catalogue/manifests.py``): where every workload kind keeps its pods, containers, volumes
and PVC templates, and that the label transform writes exactly where the walker looks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from catalogue import labels, manifests, names
from policy import urbanstack_policies as pack

SCOPE = labels.LabelScope("verl", "VERL-1100", labels.DEDICATED)
COST = labels.cost_labels(SCOPE, "database")

POD_SPEC = {
    "initContainers": [{"name": "init"}],
    "containers": [{"name": "app"}, {"name": "sidecar"}],
    "ephemeralContainers": [{"name": "debug"}],
    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c"}}],
}
CORE_WORKLOADS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"]


def template(spec=POD_SPEC, pod_labels=None):
    return {"metadata": {"labels": dict(pod_labels or {"app": "x"})}, "spec": dict(spec)}


def workload(kind, **spec):
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w", "namespace": "verl"}, "spec": spec}


@pytest.mark.parametrize("kind", CORE_WORKLOADS)
def test_a_core_workload_keeps_its_pod_template_at_spec_template(kind):
    found = manifests.workload_pod(workload(kind, template=template()))
    assert found.spec_path == ("spec", "template", "spec")
    assert found.metadata_path == ("spec", "template", "metadata")
    assert found.labels == {"app": "x"}
    assert not found.by_operator


def test_a_cronjobs_containers_are_found_under_job_template():
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template()}}}}
    found = manifests.workload_pod(cron)
    assert found.spec_path == ("spec", "jobTemplate", "spec", "template", "spec")
    assert [manifests.dotted(c.path) for c in found.containers(("containers",))] == [
        "spec.jobTemplate.spec.template.spec.containers[0]", "spec.jobTemplate.spec.template.spec.containers[1]"]


def test_a_v1_pod_is_its_own_template_and_a_pod_of_another_api_is_none():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": dict(POD_SPEC)}
    found = manifests.workload_pod(pod)
    assert (found.spec_path, found.metadata_path, found.labels) == (("spec",), ("metadata",), {"a": "b"})
    assert manifests.workload_pod({**pod, "apiVersion": "example.org/v1"}) is None


def test_containers_come_init_then_regular_then_ephemeral_each_with_its_path():
    found = manifests.workload_pod(workload("Deployment", template=template()))
    assert [(c.group, c.name, manifests.dotted(c.path)) for c in found.containers()] == [
        ("initContainers", "init", "spec.template.spec.initContainers[0]"),
        ("containers", "app", "spec.template.spec.containers[0]"),
        ("containers", "sidecar", "spec.template.spec.containers[1]"),
        ("ephemeralContainers", "debug", "spec.template.spec.ephemeralContainers[0]"),
    ]
    assert [c.name for c in found.containers(("containers", "initContainers"))] == ["app", "sidecar", "init"]


def test_volumes_are_found_with_their_paths():
    found = manifests.workload_pod(workload("DaemonSet", template=template()))
    assert [(manifests.dotted(p), v["name"]) for p, v in found.volumes()] == [
        ("spec.template.spec.volumes[0]", "data"), ("spec.template.spec.volumes[1]", "conf")]


def test_a_statefulsets_pvc_templates_are_found_and_other_kinds_have_none():
    sts = workload("StatefulSet", template=template(), volumeClaimTemplates=[{"metadata": {"name": "data"}}])
    assert [(manifests.dotted(p), c["metadata"]["name"]) for p, c in manifests.claim_templates(sts)] == [
        ("spec.volumeClaimTemplates[0]", "data")]
    assert manifests.claim_templates(workload("Deployment", volumeClaimTemplates=[{}])) == []


def test_objects_that_make_no_pods_have_no_pod_template():
    assert manifests.pod_templates({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}) == []
    assert manifests.workload_pod(workload("Deployment")) is None
    assert manifests.workload_pod(workload("Deployment", template={"spec": {}})).metadata is None


@pytest.mark.parametrize(("kind", "spec", "where"), [
    ("Keycloak", {"unsupported": {"podTemplate": template()}}, "spec.unsupported.podTemplate.spec"),
    ("Pooler", {"cluster": {"name": "c"}, "template": template()}, "spec.template.spec"),
    ("EnvoyProxy", {"provider": {"kubernetes": {"envoyDeployment": {"patch": {"value": {"spec": {
        "template": template()}}}}}}}, "spec.provider.kubernetes.envoyDeployment.patch.value.spec.template.spec"),
])
def test_custom_resources_carry_pod_templates_for_their_operator_which_workload_pod_leaves_out(kind, spec, where):
    cr = {"apiVersion": "example.org/v1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    [found] = manifests.pod_templates(cr)
    assert manifests.dotted(found.spec_path) == where
    assert found.by_operator
    assert [c.name for c in found.containers()] == ["init", "app", "sidecar", "debug"]
    assert manifests.workload_pod(cr) is None


def test_an_unlisted_custom_resource_is_searched_for_pod_specs_by_their_containers_list():
    prometheus = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": {"name": "p"},
                  "spec": {"containers": [{"name": "prometheus"}], "alerting": {"alertmanagers": []}}}
    [found] = manifests.pod_specs(prometheus)
    assert (found.spec_path, found.metadata) == (("spec",), None)
    assert [c.name for c in found.containers()] == ["prometheus"]


def test_a_listed_kind_is_not_searched_beyond_its_template():
    deployment = workload("Deployment", template=template(), strategy={"containers": [{"name": "not-a-pod"}]})
    assert [manifests.dotted(t.spec_path) for t in manifests.pod_specs(deployment)] == ["spec.template.spec"]


LABELLED_KINDS = [kind for kind, shape in manifests.SHAPES.items()
                  if shape.pod_template and not shape.pod_labels]


@pytest.mark.parametrize("kind", LABELLED_KINDS)
def test_the_walker_finds_the_same_pod_templates_the_label_transform_labels(kind):
    shape = manifests.SHAPES[kind]
    obj: dict = {"apiVersion": "example.org/v1", "kind": kind, "metadata": {"name": "x"}, "spec": {}}
    node = obj
    for key in shape.pod_template:
        node = node.setdefault(key, {})
    node.update(template())
    out = labels.apply_labels(f"kubernetes:example.org/v1:{kind}", obj, COST)
    [found] = manifests.pod_templates(out)
    assert found.labels[labels.TENANT] == "verl"
    assert found.labels["app"] == "x"
    assert manifests.dotted(found.metadata_path) in dict(labels.template_labels(out))


@pytest.mark.parametrize("kind", [kind for kind, shape in manifests.SHAPES.items() if shape.label_metadata()])
def test_every_place_the_label_transform_writes_is_reported_by_template_labels(kind):
    out = labels.apply_labels(f"kubernetes:example.org/v1:{kind}",
                              {"kind": kind, "metadata": {"name": "x"}, "spec": {}}, COST)
    reported = dict(labels.template_labels(out))
    for path in manifests.SHAPES[kind].label_metadata():
        assert reported[manifests.dotted(path)][labels.MODULE] == "database"


def test_a_replication_controllers_pod_template_gets_the_cost_labels():
    out = labels.apply_labels("kubernetes:core/v1:ReplicationController",
                              {"kind": "ReplicationController", "metadata": {"name": "r"}, "spec": {"template": {}}},
                              COST)
    assert out["spec"]["template"]["metadata"]["labels"][labels.COST_CENTER] == "VERL-1100"


def test_a_shared_cronjob_is_excepted_from_no_host_access_by_its_pod_templates_labels():
    exporter = {"app.kubernetes.io/name": "prometheus-node-exporter"}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "c", "namespace": names.NS_MONITORING, "labels": {labels.TENANT: "shared"}},
            "spec": {"jobTemplate": {"spec": {"template": template({"hostNetwork": True, "containers": [{}]},
                                                                    exporter)}}}}
    assert pack.no_host_access_policy("kubernetes:batch/v1:CronJob", cron) == []
    cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    assert pack.no_host_access_policy("kubernetes:batch/v1:CronJob", cron) == [
        f"CronJob {names.NS_MONITORING}/c spec.jobTemplate.spec.template.spec: hostNetwork: true shares a host namespace"]


def test_the_walker_imports_nothing_but_the_standard_library():
    code = ("import sys; before = set(sys.modules); import catalogue.manifests; "
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['catalogue', 'catalogue.manifests']"
