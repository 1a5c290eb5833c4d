"""checkov (own virtualenv, offline) reports 0 failed checks; skipped checks are listed once, with reasons,
and never include privilege escalation, root, host namespaces, capabilities or service-account tokens."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.plan_files import read
from urbanstack.checks import checkov
from urbanstack.checks.base import DEFAULT_CHECKOV, load_plan

GUARDED = {
    "privilege escalation": {"CKV_K8S_5", "CKV_K8S_20"},
    "privileged": {"CKV_K8S_2", "CKV_K8S_16"},
    "root": {"CKV_K8S_6", "CKV_K8S_23", "CKV_K8S_40"},
    "host namespaces": {"CKV_K8S_1", "CKV_K8S_3", "CKV_K8S_4", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"},
    "capabilities": {"CKV_K8S_7", "CKV_K8S_24", "CKV_K8S_25", "CKV_K8S_28", "CKV_K8S_36", "CKV_K8S_37",
                     "CKV_K8S_39"},
    "service-account tokens": {"CKV_K8S_38", "CKV_K8S_41", "CKV_K8S_42"},
}




def test_no_security_critical_check_is_skipped():
    skipped = set(checkov.load_skips())
    for guards, ids in GUARDED.items():
        assert not skipped & ids, f"checks on {guards} may never be skipped"
        assert ids <= set(checkov.FORBIDDEN_SKIPS)


def test_every_skipped_check_has_a_reason():
    for check_id, reason in checkov.load_skips().items():
        assert checkov.CHECK_ID.match(check_id)
        assert len(reason.split()) >= 10, check_id


def test_a_skip_file_that_skips_a_guarded_check_is_refused(tmp_path):
    bad = tmp_path / "skips.yaml"
    bad.write_text(yaml.safe_dump({"CKV_K8S_20": "We really need privilege escalation for this one."}))
    with pytest.raises(checkov.CheckovError, match=r"CKV_K8S_20: guards privilege escalation"):
        checkov.load_skips(bad)


def test_a_skip_without_a_reason_is_refused(tmp_path):
    bad = tmp_path / "skips.yaml"
    bad.write_text("CKV_K8S_43: todo\n")
    with pytest.raises(checkov.CheckovError, match="CKV_K8S_43: needs a reason"):
        checkov.load_skips(bad)


def test_the_hardened_workloads_of_components_k8s_pass_checkov(crafted):
    plan = load_plan(crafted)
    result = checkov.run(plan, target=crafted / "verl")
    assert result.failures == [], "\n".join(map(str, result.failures))
    # checkov's own count includes results on the municipality's operator-made pods (operator-cluster/) that the
    # skip file's upstream section skips with a reason; this project's objects have none
    assert "], 0 failures" in result.figure()


def test_a_privileged_container_fails_checkov_naming_the_file_and_the_check(crafted):
    path = crafted / "verl" / "deployment-verl-sample-web.yaml"
    obj = yaml.safe_load(path.read_text())
    sc = obj["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    sc["privileged"] = True
    path.write_text(yaml.safe_dump(obj, sort_keys=False))
    result = checkov.run(load_plan(crafted), target=path)
    rules = {f.rule.split()[0] for f in result.failures}
    assert "CKV_K8S_16" in rules
    failure = next(f for f in result.failures if f.rule.startswith("CKV_K8S_16"))
    assert failure.file.endswith("verl/deployment-verl-sample-web.yaml")
    assert "Container should not be privileged" in failure.rule
    assert "Deployment.verl.sample-web" in failure.message


def test_a_missing_checkov_says_how_to_install_it(crafted, tmp_path):
    with pytest.raises(checkov.CheckovError, match="make checkov-venv"):
        checkov.run(load_plan(crafted), checkov=tmp_path / "no-checkov")


def skips_file(tmp_path, upstream):
    path = tmp_path / "skips.yaml"
    path.write_text(yaml.safe_dump({"upstream": upstream}))
    return path


def test_a_guarded_check_can_be_skipped_for_upstream_objects_only_scoped_to_named_files(tmp_path):
    path = skips_file(tmp_path, {"CKV_K8S_40": {
        "*/operator-cluster/pod-*.yaml": "PostgreSQL runs as the image's UID 26 by design of the image."}})
    [skip] = checkov.load_upstream_skips(path)
    assert skip.covers("CKV_K8S_40", "verl/operator-cluster/pod-verl-postgis-1.yaml")
    assert not skip.covers("CKV_K8S_38", "verl/operator-cluster/pod-verl-postgis-1.yaml")
    assert not skip.covers("CKV_K8S_40", "verl/operator-keycloak/statefulset-verl-x.yaml")
    # this project's own objects are never covered, whatever the glob says
    assert not skip.covers("CKV_K8S_40", "verl/pod-verl-postgis-1.yaml")


@pytest.mark.parametrize("glob", ["*/*/pod-*.yaml", "verl/pod-x.yaml", "*", "verl/operator-*/x.yaml",
                                  "verl/deploy/x.yaml"])
def test_a_scoped_skip_must_name_one_chart_or_operator_folder(tmp_path, glob):
    path = skips_file(tmp_path, {"CKV_K8S_38": {glob: "The operator talks to the API with its own token."}})
    with pytest.raises(checkov.CheckovError, match="a file glob must read <stack>/<folder>/<file>"):
        checkov.load_upstream_skips(path)


def test_a_scoped_skip_needs_a_reason(tmp_path):
    path = skips_file(tmp_path, {"CKV_K8S_38": {"shared/chart-x/deployment-x.yaml": "todo"}})
    with pytest.raises(checkov.CheckovError, match="needs a reason"):
        checkov.load_upstream_skips(path)


def test_every_scoped_upstream_skip_of_the_project_has_a_reason_and_a_precise_folder():
    scoped = [s for s in checkov.load_upstream_skips() if s.files is not None]
    assert scoped
    for s in scoped:
        assert len(s.reason.split()) >= 10, (s.check_id, s.files)
        assert s.files.split("/")[1].startswith(checkov.UPSTREAM_FOLDERS)


def test_a_scoped_skip_that_skips_nothing_fails_as_stale(crafted, tmp_path):
    path = skips_file(tmp_path, {"CKV_K8S_38": {
        "shared/chart-cert-manager/deployment-none-such.yaml": "cert-manager talks to the API with its token."}})
    result = checkov.run(load_plan(crafted), skips_file=path)
    stale = [f for f in result.failures if f.rule.startswith("stale-skip")]
    assert [f.rule for f in stale] == ["stale-skip CKV_K8S_38"]
    assert "deployment-none-such.yaml skips nothing" in stale[0].message


def test_checkov_has_no_check_for_custom_resource_definitions_so_they_are_not_given_to_it():
    # What NOT_SCANNED relies on, asked of the pinned checkov itself: the kinds its Kubernetes resource checks
    # and graph checks read (checkov/kubernetes/checks/resource/registry.py, checks/graph_checks/*.json).
    script = (
        "import json, pathlib, checkov.kubernetes.checks.resource.registry as r\n"
        "kinds = set(r.registry.checks) | set(getattr(r.registry, 'wildcard_checks', {}))\n"
        "def walk(node):\n"
        "    if isinstance(node, dict):\n"
        "        for key in ('resource_types', 'connected_resource_types'):\n"
        "            kinds.update(node.get(key) or [])\n"
        "        if node.get('cond_type') == 'filter' and node.get('attribute') in ('kind', 'resource_type'):\n"
        "            kinds.update(node.get('value') or [])\n"
        "        for value in node.values(): walk(value)\n"
        "    elif isinstance(node, list):\n"
        "        for value in node: walk(value)\n"
        "for f in (pathlib.Path(r.__file__).parent.parent / 'graph_checks').glob('*.json'):\n"
        "    walk(json.loads(f.read_text()))\n"
        "print(json.dumps(sorted(kinds)))\n")
    proc = subprocess.run([str(DEFAULT_CHECKOV.parent / "python"), "-c", script], capture_output=True, text=True,
                          check=True)
    kinds = set(json.loads(proc.stdout))
    assert {"Deployment", "ClusterRole", "NetworkPolicy"} <= kinds, "the registry was read"
    assert checkov.UNCHECKED_KIND not in kinds and "*" not in kinds


def test_the_plan_files_checkov_is_not_given_are_exactly_the_custom_resource_definitions(real_plan_dir):
    names = {f.name for f in real_plan_dir.rglob("*.yaml")}
    skipped = {n for n in names if re.search(checkov.NOT_SCANNED, f"x/{n}")}
    kinds = {read(f)["kind"] for f in real_plan_dir.rglob("*.yaml") if f.name in skipped}
    assert skipped and kinds == {checkov.UNCHECKED_KIND}
    crd_files = {f.name for f in real_plan_dir.rglob("customresourcedefinition-*.yaml")}
    assert skipped == crd_files


def test_a_large_plan_is_given_to_checkov_in_batches_of_whole_stacks_without_the_crds(real_plan_dir, monkeypatch):
    monkeypatch.setattr(checkov, "BATCH_FILES", 200)
    parts = checkov.batches(real_plan_dir)
    assert len(parts) > 1
    stacks_of = [{f.relative_to(real_plan_dir).parts[0] for f in part} for part in parts]
    assert all(a.isdisjoint(b) for i, a in enumerate(stacks_of) for b in stacks_of[i + 1:]), "a stack is split"
    files = [f for part in parts for f in part]
    assert len(files) == len(set(files))
    assert not [f for f in files if re.search(checkov.NOT_SCANNED, f.as_posix()) or f.name == "resources.json"]
    assert all(len(part) <= 200 or len(stacks) == 1 for part, stacks in zip(parts, stacks_of, strict=True))


def test_checkov_finds_the_same_in_batches_as_in_one_run(crafted, monkeypatch, tmp_path):
    """Stacks share no object checkov could connect: batches (a plan of hundreds of municipalities) judge alike.
    The municipalities' stacks of the crafted plan (with its failing sample workload; the platform stacks' chart
    folders would only make checkov slower here)."""
    import shutil

    members = tmp_path / "members"
    shutil.copytree(crafted, members, ignore=lambda folder, names: [n for n in names if n.startswith("shared")]
                    if folder == str(crafted) else [])
    plan = load_plan(members)
    whole = checkov.run(plan)
    assert whole.failures  # the sample workload's findings take part
    monkeypatch.setattr(checkov, "BATCH_FILES", 250)  # two batches: one round of the two parallel runs
    assert len(checkov.batches(members)) > 1
    batched = checkov.run(plan)
    assert batched.detail == whole.detail and batched.checked == whole.checked
    assert sorted(map(str, batched.failures)) == sorted(map(str, whole.failures))
