"""Membership dates: municipalities join and leave during a year; module bookings start and end.

Shared pools are split pro rata by the days of membership (or booking) in each month; direct costs follow the
rows; statements show the days; ``costs simulate`` takes a join or leave date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.tenants import TenantError, load_tenant
from finance.allocate import allocate
from finance.cli import app
from finance.model import Key, Member, member_of, parse_period
from finance.report import statement
from finance.sources.focus import FocusSource
from tests.tenant_texts import tenant_text

runner = CliRunner()
OCT = parse_period("2026-10")

TENANT = tenant_text()


def tenant_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "halle.yaml"
    path.write_text(TENANT + extra, encoding="utf-8")
    return path


def test_membership_and_booking_dates_are_read_from_the_tenant_file(tmp_path):
    path = tenant_file(tmp_path, "memberSince: 2026-10-17\nmemberUntil: 2027-06-30\nmodules:\n"
                                 "  dashboards: {}\n  lowCode:\n    since: 2026-11-01\n    until: 2027-03-31\n")
    m = member_of(load_tenant(path))
    assert (m.since, m.until) == (dt.date(2026, 10, 17), dt.date(2027, 6, 30))
    assert m.bookings == (("lowcode", dt.date(2026, 11, 1), dt.date(2027, 3, 31)),)
    assert m.days_in(dt.date(2026, 10, 1)) == 15  # 17 to 31 October, both included
    assert m.days_in(dt.date(2026, 10, 1), "lowcode") == 0 and m.days_in(dt.date(2026, 11, 1), "lowcode") == 30
    assert m.days_in(dt.date(2027, 6, 1)) == 30 and m.days_in(dt.date(2027, 7, 1)) == 0


@pytest.mark.parametrize(("extra", "needle"), [
    ("memberSince: 2026-10-17\nmemberUntil: 2026-10-01\n", "memberUntil (2026-10-01) must be after memberSince"),
    ("memberSince: 2026-10-17\nmemberUntil: 2026-10-17\n", "memberUntil (2026-10-17) must be after memberSince"),
    ("memberSince: 1999-12-31\n", "memberSince: 1999-12-31 lies outside 2000-01-01..2199-12-31"),
    ("memberUntil: 2300-01-01\n", "memberUntil: 2300-01-01 lies outside"),
    ("modules:\n  openData:\n    since: 2027-01-01\n    until: 2026-12-31\n", "until (2026-12-31) must be after since"),
    ("modules:\n  rei3:\n    since: 1900-01-01\n", "since: 1900-01-01 lies outside"),
])
def test_impossible_membership_dates_are_rejected_naming_the_file(tmp_path, extra, needle):
    path = tenant_file(tmp_path, extra)
    with pytest.raises(TenantError) as err:
        load_tenant(path)
    text = "\n".join(str(p) for p in err.value.problems)
    assert str(path) in text and needle in text


TWO = {
    "aa": Member("aa", "Alpha", "05754004", 50000, "A-1", "small", ("dashboards",)),
    "bb": Member("bb", "Beta", "05754008", 50000, "B-1", "small", ("dashboards",), since=dt.date(2026, 10, 17)),
}


def bill(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "bill.csv"
    lines = ["BilledCost,BillingCurrency,ChargePeriodStart,ServiceName,Tags"]
    lines += [f'{cost},EUR,{start},Compute,"{tags}"' for cost, start, tags in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SHARED = '{""urban-stack/tenant"": ""shared""}'


def test_shared_costs_are_split_by_days_of_membership_and_direct_costs_follow_the_rows(tmp_path):
    rows = [("460.00", "2026-10-01T00:00:00Z", SHARED),
            ("12.34", "2026-10-03T00:00:00Z", '{""urban-stack/tenant"": ""bb""}')]  # before bb joined: still bb's
    a = allocate(FocusSource([bill(tmp_path, rows)]), TWO, Key("population"), OCT)
    shared = {s: sum(ln.cents for ln in a.lines_of(s) if ln.kind == "shared") for s in TWO}
    # aa: 31 days, bb: 15 days (17-31 October) at equal population -> 31 : 15 of 460.00
    assert shared == {"aa": 31000, "bb": 15000}
    assert sum(ln.cents for ln in a.lines_of("bb") if ln.kind == "direct") == 1234
    assert abs(Fraction(a.weights[(dt.date(2026, 10, 1), "population")]["bb"]) - Fraction(15, 46)) < Fraction(1, 10**25)


def test_a_modules_shared_cost_follows_the_days_it_is_booked(tmp_path):
    members = {**TWO, "bb": Member("bb", "Beta", "05754008", 50000, "B-1", "small", ("dashboards",),
                                    bookings=(("dashboards", None, dt.date(2026, 10, 10)),))}
    rows = [("41.00", "2026-10-05T00:00:00Z", '{""urban-stack/tenant"": ""shared"", ""urban-stack/module"": ""dashboards""}')]
    a = allocate(FocusSource([bill(tmp_path, rows)]), members, Key("hybrid", "population", "equal"), OCT)
    parts = {ln.tenant: ln.cents for ln in a.lines if ln.module == "dashboards"}
    assert parts == {"aa": int(Fraction(4100 * 31, 41)), "bb": int(Fraction(4100 * 10, 41))}  # 31 : 10 days


def test_statements_show_the_days(tmp_path):
    a = allocate(FocusSource([bill(tmp_path, [("460.00", "2026-10-01T00:00:00Z", SHARED)])]), TWO, Key("equal"), OCT)
    beta = [v for k, v in statement(a, "bb", "de", "").meta if k == "Ihr Anteil"]
    assert beta == ["Oktober 2026: gleich: 32,61 % (1 von 2 Kommunen; 15 von 31 Tagen im Oktober 2026, anteilig nach Tagen)"]
    alpha = [v for k, v in statement(a, "aa", "en", "").meta if k == "Your share"]
    assert alpha == ["October 2026: equal: 67.39 % (1 of 2 municipalities; 31 of 31 days in October 2026, pro rata by days)"]


def test_simulate_takes_a_join_date(tmp_path, tenants_copy):
    joining = tmp_path / "halle.yaml"
    joining.write_text(TENANT.replace("domain: halle.example.org", "domain: urbanstack.halle.example"), encoding="utf-8")
    whole = runner.invoke(app, ["simulate", "--add", str(joining), "--period", "2026-10", "--tenants", str(tenants_copy),
                                "--out", str(tmp_path / "whole")])
    late = runner.invoke(app, ["simulate", "--add", str(joining), "--join", "2026-10-17", "--tenants",
                               str(tenants_copy), "--out", str(tmp_path / "late")])
    assert whole.exit_code == 0, whole.output
    assert late.exit_code == 0, late.output

    def after(folder: str) -> dict[str, Decimal]:
        text = (tmp_path / folder / "simulate.csv").read_text(encoding="utf-8-sig").split("\n\n", 1)[-1]
        rows = [ln.split(";") for ln in text.splitlines()[1:]]
        return {r[0]: Decimal(r[3].replace(",", ".")) for r in rows if r[3]}

    w, lt = after("whole"), after("late")
    assert lt["halle"] < w["halle"]  # 15 of 31 days
    assert all(lt[s] > w[s] for s in w if s not in ("halle", "Summe"))  # the others carry more of October
    bad = runner.invoke(app, ["simulate", "--add", str(joining), "--join", "17.10.2026"])
    assert bad.exit_code == 1 and "--join: '17.10.2026' is not a date like 2026-10-17" in bad.output
