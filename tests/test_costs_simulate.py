"""``urbanstack costs simulate``: the what-if of a municipality joining, over the period asked, recorded with its
period and key (issue 25 items 8 and 9)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from typer.testing import CliRunner

from finance.cli import app as costs
from finance.report import fmt_month
from urbanstack.cli import app

runner = CliRunner()


def new_member(folder, member_since: str | None = None):
    args = ["tenants", "new", "halle", "--dir", str(folder), "--name", "Halle (Westf.)", "--ags", "05754012",
            "--population", "21.000", "--domain", "urbanstack.halle.example"]
    result = runner.invoke(app, args + (["--member-since", member_since] if member_since else []))
    assert result.exit_code == 0, result.output
    path = folder / "halle.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("#  dashboards: {}", "  dashboards: {}"), encoding="utf-8")
    return path


def table(folder) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """The lines above the table by their first cell, and the table's rows by slug."""
    head, rows = (folder / "simulate.csv").read_text(encoding="utf-8-sig").split("\n\n", 1)
    return ({r[0]: r[1:] for r in csv.reader(io.StringIO(head), delimiter=";")},
            {r["Kürzel"]: r for r in csv.DictReader(io.StringIO(rows), delimiter=";")})


def euros(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def test_a_municipality_that_tenants_new_wrote_is_simulated_as_joining(tenants_copy, tmp_path):
    """Issue 25 item 8: `costs simulate --add tenants/halle.yaml` after `tenants new halle` failed with "already a
    member". Its memberSince lies ahead: before is without it, after with it, in the month it joins."""
    path = new_member(tenants_copy)
    result = runner.invoke(costs, ["simulate", "--add", str(path), "--tenants", str(tenants_copy), "--out",
                                   str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output
    today = dt.date.today()
    month = dt.date(today.year + today.month // 12, today.month % 12 + 1, 1)
    head, rows = table(tmp_path / "sim")
    assert head["Zeitraum"][0] == fmt_month(month, "de")
    assert rows["halle"]["Bisher"] == "" and euros(rows["halle"]["Nachher"]) > 0
    assert euros(rows["verl"]["Änderung"]) < 0, "a new member shares the platform base"


def test_a_file_of_a_member_already_billed_is_told_what_to_do(tenants_copy, tmp_path):
    path = new_member(tenants_copy, member_since="2026-01-01")
    result = runner.invoke(costs, ["simulate", "--add", str(path), "--tenants", str(tenants_copy), "--period",
                                   "2026-10", "--out", str(tmp_path / "sim")])
    assert result.exit_code == 1
    # The last line is the refusal (a warning about the price list's age may come first).
    assert result.output.strip().splitlines()[-1].startswith(
        f"{path}: 'halle' is already a member in 2026-10 (memberSince: 2026-01-01); ")
    assert "set memberSince to the day it joins and simulate --period of that month" in result.output
    assert "--remove halle" in result.output
    later = new_member(tmp_path / "t2", member_since="2027-03-01")
    result = runner.invoke(costs, ["simulate", "--add", str(later), "--period", "2026-10", "--out", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "'halle' joins on 2027-03-01, after --period 2026-10: simulate --period 2027-03" in result.output


def test_a_period_of_months_is_computed_month_by_month_and_recorded_with_its_key(tenants_copy, tmp_path):
    """Issue 25 item 9: `--period 2026-01..2026-03` simulated January only and the CSV named neither period nor
    key."""
    path = new_member(tmp_path / "joining", member_since="2026-02-15")
    sums: dict[str, Decimal] = {}
    for month in ("2026-02", "2026-03"):
        # The catalogue's own unit prices (whole cents): a member's cost is rounded once over the period
        # (docs/finance.md, "Rounding"), so with a provider's fractional unit prices a range may differ from the
        # sum of its months by a cent; with whole cents it is that sum to the cent.
        result = runner.invoke(costs, ["simulate", "--add", str(path), "--period", month, "--key", "equal",
                                       "--provider", "none", "--out", str(tmp_path / month)])
        assert result.exit_code == 0, result.output
        for slug, row in table(tmp_path / month)[1].items():
            sums[slug] = sums.get(slug, Decimal(0)) + euros(row["Nachher"])
    result = runner.invoke(costs, ["simulate", "--add", str(path), "--period", "2026-02..2026-03", "--key", "equal",
                                   "--provider", "none", "--out", str(tmp_path / "q")])
    assert result.exit_code == 0, result.output
    assert "2026-02..2026-03 (2 Monate)" in result.output
    head, rows = table(tmp_path / "q")
    assert head["Zeitraum"] == ["Februar bis März 2026", "2 Monate"]
    assert head["Verteilschlüssel"][0] == "equal"
    for slug in ("verl", "halle", "Summe"):
        assert euros(rows[slug]["Nachher"]) == sums[slug], slug


def test_a_german_join_date_is_shown_in_iso_form():
    result = runner.invoke(costs, ["simulate", "--add", "tenants/verl.yaml", "--join", "17.10.2026"])
    assert result.exit_code == 1
    assert "--join: '17.10.2026' is not a date like 2026-10-17: a German date; write it as 2026-10-17" in result.output
