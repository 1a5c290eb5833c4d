"""Benchmark 6: a small cost report, as a treasurer runs it (target: 300 rows, every format, under 3 s).

A 300-row FOCUS export (the shipped sample ``finance/samples/focus-2026-10.csv`` repeated with distinct resource
ids) for the four example municipalities, ``urbanstack costs report --source focus`` with every format. Measured:

* ``end_to_end_s``: the command in a fresh interpreter, as typed (``.venv/bin/urbanstack costs report ...``),
  wall time, and ``end_to_end_cpu_s``, its CPU time (user + system, all threads): on a machine shared with other
  jobs (``load_average``) the wall time is the CPU time plus the wait for a core;
* ``startup_s``: a fresh interpreter that only imports the command line (``import urbanstack.cli``);
* in one fresh interpreter, step by step: ``imports_s`` (the modules a report needs), ``loading_s`` (price
  catalogue, tenant files), ``allocation_s`` (read, check and split the export), and each output separately
  (``charts_s`` for the five PNG charts, then ``csv``, ``xlsx``, ``html``, ``pdf``, ``json``, ``focus``).

Nothing is asserted (``make bench`` prints the figures). The machine is shared, so each figure is the best of
``REPEAT`` runs.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from catalogue.paths import ROOT

ROWS = 300
REPEAT = 3
SAMPLE = ROOT / "finance" / "samples" / "focus-2026-10.csv"

STEPS = r"""
import json, sys, time
t0 = time.perf_counter()
from finance.cli import arrow_without_pandas
arrow_without_pandas()  # as the cost commands do
from catalogue.prices import load_prices
from finance.allocate import allocate
from finance.model import key_from_config, load_members, parse_period
from finance.outputs import write_all
from finance.sources.focus import FocusSource
from finance import render
t1 = time.perf_counter()
prices = load_prices()
members = load_members()
key = key_from_config(prices.allocation)
t2 = time.perf_counter()
a = allocate(FocusSource([sys.argv[1]]), members, key, parse_period("2026-10"))
t3 = time.perf_counter()
out = {"imports_s": t1 - t0, "loading_s": t2 - t1, "allocation_s": t3 - t2}
from finance.report import overview, statement
docs = [statement(a, s, "de", "x") for s in sorted(members)] + [overview(a, "de", "x")]
t4 = time.perf_counter()
out["documents_s"] = t4 - t3
pngs = [render.chart_png(d) for d in docs]
out["charts_s"] = time.perf_counter() - t4
from pathlib import Path
target = Path(sys.argv[2])
for fmt in ("csv", "xlsx", "html", "pdf", "json", "focus"):
    folder = target / fmt
    t = time.perf_counter()
    write_all(a, folder, formats=(fmt,), issuer="x")
    out[f"{fmt}_s"] = time.perf_counter() - t
print(json.dumps(out))
"""


def write_export(path: Path, rows: int = ROWS) -> None:
    """``rows`` rows from the sample export, with distinct resource ids and each cost divided by 16."""
    with SAMPLE.open(encoding="utf-8") as fh:
        sample = list(csv.DictReader(fh))
    out, i = [], 0
    while len(out) < rows:
        for r in sample:
            if len(out) == rows:
                break
            out.append({**r, "ResourceId": f"{r['ResourceId']}-{i}",
                        "BilledCost": str((Decimal(r["BilledCost"]) / 16).quantize(Decimal("0.0001")))})
        i += 1
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(sample[0]))
        w.writeheader()
        w.writerows(out)


def _best(cmd: list[str]) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "focus-300.csv"
        write_export(export)
        cli = str(Path(sys.executable).with_name("urbanstack"))
        end_to_end = cpu = float("inf")
        for i in range(REPEAT):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run([cli, "costs", "report", "--period", "2026-10", "--source", "focus", "--input",
                            str(export), "--out", str(Path(tmp) / f"report-{i}")], check=True, cwd=ROOT,
                           capture_output=True)
            end_to_end = min(end_to_end, time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = min(cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        startup = _best([sys.executable, "-c", "import urbanstack.cli"])
        steps: dict = {}
        for i in range(REPEAT):
            done = subprocess.run([sys.executable, "-c", STEPS, str(export), str(Path(tmp) / f"steps-{i}")],
                                  check=True, cwd=ROOT, capture_output=True, text=True)
            for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items():
                steps[k] = min(steps.get(k, float("inf")), v)
    return {"rows": ROWS, "end_to_end_s": end_to_end, "end_to_end_cpu_s": cpu, "load_average": os.getloadavg()[0],
            "startup_s": startup, **steps}


if __name__ == "__main__":
    r = run()
    print(json.dumps(r, indent=1))
