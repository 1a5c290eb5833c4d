"""Allocation: every euro of input on exactly one statement, or on an explicit "unallocated" line.

1. The source's records are aggregated in DuckDB by month, kind, tenant, module, service and resource (a few
   hundred groups however many input rows there are). Module tags are normalised by the catalogue
   (:func:`catalogue.modules.module_label`: ``lowCode`` and ``lowcode`` are the same module); a module or
   tenant tag value nobody knows is listed with its amount (:attr:`Allocation.unknown_tags`, a warning).
2. ``direct`` groups go to their municipality. A tenant tag that names no member, a month outside the period,
   or a record the source could not attribute becomes an **unallocated line with its reason**.
3. ``shared``, ``untagged`` and ``idle`` groups are split by the key (:class:`finance.model.Key`) among the
   members: ``equal``, ``population``, ``usage`` (share of the month's direct cost) or ``hybrid`` (platform base
   equally or by population; a module's shared cost only among the municipalities that booked it). Every weight
   is multiplied by the member's days of membership (and, for a module, of booking) in the month.
   All groups of one month and kind split by the same weights form one **pool**, split once. A pool the key cannot split
   (no member booked the module; nobody had direct cost under ``usage``) is an unallocated line with the reason.
   **Cells** (decision record 0015): a pool group belongs to the cell its record names (``urban-stack/cell``; none:
   the default cell) and is split only among the members that lived in that cell, each weighted by its days there
   (``cellHistory``); a dedicated cell's costs so go to its one member. ``global`` groups are split among all
   members. When the period involves more than one cell, a pool's basis names its cell (``population@kreis``,
   ``population@global``); a cell nobody lived in that month, or a cell the shared config does not list, makes an
   unallocated line.
4. Rounding, as late as possible and with exact fractions (docs/finance.md, "Rounding"):

   a. a member's **direct cost** is the exact sum of its direct rows, rounded half-up to the cent once;
   b. **pools** are rounded so that direct costs + pools + unallocated lines add up to the input total (the
      exact sum of all input amounts, rounded half-up once): the pools carry the rounding differences of the
      direct costs (at most half a cent per member); with no pool, the unallocated lines do;
   c. each pool's cents are split among its members by the largest remainder method (Hare-Niemeyer): members
      with equal weights differ by at most one cent. **Ties go round**: a tie goes to the member who has received
      the fewest rounding cents so far in the month (pools in the order shared, untagged, idle; by basis name
      within a kind), and among those to the first in the alphabetical list of all ``n`` members read from
      position ``(months since 2000-01) mod n`` onwards, wrapping around. So no member is favoured every month,
      and members with equal weights end a month at most a cent apart;
   d. a member's direct cost, and its part of each pool, is spread over its lines (month x module x service) by
      the largest remainder method: the lines add up to the total, never the other way round.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import duckdb

from catalogue import labels
from catalogue.labels import GLOBAL_CELL
from catalogue.modules import module_label, module_names
from finance.model import (
    KINDS,
    UNALLOCATED,
    Cells,
    FinanceError,
    Key,
    Member,
    Period,
    load_cells,
    members_sorted,
    month_days,
)
from finance.sources import RECORD_COLUMNS, CostSource


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
    """How the share was computed, e.g. ``population``, ``equal:dashboards``, ``direct``; with several cells a
    pool's basis ends in ``@<cell>`` (``population@kreis``)."""
    exact: Decimal
    rows: int
    reason: str | None = None
    cents: int = 0
    ideal: Fraction = Fraction(0)
    """The exact amount in cents (``exact * 100`` without any rounding)."""

    @property
    def amount(self) -> Decimal:
        return Decimal(self.cents) / 100


@dataclass(frozen=True)
class UnknownTag:
    """A tag value that names no municipality or module, with the amount it carries."""

    tag: str
    """``urban-stack/tenant`` or ``urban-stack/module``."""
    value: str
    cost: Decimal
    rows: int
    handling: str
    """What happened to the amount (English)."""


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
    days: dict[tuple[dt.date, str], dict[str, int]] = field(default_factory=dict)
    """Days of membership (or booking) per (month, basis) -> member, when not the whole month."""
    unknown_tags: list[UnknownTag] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What the report must say but is not an error (unknown tags, rows left out), for the screen and the overview."""
    cells: Cells = field(default_factory=Cells)
    several_cells: bool = False
    """Whether the period involves more than one cell (members that lived in them, or costs tagged with them):
    then statements name each member's cells, and pool bases their cell."""

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


def _half_up(value: Fraction) -> int:
    """``value`` rounded half away from zero (like :func:`to_cents`)."""
    return math.floor(value + Fraction(1, 2)) if value >= 0 else -math.floor(-value + Fraction(1, 2))


# -- aggregation --------------------------------------------------------------------------------------------

GROUP_COLUMNS = ("charge_month", "kind", "tenant", "module", "service", "service_category", "resource",
                 "currency", "reason", "cell")


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
    cell: str | None = None


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
        (month, kind, tenant, module, service, category, resource, currency, reason, cell, cost, quantity, rows) = row
        out.append(Group(month, kind, tenant, module, service or "–", category or "Other", resource,
                         currency, reason, Decimal(cost or 0), None if quantity is None else Decimal(quantity),
                         int(rows or 0), cell))
    return out


# -- weights ------------------------------------------------------------------------------------------------


def _weights(kind: str, members: list[Member], month: dt.date, module: str | None = None, cell: str | None = None,
             default_cell: str = "") -> dict[str, Fraction]:
    """Weights of ``members`` in ``month``: 1 (equal) or the population, times the share of the month's days the
    member was a member (and booked ``module``, and lived in ``cell``)."""
    out = {}
    for m in members:
        days = m.days_in(month, module, cell, default_cell)
        if not days:
            continue
        base = Fraction(1) if kind == "equal" else Fraction(m.population)
        out[m.slug] = base * Fraction(days, month_days(month))
    if kind not in ("equal", "population"):  # pragma: no cover
        raise ValueError(kind)
    return out


def shares_of(weights: Mapping[str, Fraction]) -> list[tuple[str, Fraction]]:
    """``[(slug, share)]`` in slug order for the positive weights; the shares add up to exactly 1."""
    items = [(s, Fraction(w)) for s, w in sorted(weights.items()) if w > 0]
    total = sum((w for _, w in items), Fraction(0))
    return [(slug, w / total) for slug, w in items]


def as_decimal(value: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 30
        return Decimal(value.numerator) / Decimal(value.denominator)


# -- rounding -----------------------------------------------------------------------------------------------


def apportion(ideals: list[Fraction], target: int, first: int = 0, rank: list | None = None) -> list[int]:
    """Integers that add up to ``target``, by the largest remainder method (Hare-Niemeyer).

    ``target - sum(ideals)`` (a rounding difference carried from elsewhere) is first spread evenly over the values;
    then every value is rounded down and the missing units go, one each, to the largest remainders. Ties go to the
    lowest ``rank`` (any comparable values, one per ideal) or, without ``rank``, first to position ``first`` and then
    onwards (wrapping around). With ``target == sum(ideals)`` every result is within one unit of its ideal."""
    n = len(ideals)
    if n == 0:
        if target:  # pragma: no cover - callers never pass an empty list with a target
            raise FinanceError(f"rounding: {target} cents and nothing to put them on")
        return []
    if n == 1:
        return [target]
    shift = (Fraction(target) - sum(ideals, Fraction(0))) / n
    adjusted = [Fraction(v) + shift for v in ideals] if shift else [Fraction(v) for v in ideals]
    floors = [math.floor(v) for v in adjusted]
    missing = target - sum(floors)
    if missing == 0:
        return floors
    remainders = [v - f for v, f in zip(adjusted, floors, strict=True)]
    priority = rank if rank is not None else [(i - first) % n for i in range(n)]
    bonus = set(sorted(range(n), key=lambda i: (-remainders[i], priority[i]))[:missing])
    return [f + (1 if i in bonus else 0) for i, f in enumerate(floors)]


def largest_remainder(ideals: list[Decimal], target: int) -> list[int]:
    """:func:`apportion` for Decimal ideals (ties: the earlier one)."""
    return apportion([Fraction(v) for v in ideals], target)


# -- the allocation -----------------------------------------------------------------------------------------


def allocate(source: CostSource, members: Mapping[str, Member], key: Key, period: Period, *,
             con: duckdb.DuckDBPyConnection | None = None, example_prices: bool = False,
             allow_empty: bool = False, cells: Cells | None = None) -> Allocation:
    """Load ``source`` for ``period`` and allocate every euro (see the module docstring).

    A period without any cost record is an error unless ``allow_empty`` (then every statement is 0). ``cells``: the
    cooperation's cells (default: those of the shared config)."""
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
    return allocate_groups(groups, members, key, period, source, example_prices=example_prices,
                           allow_empty=allow_empty, cells=cells)


def involved_cells(groups: list[Group], members: Mapping[str, Member], period: Period, cells: Cells) -> set[str]:
    """The cells a period involves: those the members lived in on a day of it, and those its pool costs name."""
    out = {g.cell or cells.default for g in groups if g.kind in KINDS[1:] and g.cell != GLOBAL_CELL}
    for m in members.values():
        for name in {name for name, _, _ in m.stays} or {cells.default}:
            if any(m.days_in(month, cell=name, default_cell=cells.default) for month in period.months):
                out.add(name)
    return out


def allocate_groups(groups: list[Group], members: Mapping[str, Member], key: Key, period: Period,
                    source: CostSource, *, example_prices: bool = False, allow_empty: bool = False,
                    cells: Cells | None = None) -> Allocation:
    members = dict(members)
    cells = cells or load_cells()
    warnings = list(getattr(source, "warnings", []) or [])
    if not groups:
        if not allow_empty:
            raise FinanceError(f"{source.describe('en')}: no cost records for {period.label}: nothing to allocate "
                               "(--allow-empty writes statements of 0.00 on purpose)")
        return Allocation(period=period, key=key, members=members, currency=getattr(source, "currency", "EUR"),
                          source=source, lines=[], input_exact=Decimal(0), input_rows=0,
                          example_prices=example_prices, warnings=warnings, cells=cells,
                          several_cells=len(involved_cells([], members, period, cells)) > 1)
    currencies = sorted({g.currency or "" for g in groups})
    if len(currencies) > 1 or not currencies[0]:
        amounts = defaultdict(Decimal)
        for g in groups:
            amounts[g.currency or "(empty)"] += g.cost
        listed = ", ".join(f"{c}: {a.normalize():f}" for c, a in sorted(amounts.items()))
        raise FinanceError(f"{source.describe('en')}: BillingCurrency: costs in several currencies ({listed}); "
                           "a statement has one currency: convert or split the input first")
    currency = currencies[0]
    bookable = module_names()
    ordered = members_sorted(members)

    # module tags in either spelling; unknown values are reported with their amount
    unknown: dict[tuple[str, str], list] = {}
    normalised = []
    for g in groups:
        module = g.module
        if module not in (None, ""):
            label = module_label(module)
            if label is None:
                handling = ("split as platform base" if g.kind == "shared" and key.name == "hybrid"
                            else "kept on its line")
                u = unknown.setdefault((labels.MODULE, module), [Decimal(0), 0, handling])
                u[0] += g.cost
                u[1] += g.rows
            module = label or module
        if g.kind == "direct" and g.tenant not in members and g.reason is None:
            u = unknown.setdefault((labels.TENANT, g.tenant or ""), [Decimal(0), 0, "unallocated"])
            u[0] += g.cost
            u[1] += g.rows
        if g.cell not in (None, GLOBAL_CELL) and g.cell not in cells:
            handling = "unallocated" if g.kind in KINDS[1:] and g.reason is None else "kept on its line"
            u = unknown.setdefault((labels.CELL, g.cell), [Decimal(0), 0, handling])
            u[0] += g.cost
            u[1] += g.rows
        normalised.append(Group(g.month, g.kind, g.tenant, module or None, g.service, g.service_category, g.resource,
                                g.currency, g.reason, g.cost, g.quantity, g.rows, g.cell))
    groups = normalised
    unknown_tags = [UnknownTag(tag, value, cost, rows, handling)
                    for (tag, value), (cost, rows, handling) in sorted(unknown.items())]
    for u in unknown_tags:
        warnings.append(f"unknown {u.tag} value {u.value!r}: {u.cost.normalize():f} {currency} in {u.rows} "
                        f"row(s), {u.handling}")

    several = len(involved_cells(groups, members, period, cells)) > 1
    direct_by_month: dict[dt.date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for g in groups:
        if g.kind == "direct" and g.tenant in members and g.month in period and g.reason is None:
            direct_by_month[g.month][g.tenant] += g.cost

    lines: list[Line] = []
    used: dict[tuple[dt.date, str], dict[str, Decimal]] = {}
    days: dict[tuple[dt.date, str], dict[str, int]] = {}
    pools: dict[tuple[dt.date, str, str], list[tuple[str, Fraction]]] = {}
    pool_reasons: dict[tuple[dt.date, str, str], str | None] = {}
    pool_costs: dict[tuple[dt.date, str, str], Decimal] = defaultdict(Decimal)
    # the shares as printed (30 significant digits); the rounding uses the exact fractions
    decimal_shares: dict[tuple[dt.date, str, str], list[Decimal]] = {}

    def whole(g: Group, pool_id: int, tenant: str | None, kind: str, reason: str | None, basis: str) -> None:
        lines.append(Line(g.month, tenant, kind, g.module, g.service, g.service_category, g.resource, g.quantity,
                          g.cost, pool_id, Decimal(1), basis, g.cost, g.rows, reason, ideal=Fraction(g.cost) * 100))

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
        # a pool: shared, untagged or idle; all groups of a month split by the same weights form one pool
        cell = g.cell or cells.default
        if cell != GLOBAL_CELL and cell not in cells:
            whole(g, pool_id, None, UNALLOCATED, f"unknown cell tag {cell!r} (not in urban-stack:cells)",
                  "unallocated")
            continue
        scope = None if cell == GLOBAL_CELL else cell  # whose days count: that cell's members, or everyone's
        basis, module = _basis(g, key, bookable)
        if several:
            basis = f"{basis}@{cell}"
        pkey = (g.month, basis, g.kind)
        if pkey not in pools:
            weights, reason = _pool_weights(g.month, basis, module, key, ordered, direct_by_month, scope,
                                            cells.default)
            pools[pkey] = shares_of(weights) if not reason else []
            decimal_shares[pkey] = [as_decimal(sh) for _, sh in pools[pkey]]
            pool_reasons[pkey] = reason
            if not reason:
                used[(g.month, basis)] = {s: as_decimal(sh) for s, sh in pools[pkey]}
                partial = {m.slug: m.days_in(g.month, module, scope, cells.default)
                           for m in ordered if m.slug in weights}
                if any(d != month_days(g.month) for d in partial.values()):
                    days[(g.month, basis)] = partial
        if pool_reasons[pkey]:
            whole(g, pool_id, None, UNALLOCATED, pool_reasons[pkey], "unallocated")
            continue
        pool_costs[pkey] += g.cost
        cost = Fraction(g.cost) * 100
        for (slug, share), printed in zip(pools[pkey], decimal_shares[pkey], strict=True):
            lines.append(Line(g.month, slug, g.kind, g.module, g.service, g.service_category, g.resource,
                              g.quantity, g.cost, pool_id, printed, basis, g.cost * printed, g.rows,
                              ideal=cost * share))

    input_exact = sum((g.cost for g in groups), Decimal(0))
    _round(lines, pools, pool_costs, to_cents(input_exact), sorted(members))
    return Allocation(period=period, key=key, members=members, currency=currency, source=source, lines=lines,
                      input_exact=input_exact, input_rows=sum(g.rows for g in groups),
                      example_prices=example_prices, weights=used, days=days, unknown_tags=unknown_tags,
                      warnings=warnings, cells=cells, several_cells=several)


def split_basis(basis: str) -> tuple[str, str | None, str | None]:
    """``(how, module, cell)`` of a basis name: ``equal:dashboards@kreis`` -> ``("equal", "dashboards", "kreis")``,
    ``population`` -> ``("population", None, None)``."""
    rest, _, cell = basis.partition("@")
    how, _, module = rest.partition(":")
    return how, module or None, cell or None


def _basis(g: Group, key: Key, bookable: set[str]) -> tuple[str, str | None]:
    """``(basis, module)``: the name of the weights the pool group ``g`` is split by, and the module whose bookers
    share it (hybrid only)."""
    if key.name in ("equal", "population", "usage"):
        return key.name, None
    if g.kind == "shared" and g.module in bookable:
        return f"{key.modules}:{g.module}", g.module
    return key.base, None


def _pool_weights(month: dt.date, basis: str, module: str | None, key: Key, ordered: list[Member],
                  direct_by_month, cell: str | None = None,
                  default_cell: str = "") -> tuple[dict[str, Fraction], str | None]:
    """``(weights, reason)``: how the pool ``(month, basis)`` is split among the members (of ``cell``; None: all),
    or why it cannot be."""
    how, _, in_cell = split_basis(basis)
    where = f" of cell {cell!r}" if in_cell and cell is not None else ""
    if how == "usage":
        direct = direct_by_month.get(month, {})
        weights = {}
        for m in ordered:
            days = m.days_in(month, cell=cell, default_cell=default_cell)
            if days:
                # a member that moved during the month: its direct cost counted for its days in this cell
                share = Fraction(days, m.days_in(month)) if cell is not None else Fraction(1)
                weights[m.slug] = Fraction(max(direct.get(m.slug, Decimal(0)), Decimal(0))) * share
        if sum(weights.values()) <= 0:
            return {}, f"usage key: no municipality{where} has direct costs in {month:%Y-%m}"
        return weights, None
    if module is not None:
        weights = _weights(how, ordered, month, module, cell, default_cell)
        if not weights:
            return {}, f"module {module!r} is booked by no municipality{where} in {month:%Y-%m}"
        return weights, None
    weights = _weights(how, ordered, month, None, cell, default_cell)
    if not weights:
        return {}, (f"no municipality lives in cell {cell!r} in {month:%Y-%m}" if where
                    else f"no municipality is a member in {month:%Y-%m}")
    return weights, None


def _spread(lns: list[Line], target: int) -> list[int]:
    """``target`` cents over lines that share one share of a pool (or are one member's direct lines): in
    proportion to their input amounts, by the largest remainder method in exact integers (amounts are
    DECIMAL(38,10)); ties to the earlier line. Lines with amounts that are not all positive: :func:`apportion` of
    their exact ideals."""
    if len(lns) == 1:
        return [target]
    weights = []
    for ln in lns:
        scaled = ln.pool.scaleb(10)
        if scaled <= 0 or scaled != scaled.to_integral_value():
            return apportion([ln.ideal for ln in lns], target)
        weights.append(int(scaled))
    total = sum(weights)
    parts = [divmod(target * w, total) for w in weights]
    floors = [q for q, _ in parts]
    bonus = set(sorted(range(len(lns)), key=lambda i: (-parts[i][1], i))[:target - sum(floors)])
    return [f + (1 if i in bonus else 0) for i, f in enumerate(floors)]


def tie_start(month: dt.date, n: int) -> int:
    """Position (in the alphabetical list of all ``n`` members) where the tie order of ``month`` starts
    (module docstring, 4c)."""
    return ((month.year - 2000) * 12 + month.month - 1) % n if n else 0


def _round(lines: list[Line], pools: dict[tuple[dt.date, str, str], list[tuple[str, Fraction]]],
           pool_costs: dict[tuple[dt.date, str, str], Decimal], input_cents: int, everyone: list[str]) -> None:
    """Rounding as late as possible (module docstring, step 4); ``everyone``: all member slugs, sorted."""
    direct: dict[str, list[Line]] = defaultdict(list)
    unallocated: list[Line] = []
    pooled: dict[tuple[dt.date, str, str], list[Line]] = defaultdict(list)
    for ln in lines:
        if ln.tenant is None:
            unallocated.append(ln)
        elif ln.kind == "direct":
            direct[ln.tenant].append(ln)
        else:
            pooled[(ln.month, ln.basis, ln.kind)].append(ln)

    # a. each member's direct cost: the exact sum of its rows, rounded once; spread over its lines (d.)
    direct_cents = {slug: _half_up(sum((ln.ideal for ln in lns), Fraction(0))) for slug, lns in direct.items()}
    # b. pools (or, without pools, the unallocated lines; without either, the direct totals) carry the difference
    pool_keys = sorted(pooled, key=lambda k: (k[0], KINDS.index(k[2]), k[1]))
    pool_ideals = [Fraction(pool_costs[k]) * 100 for k in pool_keys]
    if pool_keys:
        fixed = sum(direct_cents.values()) + sum(_half_up(ln.ideal) for ln in unallocated)
        pool_cents = dict(zip(pool_keys, apportion(pool_ideals, input_cents - fixed), strict=True))
        for ln, c in zip(unallocated, (_half_up(ln.ideal) for ln in unallocated), strict=True):
            ln.cents = c
    elif unallocated:
        pool_cents = {}
        for ln, c in zip(unallocated, apportion([ln.ideal for ln in unallocated],
                                                input_cents - sum(direct_cents.values())), strict=True):
            ln.cents = c
    else:
        pool_cents = {}
        slugs = sorted(direct_cents)
        exact = [sum((ln.ideal for ln in direct[s]), Fraction(0)) for s in slugs]
        direct_cents = dict(zip(slugs, apportion(exact, input_cents), strict=True))
    for slug, lns in direct.items():
        for ln, c in zip(lns, _spread(lns, direct_cents[slug]), strict=True):
            ln.cents = c
    # c. each pool split once among its members; ties go round (module docstring 4c)
    received: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    position = {s: i for i, s in enumerate(everyone)}
    for pkey in pool_keys:
        month = pkey[0]
        shares = pools[pkey]
        slugs = [s for s, _ in shares]
        first = tie_start(month, len(everyone))
        rank = [(received[month][s], (position[s] - first) % len(everyone)) for s in slugs]
        cents = pool_cents[pkey]
        ideals = [cents * sh for _, sh in shares]
        given = apportion(ideals, cents, rank=rank)
        member_cents = dict(zip(slugs, given, strict=True))
        for slug, c, v in zip(slugs, given, ideals, strict=True):
            received[month][slug] += c - math.floor(v)
        # d. each member's part spread over its lines of the pool
        by_member: dict[str, list[Line]] = defaultdict(list)
        for ln in pooled[pkey]:
            by_member[ln.tenant].append(ln)
        for slug, lns in by_member.items():
            for ln, c in zip(lns, _spread(lns, member_cents[slug]), strict=True):
                ln.cents = c
