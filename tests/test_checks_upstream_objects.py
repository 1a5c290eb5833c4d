"""The checks judge chart-rendered and operator-made objects too: breaking a rule on one of them in a copy of the
real plan fails the check; the label exceptions are one reasoned list that cannot cover our own objects or go
stale."""

from __future__ import annotations

import shutil

import pytest
import yaml

from catalogue import labels
from tests.plan_files import edit
from urbanstack.checks import cost_labels, policies, schemas
from urbanstack.checks.base import load_plan


@pytest.fixture
def plan_copy(real_plan_dir, tmp_path):
    dest = tmp_path / "plan"
    shutil.copytree(real_plan_dir, dest)
    return dest


def failures_in(result, fragment):
    return [f for f in result.failures if fragment in f.file]


def test_a_chart_object_without_its_cost_labels_fails_the_label_check(plan_copy):
    path = plan_copy / "shared" / "chart-opencost" / "deployment-urban-monitoring-opencost.yaml"
    edit(path, lambda o: o["spec"]["template"]["metadata"]["labels"].pop(labels.TENANT))
    [failure] = failures_in(cost_labels.run(load_plan(plan_copy)), "chart-opencost/")
    assert "spec.template.metadata: label urban-stack/tenant missing" in failure.message


def test_an_operator_made_pod_without_its_inherited_labels_fails_the_label_check(plan_copy):
    path = plan_copy / "verl" / "operator-cluster" / "pod-verl-postgis-1.yaml"
    edit(path, lambda o: o["metadata"]["labels"].pop(labels.COST_CENTER))
    [failure] = failures_in(cost_labels.run(load_plan(plan_copy)), "operator-cluster/")
    assert "label urban-stack/cost-center missing" in failure.message


def test_listed_upstream_objects_are_excepted_and_counted(real_plan_dir):
    result = cost_labels.run(load_plan(real_plan_dir))
    assert not failures_in(result, "operator-certificate/")
    assert not failures_in(result, "operator-objectbucketclaim/")
    assert "excepted with a reason in checks/label-exceptions.yaml" in result.figure()


def test_an_exception_for_our_own_objects_is_refused(tmp_path):
    path = tmp_path / "exceptions.yaml"
    path.write_text(yaml.safe_dump([{"folder": "verl", "kind": ["Deployment"], "name": "*",
                                     "reason": "x" * 60}]), encoding="utf-8")
    with pytest.raises(ValueError, match="own objects always carry the cost labels"):
        cost_labels.load_exceptions(path)


def test_a_stale_exception_fails_the_check(real_plan_dir, tmp_path):
    data = yaml.safe_load(cost_labels.EXCEPTIONS_FILE.read_text(encoding="utf-8"))
    data.append({"folder": "operator-nothing", "kind": ["Pod"], "name": "*", "reason": "y" * 60})
    path = tmp_path / "exceptions.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    messages = [f.message for f in cost_labels.run(load_plan(real_plan_dir), path).failures]
    assert any("operator-nothing" in m and "matches no object" in m for m in messages)


def test_a_chart_custom_resource_is_validated_against_the_crd_the_plan_installs(plan_copy):
    path = plan_copy / "shared" / "chart-kube-prometheus-stack" / "prometheus-urban-monitoring-kps-prometheus.yaml"
    edit(path, lambda o: o["spec"].update({"replicaz": 2}))
    [failure] = failures_in(schemas.run(load_plan(plan_copy)), "chart-kube-prometheus-stack/")
    assert failure.rule == "crd-pruned" and "spec.replicaz: unknown field" in failure.message


def test_a_chart_object_with_an_unknown_field_fails_the_strict_schema_check(plan_copy):
    path = plan_copy / "shared" / "chart-opencost" / "service-urban-monitoring-opencost.yaml"
    edit(path, lambda o: o["spec"].update({"portz": []}))
    [failure] = failures_in(schemas.run(load_plan(plan_copy)), "chart-opencost/")
    assert failure.rule == "k8s-schema"


def test_the_policy_pack_sees_chart_children_as_the_engine_registers_them(plan_copy):
    path = plan_copy / "shared" / "chart-opencost" / "deployment-urban-monitoring-opencost.yaml"
    edit(path, lambda o: o["spec"]["template"]["spec"]["containers"][0].update({"image": "opencost/opencost"}))
    result = policies.run(load_plan(plan_copy))
    [failure] = failures_in(result, "chart-opencost/")
    assert failure.rule == "policy pinned-images"
    assert "operator 0 resources" in result.figure()


def test_operator_made_objects_are_never_seen_by_the_policy_pack(plan_copy):
    path = plan_copy / "verl" / "operator-cluster" / "pod-verl-postgis-1.yaml"
    edit(path, lambda o: o["spec"]["containers"][0].update({"image": "postgres"}))
    assert not failures_in(policies.run(load_plan(plan_copy)), "operator-cluster/")


def test_a_child_urn_extends_the_charts_type_chain():
    parent = "urn:pulumi:shared::urban-stack::urbanstack:shared:operators$kubernetes:helm.sh/v4:Chart::opencost"
    assert policies.child_urn(parent, "kubernetes:apps/v1:Deployment", "opencost") == (
        "urn:pulumi:shared::urban-stack::urbanstack:shared:operators$kubernetes:helm.sh/v4:Chart"
        "$kubernetes:apps/v1:Deployment::opencost")


def test_checkov_skips_for_upstream_objects_have_reasons_and_never_cover_guarded_checks(tmp_path):
    from urbanstack.checks import checkov

    upstream = checkov.load_skips(section=checkov.UPSTREAM_KEY)
    assert upstream and all(len(reason.split()) >= 10 for reason in upstream.values())
    assert not set(upstream) & set(checkov.FORBIDDEN_SKIPS)
    bad = tmp_path / "skips.yaml"
    bad.write_text(yaml.safe_dump({"upstream": {"CKV_K8S_40": "The chart runs as a low UID and we accept that."}}))
    with pytest.raises(checkov.CheckovError, match="CKV_K8S_40: guards root"):
        checkov.load_skips(bad, checkov.UPSTREAM_KEY)


def test_an_upstream_skip_applies_to_chart_objects_only(plan_copy):
    from urbanstack.checks import checkov

    chart_file = plan_copy / "shared" / "chart-cloudnative-pg" / "deployment-urban-operators-cloudnative-pg.yaml"
    # CKV_K8S_38 (the operator's token) is skipped for chart-cloudnative-pg/deployment-*.yaml only, with a reason
    # (CKV_K8S_15, the example this test used first, is now skipped for every object in the global section)
    assert not [f for f in checkov.run(load_plan(plan_copy), target=chart_file).failures
                if f.rule.startswith("CKV_K8S_38 ")]
    ours = plan_copy / "shared" / "deployment-cnpg-copy.yaml"
    ours.write_text(chart_file.read_text(encoding="utf-8"), encoding="utf-8")
    assert [f for f in checkov.run(load_plan(plan_copy), target=ours).failures if f.rule.startswith("CKV_K8S_38 ")]
