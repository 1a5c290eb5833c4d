"""``urbanstack check PLAN_DIR`` (also ``python -m urbanstack.checks``): every outside check over a written plan, one
line each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from clikit.console import line, progress
from urbanstack.checks import CHECK_NAMES, run_all
from urbanstack.checks.base import DEFAULT_CHECKOV, DEFAULT_CRD_DIR, load_plan
from urbanstack.checks.checkov import CheckovError


class UnknownCheck(ValueError):
    pass


def run(plan_dir: Path, *, only: Sequence[str] | None = None, checkov: Path | None = None,
        crd_dir: Path | None = None, tenants: Path | None = None) -> int:
    """Run the checks, one line each; returns the exit code (0 ok, 1 failures, 2 usage)."""
    unknown = [name for name in only or () if name not in CHECK_NAMES]
    if unknown:
        line(f"unknown check {', '.join(unknown)}: valid checks are {', '.join(CHECK_NAMES)}", to_err=True)
        return 2
    if not plan_dir.is_dir() or not any((p / "resources.json").is_file() for p in plan_dir.iterdir() if p.is_dir()):
        # Checking a folder that is no plan would report every expected object as missing (and advise deleting
        # entries from the project's own lists): a usage error, said in one line.
        what = "no plan there" if not plan_dir.exists() else "not a plan (no <stack>/resources.json)"
        line(f"{plan_dir}: {what}; write one with `urbanstack plan --out {plan_dir}`", to_err=True)
        return 2
    if crd_dir is not None and not crd_dir.is_dir():
        # A mistyped folder of prerequisite CRDs must not be read as "no prerequisites".
        line(f"--crd-dir {crd_dir}: no such folder (CRDs of documented cluster prerequisites, default vendor/crds)",
             to_err=True)
        return 2
    plan = load_plan(plan_dir, tenants, crd_dir or DEFAULT_CRD_DIR)
    failures = []
    names = list(only or CHECK_NAMES)

    with progress("check", len(names)) as step:
        def report(result, seconds):
            line(f"{'ok    ' if result.ok else 'FAILED'} {result.figure()} [{seconds:.1f} s]")
            for entry in result.report:
                line(f"         {entry}")
            failures.extend(result.failures)

        try:
            run_all(plan, names, checkov or DEFAULT_CHECKOV, report, step)
        except CheckovError as exc:
            line(f"FAILED checkov: {exc}", to_err=True)
            return 1
    for f in failures:
        line(str(f))
    if failures:
        line(f"{len(failures)} failure(s) over the plan in {plan_dir}")
        return 1
    return 0
