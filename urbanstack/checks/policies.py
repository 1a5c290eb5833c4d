"""Check: the policy pack's mandatory policies hold for every resource of every stack of the plan.

``pulumi preview --policy-pack policy`` applies the same rules under the real engine; here they run on the
recorded resources (``resources.json``: type, URN and inputs as the engine would send them), so a violation
fails ``make test`` long before anybody previews against a cluster.
"""

from __future__ import annotations

import sys

from urbanstack.checks.base import ROOT, CheckResult, Failure, Plan

if str(ROOT) not in sys.path:  # policy/ is the pack's folder, not an installed package
    sys.path.insert(0, str(ROOT))

from policy import urbanstack_policies as pack

NAME = "policy pack"


def images_without_digest(plan: Plan) -> tuple[set[str], set[str]]:
    """``(every image reference, those without a digest)`` of the plan's Kubernetes resources: the images the
    pinned-images rule reads. A reference without ``@sha256:`` can change under the same tag."""
    refs: set[str] = set()
    for resources in plan.resources.values():
        for r in resources:
            if r["type"].startswith("kubernetes:") and isinstance(r["inputs"], dict):
                refs.update(ref for _, ref in pack.images(r["inputs"]))
    return refs, {ref for ref in refs if "@sha256:" not in ref}


def run(plan: Plan) -> CheckResult:
    failures: list[Failure] = []
    checked = 0
    tenants = frozenset(plan.tenants)
    refs, undigested = images_without_digest(plan)
    for stack, resources in plan.resources.items():
        where = plan.rel(plan.directory / stack / "resources.json")
        for r in resources:
            checked += 1
            for rule in pack.POLICIES:
                kwargs = {"tenants": tenants} if rule.check in (pack.cost_labels_policy,
                                                                 pack.municipality_namespace_policy) else {}
                for message in rule.check(r["type"], r["inputs"], r.get("urn"), **kwargs):
                    failures.append(Failure(where, f"policy {rule.name}", f"{r['type']}::{r['name']}: {message}"))
    # Reported, not failed: a digest is recorded in components/versions.py by whoever bumps a version.
    detail = (f"{len(pack.POLICIES)} mandatory policies; {len(undigested)} of {len(refs)} image references "
              f"without a digest" + (f": {', '.join(sorted(undigested))}" if undigested else ""))
    return CheckResult(NAME, checked, "resources", failures, detail=detail)
