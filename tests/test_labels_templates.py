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
