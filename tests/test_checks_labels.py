"""100 % of objects, pod templates and PVC templates carry the four cost labels with values that fit the
stack; removing or falsifying one on a copy of the plan fails with the file and the rule."""

from __future__ import annotations

from catalogue import labels
from tests.plan_files import edit
from urbanstack.checks import cost_labels
from urbanstack.checks.base import load_plan


def test_the_crafted_copy_is_fully_labelled_and_the_figure_counts_templates(crafted):
    result = cost_labels.run(load_plan(crafted))
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.figure().startswith(f"cost labels: {result.checked} objects checked [ours ")
    assert "objects], 0 failures" in result.figure()
    assert "label sets incl. pod and PVC templates" in result.figure()


def test_a_missing_label_on_a_pod_template_fails(crafted):
    path = crafted / "verl" / "deployment-verl-sample-web.yaml"
    edit(path, lambda o: o["spec"]["template"]["metadata"]["labels"].pop(labels.COST_CENTER))
    [failure] = [f for f in cost_labels.run(load_plan(crafted)).failures if f.file.endswith(path.name)]
    assert failure.file.endswith("verl/deployment-verl-sample-web.yaml")
    assert failure.rule == "cost-labels"
    assert "spec.template.metadata: label urban-stack/cost-center missing" in failure.message


def test_a_missing_label_on_a_pvc_template_fails(crafted):
    path = crafted / "verl" / "statefulset-verl-sample-cache.yaml"
    edit(path, lambda o: o["spec"]["volumeClaimTemplates"][0]["metadata"].pop("labels"))
    messages = [f.message for f in cost_labels.run(load_plan(crafted)).failures]
    assert any("spec.volumeClaimTemplates[0].metadata: label urban-stack/tenant missing" in m for m in messages)


def test_an_object_charged_to_another_municipality_fails(crafted):
    path = crafted / "verl" / "service-verl-sample-web.yaml"
    edit(path, lambda o: o["metadata"]["labels"].update({labels.TENANT: "guetersloh"}))
    messages = [f.message for f in cost_labels.run(load_plan(crafted)).failures]
    assert any("'guetersloh' but the object belongs to stack 'verl'" in m for m in messages)


def test_a_wrong_cost_center_and_an_unknown_module_fail(crafted):
    path = crafted / "verl" / "configmap-verl-sample-settings.yaml"
    edit(path, lambda o: o["metadata"]["labels"].update({labels.COST_CENTER: "NOPE", labels.MODULE: "bitcoin"}))
    messages = " | ".join(f.message for f in cost_labels.run(load_plan(crafted)).failures)
    assert "charged to" in messages and "'NOPE'" in messages
    assert "'bitcoin' is not a known module" in messages


def test_a_workload_without_a_pod_template_metadata_fails(crafted):
    path = crafted / "verl" / "deployment-verl-sample-web.yaml"
    edit(path, lambda o: o["spec"]["template"].pop("metadata"))
    [failure] = [f for f in cost_labels.run(load_plan(crafted)).failures if f.file.endswith(path.name)]
    assert "spec.template.metadata: missing" in failure.message
