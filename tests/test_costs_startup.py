"""What a small cost report loads: not pandas (pyarrow would import it to look for pandas objects; 250 modules),
not pyplot. The time itself is measured by `make bench` (bench/report_bench.py), never asserted."""

from __future__ import annotations

import subprocess
import sys

from catalogue.paths import ROOT

PROBE = r"""
import sys
from urbanstack.cli import app
try:
    app(["costs", "report", "--period", "2026-10", "--source", "focus", "--input", "finance/samples/focus-2026-10.csv",
         "--out", sys.argv[1]], standalone_mode=False)
except SystemExit:
    pass
print(sorted(m for m in ("pandas", "matplotlib.pyplot") if m in sys.modules))
import pandas  # still importable afterwards
print(bool(pandas.__version__))
"""


def test_a_report_in_every_format_loads_neither_pandas_nor_pyplot_and_leaves_pandas_importable(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "out")], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    loaded, importable = done.stdout.strip().splitlines()[-2:]
    assert (tmp_path / "out" / "focus-allocation.parquet").exists() and (tmp_path / "out" / "overview.pdf").exists()
    assert loaded == "[]" and importable == "True"
