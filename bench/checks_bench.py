"""Benchmark 3: wall time of the manifest checks over the offline plan (``make test`` itself: fresh_bench).

The manifest checks run over a freshly written offline plan of the repository's own stacks (shared + the
example municipalities); the number of objects checked is read from the checks' own one-line figures.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

from catalogue.paths import ROOT

FIGURE = re.compile(r"^(ok|FAILED)\s+(\S+).*?(\d+) (?:objects|resources|files|manifests|pods)", re.M)


def run() -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        plan_dir = Path(tmp) / "plan"
        t = time.perf_counter()
        subprocess.run([str(ROOT / ".venv/bin/urbanstack"), "plan", "--out", str(plan_dir)], cwd=ROOT, check=True,
                       capture_output=True)
        out["plan_s"] = time.perf_counter() - t
        objects = sum(1 for _ in plan_dir.rglob("*.yaml"))
        t = time.perf_counter()
        proc = subprocess.run([str(ROOT / ".venv/bin/urbanstack"), "check", str(plan_dir), "--checkov",
                               str(ROOT / ".venv-checkov/bin/checkov")], cwd=ROOT, capture_output=True, text=True)
        out["checks_s"] = time.perf_counter() - t
        out["checks_ok"] = proc.returncode == 0
        out["objects"] = objects
        out["check_lines"] = [line for line in proc.stdout.splitlines() if line.startswith(("ok", "FAILED"))]
    print(f"  manifest checks: {out['checks_s']:.1f} s over {out['objects']} objects "
          f"({'0 failures' if out['checks_ok'] else 'FAILURES'}); plan written in {out['plan_s']:.1f} s", flush=True)
    for line in out["check_lines"]:
        print(f"    {line}", flush=True)
    return out


if __name__ == "__main__":
    run()
