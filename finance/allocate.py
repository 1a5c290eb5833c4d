"""Allocation: every euro of input on exactly one statement, or on an explicit "unallocated" line.

1. The source's records are aggregated in DuckDB by month, kind, tenant, module, service and resource (a few
   hundred groups however many input rows there are).
2. ``direct`` groups go to their municipality. A tenant tag that names no member, a month outside the period,
   or a record the source could not attribute becomes an **unallocated line with its reason**.
3. ``shared``, ``untagged`` and ``idle`` groups are pools, split by the key (:class:`finance.model.Key`)
   among the members: ``equal``, ``population``, ``usage`` (share of the month's direct cost) or ``hybrid``
   (platform base equally or by population; a module's shared cost only among the municipalities that booked
   it). A pool the key cannot split (no member booked the module; nobody had direct cost under ``usage``) is an
   unallocated line with the reason. The last member of a split receives ``pool - sum(others)``, so a split is
   exact before rounding.
4. Rounding, in two steps of the largest remainder method (Hare-Niemeyer): first the input groups are rounded
   to cents so that they add up to the input total (the exact sum of all input amounts, rounded half-up to the
   cent); then each group's cents are split among its lines by their shares. Each step rounds every value down
   and gives the missing cents, one each, to the largest remainders (ties: the earlier one; the order is fixed).
   So the lines, and hence statements plus unallocated lines, add up to the input total to the cent; every pool
   is split without a lost or invented cent; and no value is off by a whole cent from its exact share.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

import duckdb

from finance.model import KINDS, UNALLOCATED, FinanceError, Key, Member, Period, members_sorted
from finance.sources import RECORD_COLUMNS, CostSource

CENT = Decimal("0.01")


@dataclass
class Line:
    """One line: part of one input group, charged to one member (``tenant``) or unallocated (``tenant=None``)."""

    month: dt.date
    tenant: str | None
    kind: str
    module: str | None
    service: str
    service_category: str
    resource: str | None
    quantity: Decimal | None
    pool: Decimal
    """Amount of the input group this line is a part of (== ``exact`` for direct and unallocated lines)."""
    pool_id: int
    share: Decimal
    """This line's share of the pool (1 for direct and unallocated lines)."""
    basis: str
    """How the share was computed, e.g. ``population``, ``equal among bookers of dashboards``, ``direct``."""
    exact: Decimal
    rows: int
    reason: str | None = None
    cents: int = 0

    @property
    def amount(self) -> Decimal:
        return Decimal(self.cents) / 100


@dataclass
class Allocation:
    """The result for one period: lines, the key, the members, and the reconciliation figures."""

    period: Period
    key: Key
    members: dict[str, Member]
    currency: str
    source: CostSource
    lines: list[Line]
    input_exact: Decimal
    input_rows: int
    example_prices: bool = False
    weights: dict[tuple[dt.date, str], dict[str, Decimal]] = field(default_factory=dict)
    """The shares used, per (month, basis) -> member -> share (printed on the statements)."""

    @property
    def input_cents(self) -> int:
        return to_cents(self.input_exact)

    def lines_of(self, slug: str) -> list[Line]:
        return [ln for ln in self.lines if ln.tenant == slug]

    @property
    def unallocated(self) -> list[Line]:
        return [ln for ln in self.lines if ln.tenant is None]

    def total_cents(self, slug: str | None = None) -> int:
        return sum(ln.cents for ln in self.lines if slug is None or ln.tenant == slug)

    def by_kind(self, slug: str) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for ln in self.lines_of(slug):
            out[ln.kind] += ln.cents
        return out


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- aggregation --------------------------------------------------------------------------------------------

GROUP_COLUMNS = ("charge_month", "kind", "tenant", "module", "service", "service_category", "resource",
                 "currency", "reason")


@dataclass(frozen=True)
class Group:
    month: dt.date
    kind: str
    tenant: str | None
    module: str | None
    service: str
    service_category: str
    resource: str | None
    currency: str
    reason: str | None
    cost: Decimal
    quantity: Decimal | None
    rows: int


def aggregate(rel: duckdb.DuckDBPyRelation) -> list[Group]:
    """Group the records in DuckDB (streaming, columnar) and fetch only the groups."""
    missing = [c for c in RECORD_COLUMNS if c not in rel.columns]
    if missing:  # pragma: no cover - a programming error in a source
        raise FinanceError(f"cost source returned no column(s) {', '.join(missing)}")
    cols = ", ".join(GROUP_COLUMNS)
    sql = (f"SELECT {cols}, SUM(cost) AS cost, SUM(quantity) AS quantity, SUM(rows) AS rows "
           f"FROM rel GROUP BY {cols} ORDER BY {', '.join(c + ' NULLS FIRST' for c in GROUP_COLUMNS)}")
    out = []
    for row in rel.query("rel", sql).fetchall():
        (month, kind, tenant, module, service, category, resource, currency, reason, cost, quantity, rows) = row
        out.append(Group(month, kind, tenant, module, service or "–", category or "Other", resource,
                         currency, reason, Decimal(cost or 0), None if quantity is None else Decimal(quantity),
                         int(rows or 0)))
    return out


# -- weights ------------------------------------------------------------------------------------------------


def _weights(kind: str, members: list[Member]) -> dict[str, Decimal]:
    if kind == "equal":
        return {m.slug: Decimal(1) for m in members}
    if kind == "population":
        return {m.slug: Decimal(m.population) for m in members}
    raise ValueError(kind)  # pragma: no cover


def shares_of(weights: Mapping[str, Decimal]) -> list[tuple[str, Decimal]]:
    """``[(slug, share)]`` in slug order for the positive weights; the shares add up to 1."""
    items = [(s, w) for s, w in sorted(weights.items()) if w > 0]
    total = sum((w for _, w in items), Decimal(0))
    with localcontext() as ctx:
        ctx.prec = 50
        return [(slug, w / total) for slug, w in items]


def split(pool: Decimal, weights: Mapping[str, Decimal] | None = None, *,
          shares: list[tuple[str, Decimal]] | None = None) -> list[tuple[str, Decimal, Decimal]]:
    """``[(slug, share, amount)]``; the amounts add up to ``pool`` exactly (the last one takes the rest).

    Pass ``shares`` (from :func:`shares_of`) when many pools are split by the same weights."""
    if shares is None:
        shares = shares_of(weights or {})
    out, given = [], Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 50
        last = len(shares) - 1
        for i, (slug, share) in enumerate(shares):
            amount = pool - given if i == last else pool * share
            given += amount
            out.append((slug, share, amount))
    return out


# -- the allocation -----------------------------------------------------------------------------------------


def allocate(source: CostSource, members: Mapping[str, Member], key: Key, period: Period, *,
             con: duckdb.DuckDBPyConnection | None = None, example_prices: bool = False) -> Allocation:
    """Load ``source`` for ``period`` and allocate every euro (see the module docstring)."""
    if not members:
        raise FinanceError("no municipalities: the tenant folder has no tenant files")
    own = con is None
    con = con or duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        groups = aggregate(source.load(con, period))
    finally:
        if own:
            con.close()
    return allocate_groups(groups, members, key, period, source, example_prices=example_prices)


def allocate_groups(groups: list[Group], members: Mapping[str, Member], key: Key, period: Period,
                    source: CostSource, *, example_prices: bool = False) -> Allocation:
    members = dict(members)
    if not groups:
        raise FinanceError(f"{source.describe('en')}: no cost records for {period.label}: nothing to allocate")
    currencies = sorted({g.currency or "" for g in groups})
    if len(currencies) > 1 or not currencies[0]:
        amounts = defaultdict(Decimal)
        for g in groups:
            amounts[g.currency or "(empty)"] += g.cost
        listed = ", ".join(f"{c}: {a.normalize():f}" for c, a in sorted(amounts.items()))
        raise FinanceError(f"{source.describe('en')}: BillingCurrency: costs in several currencies ({listed}); "
                           "a statement has one currency: convert or split the input first")
    currency = currencies[0]
    from components.modules import module_names

    bookable = module_names()
    ordered = members_sorted(members)
    direct_by_month: dict[dt.date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for g in groups:
        if g.kind == "direct" and g.tenant in members and g.month in period and g.reason is None:
            direct_by_month[g.month][g.tenant] += g.cost

    lines: list[Line] = []
    used: dict[tuple[dt.date, str], dict[str, Decimal]] = {}
    weights_cache: dict[tuple, tuple[str, list[tuple[str, Decimal]], str | None]] = {}

    def whole(g: Group, pool_id: int, tenant: str | None, kind: str, reason: str | None, basis: str) -> None:
        lines.append(Line(g.month, tenant, kind, g.module, g.service, g.service_category, g.resource, g.quantity,
                          g.cost, pool_id, Decimal(1), basis, g.cost, g.rows, reason))

    for pool_id, g in enumerate(groups):
        if g.kind not in (*KINDS, UNALLOCATED):
            raise FinanceError(f"{source.describe('en')}: unknown cost kind {g.kind!r}")  # pragma: no cover
        if g.reason is not None or g.kind == UNALLOCATED:
            whole(g, pool_id, None, UNALLOCATED, g.reason or "not attributable", "unallocated")
            continue
        if g.month not in period:
            whole(g, pool_id, None, UNALLOCATED, f"outside the period {period.label} (charge month "
                  f"{g.month:%Y-%m})", "unallocated")
            continue
        if g.kind == "direct":
            if g.tenant in members:
                whole(g, pool_id, g.tenant, "direct", None, "direct")
            else:
                whole(g, pool_id, None, UNALLOCATED, f"unknown municipality tag {g.tenant!r} (no tenant file)",
                      "unallocated")
            continue
        # a pool: shared, untagged or idle; pools split by the same weights share one computation
        cache_key = (g.kind == "shared" and g.module in bookable and g.module,
                     g.month if key.name == "usage" else None)
        if cache_key not in weights_cache:
            basis, weights, reason = _pool_weights(g, key, ordered, bookable, direct_by_month)
            weights_cache[cache_key] = (basis, shares_of(weights) if not reason else [], reason)
        basis, shares, reason = weights_cache[cache_key]
        if reason:
            whole(g, pool_id, None, UNALLOCATED, reason, "unallocated")
            continue
        used.setdefault((g.month, basis), dict(shares))
        for slug, share, amount in split(g.cost, shares=shares):
            lines.append(Line(g.month, slug, g.kind, g.module, g.service, g.service_category, g.resource,
                              g.quantity, g.cost, pool_id, share, basis, amount, g.rows))

    input_exact = sum((g.cost for g in groups), Decimal(0))
    _round(lines, groups, input_exact)
    return Allocation(period=period, key=key, members=members, currency=currency, source=source, lines=lines,
                      input_exact=input_exact, input_rows=sum(g.rows for g in groups),
                      example_prices=example_prices, weights=used)


def _pool_weights(g: Group, key: Key, ordered: list[Member], bookable: set[str],
                  direct_by_month) -> tuple[str, dict[str, Decimal], str | None]:
    """``(basis, weights, reason)``: how the pool ``g`` is split, or why it cannot be."""
    if key.name in ("equal", "population"):
        return key.name, _weights(key.name, ordered), None
    if key.name == "usage":
        direct = direct_by_month.get(g.month, {})
        weights = {m.slug: max(direct.get(m.slug, Decimal(0)), Decimal(0)) for m in ordered}
        if sum(weights.values()) <= 0:
            return "usage", {}, f"usage key: no municipality has direct costs in {g.month:%Y-%m}"
        return "usage", weights, None
    # hybrid
    if g.kind == "shared" and g.module in bookable:
        bookers = [m for m in ordered if m.books(g.module)]
        if not bookers:
            return f"{key.modules}:{g.module}", {}, f"module {g.module!r} is booked by no municipality"
        return f"{key.modules}:{g.module}", _weights(key.modules, bookers), None
    return key.base, _weights(key.base, ordered), None


def largest_remainder(ideals: list[Decimal], target: int) -> list[int]:
    """Integers as close to ``ideals`` as possible that add up to ``target`` (which must equal their sum up to
    rounding): every value rounded down, the missing units to the largest remainders, ties to the earlier one."""
    with localcontext() as ctx:
        ctx.prec = 60
        floors = [int(v.to_integral_value(rounding=ROUND_FLOOR)) for v in ideals]
        remainders = [v - f for v, f in zip(ideals, floors, strict=True)]
    missing = target - sum(floors)
    if not 0 <= missing <= len(ideals):  # pragma: no cover - impossible when the ideals add up to the target
        raise FinanceError(f"rounding: {missing} cents to distribute over {len(ideals)} lines")
    bonus = set(sorted(range(len(ideals)), key=lambda i: (-remainders[i], i))[:missing])
    return [f + (1 if i in bonus else 0) for i, f in enumerate(floors)]


def _round(lines: list[Line], groups: list[Group], input_exact: Decimal) -> None:
    """Two-step largest-remainder rounding (module docstring, step 4)."""
    group_cents = largest_remainder([g.cost * 100 for g in groups], to_cents(input_exact))
    by_pool: dict[int, list[Line]] = defaultdict(list)
    for ln in lines:
        by_pool[ln.pool_id].append(ln)
    for pool_id, pool_lines in by_pool.items():
        cents = group_cents[pool_id]
        with localcontext() as ctx:
            ctx.prec = 60
            ideals = [Decimal(cents) * ln.share for ln in pool_lines[:-1]]
            ideals.append(Decimal(cents) - sum(ideals, Decimal(0)))
        for ln, c in zip(pool_lines, largest_remainder(ideals, cents), strict=True):
            ln.cents = c
