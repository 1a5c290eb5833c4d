"""How fast hostile input is refused (issue 23, "Done when": every hostile tenant file within 1 s; finance input
"refused within a second"). Not a test: nothing is asserted, the figures are printed and kept by ``make bench``.

* every hostile tenant file of ``tests/hostile_tenants.py``, each alone in a fresh folder, through ``load_all``
  (what ``tenants validate``, ``plan`` and every stack's program call);
* hostile finance inputs built in a temporary folder: a 1 MB gzip that inflates to 1 GiB, a CSV with one 50 MB
  cell, a CSV whose bad cost value is 200 KB long, through the ``focus`` source.

Run alone: ``.venv/bin/python -m bench.hostile_bench``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from catalogue.paths import ROOT


def _tenant_files(root: Path) -> list[dict]:
    from catalogue.tenants import TenantError, load_all
    from tests.hostile_tenants import CASES

    rows = []
    for i, case in enumerate(CASES):
        folder = root / f"case-{i}"
        folder.mkdir()
        (folder / f"{case.slug}.yaml").write_text(case.text, encoding="utf-8")
        started = time.perf_counter()
        try:
            load_all([folder])
            refused = False
        except TenantError:
            refused = True
        rows.append({"case": case.name, "seconds": time.perf_counter() - started, "refused": refused,
                     "bytes": len(case.text.encode())})
    return rows


def _finance(root: Path) -> list[dict]:
    from finance.allocate import allocate
    from finance.model import FinanceError, Key, Member, parse_period
    from finance.sources.focus import FocusSource
    from tests.test_costs_input_limits import gzip_bomb
    from tests.test_costs_sources import HEADER, row

    members = {"aa": Member("aa", "Alpha", "05754004", 60000, "A-1", "small", ())}
    inputs = {"gzip inflating to 1 GiB": gzip_bomb(root / "bomb.csv.gz", 1024 ** 3)}
    cell = root / "cell.csv"
    cell.write_text(HEADER + row("1.00") + row("2.00", tags="x" * (50 * 1024 * 1024)), encoding="utf-8")
    inputs["CSV with one 50 MB cell"] = cell
    long_value = root / "long-value.csv"
    long_value.write_text(HEADER + row("1.00") + row("9" * 200_000 + "x"), encoding="utf-8")
    inputs["CSV with a 200 KB bad value"] = long_value
    rows = []
    for name, path in inputs.items():
        started = time.perf_counter()
        try:
            allocate(FocusSource([path]), members, Key("equal"), parse_period("2026-10"))
            message = ""
        except FinanceError as exc:
            message = str(exc)
        rows.append({"case": name, "seconds": time.perf_counter() - started, "refused": bool(message),
                     "input_bytes": path.stat().st_size, "message_chars": len(message)})
    return rows


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tenants = _tenant_files(Path(tmp))
        finance = _finance(Path(tmp))
    times = [r["seconds"] for r in tenants]
    worst = max(tenants, key=lambda r: r["seconds"])
    return {"tenant_files": len(tenants), "all_refused": all(r["refused"] for r in tenants),
            "worst_s": worst["seconds"], "worst_case": worst["case"], "median_s": statistics.median(times),
            "tenant_rows": tenants, "finance_rows": finance}


def print_table(r: dict) -> None:
    print(f"| hostile tenant files ({r['tenant_files']}, all refused: {r['all_refused']}) | worst "
          f"{r['worst_s'] * 1000:.0f} ms ({r['worst_case']}), median {r['median_s'] * 1000:.1f} ms | ≤ 1 s each |")
    for x in r["finance_rows"]:
        print(f"| hostile finance input: {x['case']} ({x['input_bytes']:,} bytes) | refused: {x['refused']} in "
              f"{x['seconds']:.2f} s, message {x['message_chars']} characters | ≤ 1 s |")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    result = run()
    print("\n| benchmark | figure | target |\n|---|---|---|")
    print_table(result)
    sys.exit(0)
