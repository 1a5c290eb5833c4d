"""API-server validation that no schema expresses: PodDisruptionBudgets, label syntax everywhere, selectors that
select their template, container and Service ports (rules of kubernetes pkg/apis/*/validation)."""

from __future__ import annotations

import re

import pytest

from tests.plan_files import edit
from urbanstack.checks import api_validation as av
from urbanstack.checks.base import load_plan

WEB = "verl/deployment-verl-sample-web.yaml"
SERVICE = "verl/service-verl-sample-web.yaml"


def failures(plan_dir, rule=None):
    found = av.run(load_plan(plan_dir)).failures
    return [f for f in found if rule is None or f.rule == rule]


def test_the_crafted_copy_of_the_real_plan_is_valid(crafted):
    result = av.run(load_plan(crafted))
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert re.search(r"\[ours \d+, chart \d+, operator \d+ objects\]", result.figure())


def test_a_pod_disruption_budget_with_min_available_and_max_unavailable_is_refused(crafted):
    [pdb] = sorted((crafted / "shared").glob("poddisruptionbudget-urban-identity-keycloak.yaml"))
    edit(pdb, lambda o: o["spec"].update(minAvailable=1))
    [f] = failures(crafted, av.RULE_PDB)
    assert f.file.endswith(pdb.name) and "minAvailable and maxUnavailable cannot be both set" in f.message


@pytest.mark.parametrize("value, problem", [("EVIL-", "starting and ending with an alphanumeric"),
                                            ("x" * 64, "at most 63 characters")])
def test_an_invalid_label_value_on_a_pod_template_is_refused(crafted, value, problem):
    edit(crafted / WEB, lambda o: o["spec"]["template"]["metadata"]["labels"].update({"team": value}))
    [f] = failures(crafted, av.RULE_LABELS)
    assert f.file.endswith(WEB) and "spec.template.metadata.labels" in f.message and problem in f.message


def test_an_invalid_label_key_in_a_network_policy_selector_is_refused(crafted):
    path = crafted / "verl" / "networkpolicy-verl-sample-web-from-gateway.yaml"
    edit(path, lambda o: o["spec"]["podSelector"]["matchLabels"].update({"Example.com/app": "web"}))
    [f] = failures(crafted, av.RULE_LABELS)
    assert "spec.podSelector" in f.message and "prefix must be a DNS-1123 subdomain" in f.message


def test_a_selector_that_does_not_select_its_template_is_refused(crafted):
    edit(crafted / WEB, lambda o: o["spec"]["selector"]["matchLabels"].update({"extra": "label"}))
    [f] = failures(crafted, av.RULE_SELECTOR)
    assert f.file.endswith(WEB) and "does not match the template labels" in f.message


def test_container_ports_out_of_range_or_named_twice_are_refused(crafted):
    def change(o):
        c = o["spec"]["template"]["spec"]["containers"][0]
        c["ports"] = [{"name": "http", "containerPort": 70000}, {"name": "http", "containerPort": 8081},
                      {"name": "a-very-long-port-name", "containerPort": 8082}]
    edit(crafted / WEB, change)
    messages = [f.message for f in failures(crafted, av.RULE_CONTAINER_PORTS)]
    assert any("containerPort 70000 must be 1-65535" in m for m in messages)
    assert any("duplicate port name 'http'" in m for m in messages)
    assert any("must be at most 15 characters" in m for m in messages)


def test_service_ports_duplicated_or_unnamed_are_refused(crafted):
    edit(crafted / SERVICE, lambda o: o["spec"]["ports"].append({"port": o["spec"]["ports"][0]["port"]}))
    messages = [f.message for f in failures(crafted, av.RULE_SERVICE_PORTS)]
    assert any("a name is required" in m for m in messages) and any("duplicate port" in m for m in messages)


def test_the_predicates_follow_apimachinery():
    assert av.qualified_name_problems("urban-stack/tenant") == []
    assert av.qualified_name_problems("app.kubernetes.io/name") == []
    assert av.qualified_name_problems("/x") and av.qualified_name_problems("a/b/c")
    assert av.qualified_name_problems("a" * 64) and not av.qualified_name_problems("a" * 63)
    assert av.label_value_problems("") == [] and av.label_value_problems("-x")
    assert av.port_name_problems("metrics") == [] and av.port_name_problems("8080")
    assert av.port_name_problems("a--b") and av.port_name_problems("Http")
    assert av.selector_problems({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
    assert av.selector_problems({"matchExpressions": [{"key": "a", "operator": "In"}]})
