"""``urbanstack plan --compare OLD``: every change between two plans that the API server refuses, or that makes
Pulumi replace an object, and every replacement or removal of a protected resource."""

from __future__ import annotations

import shutil

import yaml
from typer.testing import CliRunner

from tests.plan_files import edit
from urbanstack import compare as cmp
from urbanstack.cli import app
from urbanstack.plan import write_plan

runner = CliRunner()


def changes(old, new):
    return cmp.compare(cmp.snapshot(old), cmp.snapshot(new))


def test_a_plan_compared_with_itself_has_no_changes(real_plan_dir):
    assert changes(real_plan_dir, real_plan_dir) == []


def test_a_larger_plan_size_changes_volume_claim_templates_of_protected_stateful_sets(
        real_plan_dir, plan_stack, tenants_copy, tmp_path):
    """Issue 15 item 9: rietberg small -> large changes volumeClaimTemplates, which Kubernetes refuses and
    Pulumi would answer with a replacement, but the StatefulSets are protected."""
    path = tenants_copy / "rietberg.yaml"
    path.write_text(path.read_text().replace("plan: small", "plan: large"))
    write_plan([plan_stack("rietberg", tenants_dir=tenants_copy)], tmp_path / "new")
    old = {k: e for k, e in cmp.snapshot(real_plan_dir).items() if e.stack == "rietberg"}
    found = cmp.compare(old, cmp.snapshot(tmp_path / "new"))
    sts = [c for c in found if c.ref.startswith("StatefulSet ") and "spec.volumeClaimTemplates" in c.message]
    assert {c.ref for c in sts} == {"StatefulSet rietberg/rei3-app (stack rietberg)",
                                    "StatefulSet rietberg/lowcode-editor (stack rietberg)"}
    assert all(c.verdict == cmp.PROTECTED and "protect and retainOnDelete" in c.message for c in sts)


def test_immutable_fields_are_refused_or_replaced(real_plan_dir, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(real_plan_dir, new)
    edit(new / "verl" / "deployment-verl-dashboards-web.yaml",
         lambda o: o["spec"]["selector"]["matchLabels"].update({"extra": "x"}))
    edit(new / "verl" / "service-verl-dashboards-web.yaml", lambda o: o["spec"].update(clusterIP="None"))
    edit(new / "verl" / "rolebinding-verl-realm-editors.yaml", lambda o: o["roleRef"].update(name="view"))
    found = {(c.ref, c.verdict, c.message.split(" ", 1)[0]) for c in changes(real_plan_dir, new)}
    assert found == {("Deployment verl/dashboards-web (stack verl)", cmp.REPLACED, "spec.selector"),
                     ("Service verl/dashboards-web (stack verl)", cmp.REPLACED, "spec.clusterIP"),
                     ("RoleBinding verl/realm-editors (stack verl)", cmp.REPLACED, "roleRef")}


def test_a_stateful_set_field_kubernetes_refuses_and_pulumi_updates_in_place_is_refused(real_plan_dir, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(real_plan_dir, new)
    edit(new / "rietberg" / "statefulset-rietberg-rei3-app.yaml", lambda o: o["spec"].update(
        replicas=3, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain"}, minReadySeconds=5))
    assert changes(real_plan_dir, new) == [], "these fields may change"
    edit(new / "rietberg" / "statefulset-rietberg-rei3-app.yaml", lambda o: o["spec"].update(publishNotReadyAddresses=True))
    [change] = changes(real_plan_dir, new)
    assert change.verdict == cmp.REFUSED and "ValidateStatefulSetUpdate" in change.message


def test_removing_a_protected_resource_is_reported(real_plan_dir, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(real_plan_dir, new)
    (new / "verl" / "cluster-verl-postgis.yaml").unlink()
    [change] = changes(real_plan_dir, new)
    assert change.verdict == cmp.PROTECTED and change.ref == "Cluster verl/postgis (stack verl)"
    assert "removed from the plan" in change.message


def test_a_pvc_may_grow_through_the_api_but_never_shrink():
    def pvc(size):
        return cmp.Entry("s", "k", {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                    "metadata": {"name": "d", "namespace": "n"},
                                    "spec": {"resources": {"requests": {"storage": size}}}}, "f", ())
    [shrink] = cmp.compare({"k": pvc("10Gi")}, {"k": pvc("5000Mi")})
    assert shrink.verdict == cmp.REFUSED and "can not shrink" in shrink.message
    [grow] = cmp.compare({"k": pvc("10Gi")}, {"k": pvc("20Gi")})
    assert grow.verdict == cmp.REPLACED and "replaces the claim and its data" in grow.message


def test_plan_compare_on_the_command_line_reports_and_exits_non_zero(real_plan_dir, tmp_path):
    old = tmp_path / "old"  # shared + verl: what `plan --stack verl` writes
    shutil.copytree(real_plan_dir, old, ignore=lambda d, names: [
        n for n in names if d == str(real_plan_dir) and (real_plan_dir / n).is_dir() and n not in ("shared", "verl")])
    planned_role = yaml.safe_load((old / "verl" / "rolebinding-verl-realm-editors.yaml").read_text())["roleRef"]["name"]
    edit(old / "verl" / "rolebinding-verl-realm-editors.yaml", lambda o: o["roleRef"].update(name="view"))
    result = runner.invoke(app, ["plan", "--stack", "verl", "--out", str(tmp_path / "new"), "--compare", str(old)])
    assert result.exit_code == 1, result.output
    assert "[replaced] RoleBinding verl/realm-editors (stack verl): roleRef" in result.output
    assert "1 change(s) against" in result.output
    # The same folder as --out and --compare: the old plan is read before it is replaced.
    result = runner.invoke(app, ["plan", "--stack", "verl", "--out", str(old), "--compare", str(old)])
    assert result.exit_code == 1 and "1 change(s) against" in result.output, result.output
    assert yaml.safe_load((old / "verl" / "rolebinding-verl-realm-editors.yaml").read_text())["roleRef"]["name"] \
        == planned_role
    result = runner.invoke(app, ["plan", "--stack", "verl", "--out", str(old), "--compare", str(old)])
    assert result.exit_code == 0 and "0 change(s)" in result.output, result.output


def test_plan_compare_with_a_missing_folder_says_so(tmp_path):
    result = runner.invoke(app, ["plan", "--out", str(tmp_path / "new"), "--compare", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "nothing: no plan here to compare with" in result.output
    assert not (tmp_path / "new").exists(), "nothing is written when the old plan cannot be read"
