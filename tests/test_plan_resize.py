"""A municipality moves from plan small to large: its volumes grow the way Kubernetes allows.

Kubernetes refuses changes to a StatefulSet's ``volumeClaimTemplates`` and pulumi-kubernetes would replace the
StatefulSet instead (``provider/pkg/provider/diff.go``: the StatefulSet's force-new properties), which the
``protect`` option of data-bearing StatefulSets refuses. The templates therefore stay as created (ignored
after creation), and each replica's claim is resized by a patch; the database grows through CloudNativePG's
own storage resize (``spec.storage.size``).
"""

from __future__ import annotations

import pytest

from tests.plan_files import plan_booking

STATEFULSET_FORCE_NEW = ("podManagementPolicy", "revisionHistoryLimit", "selector", "serviceName",
                         "volumeClaimTemplates")
"""pulumi-kubernetes ``diff.go`` (``var statefulSet``): a change to one of these replaces the StatefulSet."""
WITH_VOLUMES = {"lowCode": {}, "openData": {}, "rei3": {}}


@pytest.fixture
def small_and_large(plan_stack, tmp_path):
    small, _ = plan_booking(plan_stack, tmp_path / "small", WITH_VOLUMES, "small")
    large, _ = plan_booking(plan_stack, tmp_path / "large", WITH_VOLUMES, "large")
    return small, large


def would_replace(before, after) -> list[str]:
    """Force-new properties that differ and are not ignored: what the engine would want to replace."""
    ignored = {p.removeprefix("spec.") for p in after.ignore_changes if p.startswith("spec.")}
    return [p for p in STATEFULSET_FORCE_NEW
            if p not in ignored and before.inputs["spec"].get(p) != after.inputs["spec"].get(p)]


def test_no_protected_statefulset_would_be_replaced_by_a_plan_change(small_and_large):
    small, large = small_and_large
    statefulsets = {r.inputs["metadata"]["name"]: r for r in small.find("StatefulSet")}
    assert {"lowcode-editor", "opendata-web", "opendata-solr", "rei3-app"} <= set(statefulsets)
    for after in large.find("StatefulSet"):
        before = statefulsets[after.inputs["metadata"]["name"]]
        assert after.protect
        assert would_replace(before, after) == [], after.inputs["metadata"]["name"]


def test_every_claim_of_every_replica_is_resized_to_the_new_plan(small_and_large):
    from catalogue.modules import CATALOGUE

    _, large = small_and_large
    patches = {r.inputs["metadata"]["name"]: r for r in large.kube_objects()
               if r.type == "kubernetes:core/v1:PersistentVolumeClaimPatch"}
    for sts in large.find("StatefulSet"):
        name = sts.inputs["metadata"]["name"]
        module, key = name.split("-", 1)
        spec = next(m for m in CATALOGUE.values() if m.name == module)
        want = f"{spec.workloads[key].storage_gi['large']}Gi"
        for template in sts.inputs["spec"]["volumeClaimTemplates"]:
            for i in range(int(sts.inputs["spec"]["replicas"])):
                patch = patches[f"{template['metadata']['name']}-{name}-{i}"]
                assert patch.inputs["metadata"]["namespace"] == "contract"
                assert patch.inputs["spec"]["resources"]["requests"]["storage"] == want
                assert any("StatefulSet" in d and name in d for d in patch.depends_on)


def test_the_database_grows_through_cloudnativepgs_storage_resize(small_and_large):
    from catalogue.sizing import TENANT_PLANS

    small, large = small_and_large
    (before,), (after,) = small.find("Cluster"), large.find("Cluster")
    assert after.inputs["spec"]["storage"]["size"] == f"{TENANT_PLANS['large'].db_storage_gi}Gi"
    assert before.inputs["spec"]["storage"]["size"] != after.inputs["spec"]["storage"]["size"]
    assert "bootstrap" in after.inputs["spec"] and after.protect
