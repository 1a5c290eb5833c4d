"""End to end: a FOCUS bill with direct, shared, untagged and idle rows -> statements that reconcile to the cent,
shared euros split by the key, and a FOCUS allocation dataset that passes focus-validator 1.0.0.

focus-validator runs in its own virtualenv ``.venv-focus`` (numpy<2, pandas<3), created on first use from
``finance/focus-validator.requirements.txt`` (about half a minute on a clean clone).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from finance.cli import app
from finance.focuscheck import CONFIG, validate
from finance.model import load_cells, load_members

runner = CliRunner()
MEMBERS = load_members()
CELLS = load_cells()
# The bill's rows carry no cell tag: they are the default cell's costs, shared by its members only (the example's
# Gütersloh lives in a cell of its own and pays its direct costs here, nothing of the default cell's).
IN_DEFAULT_CELL = {s: m for s, m in MEMBERS.items()
                   if m.days_in(dt.date(2026, 10, 1), cell=CELLS.default, default_cell=CELLS.default)}
POPULATION = sum(m.population for m in IN_DEFAULT_CELL.values())

BILL = """BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceName,ServiceCategory,Tags
412.37,EUR,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,Compute,Compute,"{""urban-stack/tenant"": ""guetersloh"", ""urban-stack/module"": ""dashboards""}"
98.10,EUR,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,Compute,Compute,"{""urban-stack/tenant"": ""verl""}"
1500.00,EUR,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,Kubernetes control plane,Compute,"{""urban-stack/tenant"": ""shared""}"
77.77,EUR,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,Object storage,Storage,
33.01,EUR,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,Compute,Compute,"{""urban-stack/tenant"": ""__idle__""}"
-12.50,EUR,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Credit,Compute,Compute,"{""urban-stack/tenant"": ""verl""}"
"""
TOTAL = Decimal("412.37") + Decimal("98.10") + 1500 + Decimal("77.77") + Decimal("33.01") - Decimal("12.50")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("focus")
    bill = tmp / "bill-2026-10.csv"
    bill.write_text(BILL, encoding="utf-8")
    out = tmp / "out"
    result = runner.invoke(app, ["report", "--period", "2026-10", "--source", "focus", "--input", str(bill),
                                 "--key", "population", "--format", "json,focus", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_statements_sum_to_the_focus_input_total_to_the_cent(report):
    over = json.loads((report / "overview.json").read_text(encoding="utf-8"))
    assert over["inputTotalCents"] == int(TOTAL * 100) == 210875
    statements = [json.loads((report / f"statement-{s}.json").read_text(encoding="utf-8")) for s in MEMBERS]
    assert sum(s["totalCents"] for s in statements) == over["inputTotalCents"]
    assert over["unallocated"] == [] and over["reconciled"] is True
    kinds = {ln["kind"] for s in statements for ln in s["lines"]}
    assert kinds == {"direct", "shared", "untagged", "idle"}


def test_each_shared_euro_of_a_cell_is_split_by_population_among_its_members(report):
    assert 0 < len(IN_DEFAULT_CELL) < len(MEMBERS)
    for slug, m in MEMBERS.items():
        lines = json.loads((report / f"statement-{slug}.json").read_text(encoding="utf-8"))["lines"]
        if slug not in IN_DEFAULT_CELL:
            assert {ln["kind"] for ln in lines} == {"direct"}
            continue
        for ln in (x for x in lines if x["kind"] != "direct"):
            share = Decimal(m.population) / POPULATION
            assert abs(Decimal(ln["share"]) - share) < Decimal("1e-20")
            assert abs(Decimal(ln["amount"]) - Decimal(ln["pool"]) * share) < Decimal("0.01")


def test_the_focus_allocation_dataset_passes_focus_validator(report):
    dataset = report / "focus-allocation.parquet"
    rows = pq.read_table(dataset).to_pylist()
    assert {r["BillingAccountId"] for r in rows} == {m.ags for m in MEMBERS.values()}
    assert len({(r["BillingAccountId"], r["ServiceName"], r["ChargePeriodStart"]) for r in rows}) == len(rows)
    assert round(sum(Decimal(str(r["BilledCost"])) for r in rows) * 100) == 210875
    assert all(r["x_AllocationKey"] == "population" for r in rows)
    result = validate(dataset)
    assert result.ok, result.failed
    assert len(result.summary["passed"]) > 100
    assert result.summary["skipped"] == []  # no rule is skipped
    assert "SkuPriceId_Nullable" in result.summary["passed"]
    assert all(r["SkuPriceId"] and r["SkuPriceId"] == r["SkuId"] for r in rows)  # FOCUS 1.2: not null for Usage


def test_the_validator_bug_behind_the_chargetype_copy_shown_with_a_minimal_file(report, tmp_path):
    """focus-validator 1.0.0's SkuPriceId_Nullable reads ChargeType (the pre-1.0 name of ChargeCategory): on a
    one-row FOCUS 1.x file it errors unless the runner hands it a copy; with the copy the rule really checks."""
    one = pq.read_table(report / "focus-allocation.parquet").slice(0, 1)
    minimal = tmp_path / "one-row.parquet"
    pq.write_table(one, minimal)
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    without = tmp_path / "without-copy.yaml"
    without.write_text(yaml.safe_dump({**config, "copies": {}}), encoding="utf-8")
    bug = validate(minimal, config=without)
    assert [f["check"] for f in bug.failed] == ["SkuPriceId_Nullable"]  # fails although SkuPriceId is set ...
    [case] = bug.summary["failureCases"]
    assert case["Values"] == 'KeyError("ChargeType")'  # ... because the rule reads a column FOCUS 1.x does not have
    assert "SkuPriceId_Nullable" in validate(minimal).summary["passed"]
    idx = one.schema.get_field_index("SkuPriceId")
    null_price = tmp_path / "null-sku-price.parquet"
    pq.write_table(one.set_column(idx, "SkuPriceId", pa.array([None], pa.string())), null_price)
    assert "SkuPriceId_Nullable" in {f["check"] for f in validate(null_price).failed}


def test_focus_validator_does_reject_a_broken_dataset(report, tmp_path):
    """The check is real: without BillingAccountId and with an unknown ServiceCategory it fails."""
    table = pq.read_table(report / "focus-allocation.parquet")
    table = table.drop_columns(["BillingAccountId"])
    idx = table.schema.get_field_index("ServiceCategory")
    table = table.set_column(idx, "ServiceCategory", pa.array(["Kommunales"] * table.num_rows))
    broken = tmp_path / "broken.parquet"
    pq.write_table(table, broken)
    result = validate(broken)
    assert not result.ok
    failed = {f["check"] for f in result.failed}
    assert {"BillingAccountId_Required", "ServiceCategory_Enum"} <= failed
