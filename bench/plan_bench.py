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
"""20 is the most one shared Gateway serves: each municipality has an HTTP, an HTTPS and an internal back-channel
listener, the platform three, and the Gateway API allows 64 listeners (``components/shared/gateway.py``,
``MAX_LISTENERS``). The plan refuses more, so N = 30, 50 and 400 (measured before) cannot be planned today."""


def worker(n: int, folder: Path) -> dict:
    t0 = time.perf_counter()
    from catalogue.tenants import load_all
    from urbanstack.engine.plan import plan_shared, plan_tenant

    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    tenants = load_all([folder])
    t_validate = time.perf_counter() - t1
    t2 = time.perf_counter()
    shared = plan_shared(folder, tenants=tenants)
    t_shared = time.perf_counter() - t2
    rss_after_shared = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    resources = len(shared.resources)
    t3 = time.perf_counter()
    first = None
    for slug in tenants:
        ts = time.perf_counter()
        plan = plan_tenant(slug, shared.outputs, folder, tenants=tenants)
        if first is None:
            first = time.perf_counter() - ts
        resources += len(plan.resources)
    t_tenants = time.perf_counter() - t3
    return {
        "n": n, "import_s": t_import, "validate_s": t_validate, "shared_s": t_shared, "tenants_s": t_tenants,
        "first_tenant_s": first, "wall_s": t_validate + t_shared + t_tenants, "resources": resources,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_shared_mib": rss_after_shared / 1024,
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
