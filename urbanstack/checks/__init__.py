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


def run_all(plan: Plan, only: list[str] | None = None, checkov: Path = DEFAULT_CHECKOV,
            report: Callable[[CheckResult, float], None] | None = None,
            step: Callable[[str], None] = lambda name: None) -> list[CheckResult]:
    """Run the checks; results (and ``report`` lines) come in the order of :data:`CHECK_NAMES`.

    checkov runs in a process of its own: it is started first, in a background thread, and works on the second
    core while the other checks run here (on the 2-core machine it took as long as all the others together);
    a check's line is reported as soon as every check before it has one."""
    selected = [(name, check) for name, check in checks(checkov).items() if not only or name in only]
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


__all__ = ["CHECK_NAMES", "CheckResult", "Plan", "load_plan", "run_all"]
