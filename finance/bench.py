"""Benchmark: allocate a large FOCUS Parquet export (default 10 million rows) and report time and peak RSS.

    .venv/bin/python -m finance.bench --rows 10000000 [--file build/bench/focus-10m.parquet]

The file is generated once with DuckDB (tenant tags of the example municipalities, shared, untagged and idle
rows, 12 services, one month). The allocation runs in a fresh process limited to 2 DuckDB threads; the target
is <= 20 s and <= 2 GiB RSS on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def generate(path: Path, rows: int) -> None:
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads=2")
    con.execute(f"""
        COPY (
          SELECT
            round(random() * 10, 6)::DOUBLE AS BilledCost,
            'EUR' AS BillingCurrency,
            TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_seconds((i % 2592000)::BIGINT) AS ChargePeriodStart,
            'Usage' AS ChargeCategory,
            'Service ' || (i % 12)::VARCHAR AS ServiceName,
            'Compute' AS ServiceCategory,
            CASE i % 8
              WHEN 0 THEN '{{"urban-stack/tenant": "guetersloh", "urban-stack/module": "dashboards"}}'
              WHEN 1 THEN '{{"urban-stack/tenant": "verl", "urban-stack/module": "urbandata"}}'
              WHEN 2 THEN '{{"urban-stack/tenant": "rietberg"}}'
              WHEN 3 THEN '{{"urban-stack/tenant": "rheda-wiedenbrueck", "env": "prod"}}'
              WHEN 4 THEN '{{"urban-stack/tenant": "shared", "urban-stack/module": "monitoring"}}'
              WHEN 5 THEN '{{"urban-stack/tenant": "__idle__"}}'
              WHEN 6 THEN '{{"team": "gis"}}'
              ELSE NULL END AS Tags
          FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
    """)
    con.close()


def run_once(path: Path) -> dict:
    import duckdb

    from finance.allocate import allocate
    from finance.model import Key, load_members, parse_period
    from finance.sources.focus import FocusSource

    con = duckdb.connect()
    con.execute("SET threads=2")
    members = load_members()
    start = time.perf_counter()
    a = allocate(FocusSource([path]), members, Key("hybrid"), parse_period("2026-10"), con=con)
    seconds = time.perf_counter() - start
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": a.input_rows, "seconds": round(seconds, 2), "peak_rss_mib": round(rss_mib),
            "lines": len(a.lines), "input_total_cents": a.input_cents, "statements_cents": a.total_cents()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.file or Path("build") / "bench" / f"focus-{args.rows}.parquet"
    if args.child:
        print(json.dumps(run_once(path)))
        return 0
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {path} ({args.rows:,} rows) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    proc = subprocess.run([sys.executable, "-m", "finance.bench", "--child", "--rows", str(args.rows), "--file", str(path)],
                          capture_output=True, text=True, check=True)
    print(proc.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
