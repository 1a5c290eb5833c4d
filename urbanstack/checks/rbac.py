"""Check: what each municipality group may do in Kubernetes, computed as the RBAC authorizer would.

A municipality's realm groups reach the cluster as Kubernetes groups ``urban-stack:<slug>:<group>``
(``catalogue.names.group_name``). Their rights are the rules of every Role and ClusterRole bound to
them by a RoleBinding (in that namespace) or a ClusterRoleBinding (in every namespace). ClusterRoles with an
``aggregationRule`` take the rules of every ClusterRole whose labels match its selectors, repeatedly
(Kubernetes' clusterrole-aggregation controller), so a chart's ClusterRole labelled
``rbac.authorization.k8s.io/aggregate-to-edit: "true"`` (e.g. cert-manager's ``cert-manager-edit``) silently
widens every ``edit`` binding. The built-in ``admin``/``edit``/``view`` roles are modelled from Kubernetes'
bootstrap policy (:mod:`urbanstack.checks.bootstrap_roles`); ClusterRoles of the plan (ours, chart-rendered,
operator-made) take part in the aggregation like any other.

The check fails (rule ``municipality-rbac``) when a municipality group may, in any namespace:

* read Secrets (``get``/``list``/``watch`` on ``secrets``): database passwords, OIDC client secrets, bucket keys;
* exec into pods (``create`` on ``pods/exec``, the verb Kubernetes >= 1.30 checks for exec over websockets,
  or ``get`` on it, which older API servers and SPDY clients need);
* change NetworkPolicies (``create``/``update``/``patch``/``delete``/``deletecollection`` on ``networkpolicies``
  in ``networking.k8s.io`` or ``extensions``): the isolation the reachability check proves;
* create or change cert-manager ``Certificates``, ``CertificateRequests``, ``Issuers`` or ``ClusterIssuers``
  (``create``/``update``/``patch``): any of them can obtain a certificate for another municipality's host or
  the platform's through the shared ClusterIssuer.

The module catalogue grants none of these to any realm group today, so any of them is a failure. Not modelled:
a group that may create pods or workloads can mount any Secret of its namespace into a pod it controls (the
RBAC good-practice guide's "workload creation" path); that is a property of letting a group deploy at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from catalogue import names
from urbanstack.checks.base import CheckResult, Failure, Plan, PlanObject, count_origins, per_cell
from urbanstack.checks.bootstrap_roles import BOOTSTRAP_CLUSTER_ROLES
from urbanstack.checks.reachability import selector_matches

NAME = "municipality RBAC"
RULE = "municipality-rbac"
RBAC_GROUP = "rbac.authorization.k8s.io"

FORBIDDEN: dict[str, list[tuple[str, str, frozenset[str]]]] = {
    "read Secrets": [("", "secrets", frozenset({"get", "list", "watch"}))],
    "exec into pods": [("", "pods/exec", frozenset({"create", "get"}))],
    "change NetworkPolicies": [(g, "networkpolicies", frozenset({"create", "update", "patch", "delete",
                                                                 "deletecollection"}))
                               for g in ("networking.k8s.io", "extensions")],
    "create cert-manager objects": [("cert-manager.io", r, frozenset({"create", "update", "patch"}))
                                    for r in ("certificates", "certificaterequests", "issuers", "clusterissuers")],
}
"""What no municipality group may do: capability -> ``(API group, resource, verbs)`` any of which grants it."""


@dataclass(frozen=True)
class Grant:
    """One rule, and the role it came from (after aggregation: the role that wrote it)."""

    rule: Mapping[str, Any]
    source: str


def _matches(values: Iterable[str] | None, wanted: str) -> bool:
    values = list(values or [])
    return "*" in values or wanted in values


def allows(rule: Mapping[str, Any], api_group: str, resource: str, verb: str) -> bool:
    """RBAC's ``RuleAllows`` for a resource request (``pkg/apis/rbac/v1/evaluation_helpers.go``): verb, API group
    and resource must each match (``*`` matches all; ``*/sub`` matches a subresource of any resource).
    ``resourceNames`` narrow a rule to named objects; such a rule still grants the verb on those objects, so it
    counts (a Secret read is a Secret read)."""
    if not _matches(rule.get("verbs"), verb) or not _matches(rule.get("apiGroups"), api_group):
        return False
    resources = list(rule.get("resources") or [])
    if "*" in resources or resource in resources:
        return True
    return "/" in resource and f"*/{resource.split('/', 1)[1]}" in resources


def cluster_roles(plan: Plan) -> tuple[dict[str, list[Grant]], dict[str, str]]:
    """Rules of every ClusterRole (built-in + plan) after aggregation, and the plan file of each plan role."""
    objs: dict[str, Mapping[str, Any]] = {r["metadata"]["name"]: r for r in BOOTSTRAP_CLUSTER_ROLES}
    files: dict[str, str] = {}
    for po in plan.objects:
        if po.kind == "ClusterRole" and po.api_version.startswith(RBAC_GROUP):
            objs[po.name] = po.obj
            files[po.name] = plan.rel(po.path)
    rules = {name: [Grant(r, name) for r in obj.get("rules") or []] for name, obj in objs.items()}
    aggregated = {name: obj["aggregationRule"].get("clusterRoleSelectors") or []
                  for name, obj in objs.items() if isinstance(obj.get("aggregationRule"), Mapping)}
    changed = True
    while changed:  # the aggregation controller reconciles until nothing changes; aggregation may chain
        changed = False
        for name, selectors in aggregated.items():
            merged = list(rules[name])
            seen = {(repr(g.rule), g.source) for g in merged}
            for other, obj in objs.items():
                other_labels = dict((obj.get("metadata") or {}).get("labels") or {})
                if other == name or not any(selector_matches(s, other_labels, False) for s in selectors):
                    continue
                for g in rules[other]:
                    if (repr(g.rule), g.source) not in seen:
                        seen.add((repr(g.rule), g.source))
                        merged.append(g)
            if len(merged) != len(rules[name]):
                rules[name] = merged
                changed = True
    return rules, files


def _groups(binding: Mapping[str, Any]) -> list[str]:
    return [s.get("name", "") for s in binding.get("subjects") or [] if s.get("kind") == "Group"]


@per_cell
def run(plan: Plan) -> CheckResult:
    cr_rules, _ = cluster_roles(plan)
    roles: dict[tuple[str, str], list[Grant]] = {}
    bindings: list[PlanObject] = []
    rbac_objects: list[PlanObject] = []
    for po in plan.objects:
        if not po.api_version.startswith(RBAC_GROUP):
            continue
        rbac_objects.append(po)
        if po.kind == "Role":
            roles[(po.namespace or "default", po.name)] = [Grant(r, f"Role {po.name}") for r in po.obj.get("rules") or []]
        elif po.kind in ("RoleBinding", "ClusterRoleBinding"):
            bindings.append(po)
    prefixes = {names.group_name(slug, ""): slug for slug in plan.tenants}
    failures: list[Failure] = []
    groups_seen: set[str] = set()
    for b in bindings:
        ref = b.obj.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            grants = cr_rules.get(ref.get("name", ""), [])
        else:
            grants = roles.get((b.namespace or "default", ref.get("name", "")), [])
        where = f"namespace {b.namespace}" if b.kind == "RoleBinding" else "every namespace"
        for group in _groups(b.obj):
            if not any(group.startswith(p) for p in prefixes):
                continue
            groups_seen.add(group)
            for capability, requests in FORBIDDEN.items():
                via = sorted({g.source for g in grants for api, res, verbs in requests for verb in verbs
                              if allows(g.rule, api, res, verb)})
                if via:
                    failures.append(Failure(plan.rel(b.path), RULE,
                                            f"group {group} can {capability} in {where} through {b.ref()} -> "
                                            f"{ref.get('kind')} {ref.get('name')} (rules from {', '.join(via)})"))
    return CheckResult(NAME, len(groups_seen), "municipality groups", failures,
                       origins=count_origins(rbac_objects), origin_unit="RBAC objects",
                       detail=f"{len(bindings)} bindings, {len(cr_rules)} ClusterRoles incl. built-in admin/edit/view")
