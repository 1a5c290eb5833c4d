"""Finance per cell (issue 22, decision record 0015): each cell's shared costs are split among its own members, a
dedicated cell is charged to its one municipality, costs of no single cell (``urban-stack/cell: global``) among
all members by the key; statements say which cell a municipality was in and when it moved (pro rata by days)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.prices import load_prices
from finance.allocate import allocate
from finance.cli import app
from finance.model import Cells, Key, Member, load_cells, load_members, parse_period
from finance.report import cell_text, overview, reason_text, statement
from finance.sources.estimate import EstimateSource
from finance.sources.focus import FocusSource
from finance.sources.opencost import OpenCostSource

runner = CliRunner()
OCT = parse_period("2026-10")
CELLS = Cells(default="kreis", names=("kreis", "stadt"))
HEADER = "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceName,ServiceCategory,Tags"


def member(slug: str, population: int, stays=()) -> Member:
    return Member(slug, slug.title(), "05754" + str(population)[:3], population, slug.upper(), "small",
                  ("dashboards",), stays=tuple(stays))


VERL = member("verl", 26000, [("kreis", None, None)])
RIETBERG = member("rietberg", 30000, [("kreis", None, None)])
GUETERSLOH = member("guetersloh", 100000, [("stadt", None, None)])
MEMBERS = {m.slug: m for m in (VERL, RIETBERG, GUETERSLOH)}


def bill(tmp_path: Path, *rows: tuple[str, str, dict]) -> Path:
    """A FOCUS CSV: rows of (amount, service, tags) in October 2026."""
    lines = [HEADER]
    for amount, service, tags in rows:
        quoted = json.dumps(tags).replace('"', '""')
        lines.append(f'{amount},EUR,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,{service},Compute,"{quoted}"')
    path = tmp_path / "bill.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cents(a, slug: str, kind: str | None = None) -> int:
    return sum(ln.cents for ln in a.lines_of(slug) if kind is None or ln.kind == kind)


def test_a_dedicated_cells_shared_costs_go_to_its_one_member(tmp_path):
    path = bill(tmp_path, ("900.00", "Control plane", {"urban-stack/tenant": "shared", "urban-stack/cell": "stadt"}))
    a = allocate(FocusSource([path]), MEMBERS, Key("population"), OCT, cells=CELLS)
    assert cents(a, "guetersloh") == 90000
    assert cents(a, "verl") == cents(a, "rietberg") == 0
    assert {ln.basis for ln in a.lines} == {"population@stadt"}


def test_costs_without_a_cell_tag_are_the_default_cells_and_shared_by_its_members_only(tmp_path):
    path = bill(tmp_path, ("560.00", "Control plane", {"urban-stack/tenant": "shared"}),
                ("56.00", "Idle", {"urban-stack/tenant": "__idle__"}))
    a = allocate(FocusSource([path]), MEMBERS, Key("population"), OCT, cells=CELLS)
    assert cents(a, "guetersloh") == 0
    assert cents(a, "verl") == 61600 * 26 // 56 and cents(a, "rietberg") == 61600 * 30 // 56
    assert {ln.basis for ln in a.lines} == {"population@kreis"}


def test_global_costs_are_split_among_all_members_by_the_key(tmp_path):
    path = bill(tmp_path, ("1560.00", "Operations", {"urban-stack/tenant": "shared", "urban-stack/cell": "global"}))
    a = allocate(FocusSource([path]), MEMBERS, Key("population"), OCT, cells=CELLS)
    assert (cents(a, "verl"), cents(a, "rietberg"), cents(a, "guetersloh")) == (26000, 30000, 100000)
    assert {ln.basis for ln in a.lines} == {"population@global"}
    doc = statement(a, "verl", "de", issued=dt.date(2026, 11, 2))
    assert "Einwohner, alle Zellen: 16,67 % (26.000 von 156.000 Einwohnern)" in doc.data["shares"]
    equal = allocate(FocusSource([path]), MEMBERS, Key("equal"), OCT, cells=CELLS)
    assert {cents(equal, s) for s in MEMBERS} == {52000}


def test_a_member_that_moved_pays_each_cells_costs_for_its_days_there(tmp_path):
    """Gütersloh left the Kreis cell on 14 October (its last day there) and lives in its own cell from the 15th."""
    moved = member("guetersloh", 100000,
                   [("kreis", None, dt.date(2026, 10, 14)), ("stadt", dt.date(2026, 10, 15), None)])
    members = {**MEMBERS, "guetersloh": moved}
    path = bill(tmp_path, ("3100.00", "Kreis cluster", {"urban-stack/tenant": "shared"}),
                ("1700.00", "Stadt cluster", {"urban-stack/tenant": "shared", "urban-stack/cell": "stadt"}))
    a = allocate(FocusSource([path]), members, Key("equal"), OCT, cells=CELLS)
    # Kreis cell: Verl and Rietberg 31 days each, Gütersloh 14 of 31 -> weights 31 : 31 : 14
    kreis = {ln.tenant: ln.cents for ln in a.lines if ln.basis == "equal@kreis"}
    assert kreis["guetersloh"] == 57105 and abs(kreis["verl"] - kreis["rietberg"]) == 1  # 3100 x 14/76; ties go round
    assert sum(kreis.values()) == 310000
    # its own cell from the 15th: nobody else lives there, so all of it (17 of 31 days: the only member)
    assert {ln.tenant: ln.cents for ln in a.lines if ln.basis == "equal@stadt"} == {"guetersloh": 170000}
    assert a.days[(dt.date(2026, 10, 1), "equal@kreis")]["guetersloh"] == 14
    assert a.total_cents() == a.input_cents == 480000

    doc = statement(a, "guetersloh", "de", issued=dt.date(2026, 11, 2))
    assert ("Zelle", "kreis bis 14. Oktober 2026, ab 15. Oktober 2026 stadt") in doc.meta
    assert doc.data["municipality"]["cells"] == [{"cell": "kreis", "from": None, "until": "2026-10-14"},
                                                {"cell": "stadt", "from": "2026-10-15", "until": None}]
    assert cell_text(a, "guetersloh", "en") == "kreis until 14 October 2026, from 15 October 2026 stadt"
    assert ("Zelle", "kreis") in statement(a, "verl", "de", issued=dt.date(2026, 11, 2)).meta
    assert ("Zellen", "kreis: Guetersloh, Rietberg, Verl; stadt: Guetersloh") in overview(
        a, "de", issued=dt.date(2026, 11, 2)).meta
    shares = " | ".join(doc.data["shares"])
    assert "gleich, Zelle kreis" in shares and "14 von 31 Tagen" in shares


def test_a_cell_tag_nobody_knows_is_unallocated_with_its_reason_and_a_warning(tmp_path):
    path = bill(tmp_path, ("100.00", "Compute", {"urban-stack/tenant": "shared", "urban-stack/cell": "stat"}),
                ("50.00", "Compute", {"urban-stack/tenant": "verl", "urban-stack/cell": "stat"}))
    a = allocate(FocusSource([path]), MEMBERS, Key("population"), OCT, cells=CELLS)
    [line] = a.unallocated
    assert line.cents == 10000 and line.reason == "unknown cell tag 'stat' (not in urban-stack:cells)"
    assert cents(a, "verl") == 5000  # a direct cost is the municipality's wherever it ran
    assert any("urban-stack/cell value 'stat'" in w for w in a.warnings)
    assert reason_text(line.reason, "de") == "unbekannte Zelle 'stat' (nicht in urban-stack:cells)"


def test_a_cell_nobody_lives_in_leaves_its_costs_unallocated(tmp_path):
    members = {"verl": VERL, "rietberg": RIETBERG}
    path = bill(tmp_path, ("100.00", "Control plane", {"urban-stack/tenant": "shared", "urban-stack/cell": "stadt"}))
    a = allocate(FocusSource([path]), members, Key("population"), OCT, cells=CELLS)
    [line] = a.unallocated
    assert line.reason == "no municipality lives in cell 'stadt' in 2026-10"
    assert reason_text(line.reason, "de") == "in Zelle stadt lebt im Oktober 2026 keine Kommune"
    assert a.total_cents() == a.input_cents


def test_the_estimate_prices_every_cells_platform_and_the_cooperations_costs_once():
    prices = load_prices()
    per_cell = sum((f.monthly for f in prices.platform.fixed if f.scope == "cell"), Decimal(0)) + sum(
        prices.platform.modules.values(), Decimal(0))
    cooperation = sum((f.monthly for f in prices.platform.fixed if f.scope == "cooperation"), Decimal(0))
    assert per_cell and cooperation  # the example catalogue has both
    one, two = Cells(), CELLS
    single = {slug: dataclasses.replace(m, stays=()) for slug, m in MEMBERS.items()}
    a1 = allocate(EstimateSource(single, prices, one), single, Key("hybrid"), OCT, cells=one)
    a2 = allocate(EstimateSource(MEMBERS, prices, two), MEMBERS, Key("hybrid"), OCT, cells=two)
    assert a2.input_exact - a1.input_exact == per_cell  # the second cell's platform
    # the dedicated cell's platform is Gütersloh's alone, besides its part of the cooperation's costs
    stadt = sum((ln.exact for ln in a2.lines_of("guetersloh") if ln.basis.endswith("@stadt")), Decimal(0))
    assert stadt == per_cell
    assert not any(ln.basis.endswith("@kreis") for ln in a2.lines_of("guetersloh"))
    assert {ln.basis for ln in a2.lines_of("guetersloh") if ln.kind == "shared"} == {
        "population@stadt", "population@global", "equal:dashboards@global"}
    assert a2.total_cents() == a2.input_cents
    # what stays unallocated is what one cell leaves so too: the shared parts of modules nobody books
    def unallocated(a):
        return sorted((ln.reason, ln.cents) for ln in a.unallocated)

    assert unallocated(a2) == unallocated(a1)
    assert all("is booked by no municipality in" in ln.reason for ln in a2.unallocated)


def test_one_cell_statements_name_no_cell_and_keep_their_bases(tmp_path):
    path = bill(tmp_path, ("560.00", "Control plane", {"urban-stack/tenant": "shared"}),
                ("100.00", "Operations", {"urban-stack/tenant": "shared", "urban-stack/cell": "global"}))
    members = {"verl": VERL, "rietberg": RIETBERG}
    a = allocate(FocusSource([path]), members, Key("population"), OCT, cells=CELLS)
    assert not a.several_cells
    assert {ln.basis for ln in a.lines} == {"population"}
    doc = statement(a, "verl", "de", issued=dt.date(2026, 11, 2))
    assert all(label != "Zelle" for label, _ in doc.meta) and "cells" not in doc.data["municipality"]


def test_opencost_of_a_cells_cluster_is_named_by_cell(tmp_path):
    answer = {"code": 200, "data": [{"shared": {"start": "2026-10-01T00:00:00Z", "cpuCost": 300, "totalCost": 300}}]}
    path = tmp_path / "opencost-stadt.json"
    path.write_text(json.dumps(answer), encoding="utf-8")
    src = OpenCostSource([f"stadt={path}"], cells=CELLS)
    a = allocate(src, MEMBERS, Key("population"), OCT, cells=CELLS)
    assert cents(a, "guetersloh") == 30000 and cents(a, "verl") == 0
    kreis = allocate(OpenCostSource([str(path)], cells=CELLS), MEMBERS, Key("population"), OCT, cells=CELLS)
    assert cents(kreis, "guetersloh") == 0 and cents(kreis, "verl") + cents(kreis, "rietberg") == 30000
    with pytest.raises(Exception, match=r"--input stat=.*no cell 'stat' in urban-stack:cells"):
        OpenCostSource([f"stat={path}"], cells=CELLS)


def test_the_example_cooperation_charges_guetersloh_its_own_cell(tmp_path):
    """The example configuration: Kreis Gütersloh's cell and Gütersloh's dedicated one; the report from the command
    line names Gütersloh's cell and charges it the whole platform of that cell."""
    cells = load_cells()
    members = load_members()
    assert len(cells.names) == 2 and members["guetersloh"].stays[-1][0] != cells.default
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", "--period", "2026-10", "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "statement-guetersloh.json").read_text(encoding="utf-8"))
    assert doc["municipality"]["cells"] == [{"cell": members["guetersloh"].stays[-1][0], "from": None, "until": None}]
    over = json.loads((out / "overview.json").read_text(encoding="utf-8"))
    assert over["unallocated"] == [] and over["reconciled"] is True
    assert {m["slug"]: [c["cell"] for c in m["cells"]] for m in over["members"]}["guetersloh"] == ["stadt-guetersloh"]



def test_cost_explorer_is_read_once_per_value_of_the_cell_tag():
    """Cost Explorer groups by two dimensions at most: first the cell tag's values, then each value's costs."""
    import boto3
    import requests
    from moto import mock_aws

    from finance.sources.aws import AwsCostExplorerSource

    month = {"TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"}, "Total": {}, "Estimated": False}

    def group(keys, amount):
        return {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "EUR"}}}

    cells = {"ResultsByTime": [{**month, "Groups": [group(["urban-stack/cell$"], "560.00"),
                                                    group(["urban-stack/cell$stadt"], "900.00")]}]}
    untagged = {"ResultsByTime": [{**month, "Groups": [group(["urban-stack/tenant$shared", "Amazon EKS"], "560.00")]}]}
    stadt = {"ResultsByTime": [{**month, "Groups": [group(["urban-stack/tenant$shared", "Amazon EKS"], "900.00")]}]}
    with mock_aws():
        resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                             json={"results": [cells, untagged, stadt]}, timeout=10)
        assert resp.status_code == 201
        ce = boto3.client("ce", region_name="us-east-1")  # botocore checks each request against the CE model
        asked = []

        class Recording:
            def get_cost_and_usage(self, **request):
                asked.append(request)
                return ce.get_cost_and_usage(**request)

        a = allocate(AwsCostExplorerSource(client=Recording(), cells=CELLS), MEMBERS, Key("population"), OCT,
                     cells=CELLS)
    assert asked[0]["GroupBy"] == [{"Type": "TAG", "Key": "urban-stack/cell"}] and "Filter" not in asked[0]
    assert [r["Filter"] for r in asked[1:]] == [
        {"Tags": {"Key": "urban-stack/cell", "MatchOptions": ["ABSENT"]}},
        {"Tags": {"Key": "urban-stack/cell", "Values": ["stadt"], "MatchOptions": ["EQUALS"]}}]
    assert cents(a, "guetersloh") == 90000  # its dedicated cell's cluster
    assert cents(a, "verl") + cents(a, "rietberg") == 56000 and a.total_cents() == a.input_cents == 146000


def test_cost_explorer_cost_without_any_cell_group_is_read_as_the_default_cells():
    """A discovery answer with a total but no groups is cost without the cell tag: read, never dropped."""
    import boto3
    import requests
    from moto import mock_aws

    from finance.sources.aws import AwsCostExplorerSource

    month = {"TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"}, "Estimated": False}
    total_only = {"ResultsByTime": [{**month, "Groups": [],
                                     "Total": {"UnblendedCost": {"Amount": "560.00", "Unit": "EUR"}}}]}
    untagged = {"ResultsByTime": [{**month, "Total": {}, "Groups": [
        {"Keys": ["urban-stack/tenant$shared", "Amazon EKS"],
         "Metrics": {"UnblendedCost": {"Amount": "560.00", "Unit": "EUR"}}}]}]}
    with mock_aws():
        resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                             json={"results": [total_only, untagged]}, timeout=10)
        assert resp.status_code == 201
        ce = boto3.client("ce", region_name="us-east-1")
        a = allocate(AwsCostExplorerSource(client=ce, cells=CELLS), MEMBERS, Key("population"), OCT, cells=CELLS)
    assert a.input_cents == 56000 and cents(a, "verl") + cents(a, "rietberg") == 56000
