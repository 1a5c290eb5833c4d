"""``python -m urbanstack.checks PLAN_DIR``: every outside check over a written offline plan."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from urbanstack.checks import CHECK_NAMES, run_all
from urbanstack.checks.base import DEFAULT_CHECKOV, DEFAULT_CRD_DIR, load_plan
from urbanstack.checks.checkov import CheckovError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m urbanstack.checks", description=__doc__)
    parser.add_argument("plan", type=Path, nargs="?", default=Path("build/plan"), help="the written plan")
    parser.add_argument("--only", action="append", choices=CHECK_NAMES, help="run only this check (repeatable)")
    parser.add_argument("--checkov", type=Path, default=DEFAULT_CHECKOV, help="checkov executable")
    parser.add_argument("--crd-dir", type=Path, default=DEFAULT_CRD_DIR, help="CRD JSON schemas")
    parser.add_argument("--tenants", type=Path, default=None, help="folder of tenant files (default tenants/)")
    args = parser.parse_args(argv)
    plan = load_plan(args.plan, args.tenants, args.crd_dir)
    failures = []

    def report(result, seconds):
        print(f"{'ok    ' if result.ok else 'FAILED'} {result.figure()} [{seconds:.1f} s]", flush=True)
        failures.extend(result.failures)

    try:
        run_all(plan, args.only, args.checkov, report)
    except CheckovError as exc:
        print(f"FAILED checkov: {exc}", file=sys.stderr)
        return 1
    for f in failures:
        print(str(f))
    if failures:
        print(f"{len(failures)} failure(s) over the plan in {args.plan}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
