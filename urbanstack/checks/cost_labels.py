"""Check: every object, pod template and PVC template carries the four cost labels with valid values.

Valid means (``catalogue.labels.check_labels``): all four present; tenant a known municipality or
``shared``; module a catalogue module or platform component; cost share ``dedicated``/``shared`` and fitting
the tenant. On top of that the values must fit the stack the object comes from: objects of stack ``verl``
are charged to ``verl`` and its ``costCenter``, objects of ``shared`` to ``shared`` and the operator's cost
centre. The places looked at are exactly those the label transform writes (``labels.template_labels``).

Chart-rendered and operator-made objects are held to the same rule. Where an upstream chart or operator cannot
carry the labels, the object is listed with its reason in ONE file, ``checks/label-exceptions.yaml`` (never one of
this project's own objects); an entry that matches nothing fails the check, so the list cannot go stale.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from catalogue import labels
from catalogue.paths import ROOT
from urbanstack.checks.base import (
    UPSTREAM_FOLDERS,
    CheckResult,
    Failure,
    Plan,
    PlanObject,
    list_entries,
    per_cell,
    valid_modules,
)

NAME = "cost labels"
RULE = "cost-labels"
EXCEPTIONS_FILE = ROOT / "checks" / "label-exceptions.yaml"


@dataclass(frozen=True)
class LabelException:
    """Objects of one upstream origin that cannot carry the cost labels, and why."""

    folder: str
    kinds: tuple[str, ...]
    name: str
    where: tuple[str, ...] | None
    reason: str

    def matches(self, po: PlanObject, place: str) -> bool:
        return (po.path.parent.name != po.stack and fnmatch.fnmatchcase(po.path.parent.name, self.folder)
                and po.kind in self.kinds and fnmatch.fnmatchcase(po.name, self.name)
                and (self.where is None or place in self.where))


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[LabelException]:
    """The exception list; refuses entries for this project's own objects and entries without a reason."""
    out = []
    for where, entry in list_entries(path, "exceptions"):
        folder = str(entry.get("folder", ""))
        if not folder.startswith(UPSTREAM_FOLDERS):
            raise ValueError(f"{where}: folder {folder!r} must be a chart-*, manifests-* or operator-* folder "
                             "(this project's own objects always carry the cost labels)")
        kinds = entry.get("kind")
        if not isinstance(kinds, list) or not kinds:
            raise ValueError(f"{where}: kind must be a non-empty list of kinds")
        reason = str(entry.get("reason") or "").strip()
        if len(reason) < 40:
            raise ValueError(f"{where}: needs a reason naming the upstream code that sets the labels")
        places = entry.get("where")
        out.append(LabelException(folder, tuple(map(str, kinds)), str(entry.get("name") or "*"),
                                  tuple(map(str, places)) if places else None, reason))
    return out


@per_cell
def run(plan: Plan, exceptions_file: Path = EXCEPTIONS_FILE) -> CheckResult:
    modules = valid_modules()
    tenants = plan.valid_tenants()
    exceptions = load_exceptions(exceptions_file)
    used: set[LabelException] = set()
    failures: list[Failure] = []
    places = excepted = 0
    for po in plan.objects:
        expected_tenant = plan.slug_of.get(po.stack, labels.SHARED_TENANT)
        expected_cc = plan.cost_center_of(expected_tenant)
        for where, found in labels.template_labels(po.obj):
            places += 1
            exception = next((e for e in exceptions if e.matches(po, where)), None)
            if exception is not None:
                used.add(exception)
                excepted += 1
                continue
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
    rel = exceptions_file.relative_to(ROOT) if exceptions_file.is_relative_to(ROOT) else exceptions_file
    for e in exceptions:
        if e not in used:
            failures.append(Failure(str(rel), RULE, f"exception for {e.folder} {'/'.join(e.kinds)} {e.name} matches "
                                                     "no object of the plan: remove it"))
    return CheckResult(NAME, len(plan.objects), "objects", failures, origins=plan.origins,
                       detail=f"{places} label sets incl. pod and PVC templates, {excepted} excepted with a reason "
                              f"in {rel}")
