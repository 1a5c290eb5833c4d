"""NetworkPolicy reachability: no pod of one municipality reaches a pod of another, and only the gateway
(plus the listed platform flows) enters a municipality's namespace. Kubernetes semantics: a pod no policy
selects is open in that direction, and a connection needs the source's egress and the destination's
ingress. Every test that runs the check runs it on both CNI models (``cni`` fixture): ``kubernetes`` and
``ipblock_blind`` (CNIs such as Cilium that never match pod addresses by ``ipBlock``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from catalogue import labels, names
from urbanstack.checks import reachability as r
from urbanstack.checks.base import Plan, load_plan
from urbanstack.cluster_model import EXPANDED_WITH_PODS

DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}



def put(plan_dir: Path, stack: str, obj: dict) -> Path:
    md = obj["metadata"]
    path = plan_dir / stack / f"{obj['kind'].lower()}-{md.get('namespace', 'cluster')}-{md['name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
    return path


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def policy(ns: str, name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def deployment(ns: str, name: str, pod_labels: dict, ports: dict | None = None) -> dict:
    container = {"name": "app", "image": "example/app:1.0",
                 "ports": [{"name": n, "containerPort": p} for n, p in (ports or {}).items()]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": pod_labels},
                     "template": {"metadata": {"labels": {**pod_labels, labels.TENANT: ns}},
                                  "spec": {"containers": [container]}}}}


def ns_peer(name: str, pods: dict | None = None) -> dict:
    out = {"namespaceSelector": {"matchLabels": {r.NS_NAME_LABEL: name}}}
    if pods is not None:
        out["podSelector"] = {"matchLabels": pods}
    return out


@pytest.fixture
def mini(tmp_path) -> Path:
    """Two municipalities ``a`` and ``b`` with an app each and default deny, plus gateway and operators."""
    d = tmp_path / "plan"
    for ns in (names.NS_GATEWAY, names.NS_OPERATORS):
        put(d, "shared", namespace(ns))
    for t in ("a", "b"):
        put(d, t, namespace(t))
        put(d, t, deployment(t, "app", {"app": "web"}, {"http": 8080}))
        put(d, t, policy(t, "default-deny", DENY_ALL))
        put(d, t, policy(t, "from-gateway", {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                                             "ingress": [{"from": [ns_peer(names.NS_GATEWAY)],
                                                          "ports": [{"port": "http"}]}]}))
    return d


@pytest.fixture(params=r.CNI_MODELS)
def cni(request) -> str:
    """Every test runs on both CNI models: ``kubernetes`` and ``ipblock_blind`` (Cilium)."""
    return request.param


def check(plan_dir: Path, cni: str):
    return r.run(Plan(plan_dir, tenants={"a": "A-1", "b": "B-1"}, operator_cost_center="OP"), cnis=(cni,))


def test_default_deny_plus_gateway_ingress_isolates_municipalities(mini, cni):
    result = check(mini, cni)
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert "2 pods from the plan" in result.figure()


def test_a_namespace_without_network_policies_is_open_to_everyone(mini, cni):
    for f in (mini / "b").glob("networkpolicy-*"):
        f.unlink()
    failures = check(mini, cni).failures
    assert {f.rule for f in failures} == {r.RULE_ENTRY}, "a's own egress still denies, so no cross traffic"
    assert any(f.file.endswith("b/deployment-b-app.yaml") and "no Ingress NetworkPolicy selects" in f.message
               for f in failures)


def test_municipalities_without_network_policies_reach_each_other(mini, cni):
    for f in mini.glob("[ab]/networkpolicy-*"):
        f.unlink()
    cross = [f for f in check(mini, cni).failures if f.rule == r.RULE_CROSS]
    assert any(f.file.endswith("b/deployment-b-app.yaml") and "(municipality a) can reach pods of Deployment b/app"
               in f.message for f in cross)


def test_ingress_alone_does_not_open_a_connection_the_source_egress_denies(mini, cni):
    put(mini, "b", policy("b", "from-a", {"podSelector": {}, "policyTypes": ["Ingress"],
                                          "ingress": [{"from": [ns_peer("a")]}]}))
    assert check(mini, cni).failures == []


def test_a_cross_municipality_policy_pair_is_found_and_named(mini, cni):
    put(mini, "a", policy("a", "to-b", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [ns_peer("b")]}]}))
    bad = put(mini, "b", policy("b", "from-a", {"podSelector": {}, "policyTypes": ["Ingress"],
                                                "ingress": [{"from": [ns_peer("a")], "ports": [{"port": 5432}]}]}))
    failures = [f for f in check(mini, cni).failures if f.rule == r.RULE_CROSS]
    assert failures
    assert all("5432/TCP" in f.message and bad.name in f.message for f in failures)
    assert {f.file.rsplit("/", 1)[-1] for f in failures} == {"deployment-b-app.yaml", bad.name}


def test_only_the_gateway_enters_a_municipality_namespace(mini, cni):
    put(mini, "a", policy("a", "from-everywhere", {"podSelector": {"matchLabels": {"app": "web"}},
                                                   "policyTypes": ["Ingress"],
                                                   "ingress": [{"from": [{"namespaceSelector": {}}]}]}))
    failures = check(mini, cni).failures
    assert failures and {f.rule for f in failures} == {r.RULE_ENTRY}
    assert any(f.file.endswith("a/deployment-a-app.yaml") and r.OTHER_NAMESPACE in f.message for f in failures)
    assert not any(r.OUTSIDE_CLUSTER in f.message for f in failures), "a namespaceSelector never matches outside"


def test_an_ip_block_admits_clients_from_outside_the_cluster(mini, cni):
    put(mini, "a", policy("a", "from-internet", {"podSelector": {}, "policyTypes": ["Ingress"],
                                                 "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}))
    failures = check(mini, cni).failures
    assert any(r.OUTSIDE_CLUSTER in f.message and f.rule == r.RULE_ENTRY for f in failures)


def test_listed_platform_flows_pass_on_their_ports_only(mini, cni):
    put(mini, "a", deployment("a", "db", {"cnpg.io/cluster": "postgis"}, {"postgresql": 5432}))
    put(mini, "a", policy("a", "from-operator", {
        "podSelector": {"matchLabels": {"cnpg.io/cluster": "postgis"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [ns_peer(names.NS_OPERATORS)], "ports": [{"port": 5432}, {"port": 8000}]}]}))
    assert check(mini, cni).failures == []
    put(mini, "a", policy("a", "from-operator-too-much", {
        "podSelector": {"matchLabels": {"cnpg.io/cluster": "postgis"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [ns_peer(names.NS_OPERATORS)], "ports": [{"port": 22}]}]}))
    failures = check(mini, cni).failures
    assert failures and all(f.rule == r.RULE_ENTRY and "22/TCP" in f.message for f in failures)
    assert any(f.file.endswith("a/deployment-a-db.yaml") for f in failures)


def test_every_listed_platform_flow_has_a_reason():
    flows = r.load_flows()
    assert flows
    for flow in flows:
        assert flow.source_namespace in names.PLATFORM_NAMESPACES
        assert len(flow.reason.split()) >= 10


def test_selectors_follow_kubernetes_semantics():
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                                              {"key": "debug", "operator": "DoesNotExist"}]}
    assert r.selector_matches(sel, {"app": "web", "tier": "a"}, False)
    assert not r.selector_matches(sel, {"app": "web", "tier": "c"}, False)
    assert not r.selector_matches(sel, {"app": "web", "tier": "a", "debug": "1"}, False)
    assert r.selector_matches(sel, {}, True), "a pod with unknown labels could have these"
    assert not r.selector_matches({"matchLabels": {r.NS_NAME_LABEL: "a"}}, {}, True, {r.NS_NAME_LABEL: {"a"}})
    assert r.selector_matches({}, {"x": "y"}, False)


def test_ip_blocks_excepting_the_private_ranges_still_reach_cgnat_pod_ranges():
    assert r._ip_block_scope({"cidr": "203.0.113.0/24"}) == (False, True)
    assert r._ip_block_scope({"cidr": "10.0.0.0/8"}) == (True, False)
    assert r._ip_block_scope({"cidr": "0.0.0.0/0", "except": [str(n) for n in r.POD_NETWORK if n.version == 4]}) \
        == (False, True)


def test_the_crafted_copy_of_the_real_plan_is_isolated(crafted, cni):
    result = r.run(load_plan(crafted), cnis=(cni,))
    assert result.failures == [], "\n".join(map(str, result.failures))


def test_opening_the_sample_app_to_all_namespaces_on_a_copy_of_the_plan_fails(crafted, cni):
    path = crafted / "verl" / "networkpolicy-verl-sample-web-from-gateway.yaml"
    obj = yaml.safe_load(path.read_text())
    obj["spec"]["ingress"][0]["from"] = [{"namespaceSelector": {}}]
    path.write_text(yaml.safe_dump(obj))
    failures = r.run(load_plan(crafted), cnis=(cni,)).failures
    assert any(f.file.endswith("verl/deployment-verl-sample-web.yaml") and f.rule == r.RULE_ENTRY
               and path.name in f.message for f in failures)


# -- the flows the platform needs (checks/platform-flows.yaml `required`) -------------------------------------

ENVOY = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/managed-by": "envoy-gateway",
         "gateway.envoyproxy.io/owning-gateway-name": "urban-gateway",
         "gateway.envoyproxy.io/owning-gateway-namespace": "urban-gateway"}
SOLVER = {"acme.cert-manager.io/http01-solver": "true"}


def add_chart_pods(plan_dir: Path) -> None:
    """What the render branch adds to the plan: the Envoy data plane, Envoy Gateway's controller and an ACME
    solver pod for verl's certificate (labels and ports as cert-manager and Envoy Gateway make them)."""
    put(plan_dir, "shared", deployment(names.NS_GATEWAY, "envoy-urban-gateway", ENVOY, {"http": 10080}))
    put(plan_dir, "shared", deployment(names.NS_GATEWAY, "envoy-gateway",
                                       {"app.kubernetes.io/name": "gateway-helm", "control-plane": "envoy-gateway"},
                                       {"webhook": 9443}))
    solver = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cm-acme-http-solver-x", "namespace": "verl",
                                                              "labels": {**SOLVER, labels.TENANT: "verl"}},
              "spec": {"containers": [{"name": "acmesolver", "image": "cert-manager/acmesolver",
                                       "ports": [{"name": "http", "containerPort": 8089}]}]}}
    put(plan_dir, "verl", solver)


def required(plan_dir: Path, cni: str) -> list:
    return [f for f in r.run(load_plan(plan_dir), cnis=(cni,)).failures if f.rule == r.RULE_REQUIRED]


def test_every_required_flow_names_its_pods_ports_and_reason():
    flows = r.load_required()
    assert {f.name for f in flows} >= {"acme-http01-solvers", "cert-manager-webhook", "keycloak-cluster-members",
                                       "cloudnative-pg-operator-to-instances", "prometheus-scrapes-keycloak-database"}
    assert all(f.ports and len(f.reason.split()) >= 10 for f in flows)
    assert [f.source_namespace for f in flows if f.name.endswith("-webhook")] == [None, None, None], \
        "webhooks are called by the API server"


def test_the_planned_policies_admit_acme_solvers_and_the_envoy_gateway_webhook(crafted, cni):
    add_chart_pods(crafted)
    assert required(crafted, cni) == []


def test_without_their_policies_acme_solvers_and_the_envoy_gateway_webhook_are_unreachable(crafted, cni):
    """Issue 14 items 3 and 10: default deny in the municipality admits nothing from Envoy on 8089, and without
    its webhook policy nothing in urban-gateway admits the API server on 9443."""
    add_chart_pods(crafted)
    (crafted / "verl" / "networkpolicy-verl-acme-http01-solver.yaml").unlink()
    (crafted / "shared" / "networkpolicy-urban-gateway-urban-gateway-webhooks.yaml").unlink()
    failures = required(crafted, cni)
    found = {(f.file.rsplit("/", 1)[-1], f.message.split(" which ")[1].split(" ")[0]) for f in failures}
    solvers = {name for name, flow in found if flow == "acme-http01-solvers"}
    # every solver pod in verl (the one added here and those the operator model makes for verl's hosts), nothing else
    assert "pod-verl-cm-acme-http-solver-x.yaml" in solvers and all(n.startswith("pod-verl-cm-acme-http-solver-")
                                                                     for n in solvers)
    assert found - {(n, "acme-http01-solvers") for n in solvers} == {
        ("deployment-urban-gateway-envoy-gateway.yaml", "envoy-gateway-webhook")}
    acme = next(f for f in failures if f.file.endswith("pod-verl-cm-acme-http-solver-x.yaml"))
    assert "pods of Deployment urban-gateway/envoy-urban-gateway cannot reach Pod verl/cm-acme-http-solver-x on " \
           "8089/TCP" in acme.message


def test_policies_that_admit_the_needed_flows_pass(crafted, cni):
    add_chart_pods(crafted)
    put(crafted, "verl", policy("verl", "acme-solver", {
        "podSelector": {"matchLabels": SOLVER}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [ns_peer(names.NS_GATEWAY, ENVOY)], "ports": [{"port": 8089}]}]}))
    put(crafted, "shared", policy(names.NS_GATEWAY, "webhook", {
        "podSelector": {"matchLabels": {"control-plane": "envoy-gateway"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 9443}]}]}))
    assert required(crafted, cni) == []
    assert r.run(load_plan(crafted), cnis=(cni,)).failures == [], "admitting the solver opens nothing else"


def test_a_webhook_admitted_only_from_the_pod_network_is_not_reached_by_the_api_server(crafted, cni):
    add_chart_pods(crafted)
    (crafted / "shared" / "networkpolicy-urban-gateway-urban-gateway-webhooks.yaml").unlink()
    put(crafted, "shared", policy(names.NS_GATEWAY, "webhook", {
        "podSelector": {"matchLabels": {"control-plane": "envoy-gateway"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 9443}]}]}))
    assert any("the API server cannot reach" in f.message and "envoy-gateway-webhook" in f.message
               for f in required(crafted, cni))


def test_keycloak_members_must_reach_each_other_on_jgroups(crafted, cni):
    path = crafted / "shared" / "networkpolicy-urban-identity-urban-identity-same-namespace.yaml"
    assert required(crafted, cni) == []
    path.unlink()
    [f] = required(crafted, cni)
    assert "keycloak-cluster-members" in f.message and "7800/TCP" in f.message


def test_each_keycloak_and_cloudnative_pg_pod_is_modelled_once_from_the_operator_made_objects(real_plan_dir):
    """Issue 13 item 7: the pods of a Keycloak, CloudNativePG Cluster or Prometheus CR are the operator-made objects
    of the plan (urbanstack/cluster_model/), not a second derivation from the CR: one pod per Cluster instance,
    one Keycloak pod template, one Prometheus pod template per shard."""
    for plan in load_plan(real_plan_dir).cells():
        _modelled_once(plan)


def _modelled_once(plan) -> None:
    model = r.build_model(plan)
    crs = [po for po in plan.objects if (po.api_version.split("/")[0], po.kind) in EXPANDED_WITH_PODS]
    assert {po.kind for po in crs} == {"Keycloak", "Cluster", "Prometheus"}
    assert len([po for po in crs if po.kind == "Cluster"]) == 1 + len(plan.tenants), "keycloak-db + one per municipality"
    for cr in crs:
        if cr.kind == "Cluster":
            made = [p for p in model.pods if p.namespace == cr.namespace and not p.open_labels
                    and p.labels.get("cnpg.io/cluster") == cr.name]
            instances = [p.labels.get("cnpg.io/instanceName") for p in made]
            assert sorted(instances) == sorted(f"{cr.name}-{i}" for i in range(1, int(cr.obj["spec"]["instances"]) + 1))
        elif cr.kind == "Keycloak":
            made = [p for p in model.pods if p.namespace == cr.namespace and not p.open_labels
                    and p.labels.get("app") == "keycloak" and p.labels.get("app.kubernetes.io/instance") == cr.name]
            assert len(made) == 1
        else:  # one pod template per shard
            made = [p for p in model.pods if p.namespace == cr.namespace and not p.open_labels
                    and p.labels.get("operator.prometheus.io/name") == cr.name]
            assert len(made) == int(cr.obj["spec"].get("shards") or 1)
        assert all(f"/operator-{cr.kind.lower()}/" in p.file for p in made), [p.file for p in made]


def test_a_keycloak_without_its_operator_made_objects_fails_instead_of_losing_its_pods(crafted, cni):
    shutil.rmtree(crafted / "shared" / "operator-keycloak")
    failures = [f for f in r.run(load_plan(crafted), cnis=(cni,)).failures if f.rule == r.RULE_OPERATOR]
    assert [f.file.rsplit("/", 1)[-1] for f in failures] == ["keycloak-urban-identity-keycloak.yaml"]
    assert "shared/operator-keycloak/" in failures[0].message


def test_prometheus_scraping_the_keycloak_database_is_checked_on_the_operator_made_pods(crafted, cni):
    """The flow had no source pods while the Prometheus CR's pods were not in the plan; now they are
    (operator-prometheus/), and without the policy that admits them the instances are not scraped."""
    assert "without pods in the plan" not in r.run(load_plan(crafted), cnis=(cni,)).detail
    assert required(crafted, cni) == []
    (crafted / "shared" / "networkpolicy-urban-identity-urban-identity-monitoring.yaml").unlink()
    failing = {f.message.split(" which ")[1].split(" ")[0] for f in required(crafted, cni)}
    assert "prometheus-scrapes-keycloak-database" in failing


def test_a_platform_flow_that_is_not_a_mapping_is_refused_naming_the_file_and_the_entry(tmp_path):
    path = tmp_path / "platform-flows.yaml"
    path.write_text("flows: []\nrequired:\n  - just a sentence\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"platform-flows\.yaml: required\[0\]: must be a mapping"):
        r.load_required(path)
    path.write_text("flows: {from: a}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"platform-flows\.yaml: flows: must be a list of flows"):
        r.load_flows(path)


# -- both CNI models ------------------------------------------------------------------------------------------------

def test_an_in_cluster_flow_admitted_only_by_an_ip_block_holds_on_kubernetes_and_fails_on_cilium(crafted):
    """Issue 20: a flow between pods admitted by an ipBlock of the pod network works where the CNI matches pod
    addresses by ipBlock and fails on Cilium; the check runs every required flow on both models."""
    path = crafted / "shared" / "networkpolicy-urban-gateway-urban-gateway-envoy.yaml"
    obj = yaml.safe_load(path.read_text())
    for rule in obj["spec"]["ingress"]:
        if any("podSelector" in p and "cert-manager" in str(p) for p in rule["from"]):
            rule["from"] = [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    path.write_text(yaml.safe_dump(obj))
    assert required(crafted, r.CNI_KUBERNETES) == []
    failures = required(crafted, r.CNI_IPBLOCK_BLIND)
    assert failures and all("acme-self-check-to-envoy" in f.message and "ipblock_blind" in f.message
                            and "10080/TCP" in f.message for f in failures)
    assert [f.message for f in r.run(load_plan(crafted)).failures if f.rule == r.RULE_REQUIRED] == \
        [f.message for f in failures], "the check itself runs both models"


def test_the_envoy_pods_and_the_cert_manager_self_check_are_required_flows():
    flows = {f.name: f for f in r.load_required()}
    assert flows["gateway-to-keycloak"].ports == [names.KEYCLOAK_HTTP_PORT]
    assert flows["acme-self-check-to-envoy"].ports == [10080]


def test_an_ip_block_never_matches_a_pod_on_the_ipblock_blind_model(mini):
    model = r.build_model(load_plan(mini))
    pod = next(p for p in model.pods if p.namespace == "a" and not p.open_labels)
    peer = {"ipBlock": {"cidr": "10.0.0.0/8"}}
    assert r.peer_matches(peer, "b", pod, model)
    assert not r.peer_matches(peer, "b", pod, r.with_cni(model, r.CNI_IPBLOCK_BLIND))
    outside = next(p for p in model.pods if p.external)
    assert r.peer_matches({"ipBlock": {"cidr": "0.0.0.0/0"}}, "b", outside, r.with_cni(model, r.CNI_IPBLOCK_BLIND))
    with pytest.raises(ValueError, match="unknown CNI model"):
        r.with_cni(model, "calico")


# -- forbidden flows (checks/platform-flows.yaml `forbidden`) ------------------------------------------------------

def test_no_pod_of_any_municipality_reaching_keycloak_is_a_listed_forbidden_flow():
    (flow,) = [f for f in r.load_forbidden() if f.name == "municipality-pods-to-keycloak"]
    assert flow.source_namespace is None and flow.namespace == names.NS_IDENTITY
    assert flow.to == {"matchLabels": {"app": "keycloak"}} and len(flow.reason.split()) >= 10


def test_the_planned_policies_keep_every_municipality_pod_away_from_keycloak(crafted, cni):
    result = r.run(load_plan(crafted), cnis=(cni,))
    assert [f for f in result.failures if f.rule == r.RULE_FORBIDDEN] == []
    assert "1 forbidden flows" in result.detail


def test_admitting_module_pods_at_keycloak_again_fails_the_check(crafted, cni):
    """Issue 23 item 2 as it was: Keycloak admitted every module pod of every municipality on 8080, and a module's
    egress rule to Keycloak's pods."""
    path = crafted / "shared" / "networkpolicy-urban-identity-urban-identity-keycloak.yaml"
    obj = yaml.safe_load(path.read_text())
    obj["spec"]["ingress"][0]["from"].append({
        "namespaceSelector": {"matchExpressions": [{"key": labels.TENANT, "operator": "Exists"}]},
        "podSelector": {"matchExpressions": [{"key": labels.MODULE, "operator": "Exists"}]}})
    path.write_text(yaml.safe_dump(obj))
    put(crafted, "verl", policy("verl", "to-keycloak", {
        "podSelector": {"matchLabels": {labels.MODULE: "lowcode"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [ns_peer(names.NS_IDENTITY, {"app": "keycloak"})], "ports": [{"port": 8080}]}]}))
    failures = [f for f in r.run(load_plan(crafted), cnis=(cni,)).failures if f.rule == r.RULE_FORBIDDEN]
    assert failures and all("municipality-pods-to-keycloak" in f.message and "8080/TCP" in f.message
                            for f in failures)
    assert any("verl" in f.message and "networkpolicy-verl-to-keycloak.yaml" in f.message for f in failures)


def test_a_forbidden_flow_without_its_source_is_refused_naming_the_file_and_the_entry(tmp_path):
    path = tmp_path / "platform-flows.yaml"
    path.write_text("forbidden:\n  - {name: x, from: {pods: {}}, to: {pods: {}}, reason: because}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"platform-flows\.yaml: forbidden\[0\]\.from: give 'municipalities'"):
        r.load_forbidden(path)
