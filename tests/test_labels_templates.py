"""The label transform reaches the pod templates of custom resources too (CloudNativePG, Rook, Keycloak,
Envoy Gateway), and ``template_labels`` lists exactly the places it writes."""

from __future__ import annotations

from catalogue import labels

SCOPE = labels.LabelScope("verl", "VERL-1100", labels.DEDICATED)
COST = labels.cost_labels(SCOPE, "database")


def places(obj):
    return {where: dict(found or {}) for where, found in labels.template_labels(obj)}


def test_a_cnpg_pooler_pod_template_is_labelled():
    out = labels.apply_labels("kubernetes:postgresql.cnpg.io/v1:Pooler",
                              {"kind": "Pooler", "metadata": {"name": "p"}, "spec": {"cluster": {"name": "c"}}}, COST)
    assert out["spec"]["template"]["metadata"]["labels"][labels.TENANT] == "verl"
    assert set(places(out)) == {"metadata", "spec.template.metadata"}


def test_rook_daemons_and_rgw_pods_get_label_maps():
    ceph = labels.apply_labels("kubernetes:ceph.rook.io/v1:CephCluster",
                               {"kind": "CephCluster", "metadata": {"name": "c"}, "spec": {"labels": {"mon": {"a": "b"}}}},
                               COST)
    assert ceph["spec"]["labels"]["all"][labels.MODULE] == "database"
    assert ceph["spec"]["labels"]["mon"] == {"a": "b"}
    store = labels.apply_labels("kubernetes:ceph.rook.io/v1:CephObjectStore",
                                {"kind": "CephObjectStore", "metadata": {"name": "s"}, "spec": {"gateway": {"port": 80}}},
                                COST)
    assert store["spec"]["gateway"]["labels"][labels.COST_CENTER] == "VERL-1100"


def test_a_label_map_is_only_added_where_its_parent_exists():
    proxy = labels.apply_labels("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
                                {"kind": "EnvoyProxy", "metadata": {"name": "e"}, "spec": {}}, COST)
    assert proxy["spec"] == {}
    assert set(places(proxy)) == {"metadata"}


def test_cost_labels_win_over_component_values_but_selectors_keep_theirs():
    out = labels.apply_labels(
        "kubernetes:apps/v1:Deployment",
        {"kind": "Deployment", "metadata": {"name": "d", "labels": {labels.TENANT: "forged",
                                                                   "app.kubernetes.io/part-of": "mine"}},
         "spec": {"template": {"metadata": {"labels": {"app": "x"}}}}},
        COST,
    )
    assert out["metadata"]["labels"][labels.TENANT] == "verl"
    assert out["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mine"
    assert out["spec"]["template"]["metadata"]["labels"]["app"] == "x"


def test_template_labels_reports_a_missing_pod_template():
    assert places({"kind": "Deployment", "metadata": {"labels": COST}, "spec": {}}) == {"metadata": COST,
                                                                                       "spec.template.metadata": {}}
    assert labels.template_labels({"kind": "Deployment", "metadata": {}, "spec": {}})[1] == ("spec.template.metadata",
                                                                                            None)


def test_envoy_pods_get_only_the_cost_labels_so_envoy_gateways_managed_by_and_its_selector_still_match():
    proxy = labels.apply_labels(
        "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
        {"kind": "EnvoyProxy", "metadata": {"name": "e"},
         "spec": {"provider": {"kubernetes": {"envoyDeployment": {"pod": {"priorityClassName": "p"}}}}}}, COST)
    pod_labels = proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["pod"]["labels"]
    assert pod_labels == {key: COST[key] for key in labels.COST_LABEL_KEYS}
    assert "app.kubernetes.io/managed-by" not in pod_labels
    assert proxy["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pulumi"


# -- who pays: the module of an object comes from the catalogue ------------------------------------------------

def test_the_module_of_an_object_is_the_cost_module_the_catalogue_names_for_its_innermost_component():
    from catalogue.modules import cost_modules

    modules = cost_modules()
    chain = "urn:pulumi:verl::urban-stack::urbanstack:stack:municipality$urbanstack:modules:lowcode::verl-lowcode"
    assert labels.module_of_parent(chain, modules) == "lowcode"
    # The tenant stack's Gateway component (token ...:tenant:gateway) is charged to the platform module gateway.
    gateway = "urn:pulumi:verl::urban-stack::urbanstack:stack:municipality$urbanstack:tenant:gateway::gateway"
    assert labels.module_of_parent(gateway, modules) == "gateway"


def test_a_component_whose_type_token_the_catalogue_does_not_know_is_charged_to_nobody_not_to_its_tokens_last_part():
    """Renaming a component's type token must not silently move its cost to whatever the token ends in: the
    object is ``unassigned``, which the label check and the policy pack report."""
    from catalogue.modules import cost_modules

    renamed = "urn:pulumi:verl::urban-stack::urbanstack:stack:municipality$urbanstack:tenant:exposure::gateway"
    assert labels.module_of_parent(renamed, cost_modules()) == labels.UNASSIGNED
    assert labels.module_of_parent(None, cost_modules()) == labels.UNASSIGNED


def test_every_component_of_the_example_stacks_has_a_cost_module_in_the_catalogue():
    """Each ``urbanstack:`` component type in the recorded URNs, except the two stack roots (which hold no objects
    of their own), is named in the catalogue: a module's spec or ``PLATFORM_COMPONENTS``."""
    import json

    from catalogue.modules import cost_modules, module_label_values
    from tests.stack_urns import RECORDED

    # (A StackReference is read, not registered: the mocks give it no URN.)
    tokens = {token for urns in json.loads(RECORDED.read_text(encoding="utf-8")).values() for urn in urns if urn
              for token in urn.split("::")[2].split("$") if token.startswith("urbanstack:")}
    assert tokens - set(cost_modules()) == {"urbanstack:stack:shared", "urbanstack:stack:municipality"}
    assert set(cost_modules().values()) <= module_label_values()


def test_chart_values_and_operator_label_maps_carry_the_scope_they_are_given_with_no_stack_registered():
    """No hidden label state: a component's Helm values are a function of the scope it is given, so two scopes
    give two sets of labels in one process, and nothing needs a stack to have registered first."""
    from components.shared.gateway import gateway_infrastructure
    from components.shared.operators import envoy_gateway_values
    from components.shared.profile import PROFILES

    first, second = labels.shared_scope("KST-1"), labels.shared_scope("KST-2")
    pod = envoy_gateway_values(PROFILES["production"], first)["deployment"]["pod"]["labels"]
    assert pod[labels.COST_CENTER] == "KST-1" and pod[labels.TENANT] == labels.SHARED_TENANT
    assert gateway_infrastructure(second)["labels"] == labels.cost_labels_for_operator(second, "gateway")
