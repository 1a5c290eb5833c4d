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


def run(plan: Plan) -> CheckResult:
    failures: list[Failure] = []
    checked = 0
    tenants = frozenset(plan.tenants)
    for stack, resources in plan.resources.items():
        where = plan.rel(plan.directory / stack / "resources.json")
        for r in resources:
            checked += 1
            for rule in pack.POLICIES:
                kwargs = {"tenants": tenants} if rule.check in (pack.cost_labels_policy,
                                                                 pack.municipality_namespace_policy) else {}
                for message in rule.check(r["type"], r["inputs"], r.get("urn"), **kwargs):
                    failures.append(Failure(where, f"policy {rule.name}", f"{r['type']}::{r['name']}: {message}"))
    return CheckResult(NAME, checked, "resources", failures, detail=f"{len(pack.POLICIES)} mandatory policies")
