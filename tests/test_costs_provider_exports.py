"""Provider-like FOCUS exports (AWS, Azure, Google Cloud shapes) with exactly known sums: every member's figure is
exact to the cent, equal weights give equal shares, ties do not favour one member, unknown tags are listed, and
bad input is rejected with file, rows, column and value."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from finance.allocate import Allocation, allocate, to_cents
from finance.model import FinanceError, Key, Member, parse_period
from finance.report import overview
from finance.sources.focus import FocusSource
from tests.costs_exports import MEMBERS, NON_MEMBER, UNKNOWN_MODULE, Export, provider_export

OCT = parse_period("2026-10")
KEYS = [Key("equal"), Key("population"), Key("usage"), Key("hybrid", "population", "equal"),
        Key("hybrid", "equal", "equal"), Key("hybrid", "equal", "population")]


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Export]:
    tmp = tmp_path_factory.mktemp("exports")
    return {p: provider_export(tmp / f"{p}-focus-2026-10.csv", p, 3000) for p in ("aws", "azure", "gcp")}


def run(exports: list[Export], key: Key, members: dict[str, Member] = MEMBERS) -> Allocation:
    return allocate(FocusSource([e.path for e in exports]), members, key, OCT)


def combined(exports: list[Export]) -> Export:
    out = Export(exports[0].path, "+".join(e.provider for e in exports))
    for e in exports:
        out.total += e.total
        for slug, v in e.direct.items():
            out.direct[slug] += v
        for k, v in e.module_shared.items():
            out.module_shared[k] += v
        for k, v in e.unknown.items():
            out.unknown[k] += v
    return out


CASES = ["aws", "azure", "gcp", "aws+azure+gcp"]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.code)
@pytest.mark.parametrize("case", CASES)
def test_every_members_direct_cost_is_the_exact_sum_of_its_rows_rounded_once(exports, case, key):
    parts = [exports[p] for p in case.split("+")]
    expected = combined(parts)
    a = run(parts, key)
    for slug in MEMBERS:
        direct = sum(ln.cents for ln in a.lines_of(slug) if ln.kind == "direct")
        assert direct == to_cents(expected.direct[slug]), slug
    # and everything still reconciles to the input total, rounded once
    assert a.input_exact == expected.total
    assert a.total_cents() == to_cents(expected.total)


@pytest.mark.parametrize("key", [k for k in KEYS if k.name != "usage"], ids=lambda k: k.code)
@pytest.mark.parametrize("case", CASES)
def test_members_with_equal_weights_differ_by_at_most_one_cent_in_every_pool(exports, case, key):
    a = run([exports[p] for p in case.split("+")], key)
    pools: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for ln in a.lines:
        if ln.tenant and ln.kind != "direct":
            pools[(ln.month, ln.basis, ln.kind)][ln.tenant] += ln.cents
    assert pools, "the exports have shared, untagged and idle rows"
    for (month, basis, _), parts in pools.items():
        by_weight: dict[Decimal, list[int]] = defaultdict(list)
        for slug, cents in parts.items():
            by_weight[a.weights[(month, basis)][slug]].append(cents)
        for same in by_weight.values():
            assert max(same) - min(same) <= 1, (basis, parts)
    # the four members of equal population pay the same shared amount, to the cent, over the whole report
    if key.code in ("equal", "population"):
        equal_four = [sum(ln.cents for ln in a.lines_of(s) if ln.kind != "direct")
                      for s in ("ahlen", "borken", "coesfeld", "dorsten")]
        assert max(equal_four) - min(equal_four) <= 1


def test_ties_do_not_always_favour_the_same_member(tmp_path):
    """100.01 € shared among four equal members: one cent is left over every month; it goes round."""
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    rows = "\n".join(f'100.01,EUR,{m}-01T00:00:00Z,Operations,"{{""urban-stack/tenant"": ""shared""}}"' for m in months)
    path = tmp_path / "year.csv"
    path.write_text("BilledCost,BillingCurrency,ChargePeriodStart,ServiceName,Tags\n" + rows + "\n", encoding="utf-8")
    four = {s: MEMBERS[s] for s in ("ahlen", "borken", "coesfeld", "dorsten")}
    a = allocate(FocusSource([path]), four, Key("equal"), parse_period("2026-01..2026-12"))
    winners = []
    for month in sorted({ln.month for ln in a.lines}):
        parts = {ln.tenant: ln.cents for ln in a.lines if ln.month == month}
        assert sorted(parts.values()) == [2500, 2500, 2500, 2501]
        winners.append(max(parts, key=parts.get))
    assert {w: winners.count(w) for w in winners} == {"ahlen": 3, "borken": 3, "coesfeld": 3, "dorsten": 3}
    # the documented rule: ties start at (months since 2000-01 + pool number) mod n of the alphabetical list
    first = (2026 - 2000) * 12  # January 2026
    assert winners == [sorted(four)[(first + i) % 4] for i in range(12)]


def test_module_tags_in_both_spellings_reach_the_bookers_and_unknown_tags_are_listed(exports):
    e = exports["azure"]
    a = run([e], Key("hybrid", "population", "equal"))
    for module in ("lowcode", "opendata", "urbandata", "dashboards"):
        lines = [ln for ln in a.lines if ln.kind == "shared" and ln.module == module]
        assert {ln.tenant for ln in lines} == {s for s, m in MEMBERS.items() if module in m.modules}, module
        # the whole module pool (both spellings) is split among its bookers, within the carried rounding
        assert abs(sum(ln.cents for ln in lines) - e.module_shared[module] * 100) <= 3
    assert {(u.tag, u.value): u.cost for u in a.unknown_tags} == dict(e.unknown)
    assert set(dict(e.unknown)) == {("urban-stack/module", UNKNOWN_MODULE), ("urban-stack/tenant", NON_MEMBER)}
    warning = next(w for w in a.warnings if UNKNOWN_MODULE in w)
    assert f"{e.unknown[('urban-stack/module', UNKNOWN_MODULE)].normalize():f} EUR" in warning
    # the overview lists them with their amounts
    table = next(tb for tb in overview(a, "en", "").tables if tb.title == "Unknown tag values")
    listed = {(r[0], r[1]): r[3] for r in table.rows}
    assert listed == {k: to_cents(v) for k, v in e.unknown.items()}


def test_the_non_member_is_kept_out_of_the_members_bills(exports):
    e = exports["gcp"]
    a = run([e], Key("hybrid"))
    lines = [ln for ln in a.unallocated if NON_MEMBER in (ln.reason or "")]
    assert abs(sum(ln.cents for ln in lines) - e.by_kind["non-member"] * 100) <= Decimal(len(lines)) / 2
    assert NON_MEMBER not in a.members and all(ln.tenant in MEMBERS for ln in a.lines if ln.tenant)
    statements = sum(a.total_cents(s) for s in MEMBERS)
    assert statements + sum(ln.cents for ln in a.unallocated) == to_cents(e.total)


# -- bad input: file, rows, column and value -----------------------------------------------------------------


def _edit_lines(src: Path, dst: Path, edits: dict[int, tuple[str, str]]) -> Path:
    """Copy ``src`` to ``dst`` with ``old -> new`` replaced in the given (1-based) lines."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    for number, (old, new) in edits.items():
        assert old in lines[number - 1]
        lines[number - 1] = lines[number - 1].replace(old, new, 1)
    dst.write_text("".join(lines), encoding="utf-8")
    return dst


def test_a_non_object_tags_cell_in_a_provider_export_names_file_lines_column_and_value(exports, tmp_path):
    src = exports["aws"].path
    lines = src.read_text(encoding="utf-8").splitlines()
    tagged = [i + 1 for i, ln in enumerate(lines) if '"{""urban-stack/tenant"": ""ahlen""}"' in ln][:2]
    bad = _edit_lines(src, tmp_path / "aws-bad.csv", {
        tagged[0]: ('"{""urban-stack/tenant"": ""ahlen""}"', '"[""ahlen""]"'),
        tagged[1]: ('"{""urban-stack/tenant"": ""ahlen""}"', "tenant=ahlen"),
    })
    with pytest.raises(FinanceError) as err:
        run([Export(bad, "aws")], Key("hybrid"))
    assert str(err.value) == (f"{bad}: Tags: lines {tagged[0]}, {tagged[1]}: not a JSON object (FOCUS: Tags is a JSON "
                              "object of key-value pairs): '[\"ahlen\"]', 'tenant=ahlen'")


def test_rows_outside_the_period_are_left_out_with_a_warning_naming_rows_and_amount(exports, tmp_path):
    src = exports["gcp"].path
    text = src.read_text(encoding="utf-8").splitlines(keepends=True)
    # move lines 2 and 3 (the first two data rows) to September
    moved = [text[1].replace("2026-10-", "2026-09-"), text[2].replace("2026-10-", "2026-09-")]
    amounts = [Decimal(ln.split(",")[text[0].split(",").index("BilledCost")]) for ln in moved]
    path = tmp_path / "gcp-with-september.csv"
    path.write_text("".join([text[0], *moved, *text[3:]]), encoding="utf-8")
    source = FocusSource([path])
    a = allocate(source, MEMBERS, Key("hybrid"), OCT)
    assert a.input_exact == exports["gcp"].total - sum(amounts)
    assert source.warnings == [f"{path}: ChargePeriodStart: lines 2, 3 lie outside 2026-10 (charge months 2026-09) "
                               f"and are left out: {sum(amounts).normalize():f} EUR"]


def test_the_same_export_twice_or_overlapping_exports_are_rejected(exports, tmp_path):
    e = exports["azure"]
    copy = tmp_path / "azure-copy.csv"
    copy.write_bytes(e.path.read_bytes())
    with pytest.raises(FinanceError, match=re.escape(f"{copy}: the same file as {e.path} (identical content")):
        run([e, Export(copy, "azure")], Key("hybrid"))
    # a second export that repeats the last 5 rows of the first: the same rows by their identity
    lines = e.path.read_text(encoding="utf-8").splitlines(keepends=True)
    overlap = tmp_path / "azure-overlap.csv"
    overlap.write_text(lines[0] + "".join(lines[-5:]), encoding="utf-8")
    n = len(lines)
    with pytest.raises(FinanceError, match=re.escape(
            f"{e.path}: lines {', '.join(str(i) for i in range(n - 4, n + 1))}; {overlap}: lines 2, 3, 4, 5, 6")):
        run([e, Export(overlap, "azure")], Key("hybrid"))


def test_a_period_with_no_rows_is_an_error_with_the_rows_left_out_named(exports):
    with pytest.raises(FinanceError, match=r"no cost records for 2026-11: nothing to allocate"):
        allocate(FocusSource([exports["aws"].path]), MEMBERS, Key("hybrid"), parse_period("2026-11"))


def test_day_of_month_and_format_of_the_generated_rows_are_what_providers_write(exports):
    """The generator writes each provider's own date-time spelling; all of them are read as UTC."""
    for e in exports.values():
        a = run([e], Key("equal"))
        assert {ln.month for ln in a.lines} == {dt.date(2026, 10, 1)}


def test_the_cost_column_is_printed_on_every_statement_and_changes_the_figures(exports):
    from finance.report import statement

    e = exports["aws"]
    billed = run([e], Key("hybrid"))
    effective = allocate(FocusSource([e.path], cost_column="EffectiveCost"), MEMBERS, Key("hybrid"), OCT)
    assert billed.total_cents("ahlen") != effective.total_cents("ahlen")
    de = dict(statement(billed, "ahlen", "de", "").meta)
    assert de["Kostenspalte"].startswith("BilledCost – der in Rechnung gestellte Betrag")
    en = dict(statement(effective, "ahlen", "en", "").meta)
    assert en["Cost column"].startswith("EffectiveCost – amortised cost")
    assert dict(overview(effective, "en", "").meta)["Cost column"].startswith("EffectiveCost")
