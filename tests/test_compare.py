"""``urbanstack plan --compare OLD``: every change between two plans that the API server refuses, or that makes
Pulumi replace an object, and every replacement or removal of a protected resource."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from tests.plan_files import edit
from urbanstack.cli import app
from urbanstack.engine import compare as cmp
from urbanstack.engine.plan import write_plan

runner = CliRunner()


def changes(old, new):
    return cmp.compare(cmp.snapshot(old), cmp.snapshot(new))


def test_a_plan_compared_with_itself_has_no_changes(real_plan_dir):
    assert changes(real_plan_dir, real_plan_dir) == []


@pytest.mark.parametrize("size", ["medium", "large"])
def test_a_larger_plan_size_is_safe_as_documented(real_plan_dir, plan_stack, tenants_copy, tmp_path, size):
    """Issue 25 item 5: rietberg small -> medium was reported as four replacements of protected StatefulSets and
    volumes. The StatefulSets ignore volumeClaimTemplates (resources.json ignoreChanges), the claims grow through
    PersistentVolumeClaimPatch resources (updated in place), the database through CloudNativePG's own resize."""
    path = tenants_copy / "rietberg.yaml"
    path.write_text(path.read_text().replace("plan: small", f"plan: {size}"))
    write_plan([plan_stack("shared"), plan_stack("rietberg", tenants_dir=tenants_copy)], tmp_path / "new")
    new = cmp.snapshot(tmp_path / "new")
    grown = [e for e in new.values() if e.patch and e.stack == "rietberg"]
    assert len(grown) == 2 and all(e.obj["kind"] == "PersistentVolumeClaim" for e in grown)
    assert cmp.compare(cmp.snapshot(real_plan_dir), new, {"shared", "rietberg"}) == []


def test_volume_claim_templates_that_are_not_ignored_would_replace_a_protected_stateful_set(real_plan_dir):
    [sts] = [e for e in cmp.snapshot(real_plan_dir).values() if e.ref == "StatefulSet rietberg/rei3-app (stack rietberg)"]
    assert sts.ignore == ("spec.volumeClaimTemplates",)
    grown = yaml.safe_load(yaml.safe_dump(sts.obj).replace("storage: 10Gi", "storage: 25Gi"))
    not_ignored = dataclasses.replace(sts, obj=grown, ignore=())
    [change] = cmp.compare({sts.key: sts}, {sts.key: not_ignored})
    assert change.verdict == cmp.PROTECTED and change.message.startswith(
        "replacement of a resource with protect and retainOnDelete: spec.volumeClaimTemplates")
    assert cmp.compare({sts.key: sts}, {sts.key: dataclasses.replace(sts, obj=grown)}) == []


def test_module_options_and_a_version_bump_are_safe(real_plan_dir, plan_stack, tenants_copy, tmp_path):
    path = tenants_copy / "verl.yaml"
    path.write_text(path.read_text().replace("    mqtt: true", "    mqtt: false\n    publicRead: true"))
    write_plan([plan_stack("shared"), plan_stack("verl", tenants_dir=tenants_copy)], tmp_path / "new")
    assert cmp.compare(cmp.snapshot(real_plan_dir), cmp.snapshot(tmp_path / "new"), {"shared", "verl"}) == []
    # A version bump: every workload image and the database image of verl one tag further (a Job is named by a
    # hash of its content, so a new image is a new Job, not a change of one).
    bumped = tmp_path / "bumped"
    shutil.copytree(real_plan_dir, bumped)

    def bump(obj):
        if obj.get("kind") == "Job":
            return
        for c in (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
            c["image"] = c["image"] + "-next"
        if obj.get("kind") == "Cluster":
            obj["spec"]["imageName"] = obj["spec"]["imageName"] + "-next"
    for f in (bumped / "verl").glob("*.yaml"):
        edit(f, bump)
    assert cmp.compare(cmp.snapshot(real_plan_dir), cmp.snapshot(bumped)) == []


def test_unsafe_changes_to_custom_resources_are_refused(real_plan_dir, tmp_path):
    """A CloudNativePG Database's name is immutable (CRD rule self == oldSelf); a database volume never shrinks
    (CloudNativePG's webhook); a claim patch may grow, never shrink."""
    new = tmp_path / "new"
    shutil.copytree(real_plan_dir, new)
    edit(new / "verl" / "database-verl-db-superset.yaml", lambda o: o["spec"].update(name="superset2"))
    edit(new / "verl" / "cluster-verl-postgis.yaml", lambda o: o["spec"]["storage"].update(size="1Gi"))
    edit(new / "rietberg" / "cluster-rietberg-postgis.yaml", lambda o: o["spec"].pop("walStorage"))
    edit(new / "rietberg" / "persistentvolumeclaim-rietberg-data-rei3-app-0.yaml",
         lambda o: o["spec"]["resources"]["requests"].update(storage="1Gi"))
    found = {(c.ref, c.verdict, c.message.split(" ", 1)[0]) for c in changes(real_plan_dir, new)}
    assert found == {("Database verl/db-superset (stack verl)", cmp.REFUSED, "spec.name"),
                     ("Cluster verl/postgis (stack verl)", cmp.REFUSED, "spec.storage.size"),
                     ("Cluster rietberg/postgis (stack rietberg)", cmp.REFUSED, "spec.walStorage"),
                     ("PersistentVolumeClaim rietberg/data-rei3-app-0 (stack rietberg)", cmp.REFUSED,
                      "spec.resources.requests.storage")}
    assert any("name is immutable" in c.message for c in changes(real_plan_dir, new))


def test_objects_an_operator_makes_follow_their_custom_resource_not_pulumi(real_plan_dir, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(real_plan_dir, new)
    # CloudNativePG makes and manages its Services; Pulumi never replaces them (it does not own them).
    edit(new / "verl" / "operator-cluster" / "service-verl-postgis-rw.yaml", lambda o: o["spec"].update(clusterIP="None"))
    assert changes(real_plan_dir, new) == []


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


def test_a_folder_that_is_not_a_plan_is_refused_in_one_line(tmp_path):
    """Issue 25 item 4: `plan --compare build` printed `0 change(s)` and exited 0: a CI gate that always passes."""
    build = tmp_path / "build"
    (build / "costs").mkdir(parents=True)
    for folder in (build, tmp_path / "empty"):
        folder.mkdir(exist_ok=True)
        result = runner.invoke(app, ["plan", "--stack", "verl", "--out", str(tmp_path / "new"), "--compare", str(folder)])
        assert result.exit_code == 2, result.output
        assert result.output == (f"{folder}: not a plan (no <stack>/resources.json); compare with a folder that "
                                 f"`urbanstack plan --out DIR` wrote\n")
    assert not (tmp_path / "new").exists()


def test_a_plan_of_other_stacks_than_asked_is_refused(real_plan_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(real_plan_dir, old, ignore=lambda d, names: [
        n for n in names if d == str(real_plan_dir) and n in ("verl",)])
    result = runner.invoke(app, ["plan", "--stack", "verl", "--out", str(tmp_path / "new"), "--compare", str(old)])
    assert result.exit_code == 2, result.output
    assert "not of verl: compare with a plan that holds verl" in result.output
    assert not (tmp_path / "new").exists()


def test_planning_one_stack_compares_only_the_stacks_planned(real_plan_dir, tmp_path):
    """Issue 25 item 5: `plan --stack verl --compare <full plan>` reported 37 protected resources of the other
    municipalities as removed."""
    result = runner.invoke(app, ["plan", "--stack", "verl", "--out", str(tmp_path / "new"), "--compare",
                                 str(real_plan_dir)])
    assert result.exit_code == 0, result.output
    assert "removed" not in result.output
    assert f"0 change(s) against {real_plan_dir} (stacks shared, verl)" in result.output
