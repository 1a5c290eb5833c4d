"""``make bench``: every benchmark in one run; prints a table and writes ``bench/results/<timestamp>.json``.

Nothing here is a test: no figure is asserted. Targets (issue 8) are printed next to the figures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from catalogue.paths import ROOT


def machine() -> dict:
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "system": platform.platform()}


def main(argv: list[str]) -> int:
    """``--sizes 10,100,400`` (``make bench SIZES="10 100 400"``): the N of step 1; ``--quick``: N = 2 and 4, smaller
    allocation inputs, no fresh clone."""
    from bench import alloc_bench, checks_bench, fresh_bench, full_bench, hostile_bench, report_bench
    from bench.synthetic import write_tenants

    quick = "--quick" in argv
    sizes = (2, 4) if quick else full_bench.SIZES
    if "--sizes" in argv:
        sizes = tuple(int(x) for x in argv[argv.index("--sizes") + 1].replace(",", " ").split())
    started = time.perf_counter()
    result: dict = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine()}
    print(f"machine: {result['machine']}", flush=True)

    print(f"1. plan, render and every check: N = {', '.join(map(str, sizes))} synthetic municipalities booking "
          "every module (and N = 1 as the baseline)", flush=True)
    try:
        result["scale"] = full_bench.run(sizes)
    except full_bench.PlanRefused as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1

    print("2. cost allocation: synthetic FOCUS data, 400 municipalities, 12 months", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tenants = Path(tmp) / "tenants"
        write_tenants(tenants, alloc_bench.N_TENANTS)
        small, big = (100_000, 1_000_000) if quick else (1_000_000, 10_000_000)
        alloc_rows = alloc_bench.run(Path(tmp), tenants, big, small)
    result["allocation"] = {"rows": alloc_rows}
    duck_csv = next(r for r in alloc_rows if r["engine"] == "duckdb" and r["format"] == "csv.gz")
    pandas_csv = next(r for r in alloc_rows if r["engine"] == "pandas")
    result["allocation"]["speedup_vs_pandas"] = pandas_csv["seconds"] / duck_csv["seconds"]

    print("3. checks", flush=True)
    result["checks"] = checks_bench.run()

    print("4. hostile input: every hostile tenant file of the reviews, hostile finance exports", flush=True)
    result["hostile"] = hostile_bench.run()

    print("5. a small cost report: 300 FOCUS rows, every format (start-up, loading, allocation, each output)",
          flush=True)
    result["small_report"] = report_bench.run()

    if not quick:
        print("6. make test from a fresh clone (cold and warm package cache), then warm", flush=True)
        result["make_test"] = fresh_bench.run()

    result["total_s"] = time.perf_counter() - started
    out = ROOT / "bench" / "results" / f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print_table(result)
    print(f"written: {out.relative_to(ROOT)} (total {result['total_s']:.0f} s)")
    return 0


def print_table(r: dict) -> None:
    from bench import full_bench

    full_bench.print_table(r["scale"])
    print("\n| benchmark | figure | target |\n|---|---|---|")
    for x in r["allocation"]["rows"]:
        print(f"| allocation {x['engine']} {x['format']} {x['input_rows']:,} rows | {x['seconds']:.2f} s, "
              f"{x['rows_per_s'] / 1e6:.2f} M rows/s, peak RSS {x['peak_rss_mib']:.0f} MiB | "
              f"{'≤ 20 s, ≤ 2 GiB' if x['input_rows'] >= 10_000_000 else ''} |")
    print(f"| allocation vs pandas (1 M gzip CSV) | {r['allocation']['speedup_vs_pandas']:.1f}× faster | ≥ 3× |")
    if "hostile" in r:
        from bench import hostile_bench

        hostile_bench.print_table(r["hostile"])
    if "small_report" in r:
        x = r["small_report"]
        outputs = ", ".join(f"{f} {x[f + '_s']:.2f} s" for f in ("csv", "xlsx", "html", "pdf", "json", "focus"))
        print(f"| small report, {x['rows']} rows, every format | {x['end_to_end_s']:.2f} s wall "
              f"({x['end_to_end_cpu_s']:.2f} s CPU, load {x['load_average']:.1f}); start-up {x['startup_s']:.2f} s, "
              f"imports {x['imports_s']:.2f} s, loading {x['loading_s']:.2f} s, allocation {x['allocation_s']:.2f} s, "
              f"charts {x['charts_s']:.2f} s; {outputs} | < 3 s |")
    c = r["checks"]
    print(f"| manifest checks | {c['checks_s']:.1f} s over {c['objects']} objects | reported |")
    for name, label, target in (("fresh_cold", "fresh clone, empty package cache", "≤ 5 min"),
                                ("fresh_warm_cache", "fresh clone, package cache kept", ""),
                                ("warm", "again, virtualenvs present", "")):
        if name in r.get("make_test", {}):
            x = r["make_test"][name]
            print(f"| make test, {label} | {x['seconds']:.0f} s ({x['pytest']}) | {target} |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
