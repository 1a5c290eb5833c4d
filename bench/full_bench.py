"""Benchmark 5: what a municipality adds to ``make plan`` + ``make check``, rendering and every check included.

For N = 1 and N = 10 synthetic municipalities that book every module: ``urbanstack plan --out`` (programs under
the mocks, every chart rendered by Helm's engine, the operators' objects, files written) and ``urbanstack check``
(every check, checkov included), each timed as the command a person runs. The shared stack's cost is the same
in both; the difference divided by 9 is what one more municipality adds (target: at most 2 s).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalogue.paths import ROOT

SIZES = (1, 10)


def _timed(args: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return seconds


def run(sizes: tuple[int, ...] = SIZES) -> dict:
    from bench.synthetic import write_tenants

    cli = str(ROOT / ".venv" / "bin" / "urbanstack")
    rows = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tenants, plan = Path(tmp) / "tenants", Path(tmp) / "plan"
            write_tenants(tenants, n)
            plan_s = _timed([cli, "plan", "--out", str(plan), "--tenants", str(tenants)])
            objects = sum(1 for _ in plan.rglob("*.yaml"))
            check_s = _timed([cli, "check", str(plan), "--tenants", str(tenants),
                              "--checkov", str(ROOT / ".venv-checkov" / "bin" / "checkov")])
        rows[n] = {"plan_s": plan_s, "check_s": check_s, "objects": objects}
        print(f"  plan + check, N={n:>2}: plan {plan_s:.1f} s, check {check_s:.1f} s, {objects} objects", flush=True)
    out: dict = {"rows": rows}
    if len(sizes) == 2:
        lo, hi = sizes
        total = {n: r["plan_s"] + r["check_s"] for n, r in rows.items()}
        out["per_municipality_s"] = (total[hi] - total[lo]) / (hi - lo)
        out["plan_per_municipality_s"] = (rows[hi]["plan_s"] - rows[lo]["plan_s"]) / (hi - lo)
        out["check_per_municipality_s"] = (rows[hi]["check_s"] - rows[lo]["check_s"]) / (hi - lo)
        print(f"  one more municipality adds {out['per_municipality_s']:.2f} s (plan "
              f"{out['plan_per_municipality_s']:.2f} s, checks {out['check_per_municipality_s']:.2f} s)", flush=True)
    return out


if __name__ == "__main__":
    run(tuple(int(a) for a in sys.argv[1:]) or SIZES)
