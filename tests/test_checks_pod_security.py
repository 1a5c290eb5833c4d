"""Pod Security admission: every pod the plan makes is admitted at its namespace's enforce level, judged by an
evaluator that agrees with Kubernetes' own fixtures (vendor/pod-security-fixtures, policy version v1.33)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from catalogue.paths import ROOT
from tests.plan_files import edit
from urbanstack.checks import pod_security as ps
from urbanstack.checks.base import load_plan

FIXTURES = ROOT / "vendor" / "pod-security-fixtures"


def fixtures() -> list[tuple[str, str, Path]]:
    return [(level, verdict, f) for level in ("baseline", "restricted") for verdict in ("pass", "fail")
            for f in sorted((FIXTURES / level / "v1.33" / verdict).glob("*.yaml"))]


def test_the_evaluator_agrees_with_every_upstream_fixture():
    disagreements, counts = [], {}
    for level, verdict, f in fixtures():
        pod = yaml.safe_load(f.read_text())
        refused = ps.evaluate(pod.get("metadata") or {}, pod["spec"], level)
        counts[(level, verdict)] = counts.get((level, verdict), 0) + 1
        if bool(refused) != (verdict == "fail"):
            disagreements.append(f"{level}/{verdict}/{f.name}: {refused or 'admitted'}")
    print(f"Pod Security fixtures v1.33: {sum(counts.values()) - len(disagreements)} agreed, "
          f"{len(disagreements)} disagreed; "
          + ", ".join(f"{level} {verdict} {n}" for (level, verdict), n in sorted(counts.items()))
          + f" ({sum(counts.values())} in all)")
    assert counts == {("baseline", "fail"): 29, ("baseline", "pass"): 11,
                      ("restricted", "fail"): 69, ("restricted", "pass"): 19}, "the vendored fixture set changed"
    assert disagreements == [], "\n".join(disagreements)


def test_a_fail_fixture_is_refused_for_the_rule_it_breaks():
    pod = yaml.safe_load((FIXTURES / "restricted/v1.33/fail/allowprivilegeescalation0.yaml").read_text())
    assert [why.split(" (")[0] for why in ps.evaluate(pod["metadata"], pod["spec"], "restricted")] \
        == ["allowPrivilegeEscalation != false"]
    assert ps.evaluate(pod["metadata"], pod["spec"], "baseline") == [], "baseline does not ask for it"


def test_windows_pods_are_exempt_from_the_linux_only_restricted_checks():
    spec = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True}, "containers": [{"name": "c"}]}
    assert ps.evaluate({}, spec, "restricted") == []
    del spec["os"]
    assert {why.split(" (")[0] for why in ps.evaluate({}, spec, "restricted")} == {
        "allowPrivilegeEscalation != false", "seccompProfile", "unrestricted capabilities"}


def test_privileged_admits_anything_and_unknown_levels_are_an_error():
    assert ps.evaluate({}, {"hostNetwork": True, "containers": [{"name": "c"}]}, "privileged") == []
    with pytest.raises(ValueError, match="unknown Pod Security level 'strict'"):
        ps.evaluate({}, {}, "strict")


def test_the_crafted_copy_of_the_real_plan_is_admitted(crafted):
    result = ps.run(load_plan(crafted))
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.checked > 0 and re.search(r"\[ours \d+, chart \d+, operator \d+ pod-making objects\]", result.figure())


def test_a_root_container_in_a_restricted_municipality_namespace_is_refused(crafted):
    path = crafted / "verl" / "deployment-verl-sample-web.yaml"
    edit(path, lambda o: o["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(
        runAsNonRoot=False, runAsUser=0))
    failures = ps.run(load_plan(crafted)).failures
    assert [f.file.rsplit("/", 1)[-1] for f in failures] == ["deployment-verl-sample-web.yaml"] * 2
    assert all("Pod Security 'restricted' of namespace verl" in f.message for f in failures)
    assert {f.message.rsplit(": ", 1)[1].split(" (")[0] for f in failures} == {"runAsNonRoot != true", "runAsUser=0"}


def test_a_namespace_the_plan_does_not_create_is_assumed_privileged(crafted):
    path = crafted / "verl" / "deployment-verl-sample-web.yaml"
    edit(path, lambda o: (o["metadata"].update(namespace="kube-system"),
                          o["spec"]["template"]["spec"].update(hostNetwork=True)))
    result = ps.run(load_plan(crafted))
    assert result.failures == []
    assert "1 in namespaces outside the plan, assumed 'privileged'" in result.figure()
