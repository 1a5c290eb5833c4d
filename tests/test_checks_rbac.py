"""Municipality RBAC: no realm group may read Secrets, exec into pods, change NetworkPolicies or create
cert-manager objects, counting every ClusterRole aggregated into the built-in admin/edit/view."""

from __future__ import annotations

from pathlib import Path

import yaml

from catalogue import names
from urbanstack.checks import rbac
from urbanstack.checks.base import load_plan

SLUG = "verl"
OWN_ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "municipality-editor", "namespace": SLUG},
            "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"],
                       "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["pods", "pods/log", "configmaps", "services"],
                       "verbs": ["get", "list", "watch"]}]}
# cert-manager v1.21.1's ClusterRole as its chart renders it with the default global.rbac.aggregateClusterRoles
# (vendor/charts/cert-manager-v1.21.1/templates/rbac.yaml, "-edit").
CERT_MANAGER_EDIT = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": {"name": "cert-manager-edit",
                                  "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true",
                                             "rbac.authorization.k8s.io/aggregate-to-admin": "true"}},
                     "rules": [{"apiGroups": ["cert-manager.io"],
                                "resources": ["certificates", "certificaterequests", "issuers"],
                                "verbs": ["create", "delete", "deletecollection", "patch", "update"]}]}


def write(path: Path, obj: dict) -> None:
    path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")


def fix_bindings(plan_dir: Path) -> None:
    """What issue 15 item 2 asks for: every realm group of every municipality bound to a Role of our own."""
    for f in plan_dir.glob("*/rolebinding-*-realm-*.yaml"):
        binding = yaml.safe_load(f.read_text())
        ns = binding["metadata"]["namespace"]
        write(f.parent / f"role-{ns}-municipality-editor.yaml", {**OWN_ROLE, "metadata": {**OWN_ROLE["metadata"],
                                                                                          "namespace": ns}})
        binding["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "municipality-editor"}
        write(f, binding)


def bind_to_builtin(plan_dir: Path, role: str, group: str) -> None:
    """The binding issue 15 item 2 removed: a realm group holding a built-in ClusterRole."""
    write(plan_dir / SLUG / f"rolebinding-{SLUG}-realm-{group}.yaml", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": f"realm-{group}", "namespace": SLUG},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "Group", "name": names.group_name(SLUG, group)}]})


def test_the_real_plan_gives_no_municipality_group_a_forbidden_right(crafted):
    result = rbac.run(load_plan(crafted))
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.checked == 3 * len(load_plan(crafted).tenants)


def test_groups_bound_to_the_builtin_edit_or_admin_read_secrets_exec_and_change_network_policies(crafted):
    """Issue 15 item 2: the built-in admin/edit (as realm groups held them before) are caught."""
    bind_to_builtin(crafted, "edit", "editors")
    bind_to_builtin(crafted, "admin", "admins")
    bind_to_builtin(crafted, "view", "viewers")
    result = rbac.run(load_plan(crafted))
    found = {(f.file.rsplit("/", 1)[-1], f.message.split(" can ", 1)[1].split(" in ")[0]) for f in result.failures}
    for capability in ("read Secrets", "exec into pods", "change NetworkPolicies"):
        assert (f"rolebinding-{SLUG}-realm-editors.yaml", capability) in found
        assert (f"rolebinding-{SLUG}-realm-admins.yaml", capability) in found
    assert not any(f.file.endswith("realm-viewers.yaml") for f in result.failures), "view reads no Secrets"


def test_realm_groups_bound_to_a_role_of_our_own_pass(crafted):
    fix_bindings(crafted)
    result = rbac.run(load_plan(crafted))
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.checked == 3 * len(load_plan(crafted).tenants)


def test_a_chart_cluster_role_aggregated_into_edit_lets_editors_create_certificates(crafted):
    """Issue 15 item 1: cert-manager's chart aggregates cert-manager-edit into admin and edit."""
    fix_bindings(crafted)
    write(crafted / SLUG / f"rolebinding-{SLUG}-realm-editors.yaml", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "realm-editors", "namespace": SLUG},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "name": names.group_name(SLUG, "editors")}]})
    # A view binding reads no Secret and creates nothing ...
    assert rbac.run(load_plan(crafted)).failures == []
    # ... until a chart labels a ClusterRole into view (labels chain: view -> edit -> admin, not the other way).
    write(crafted / "shared" / "chart-cert-manager" / "clusterrole-cluster-cert-manager-edit.yaml", CERT_MANAGER_EDIT)
    assert rbac.run(load_plan(crafted)).failures == [], "aggregate-to-edit does not reach view"
    write(crafted / "shared" / "chart-cert-manager" / "clusterrole-cluster-cert-manager-edit.yaml", {
        **CERT_MANAGER_EDIT, "metadata": {"name": "cert-manager-edit",
                                          "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}})
    [failure] = rbac.run(load_plan(crafted)).failures
    assert failure.file.endswith(f"rolebinding-{SLUG}-realm-editors.yaml")
    assert failure.message == (f"group urban-stack:{SLUG}:editors can create cert-manager objects in namespace "
                               f"{SLUG} through RoleBinding {SLUG}/realm-editors -> ClusterRole view "
                               f"(rules from cert-manager-edit)")


def test_aggregation_follows_the_built_in_chain():
    roles, _ = rbac.cluster_roles(type("P", (), {"objects": [], "rel": staticmethod(str)})())
    def can(role, api, res, verb):
        return any(rbac.allows(g.rule, api, res, verb) for g in roles[role])
    assert can("view", "", "pods", "get") and not can("view", "", "secrets", "get")
    assert can("edit", "", "secrets", "get") and can("edit", "", "pods", "get"), "view aggregates into edit"
    assert can("admin", "rbac.authorization.k8s.io", "rolebindings", "create") and can("admin", "", "secrets", "list")
    assert not can("edit", "rbac.authorization.k8s.io", "rolebindings", "create")


def test_rule_matching_follows_rbac_wildcards():
    assert rbac.allows({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, "cert-manager.io", "issuers", "create")
    assert rbac.allows({"apiGroups": [""], "resources": ["*/exec"], "verbs": ["create"]}, "", "pods/exec", "create")
    assert not rbac.allows({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}, "", "pods/exec", "create")
    assert not rbac.allows({"apiGroups": ["apps"], "resources": ["secrets"], "verbs": ["get"]}, "", "secrets", "get")


def test_operations_and_governance_describe_the_roles_the_municipality_stack_binds():
    """docs/operations.md and docs/governance.md describe components/tenant/tenancy.py: each realm group bound to
    a Role of our own in its namespace, never to the built-in admin/edit/view ClusterRoles."""
    from catalogue.paths import ROOT
    from components.tenant.tenancy import GROUP_RULES, role_name

    for doc in ("operations.md", "governance.md"):
        text = " ".join((ROOT / "docs" / doc).read_text(encoding="utf-8").split())
        assert "urban-stack-admins|editors|viewers" in text, doc
        assert {role_name(g) for g in GROUP_RULES} == {f"urban-stack-{g}" for g in ("admins", "editors", "viewers")}
        assert "bound to the ClusterRoles `admin`, `edit`, `view`" not in text, doc
        assert "realm groups hold `admin` and `edit`" not in text, doc
