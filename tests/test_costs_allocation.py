"""Allocation: every euro on exactly one statement or an explicit unallocated line, split by the key."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from finance.allocate import allocate, apportion
from finance.model import Key, Member, parse_period
from finance.report import overview, statement
from finance.sources.focus import FocusSource

# Three members: populations 60 000 / 30 000 / 10 000; dashboards booked by aa and bb, opendata by bb only.
MEMBERS = {
    "aa": Member("aa", "Alpha", "05754004", 60000, "A-1", "small", ("dashboards",)),
    "bb": Member("bb", "Beta", "05754008", 30000, "B-1", "small", ("dashboards", "opendata")),
    "cc": Member("cc", "Gamma", "05754012", 10000, "C-1", "small", ()),
}
OCT = parse_period("2026-10")


def tags(tenant: str | None = None, module: str | None = None) -> str:
    t = {}
    if tenant is not None:
        t["urban-stack/tenant"] = tenant
    if module is not None:
        t["urban-stack/module"] = module
    return json.dumps(t)


def focus_csv(path: Path, rows: list[dict]) -> Path:
    """A small FOCUS export; every row defaults to a usage charge in October 2026, EUR."""
    columns = ["BilledCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
               "ServiceName", "ServiceCategory", "Tags"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        for r in rows:
            w.writerow({"BillingCurrency": "EUR", "ChargePeriodStart": "2026-10-01T00:00:00Z",
                        "ChargePeriodEnd": "2026-11-01T00:00:00Z", "ChargeCategory": "Usage",
                        "ServiceName": "Compute", "ServiceCategory": "Compute", "Tags": "{}", **r})
    return path


MIXED = [
    {"BilledCost": "120.10", "Tags": tags("aa", "dashboards")},             # direct
    {"BilledCost": "80.05", "Tags": tags("bb", "opendata")},                # direct
    {"BilledCost": "0.004", "Tags": tags("cc")},                            # direct, below a cent
    {"BilledCost": "1000.00", "ServiceName": "Operations", "Tags": tags("shared")},        # shared platform
    {"BilledCost": "90.00", "ServiceName": "Superset", "Tags": tags("shared", "dashboards")},  # shared module
    {"BilledCost": "33.33", "ServiceName": "Storage", "Tags": ""},          # untagged (no Tags)
    {"BilledCost": "10.01", "ServiceName": "Storage", "Tags": tags(module="storage")},  # untagged (no tenant)
    {"BilledCost": "55.55", "Tags": tags("__idle__")},                      # idle
]
MIXED_TOTAL = Decimal("120.10") + Decimal("80.05") + Decimal("0.004") + 1000 + 90 + Decimal("33.33") + \
    Decimal("10.01") + Decimal("55.55")


def run(tmp_path: Path, rows: list[dict], key: Key, members=MEMBERS, period=OCT):
    return allocate(FocusSource([focus_csv(tmp_path / "focus.csv", rows)]), members, key, period)


def pool_parts(a, service: str) -> dict[str, int]:
    return {ln.tenant: ln.cents for ln in a.lines if ln.service == service and ln.tenant}


@pytest.mark.parametrize("key", [Key("equal"), Key("population"), Key("usage"), Key("hybrid", "population", "equal"),
                                 Key("hybrid", "equal", "population")], ids=lambda k: k.code)
def test_statements_sum_to_the_input_total_to_the_cent(tmp_path, key):
    a = run(tmp_path, MIXED, key)
    assert a.input_cents == round(MIXED_TOTAL * 100)  # 138 904.4 cents -> 138 904
    statements = sum(a.total_cents(slug) for slug in MEMBERS)
    assert statements + sum(ln.cents for ln in a.unallocated) == a.input_cents
    assert a.unallocated == []
    # every pool (month x basis) is rounded once, carrying at most the direct costs' rounding differences, and
    # split without losing or inventing a cent: each member gets its share of the rounded pool, rounded down or up
    pools: dict[tuple, list] = {}
    for ln in a.lines:
        if ln.kind != "direct":
            pools.setdefault((ln.month, ln.basis, ln.kind), []).append(ln)
    for lines in pools.values():
        pool_cents = sum(ln.cents for ln in lines)
        exact = sum(ln.exact for ln in lines) * 100
        assert abs(pool_cents - exact) <= 1 + Decimal(len(MEMBERS)) / 2
        for slug in {ln.tenant for ln in lines}:
            mine = sum(ln.cents for ln in lines if ln.tenant == slug)
            assert abs(mine - lines[[ln.tenant for ln in lines].index(slug)].share * pool_cents) < 1


def test_direct_costs_go_to_their_municipality_whole(tmp_path):
    a = run(tmp_path, MIXED, Key("equal"))
    direct = {ln.tenant: ln.cents for ln in a.lines if ln.kind == "direct"}
    assert direct["aa"] == 12010 and direct["bb"] == 8005


def test_equal_key_splits_each_shared_euro_in_equal_parts(tmp_path):
    a = run(tmp_path, MIXED, Key("equal"))
    assert all(abs(c - Fraction(100000, 3)) < 1 for c in pool_parts(a, "Operations").values())
    for kind in ("shared", "untagged", "idle"):  # each pool is split once: equal weights, at most a cent apart
        parts = [sum(ln.cents for ln in a.lines_of(slug) if ln.kind == kind) for slug in MEMBERS]
        assert max(parts) - min(parts) <= 1
    idle = {ln.tenant: ln.cents for ln in a.lines if ln.kind == "idle"}
    assert sum(idle.values()) == 5555 and max(idle.values()) - min(idle.values()) <= 1


def test_population_key_splits_by_inhabitants(tmp_path):
    a = run(tmp_path, MIXED, Key("population"))
    assert pool_parts(a, "Operations") == {"aa": 60000, "bb": 30000, "cc": 10000}
    assert pool_parts(a, "Superset") == {"aa": 5400, "bb": 2700, "cc": 900}  # population key: all members pay
    pooled = [ln for ln in a.lines if ln.kind != "direct"]
    assert {ln.kind for ln in pooled} == {"shared", "untagged", "idle"}
    for ln in pooled:  # every pool, line by line: population share of the pool, within rounding
        share = Decimal(MEMBERS[ln.tenant].population) / 100000
        assert ln.share == share
        assert abs(Decimal(ln.cents) - ln.pool * share * 100) < 1


def test_usage_key_splits_by_each_members_direct_cost(tmp_path):
    a = run(tmp_path, MIXED, Key("usage"))
    direct = {"aa": Decimal("120.10"), "bb": Decimal("80.05"), "cc": Decimal("0.004")}
    total = sum(direct.values())
    parts = pool_parts(a, "Operations")
    for slug, cents in parts.items():
        assert abs(Decimal(cents) - 100000 * direct[slug] / total) < 1


def test_hybrid_splits_a_modules_shared_cost_only_among_its_bookers(tmp_path):
    a = run(tmp_path, MIXED, Key("hybrid", "population", "equal"))
    assert pool_parts(a, "Superset") == {"aa": 4500, "bb": 4500}  # cc did not book dashboards
    assert pool_parts(a, "Operations") == {"aa": 60000, "bb": 30000, "cc": 10000}  # base by population
    by_pop = run(tmp_path, MIXED, Key("hybrid", "equal", "population"))
    assert pool_parts(by_pop, "Superset") == {"aa": 6000, "bb": 3000}
    assert all(abs(c - Fraction(100000, 3)) < 1 for c in pool_parts(by_pop, "Operations").values())


def test_the_key_and_the_members_share_are_printed_on_every_statement(tmp_path):
    a = run(tmp_path, MIXED, Key("hybrid", "population", "equal"))
    for slug in MEMBERS:
        doc = statement(a, slug, "de", "Betreiber")
        meta = dict(doc.meta)
        assert meta["Verteilschlüssel"].startswith("Grundanteil nach Einwohnern, Modulanteil gleich unter den "
                                                   "buchenden Kommunen. Hybridschlüssel:")
        shares = [v for k, v in doc.meta if k == "Ihr Anteil"]
        assert any(v.startswith("Einwohner:") for v in shares)
    gamma = [v for k, v in statement(a, "cc", "de", "").meta if k == "Ihr Anteil"]
    assert gamma == ["Einwohner: 10,00 % (10.000 von 100.000 Einwohnern)"]
    beta = [v for k, v in statement(a, "bb", "en", "").meta if k == "Your share"]
    assert "equal, municipalities booking Data visualisation (Apache Superset) only: 50.00 % (1 of 2 municipalities)" in beta


def test_a_module_nobody_booked_is_reported_not_spread(tmp_path):
    rows = [{"BilledCost": "42.00", "ServiceName": "REI3", "Tags": tags("shared", "rei3")},
            {"BilledCost": "1.00", "Tags": tags("aa")}]
    a = run(tmp_path, rows, Key("hybrid"))
    [line] = a.unallocated
    assert line.cents == 4200 and "rei3" in line.reason and "booked by no municipality" in line.reason


def test_unknown_tenant_tags_are_unallocated_lines_with_reasons_and_rows_outside_the_period_are_left_out(tmp_path):
    rows = [{"BilledCost": "10.00", "Tags": tags("bielefeld")},
            {"BilledCost": "5.00", "Tags": tags("aa"), "ChargePeriodStart": "2026-09-30T10:00:00Z"},
            {"BilledCost": "3.00", "Tags": tags("aa")}]
    a = run(tmp_path, rows, Key("equal"))
    reasons = {ln.reason: ln.cents for ln in a.unallocated}
    assert reasons == {"unknown municipality tag 'bielefeld' (no tenant file)": 1000}
    assert a.total_cents("aa") == 300
    assert a.total_cents() == a.input_cents == 1300
    assert [w for w in a.warnings if "left out" in w] == [
        f"{tmp_path / 'focus.csv'}: ChargePeriodStart: line 3 lies outside 2026-10 (charge months 2026-09) and "
        "is left out: 5 EUR"]
    over = overview(a, "de", "")
    assert over.data["reconciled"] is True and over.data["unallocatedCents"] == 1000
    tables = {tb.title: tb for tb in over.tables}  # German throughout: reasons and handling too
    assert [r[4] for r in tables["Nicht verteilt"].rows] == ["unbekannte Kommune 'bielefeld' (kein Mitglied)"]
    assert tables["Unbekannte Werte der Kostenkennzeichnung"].rows == [["urban-stack/tenant", "bielefeld", 1, 1000, "nicht verteilt"]]


def test_usage_key_without_direct_cost_leaves_the_pool_unallocated(tmp_path):
    a = run(tmp_path, [{"BilledCost": "9.99", "Tags": tags("shared")}], Key("usage"))
    [line] = a.unallocated
    assert line.cents == 999 and line.reason.startswith("usage key: no municipality has direct costs")


def test_largest_remainder_splits_thirds_exactly_and_ties_start_where_told():
    third = Fraction(10000, 3)  # 100.00 EUR in thirds, in cents
    assert apportion([third] * 3, 10000) == [3334, 3333, 3333]
    assert apportion([third] * 3, 10000, first=1) == [3333, 3334, 3333]
    assert apportion([third] * 3, 10000, first=2) == [3333, 3333, 3334]
    # a carried rounding difference is spread evenly before rounding
    assert apportion([Fraction(100), Fraction(100)], 202) == [101, 101]


def test_sub_cent_rows_add_up_before_rounding(tmp_path):
    rows = [{"BilledCost": "0.003", "Tags": tags("aa")} for _ in range(7)]  # 0.021 € in total
    a = run(tmp_path, rows, Key("equal"))
    assert a.input_cents == 2 and a.total_cents("aa") == 2


def test_a_range_allocates_each_month_and_keeps_the_total(tmp_path):
    rows = [{"BilledCost": "100.00", "Tags": tags("shared"), "ChargePeriodStart": f"2026-{m:02d}-01T00:00:00Z"}
            for m in range(1, 13)]
    a = run(tmp_path, rows, Key("equal"), period=parse_period("2026-01..2026-12"))
    assert a.input_cents == 120000 and a.total_cents() == 120000
    assert a.unallocated == []
    assert len({ln.month for ln in a.lines}) == 12
