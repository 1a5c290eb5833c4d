"""Benchmark 1: offline planning of N synthetic municipalities that book every module.

Each N runs in a fresh interpreter (so peak RSS belongs to that N alone): shared stack + N tenant stacks
planned under Pulumi's mocks exactly as ``urbanstack plan`` does (without writing files). Prints and
returns: wall time, registered resources, ms per resource, time per municipality, peak RSS.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalogue.paths import ROOT

SIZES = (1, 10, 20)
"""Planning alone (``python -m bench.plan_bench N ...``); ``make bench`` plans, renders and checks N = 10, 100 and 400
(``bench/full_bench.py``, which plans with :func:`plan_stacks`)."""


def plan_stacks(folder: Path) -> tuple[list, dict]:
    """Plan ``shared`` and every municipality of ``folder`` as ``urbanstack plan`` does (files not written): the
    StackPlans and the timings (validation, the shared stack, each municipality's stack, wall and CPU seconds)."""
    from catalogue.tenants import load_all
    from urbanstack.engine.plan import plan_shared, plan_tenant

    t1 = time.perf_counter()
    tenants = load_all([folder])
    t_validate = time.perf_counter() - t1
    t2, c2 = time.perf_counter(), time.process_time()
    shared = plan_shared(folder, tenants=tenants)
    timings = {"validate_s": t_validate, "shared_s": time.perf_counter() - t2, "shared_cpu_s": time.process_time() - c2,
               "tenant_s": {}, "tenant_cpu_s": {}}
    plans = [shared]
    for slug in tenants:
        ts, cs = time.perf_counter(), time.process_time()
        plans.append(plan_tenant(slug, shared.outputs, folder, tenants=tenants))
        timings["tenant_s"][slug] = time.perf_counter() - ts
        timings["tenant_cpu_s"][slug] = time.process_time() - cs
    return plans, timings


def worker(n: int, folder: Path) -> dict:
    t0 = time.perf_counter()
    import urbanstack.engine.plan  # noqa: F401  (the import is timed on its own)

    t_import = time.perf_counter() - t0
    plans, timings = plan_stacks(folder)
    tenant_times = list(timings["tenant_s"].values())
    t_tenants = sum(tenant_times)
    return {
        "n": n, "import_s": t_import, "validate_s": timings["validate_s"], "shared_s": timings["shared_s"],
        "tenants_s": t_tenants, "first_tenant_s": tenant_times[0] if tenant_times else None,
        "wall_s": timings["validate_s"] + timings["shared_s"] + t_tenants,
        "resources": sum(len(p.resources) for p in plans),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(sizes=SIZES) -> list[dict]:
    from bench.synthetic import write_tenants

    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "tenants"
            write_tenants(folder, n)
            out = subprocess.run([sys.executable, "-m", "bench.plan_bench", "--worker", str(n), str(folder)],
                                 cwd=ROOT, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
        row["ms_per_resource"] = 1000 * row["wall_s"] / row["resources"]
        row["s_per_municipality"] = row["tenants_s"] / n
        rows.append(row)
        print(f"  plan N={n:>3}: {row['wall_s']:7.2f} s wall, {row['resources']:>6} resources, "
              f"{row['ms_per_resource']:.2f} ms/resource, {row['s_per_municipality'] * 1000:.0f} ms/municipality, "
              f"first municipality {row['first_tenant_s']:.2f} s, peak RSS {row['peak_rss_mib']:.0f} MiB", flush=True)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(worker(int(sys.argv[2]), Path(sys.argv[3]))))
    else:
        run(tuple(int(a) for a in sys.argv[1:]) or SIZES)
