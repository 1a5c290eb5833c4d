"""Custom resources are judged by the CRD the plan installs, as the API server of the pinned Kubernetes would judge them
(``urbanstack/engine/crds.py``): the version must be served, a field the API server would prune fails with its full path,
defaults are applied before the schema and the CEL rules run, every CEL rule is evaluated or counted as not evaluated,
and the cluster model reads the stored (pruned, defaulted) object.

Fixtures: small CRDs in ``tests/fixtures/crds/`` (each with its provenance) and the vendored upstream chart copies."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from catalogue.paths import ROOT
from catalogue.versions import CHARTS
from tests.plan_files import read
from urbanstack import cluster_model
from urbanstack.checks import schemas
from urbanstack.checks.base import load_plan
from urbanstack.engine import crds
from urbanstack.engine.plan import object_filename, to_yaml

FIXTURES = ROOT / "tests" / "fixtures" / "crds"
EG_CHART = ROOT / "vendor" / "charts" / f"gateway-helm-{CHARTS['envoy-gateway'].version}"
EG_CRDS = EG_CHART / "charts" / "crds" / "crds"


def load_crds(*paths: Path) -> list[dict]:
    return [d for p in paths for d in yaml.safe_load_all(p.read_text(encoding="utf-8"))
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]


def installed(*paths: Path) -> dict:
    index, problems = crds.index_crds((c, f"fixture {c['metadata']['name']}") for c in load_crds(*paths))
    assert problems == []
    return index


KEYCLOAK_CRD = FIXTURES / "keycloak-26.4.5-served-versions.yaml"
WIDGET_CRD = FIXTURES / "widgets.example.org.yaml"
ENVOYPROXY_CRD_V1_5_4 = FIXTURES / "envoy-gateway-v1.5.4-envoyproxies.yaml"
"""Envoy Gateway v1.5.4's EnvoyProxy CRD (the release pinned before issue 20), kept as a fixture."""
ENVOYPROXY_CRD = EG_CRDS / "generated" / "gateway.envoyproxy.io_envoyproxies.yaml"
GATEWAY_API_CRDS = EG_CRDS / "gatewayapi-crds.yaml"

TODAYS_KEYCLOAK = {
    "apiVersion": "k8s.keycloak.org/v2beta1", "kind": "Keycloak",
    "metadata": {"name": "keycloak", "namespace": "urban-identity"},
    "spec": {"instances": 2, "hostname": {"hostname": "https://id.example.de", "strict": True},
             "http": {"httpEnabled": True}, "proxy": {"headers": "xforwarded"}},
}
"""The Keycloak CR as components/shared/identity.py wrote it before issue 20 (apiVersion v2beta1)."""

TODAYS_ENVOYPROXY = {
    "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyProxy",
    "metadata": {"name": "urban-envoy", "namespace": "urban-gateway"},
    "spec": {"provider": {"type": "Kubernetes", "kubernetes": {
        "envoyDeployment": {"replicas": 3, "pod": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "priorityClassName": "urban-platform-critical",
            "labels": {"urban-stack/tenant": "shared"}}},
        "envoyPDB": {"maxUnavailable": 1}}}},
}
"""The EnvoyProxy as components/shared/gateway.py wrote it before issue 20 (a pod priority class)."""


def widget(**spec) -> dict:
    return {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "n"},
            "spec": spec}


# ---------------------------------------------------------------------------------------------------------------
# The two defects of issue 20
# ---------------------------------------------------------------------------------------------------------------

def test_todays_keycloak_cr_is_refused_because_the_pinned_operator_serves_only_v2alpha1():
    judged = crds.judge(TODAYS_KEYCLOAK, installed(KEYCLOAK_CRD))
    [(rule, message)] = judged.failures
    assert rule == "crd-version"
    assert message.startswith("version not served: k8s.keycloak.org/v2beta1 Keycloak")
    assert "serves v2alpha1" in message


def test_the_same_keycloak_cr_at_v2alpha1_is_admitted():
    cr = {**TODAYS_KEYCLOAK, "apiVersion": "k8s.keycloak.org/v2alpha1"}
    assert crds.judge(cr, installed(KEYCLOAK_CRD)).failures == []


def test_todays_envoyproxy_pod_priority_class_is_pruned_by_envoy_gateway_v1_5_4s_own_crd():
    judged = crds.judge(TODAYS_ENVOYPROXY, installed(ENVOYPROXY_CRD_V1_5_4))
    assert judged.admitted.pruned == ["spec.provider.kubernetes.envoyDeployment.pod.priorityClassName"]
    assert [rule for rule, _ in judged.failures] == ["crd-pruned"]
    # what the API server stores (and the cluster model reads) has no such field
    pod = judged.admitted.obj["spec"]["provider"]["kubernetes"]["envoyDeployment"]["pod"]
    assert "priorityClassName" not in pod and pod["labels"] == {"urban-stack/tenant": "shared"}


def test_the_same_envoyproxy_has_no_pruned_field_under_the_crd_of_the_pinned_envoy_gateway():
    """Envoy Gateway v1.8 added ``pod.priorityClassName`` to ``KubernetesPodSpec`` (release notes v1.8.0,
    "Infrastructure & Helm"); the pinned release's CRD keeps it."""
    judged = crds.judge(TODAYS_ENVOYPROXY, installed(ENVOYPROXY_CRD))
    assert judged.admitted.pruned == [] and judged.failures == []
    pod = judged.admitted.obj["spec"]["provider"]["kubernetes"]["envoyDeployment"]["pod"]
    assert pod["priorityClassName"] == "urban-platform-critical"


def test_the_plans_envoyproxy_keeps_its_priority_class_and_the_modelled_envoy_pods_carry_it(real_plan_dir):
    from catalogue import names

    shared = real_plan_dir / "shared"
    envoy_proxy = read(shared / "envoyproxy-urban-gateway-urban-envoy.yaml")
    installed_crd = read(next((shared / "chart-envoy-gateway").glob(
        "customresourcedefinition-*envoyproxies.gateway.envoyproxy.io.yaml")))
    index, _ = crds.index_crds([(installed_crd, "chart-envoy-gateway")])
    judged = crds.judge(envoy_proxy, index)
    assert judged.admitted.pruned == [] and judged.failures == []
    assert envoy_proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["pod"]["priorityClassName"] == \
        names.PRIORITY_PLATFORM
    [deployment] = [read(f) for f in (shared / "operator-gateway").glob("deployment-*.yaml")]
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] == names.PRIORITY_PLATFORM
    envoy = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "envoy")
    assert envoy["image"] == cluster_model.ENVOY_DEFAULT_IMAGE == "docker.io/envoyproxy/envoy:distroless-v1.39.0"


# ---------------------------------------------------------------------------------------------------------------
# CEL rules
# ---------------------------------------------------------------------------------------------------------------

def httproute(timeouts: dict) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "n"},
            "spec": {"parentRefs": [{"name": "gw", "namespace": "urban-gateway"}], "hostnames": ["a.example.de"],
                     "rules": [{"backendRefs": [{"name": "web", "port": 8080}], "timeouts": timeouts}]}}


def test_a_failing_cel_rule_of_the_gateway_api_crd_is_reported_with_its_message_and_place():
    judged = crds.judge(httproute({"request": "1s", "backendRequest": "2s"}), installed(GATEWAY_API_CRDS))
    failed = [r for r in judged.rules if r.status == "failed"]
    assert [(r.path, r.message) for r in failed] == [
        ("spec.rules[0].timeouts", "backendRequest timeout cannot be longer than request timeout")]
    assert ("crd-cel", "spec.rules[0].timeouts: backendRequest timeout cannot be longer than request timeout "
                       f"(rule: {failed[0].rule})") in judged.failures


def test_durations_are_read_as_go_durations_so_milliseconds_count():
    """cel-python 0.5.0's own duration() reads ``500ms`` as 0 s, which would pass this route."""
    judged = crds.judge(httproute({"request": "500ms", "backendRequest": "1s"}), installed(GATEWAY_API_CRDS))
    assert judged.count("failed") == 1
    assert crds.judge(httproute({"request": "1500ms", "backendRequest": "1s"}),
                      installed(GATEWAY_API_CRDS)).count("failed") == 0
    assert crds.parse_go_duration("1h30m") == dt.timedelta(minutes=90)
    assert crds.parse_go_duration("-1.5s") == dt.timedelta(seconds=-1.5)
    with pytest.raises(ValueError):
        crds.parse_go_duration("10 seconds")


def test_a_message_expression_and_field_path_are_reported_as_the_api_server_would():
    judged = crds.judge(widget(minReplicas=5, maxReplicas=2), installed(WIDGET_CRD))
    [failed] = [r for r in judged.rules if r.status == "failed"]
    assert failed.path == "spec.minReplicas"
    assert failed.message == "minReplicas (5) must not exceed maxReplicas"


def tlsroute(*hostnames: str) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TLSRoute",
            "metadata": {"name": "t", "namespace": "n"},
            "spec": {"parentRefs": [{"name": "gw", "namespace": "urban-gateway"}], "hostnames": list(hostnames),
                     "rules": [{"backendRefs": [{"name": "web", "port": 8443}]}]}}


def test_the_kubernetes_ip_and_substring_functions_of_the_gateway_api_rules_are_implemented():
    """Gateway API v1.6.1's TLSRoute rules call ``isIP`` (k8s IP library) and ``substring`` (strings extension)."""
    index = installed(GATEWAY_API_CRDS)
    assert crds.judge(tlsroute("a.example.de", "*.example.de"), index).failures == []
    ip = crds.judge(tlsroute("10.0.0.1"), index)
    assert [r.message for r in ip.rules if r.status == "failed"] == ["Hostnames cannot contain an IP"]
    bad_wildcard = crds.judge(tlsroute("*.Example.de"), index)
    assert [r.status for r in bad_wildcard.rules].count("failed") == 1
    assert [r for r in bad_wildcard.rules if r.status == "not-evaluated"] == []


def test_the_ascii_case_functions_are_implemented_as_the_strings_extension_defines_them():
    """``upperAscii`` guards Envoy Gateway v1.9.0's active HTTP health check (a request body needs POST or PUT)."""
    def outcome(text: str, value: str) -> str:
        return crds.evaluate_rule({"rule": text}, value, {"type": "string"}, "spec.x").status

    assert outcome("self.upperAscii() in ['POST','PUT']", "post") == "passed"
    assert outcome("self.upperAscii() in ['POST','PUT']", "get") == "failed"
    assert outcome("self.lowerAscii() != 'host'", "HoSt") == "failed"
    assert outcome("self.upperAscii() == 'STRAßE'", "straße") == "passed"  # ASCII letters only


def test_the_format_library_is_not_implemented_and_a_rule_using_it_is_reported_by_name():
    """Only Gateway API v1.6.1's experimental XBackend calls ``format.dns1123Label().validate(...)``; the plan makes
    no XBackend, and an object that reached that rule would be reported, not passed."""
    outcome = crds.evaluate_rule({"rule": "size(self) == 0 || format.dns1123Label().validate(self) == null"},
                                 "web", {"type": "string"}, "spec.ports[0].name")
    assert (outcome.status, outcome.reason) == ("not-evaluated", "'validate' is not implemented here")


def test_a_rule_calling_a_kubernetes_function_the_check_lacks_is_counted_and_fails_by_name():
    judged = crds.judge(widget(homepage="https://example.org"), installed(WIDGET_CRD))
    [missing] = [r for r in judged.rules if r.status == "not-evaluated"]
    assert (missing.path, missing.rule) == ("spec.homepage", "isURL(self)")
    [(_, message)] = [f for f in judged.failures if f[0] == "crd-cel-not-evaluated"]
    assert message == ("spec.homepage: rule 'isURL(self)' of CRD widgets.example.org could not be evaluated: "
                       "'isURL' is not implemented here")


def test_the_kubernetes_strings_split_function_is_implemented():
    ok = crds.judge(widget(security={"labels": {"a.io/x": "1"}}), installed(WIDGET_CRD))
    bad = crds.judge(widget(security={"labels": {"very-long-prefix.io/x": "1"}}), installed(WIDGET_CRD))
    assert ok.count("failed") == 0 and ok.count("not-evaluated") == 0
    assert [r.message for r in bad.rules if r.status == "failed"] == [
        "label prefixes are shorter than 10 characters"]


def test_a_transition_rule_is_not_run_on_create():
    crd = copy.deepcopy(load_crds(WIDGET_CRD)[0])
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"][
        "x-kubernetes-validations"] = [{"rule": "self == oldSelf", "message": "size is immutable"}]
    index, _ = crds.index_crds([(crd, "fixture")])
    judged = crds.judge(widget(size="small"), index)
    assert judged.count("transition") == 1 and judged.failures == []


def test_reserved_and_special_property_names_are_escaped_like_kubernetes():
    assert crds.cel_property_name("namespace") == "__namespace__"
    assert crds.cel_property_name("a.b-c/d") == "a__dot__b__dash__c__slash__d"
    assert crds.cel_property_name("x__y") == "x__underscores__y"
    assert crds.cel_property_name("has space") is None


# ---------------------------------------------------------------------------------------------------------------
# Pruning, schema, defaults
# ---------------------------------------------------------------------------------------------------------------

def test_unknown_fields_are_pruned_with_their_full_path_but_preserved_and_embedded_ones_are_kept():
    cr = widget(probes={"live": {"path": "/live", "periodSeconds": 5, "timeout": 1}},
                extra={"anything": {"goes": True}},
                template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"any": 1},
                          "status": {}},
                replicas=2)
    judged = crds.judge(cr, installed(WIDGET_CRD))
    assert judged.admitted.pruned == ["spec.probes.live.timeout", "spec.template.status", "spec.replicas"]
    stored = judged.admitted.obj["spec"]
    assert stored["extra"] == {"anything": {"goes": True}}
    assert stored["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"any": 1}}


def test_types_enums_minimums_int_or_string_and_nullable_are_checked_as_the_api_server_does():
    ok = crds.judge(widget(port="http", note=None, size="small"), installed(WIDGET_CRD))
    assert ok.failures == [] and ok.admitted.obj["spec"]["note"] is None
    bad = crds.judge(widget(port=1.5, size="medium", probes={"a": {"periodSeconds": 0}}), installed(WIDGET_CRD))
    messages = " | ".join(m for _, m in bad.failures)
    assert "spec.port" in messages and "spec.size: 'medium' is not one of" in messages
    assert "spec.probes.a.periodSeconds: 0 is less than the minimum of 1" in messages


def test_an_embedded_resource_needs_its_api_version_and_kind():
    judged = crds.judge(widget(template={"metadata": {"name": "p"}}), installed(WIDGET_CRD))
    assert any(rule == "crd-schema" and "'apiVersion' is a required property" in m for rule, m in judged.failures)


def test_a_null_where_the_schema_is_not_nullable_is_dropped_or_defaulted_without_a_failure():
    judged = crds.judge(widget(size=None, minReplicas=None), installed(WIDGET_CRD))
    assert judged.failures == []
    assert "size" not in judged.admitted.obj["spec"] and judged.admitted.obj["spec"]["minReplicas"] == 1


def test_defaults_are_applied_recursively_before_the_rules_run():
    judged = crds.judge(widget(maxReplicas=0, probes={"live": {}}), installed(WIDGET_CRD))
    spec = judged.admitted.obj["spec"]
    assert spec["minReplicas"] == 1  # default of an absent field
    assert spec["security"] == {"runAsUser": 4242}  # a defaulted object gets its own properties' defaults
    assert spec["probes"] == {"live": {"path": "/healthz"}}  # additionalProperties values are defaulted too
    # the rule sees the defaulted minReplicas (1) against maxReplicas 0
    assert [r.message for r in judged.rules if r.status == "failed"] == ["minReplicas (1) must not exceed maxReplicas"]


def test_the_defaulted_copy_leaves_the_written_object_unchanged():
    cr = widget()
    crds.defaulted(cr, installed(WIDGET_CRD))
    assert cr["spec"] == {}


# ---------------------------------------------------------------------------------------------------------------
# The cluster model reads the stored object
# ---------------------------------------------------------------------------------------------------------------

def cnpg_cluster_crd(real_plan_dir) -> dict:
    [path] = (real_plan_dir / "shared").glob("chart-cloudnative-pg/customresourcedefinition-cluster-clusters.*.yaml")
    return read(path)


CLUSTER = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "db", "namespace": "verl"},
           "spec": {"instances": 1, "imageName": "ghcr.io/cloudnative-pg/postgis:17", "storage": {"size": "1Gi"}}}


def test_the_cluster_model_reads_custom_resources_defaulted_by_the_crd_the_plan_installs(real_plan_dir):
    crd = cnpg_cluster_crd(real_plan_dir)
    [stored], _ = cluster_model.as_stored([copy.deepcopy(CLUSTER)], [crd])
    assert stored["spec"]["postgresUID"] == 26 and stored["spec"]["postgresGID"] == 26
    assert stored["spec"]["enableSuperuserAccess"] is False
    # a CRD whose default differs: the operator-made pod follows the default the API server applied
    changed = copy.deepcopy(crd)
    props = changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    props["postgresUID"]["default"] = 4242
    props["postgresGID"]["default"] = 4343
    [pod] = cluster_model.expand([copy.deepcopy(CLUSTER)], [changed])["operator-cluster"][:1]
    assert pod["kind"] == "Pod"
    assert {k: pod["spec"]["securityContext"][k] for k in ("runAsUser", "runAsGroup", "fsGroup")} == {
        "runAsUser": 4242, "runAsGroup": 4343, "fsGroup": 4343}


def test_without_an_installed_crd_the_model_reads_the_object_as_written():
    [stored], _ = cluster_model.as_stored([CLUSTER], [])
    assert stored is CLUSTER


# ---------------------------------------------------------------------------------------------------------------
# The check over a plan
# ---------------------------------------------------------------------------------------------------------------

def write_fixture_plan(out: Path, chart_crds: list[dict], objects: list[dict]) -> Path:
    """A plan with stack ``shared``: ``chart-fixture/`` installs ``chart_crds``, the stack's own folder ``objects``."""
    folder = out / "shared" / "chart-fixture"
    folder.mkdir(parents=True)
    (folder / "render.json").write_text(json.dumps({"source": "tests/fixtures/crds (release 'fixture')",
                                                    "skippedHooks": []}), encoding="utf-8")
    for crd in chart_crds:
        (folder / object_filename(crd)).write_text(to_yaml(crd), encoding="utf-8")
    for obj in objects:
        (out / "shared" / object_filename(obj)).write_text(to_yaml(obj), encoding="utf-8")
    return out


def test_the_check_fails_todays_keycloak_and_envoyproxy_and_reports_every_custom_resource(tmp_path):
    plan_dir = write_fixture_plan(tmp_path / "plan", load_crds(KEYCLOAK_CRD, ENVOYPROXY_CRD_V1_5_4, WIDGET_CRD),
                                  [TODAYS_KEYCLOAK, TODAYS_ENVOYPROXY, widget(homepage="https://x.example")])
    result = schemas.run(load_plan(plan_dir, crd_dir=tmp_path / "no-prerequisites"))
    by_file = {(Path(f.file).name, f.rule) for f in result.failures}
    assert by_file == {("keycloak-urban-identity-keycloak.yaml", "crd-version"),
                       ("envoyproxy-urban-gateway-urban-envoy.yaml", "crd-pruned"),
                       ("widget-n-w.yaml", "crd-cel-not-evaluated")}
    assert len(result.report) == 3
    [envoy] = [line for line in result.report if line.startswith("EnvoyProxy")]
    assert ("CRD envoyproxies.gateway.envoyproxy.io from shared/chart-fixture (tests/fixtures/crds (release "
            "'fixture')); version v1alpha1 served; schema: 1 pruned fields") in envoy
    [keycloak] = [line for line in result.report if line.startswith("Keycloak")]
    assert "version v2beta1 NOT served" in keycloak
    [w] = [line for line in result.report if line.startswith("Widget")]
    assert "CEL rules: 1 passed, 0 failed, 1 not evaluated" in w
    assert "3 custom resources against the CRDs the plan installs (3 CRDs): 2 versions served, 1 pruned fields, " \
           "CEL rules 4 evaluated (0 failed), 1 not evaluated" in result.figure()  # 3 of them the EnvoyProxy CRD's


def test_a_custom_resource_whose_crd_is_neither_installed_nor_a_documented_prerequisite_fails(tmp_path):
    plan_dir = write_fixture_plan(tmp_path / "plan", [], [widget()])
    [failure] = schemas.run(load_plan(plan_dir, crd_dir=tmp_path / "none")).failures
    assert failure.rule == "crd-installed"
    assert "no CustomResourceDefinition for Widget in group 'example.org' is installed by the plan" in failure.message


def test_a_documented_prerequisite_crd_in_the_crd_folder_judges_a_kind_the_plan_does_not_install(tmp_path):
    prerequisites = tmp_path / "prerequisites"
    prerequisites.mkdir()
    (prerequisites / "widgets.yaml").write_text(WIDGET_CRD.read_text(encoding="utf-8"), encoding="utf-8")
    plan_dir = write_fixture_plan(tmp_path / "plan", [], [widget(minReplicas=1)])
    result = schemas.run(load_plan(plan_dir, crd_dir=prerequisites))
    assert result.failures == []
    assert "from documented cluster prerequisite widgets.yaml" in result.report[0]


def test_two_different_copies_of_one_crd_in_the_plan_are_a_failure():
    crd = load_crds(WIDGET_CRD)[0]
    other = copy.deepcopy(crd)
    other["spec"]["versions"][0]["served"] = False
    _, problems = crds.index_crds([(crd, "chart-a"), (other, "chart-b")])
    assert problems == ["CRD widgets.example.org is installed by chart-a and, differently, by chart-b"]


def test_on_the_real_plan_every_cel_rule_is_evaluated_and_every_custom_resource_is_reported(real_plan_dir):
    plan = load_plan(real_plan_dir)
    result = schemas.run(plan)
    custom = [po for po in plan.objects if po.kind != "CustomResourceDefinition" and crds.is_custom(po.obj)]
    assert len(result.report) == len(custom) > 100
    assert [f for f in result.failures if f.rule in ("crd-cel", "crd-cel-not-evaluated", "crd-schema")] == []
    assert ", 0 not evaluated," in result.figure()


def test_every_function_the_installed_crds_rules_call_is_standard_cel_or_implemented(real_plan_dir):
    """The inventory behind ``crds.K8S_FUNCTIONS``: every rule of every CRD the plan installs compiles, and every
    function it calls is one cel-python has or one the check adds."""
    import re

    import celpy.evaluation

    known = {*celpy.evaluation.base_functions, *crds.K8S_FUNCTIONS, "has", "all", "exists", "exists_one", "map",
             "filter"}
    plan = load_plan(real_plan_dir)
    called: set[str] = set()
    for po in plan.objects:
        if po.kind != "CustomResourceDefinition":
            continue
        for version in po.obj["spec"]["versions"]:
            for _, rule in crds.rules_of(version["schema"]["openAPIV3Schema"]):
                for text in (rule["rule"], rule.get("messageExpression") or "true"):
                    crds.cel_program(text)
                    stripped = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''", text)
                    called |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", stripped))
    # the format library (``format.dns1123Label().validate``) is called only by the experimental XBackend CRD
    assert called - known == {"dns1123Label", "validate"}
    assert {"split", "duration", "substring", "isIP", "upperAscii", "lowerAscii"} <= called


def test_the_plan_summary_counts_the_custom_resources_judged_by_the_crds_the_plan_installs(plan_stack):
    import re

    from urbanstack.engine import render
    from urbanstack.engine.plan import crd_summary

    shared = plan_stack("shared")
    installed = sum(1 for pkg in render.render_stack(shared) for o in pkg.objects
                    if o["kind"] == "CustomResourceDefinition")
    summary = crd_summary([shared])
    found = re.match(r"(\d+) custom resources, judged by the (\d+) CRDs this plan installs: (\d+) of a served version, "
                     r"(\d+) without an installed CRD of their version, (\d+) with fields the API server would prune",
                     summary)
    assert found, summary
    total, crd_count, served, refused, _ = map(int, found.groups())
    assert crd_count == installed > 50 and total == served + refused > 50


def test_duplicate_keys_of_a_list_map_are_refused_as_the_api_server_does():
    widget_crd = copy.deepcopy(load_crds(WIDGET_CRD)[0])
    widget_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["ports"] = {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}
    widget_index, _ = crds.index_crds([(widget_crd, "fixture")])
    twice = crds.judge(widget(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 8080}]), widget_index)
    assert ("crd-schema", "spec.ports[1]: Duplicate value: name='http' (x-kubernetes-list-type: map)") in twice.failures

