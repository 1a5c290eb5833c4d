"""Outside checks over the rendered offline plan, run by ``make check`` (and so by ``make test``).

``.venv/bin/urbanstack check build/plan`` (or ``.venv/bin/python -m urbanstack.checks build/plan``) runs every
check and prints one line per check with what it checked and how many failures it found, then every failure as ``FILE: [RULE] message``. Exit code 1 when
anything failed. One module per check:

* :mod:`urbanstack.checks.schemas` – official Kubernetes schemas (strict) and CRD schemas;
* :mod:`urbanstack.checks.checkov` – checkov, in its own virtualenv, offline;
* :mod:`urbanstack.checks.cost_labels` – the four cost labels on every object and template;
* :mod:`urbanstack.checks.reachability` – NetworkPolicy analysis: municipalities are isolated;
* :mod:`urbanstack.checks.policies` – the policy pack's rules on every recorded resource;
* :mod:`urbanstack.checks.pod_security` – Pod Security admission of every pod at its namespace's level;
* :mod:`urbanstack.checks.rbac` – what each municipality group may do (bindings + ClusterRole aggregation);
* :mod:`urbanstack.checks.api_validation` – API-server validation no schema expresses (PDBs, labels, ports);
* :mod:`urbanstack.checks.references` – every Secret, ConfigMap and ServiceAccount a pod names is created;
* :mod:`urbanstack.checks.container_paths` – every file a container is pointed at is mounted or in its image.
* :mod:`urbanstack.checks.support` – every pinned chart, manifest set and image is inside upstream's support window.
* :mod:`urbanstack.checks.subdomains` – every route on the wildcard listener of platform subdomains claims only its
  own municipality's hosts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from urbanstack.checks.base import DEFAULT_CHECKOV, CheckResult, Plan, load_plan

CHECK_NAMES = ("schemas", "checkov", "labels", "reachability", "policies", "pod-security", "rbac", "api-validation",
               "references", "paths", "support", "subdomains")


def checks(checkov: Path = DEFAULT_CHECKOV) -> dict[str, Callable[[Plan], CheckResult]]:
    from urbanstack.checks import (
        api_validation,
        container_paths,
        cost_labels,
        pod_security,
        policies,
        rbac,
        reachability,
        references,
        schemas,
        subdomains,
        support,
    )
    from urbanstack.checks import checkov as checkov_check

    return {
        "schemas": schemas.run,
        "checkov": lambda plan: checkov_check.run(plan, checkov=checkov),
        "labels": cost_labels.run,
        "reachability": reachability.run,
        "policies": policies.run,
        "pod-security": pod_security.run,
        "rbac": rbac.run,
        "api-validation": api_validation.run,
        "references": references.run,
        "paths": container_paths.run,
        "support": support.run,
        "subdomains": subdomains.run,
    }


WHOLE_PLAN = ("checkov", "support")
"""Checks that judge each object (or each pin) on its own: run once over the whole plan. Every other check judges a
cluster (what reaches what, which Secret exists, who may do what): it runs once per cell of the plan, on that cell's
platform stack and members only (:meth:`Plan.cells`), so no cell's object can satisfy, or clash with, another's."""


def merge(name: str, results: list[tuple[str | None, CheckResult]]) -> CheckResult:
    """One check's results over the cells of a plan as one result: counts added, failures and report lines in cell
    order, each cell's detail named by its cell."""
    if len(results) == 1:
        return results[0][1]
    first = results[0][1]
    origins: dict[str, int] = {}
    for _, r in results:
        for k, v in r.origins.items():
            origins[k] = origins.get(k, 0) + v
    return CheckResult(
        name=name, checked=sum(r.checked for _, r in results), unit=first.unit,
        failures=[f for _, r in results for f in r.failures],
        detail=(first.detail if len({r.detail for _, r in results}) == 1 and first.detail else
                "; ".join(f"cell {cell}: {r.detail}" if r.detail else f"cell {cell}: {r.checked} {r.unit}"
                          for cell, r in results)),
        origins=origins, origin_unit=first.origin_unit, report=[line for _, r in results for line in r.report])


def per_cell(name: str, check: Callable[[Plan], CheckResult]) -> Callable[[Plan], CheckResult]:
    """``check`` run on every cell of the plan (:data:`WHOLE_PLAN` checks: on the whole plan)."""
    if name in WHOLE_PLAN:
        return check
    return lambda plan: merge(name, [(view.cell, check(view)) for view in plan.cells()])


def run_all(plan: Plan, only: list[str] | None = None, checkov: Path = DEFAULT_CHECKOV,
            report: Callable[[CheckResult, float], None] | None = None,
            step: Callable[[str], None] = lambda name: None) -> list[CheckResult]:
    """Run the checks; results (and ``report`` lines) come in the order of :data:`CHECK_NAMES`.

    checkov runs in a process of its own: it is started first, in a background thread, and works on the second
    core while the other checks run here (on the 2-core machine it took as long as all the others together);
    a check's line is reported as soon as every check before it has one."""
    selected = [(name, per_cell(name, check)) for name, check in checks(checkov).items()
                if not only or name in only]
    done: dict[str, tuple[CheckResult, float]] = {}
    results: list[CheckResult] = []

    def timed(check: Callable[[Plan], CheckResult]) -> tuple[CheckResult, float]:
        started = time.monotonic()
        return check(plan), time.monotonic() - started

    def flush(wait: bool = False) -> None:
        for name, _ in selected[len(results):]:
            if name in background and (wait or background[name].done()):
                done[name] = background.pop(name).result()
            if name not in done:
                return
            result, seconds = done[name]
            if report:
                report(result, seconds)
            results.append(result)

    with ThreadPoolExecutor(max_workers=1) as pool:
        background = {name: pool.submit(timed, check) for name, check in selected if name == "checkov"}
        for name, check in selected:
            step(name)
            if name not in background:
                done[name] = timed(check)
            flush()
        flush(wait=True)
    return results


__all__ = ["CHECK_NAMES", "WHOLE_PLAN", "CheckResult", "Plan", "load_plan", "merge", "run_all"]
