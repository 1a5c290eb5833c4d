"""Check: every object, pod template and PVC template carries the four cost labels with valid values.

Valid means (``components.labels.check_labels``): all four present; tenant a known municipality or
``shared``; module a catalogue module or platform component; cost share ``dedicated``/``shared`` and fitting
the tenant. On top of that the values must fit the stack the object comes from: objects of stack ``verl``
are charged to ``verl`` and its ``costCenter``, objects of ``shared`` to ``shared`` and the operator's cost
centre. The places looked at are exactly those the label transform writes (``labels.template_labels``).
"""

from __future__ import annotations

from components import labels
from urbanstack.checks.base import CheckResult, Failure, Plan, valid_modules

NAME = "cost labels"
RULE = "cost-labels"


def run(plan: Plan) -> CheckResult:
    modules = valid_modules()
    tenants = plan.valid_tenants()
    failures: list[Failure] = []
    places = 0
    for po in plan.objects:
        expected_tenant = po.stack if po.stack in plan.tenants else labels.SHARED_TENANT
        expected_cc = plan.cost_center_of(expected_tenant)
        for where, found in labels.template_labels(po.obj):
            places += 1
            what = f"{po.ref()} {where}"
            if found is None:
                failures.append(Failure(plan.rel(po.path), RULE, f"{what}: missing (it must carry the cost labels)"))
                continue
            for problem in labels.check_labels(found, tenants, modules):
                failures.append(Failure(plan.rel(po.path), RULE, f"{what}: {problem}"))
            tenant = found.get(labels.TENANT)
            if tenant and tenant != expected_tenant:
                failures.append(Failure(plan.rel(po.path), RULE,
                                        f"{what}: label {labels.TENANT}={tenant!r} but the object belongs to "
                                        f"stack {po.stack!r} (expected {expected_tenant!r})"))
            cc = found.get(labels.COST_CENTER)
            if cc and expected_cc and cc != expected_cc:
                failures.append(Failure(plan.rel(po.path), RULE,
                                        f"{what}: label {labels.COST_CENTER}={cc!r} but {expected_tenant!r} is "
                                        f"charged to {expected_cc!r}"))
    return CheckResult(NAME, len(plan.objects), "objects", failures, origins=plan.origins,
                       detail=f"{places} label sets incl. pod and PVC templates")
