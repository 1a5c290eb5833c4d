"""Benchmark 2: cost allocation over large FOCUS billing data.

Synthetic FOCUS data for 400 municipalities (the synthetic tenants of ``bench/synthetic.py``) over the 12
months of 2026, with direct (tenant-tagged), shared (``shared``), untagged and idle (``__idle__``) rows:
1 M rows as gzip CSV and 10 M rows as Parquet (plus 1 M rows as Parquet, to show that peak memory does not
grow with the row count). Each allocation runs in a fresh interpreter with 2 DuckDB threads (the streaming,
columnar engine behind ``--source focus``); a straightforward pandas version (``read_csv``, ``groupby`` on the
tenant tag, split of the shared remainder by population) runs on the 1 M gzip CSV for comparison.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from catalogue.paths import ROOT

N_TENANTS = 400
PERIOD = "2026-01..2026-12"
MODULES = ("dashboards", "lowcode", "opendata", "urbandata", "masterportal", "rei3")


def generate(path: Path, rows: int, fmt: str) -> None:
    """Write ``rows`` FOCUS rows: 70 % direct, 15 % shared, 10 % untagged, 5 % idle; costs with 6 decimals."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads=2")
    modules = "[" + ", ".join(f"'{m}'" for m in MODULES) + "]"
    select = f"""
        SELECT
          round(random() * 10, 6)::DECIMAL(18, 6) AS BilledCost,
          'EUR' AS BillingCurrency,
          (TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_months((i % 12)::INTEGER)
             + to_seconds(((i // 12) % 2419200)::BIGINT)) AS ChargePeriodStart,
          'Usage' AS ChargeCategory,
          'Compute' AS ServiceCategory,
          'Service ' || (i % 9)::VARCHAR AS ServiceName,
          CASE
            WHEN i % 20 < 14 THEN '{{"urban-stack/tenant": "kommune-' || lpad(((i % {N_TENANTS}) + 1)::VARCHAR, 4, '0')
                 || '", "urban-stack/module": "' || {modules}[(i % 6) + 1] || '"}}'
            WHEN i % 20 < 17 THEN '{{"urban-stack/tenant": "shared", "urban-stack/module": "' || {modules}[(i % 6) + 1] || '"}}'
            WHEN i % 20 < 19 THEN '{{"team": "gis"}}'
            ELSE '{{"urban-stack/tenant": "__idle__"}}'
          END AS Tags
        FROM range({rows}) t(i)"""
    if fmt == "parquet":
        con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)")
    else:
        con.execute(f"COPY ({select}) TO '{path}' (FORMAT csv, HEADER, COMPRESSION gzip)")
    con.close()


def child_duckdb(path: Path, tenants: Path) -> dict:
    import duckdb

    from finance.allocate import allocate
    from finance.model import Key, load_members, parse_period
    from finance.sources import limits
    from finance.sources.focus import FocusSource

    # The benchmark reads exports of up to 10 million rows on purpose: above the default input limits.
    os.environ.setdefault(limits.ENV_MAX_INPUT_MIB, "16384")
    members = load_members([tenants])
    con = duckdb.connect()
    con.execute("SET threads=2")
    start = time.perf_counter()
    a = allocate(FocusSource([path]), members, Key("hybrid"), parse_period(PERIOD), con=con)
    seconds = time.perf_counter() - start
    assert a.total_cents() == a.input_cents, "statements must reconcile to the input total"
    return {"seconds": seconds, "rows": a.input_rows, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "reconciled_cents": a.total_cents()}


def child_pandas(path: Path, tenants: Path) -> dict:
    """The straightforward version: read everything, parse tags row by row, group, split the rest by population."""
    import pandas as pd

    from finance.model import load_members

    members = load_members([tenants])
    start = time.perf_counter()
    df = pd.read_csv(path)
    df["tenant"] = df["Tags"].map(lambda s: json.loads(s).get("urban-stack/tenant") if isinstance(s, str) else None)
    direct = df[df["tenant"].isin(members)].groupby("tenant")["BilledCost"].sum()
    remainder = df["BilledCost"].sum() - direct.sum()
    population = pd.Series({s: m.population for s, m in members.items()})
    statements = direct.reindex(population.index, fill_value=0) + remainder * population / population.sum()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(df), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "total": round(float(statements.sum()), 2)}


def _child(kind: str, path: Path, tenants: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.alloc_bench", "--child", kind, str(path), str(tenants)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(workdir: Path, tenants: Path, big_rows: int = 10_000_000, small_rows: int = 1_000_000) -> list[dict]:
    cases = [
        ("duckdb", "csv.gz", small_rows), ("pandas", "csv.gz", small_rows),
        ("duckdb", "parquet", small_rows), ("duckdb", "parquet", big_rows),
    ]
    rows = []
    for engine, fmt, n in cases:
        path = workdir / f"focus-{n}.{fmt}"
        if not path.exists():
            t = time.perf_counter()
            generate(path, n, "parquet" if fmt == "parquet" else "csv")
            print(f"  generated {path.name}: {n:,} rows in {time.perf_counter() - t:.1f} s "
                  f"({path.stat().st_size / 2**20:.0f} MiB)", flush=True)
        r = _child(engine, path, tenants)
        r.update(engine=engine, format=fmt, input_rows=n, rows_per_s=n / r["seconds"],
                 file_mib=path.stat().st_size / 2**20)
        rows.append(r)
        print(f"  allocate {engine:6} {fmt:8} {n:>11,} rows: {r['seconds']:6.2f} s, "
              f"{r['rows_per_s'] / 1e6:5.2f} M rows/s, peak RSS {r['peak_rss_mib']:6.0f} MiB", flush=True)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        fn = child_duckdb if sys.argv[2] == "duckdb" else child_pandas
        print(json.dumps(fn(Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        import tempfile

        from bench.synthetic import write_tenants

        with tempfile.TemporaryDirectory() as tmp:
            write_tenants(Path(tmp) / "tenants", N_TENANTS)
            small = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
            big = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
            run(Path(tmp), Path(tmp) / "tenants", big, small)
