"""Check: the policy pack's mandatory policies hold for every resource of every stack of the plan.

``pulumi preview --policy-pack policy`` applies the same rules under the real engine; here they run on the
recorded resources (``resources.json``: type, URN and inputs as the engine would send them), so a violation
fails ``make test`` long before anybody previews against a cluster. Under the real engine the pack also sees
the children of every Helm chart and ConfigGroup (they are Pulumi resources): the check runs the rules on the
rendered chart objects too (``chart-*/``, ``manifests-*/``), with the URN the engine gives them. Operator-made
objects (``operator-*/``) are made by the cluster, never registered with Pulumi: the pack never sees them.
"""

from __future__ import annotations

import sys

from catalogue.paths import ROOT
from urbanstack.checks.base import CheckResult, Failure, Plan, per_cell
from urbanstack.engine.planfiles import CHART_TYPE, CONFIG_GROUP_TYPE, type_token

if str(ROOT) not in sys.path:  # policy/ is the pack's folder, not an installed package
    sys.path.insert(0, str(ROOT))

from policy import urbanstack_policies as pack

NAME = "policy pack"


def images_without_digest(plan: Plan) -> tuple[set[str], set[str]]:
    """``(every image reference, those without a digest)`` of the plan's resources and chart-rendered objects: the images the
    pinned-images rule reads. A reference without ``@sha256:`` can change under the same tag."""
    refs: set[str] = set()
    for resources in plan.resources.values():
        for r in resources:
            if r["type"].startswith("kubernetes:") and isinstance(r["inputs"], dict):
                refs.update(ref for _, ref in pack.images(r["inputs"]))
    for po in plan.objects:
        if po.origin == "chart":
            refs.update(ref for _, ref in pack.images(po.obj))
    return refs, {ref for ref in refs if "@sha256:" not in ref}


def _component_urns(resources: list[dict]) -> dict[str, str]:
    """Plan subfolder -> URN of the component whose children it holds (``chart-<release>``, ``manifests-<name>``)."""
    out = {}
    for r in resources:
        if r["type"] == CHART_TYPE:
            out[f"chart-{(r.get('inputs') or {}).get('name') or r['name']}"] = r["urn"]
        elif r["type"] == CONFIG_GROUP_TYPE:
            out[f"manifests-{r['name']}"] = r["urn"]
    return out


def child_urn(parent_urn: str, type_: str, name: str) -> str:
    """The URN the engine gives a component's child: the parent's type chain plus the child's type."""
    head, _, _ = parent_urn.rpartition("::")
    return f"{head}${type_}::{name}"


def _check(rule_set, type_: str, props: dict, urn: str | None, tenants: frozenset[str]):
    for rule in rule_set:
        kwargs = {"tenants": tenants} if rule.check in (pack.cost_labels_policy,
                                                         pack.municipality_namespace_policy) else {}
        for message in rule.check(type_, props, urn, **kwargs):
            yield rule, message


@per_cell
def run(plan: Plan) -> CheckResult:
    failures: list[Failure] = []
    checked = 0
    origins = {"ours": 0, "chart": 0, "operator": 0}
    tenants = frozenset(plan.tenants)
    refs, undigested = images_without_digest(plan)
    components: dict[str, dict[str, str]] = {}
    for stack, resources in plan.resources.items():
        where = plan.rel(plan.directory / stack / "resources.json")
        components[stack] = _component_urns(resources)
        for r in resources:
            checked += 1
            origins["ours"] += 1
            for rule, message in _check(pack.POLICIES, r["type"], r["inputs"], r.get("urn"), tenants):
                failures.append(Failure(where, f"policy {rule.name}", f"{r['type']}::{r['name']}: {message}"))
    for po in plan.objects:
        if po.origin != "chart":
            continue
        parent = components.get(po.stack, {}).get(po.path.parent.name)
        type_ = type_token(po.obj)
        urn = child_urn(parent, type_, po.name) if parent else None
        checked += 1
        origins["chart"] += 1
        for rule, message in _check(pack.POLICIES, type_, po.obj, urn, tenants):
            failures.append(Failure(plan.rel(po.path), f"policy {rule.name}", f"{type_}: {message}"))
    # Reported, not failed: a digest is recorded in catalogue/versions.py by whoever bumps a version.
    detail = (f"{len(pack.POLICIES)} mandatory policies; operator-made objects are not Pulumi resources, the pack "
              f"never sees them; {len(undigested)} of {len(refs)} image references without a digest"
              + (f": {', '.join(sorted(undigested))}" if undigested else ""))
    return CheckResult(NAME, checked, "resources", failures, origins=origins, origin_unit="resources", detail=detail)
