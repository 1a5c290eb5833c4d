"""Basic types of the finance package: billing period, members of the consortium, the allocation key.

Nothing here needs the Pulumi runtime: members are read from the tenant files through
:mod:`catalogue.tenants`, module facts from the catalogue in :mod:`catalogue.modules`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from catalogue.modules import CATALOGUE
from catalogue.prices import KEYS
from catalogue.shared_config import DEFAULT_CELL, SHARED_CONFIG
from catalogue.tenants import load_all, platform_domain

KINDS = ("direct", "shared", "untagged", "idle")
"""Kinds of input cost: ``direct`` (tagged with a municipality), ``shared`` (tagged ``shared``: the platform),
``untagged`` (no tenant tag), ``idle`` (capacity nobody used). Lines that cannot be charged are ``unallocated``."""
UNALLOCATED = "unallocated"
IDLE_TAGS = ("__idle__",)
"""Tenant tag values that mean idle capacity (OpenCost's name for it)."""
UNTAGGED_TAGS = ("", "__unallocated__")
"""Tenant tag values that mean "no tenant" (OpenCost names pods without the label ``__unallocated__``)."""


class FinanceError(Exception):
    """Bad input for a cost report: the message names the file (or source) and the field."""


# -- period -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One calendar month or a range of whole months (both ends included), UTC."""

    first: dt.date
    last: dt.date

    @property
    def months(self) -> list[dt.date]:
        out, m = [], self.first
        while m <= self.last:
            out.append(m)
            m = next_month(m)
        return out

    @property
    def label(self) -> str:
        a, b = self.first.strftime("%Y-%m"), self.last.strftime("%Y-%m")
        return a if a == b else f"{a}..{b}"

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.first.year, self.first.month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """Exclusive end (FOCUS convention)."""
        n = next_month(self.last)
        return dt.datetime(n.year, n.month, 1, tzinfo=dt.UTC)

    def __contains__(self, month: dt.date) -> bool:
        return self.first <= month <= self.last


def next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def month_days(month: dt.date) -> int:
    """Days of the month that starts on ``month``."""
    return (next_month(month) - month).days


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(text: str) -> dt.date:
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2199:
        raise FinanceError(f"--period: {text!r} is not a month like 2026-10")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def parse_period(text: str) -> Period:
    """``2026-10`` (one month) or ``2026-01..2026-12`` (a range of months, both included)."""
    if ".." in text:
        a, b = text.split("..", 1)
        first, last = _month(a), _month(b)
        if last < first:
            raise FinanceError(f"--period: {text!r} ends before it starts")
    else:
        first = last = _month(text)
    return Period(first, last)


def previous_month(today: dt.date | None = None) -> Period:
    t = (today or dt.date.today()).replace(day=1) - dt.timedelta(days=1)
    return Period(t.replace(day=1), t.replace(day=1))


# -- members ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A municipality of the consortium, as far as finance is concerned."""

    slug: str
    name: str
    ags: str
    population: int
    cost_center: str
    plan: str
    modules: tuple[str, ...]
    """Booked modules by name (label value ``urban-stack/module``), catalogue order."""
    since: dt.date | None = None
    """First day of membership (``memberSince``); None: a member since before any period."""
    until: dt.date | None = None
    """Last day of membership (``memberUntil``, included); None: still a member."""
    bookings: tuple[tuple[str, dt.date | None, dt.date | None], ...] = ()
    """``(module, since, until)`` of booked modules whose booking starts or ends (both days included)."""
    stays: tuple[tuple[str, dt.date | None, dt.date | None], ...] = ()
    """``(cell, first day, last day)`` of every cell the municipality lived in, oldest first (tenant file ``cell``
    and ``cellHistory``; both days included, None: open). Empty: the default cell throughout."""

    def books(self, module: str) -> bool:
        return module in self.modules

    def days_in(self, month: dt.date, module: str | None = None, cell: str | None = None,
                default_cell: str = DEFAULT_CELL) -> int:
        """Days of ``month`` on which the municipality was a member (and, with ``module``, had it booked; with
        ``cell``, lived in that cell; ``default_cell``: the cell of a member without ``stays``)."""
        first, last = month, next_month(month) - dt.timedelta(days=1)
        spans = [(self.since, self.until)]
        if module is not None:
            if not self.books(module):
                return 0
            spans += [(s, u) for m, s, u in self.bookings if m == module]
        for since, until in spans:
            first = max(first, since or first)
            last = min(last, until or last)
        if cell is None:
            return max(0, (last - first).days + 1)
        stays = self.stays or ((default_cell, None, None),)
        return sum(max(0, (min(last, until or last) - max(first, since or first)).days + 1)
                   for name, since, until in stays if name == cell)



def stays_of(tenant, default_cell: str) -> tuple[tuple[str, dt.date | None, dt.date | None], ...]:
    """``(cell, first day, last day)`` of each cell of ``tenant`` (``cellHistory`` then ``cell``), oldest first."""
    out, since = [], None
    for stay in getattr(tenant, "cellHistory", None) or ():
        out.append((stay.cell, since, stay.until))
        since = stay.until + dt.timedelta(days=1)
    out.append((getattr(tenant, "cell", None) or default_cell, since, None))
    return tuple(out)


def member_of(tenant, default_cell: str = DEFAULT_CELL) -> Member:
    booked = tenant.booked()
    return Member(
        slug=tenant.slug, name=tenant.name, ags=tenant.ags, population=tenant.population,
        cost_center=tenant.costCenter, plan=tenant.plan,
        modules=tuple(CATALOGUE[key].name for key in booked),
        since=getattr(tenant, "memberSince", None), until=getattr(tenant, "memberUntil", None),
        bookings=tuple((CATALOGUE[key].name, getattr(opts, "since", None), getattr(opts, "until", None))
                       for key, opts in booked.items()
                       if getattr(opts, "since", None) or getattr(opts, "until", None)),
        stays=stays_of(tenant, default_cell),
    )


def load_members(paths: list[Path] | None = None, cells: Cells | None = None) -> dict[str, Member]:
    """Members from tenant files or folders (default ``tenants/``); invalid files raise ``TenantError``.
    ``cells``: the cooperation's cells (default: those of the shared config)."""
    default = (cells or load_cells()).default
    return {slug: member_of(t, default) for slug, t in load_all(paths or None).items()}


# -- cells --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cells:
    """The cooperation's cells (decision record 0015): each cell's shared costs are split among the members that
    lived in it; a cost tagged ``global`` (:data:`catalogue.labels.GLOBAL_CELL`) among all members; a cost without
    a cell tag belongs to the default cell (where everything lived before there were cells)."""

    default: str = DEFAULT_CELL
    names: tuple[str, ...] = (DEFAULT_CELL,)
    """Every cell, the default one first."""

    def __contains__(self, name: object) -> bool:
        return name in self.names


def load_cells(path: Path | None = SHARED_CONFIG) -> Cells:
    """The cells of the shared config (``urban-stack:cells``); one default cell when it lists none or cannot be
    read (the tenant loader reports its problems)."""
    platform = platform_domain(path) if path is not None else None
    if platform is None or not platform.cells:
        return Cells()
    names = tuple(name for name, _ in platform.cells)
    return Cells(default=names[0], names=names)


# -- the allocation key -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """How shared, untagged and idle costs are split (docs/finance.md)."""

    name: str = "hybrid"
    base: str = "population"
    """hybrid only: how the platform base is split (equal | population)."""
    modules: str = "equal"
    """hybrid only: how a module's shared cost is split among the municipalities booking it."""

    def __post_init__(self) -> None:
        if self.name not in KEYS:
            raise FinanceError(f"--key: {self.name!r} is not one of {', '.join(KEYS)}")
        for field, value in (("base", self.base), ("modules", self.modules)):
            if value not in ("equal", "population"):
                raise FinanceError(f"allocation.hybrid.{field}: {value!r} is not one of equal, population")

    @property
    def code(self) -> str:
        if self.name == "hybrid":
            return f"hybrid(base={self.base},modules={self.modules})"
        return self.name

    def words(self, lang: str = "de") -> str:
        """The key in a few words, for statements ("Grundanteil nach Einwohnern, Modulanteil gleich unter den
        buchenden Kommunen")."""
        de = lang == "de"
        if self.name == "equal":
            return "gleiche Anteile für alle Kommunen" if de else "equal shares for all municipalities"
        if self.name == "population":
            return "Anteile nach Einwohnern" if de else "shares by population"
        if self.name == "usage":
            return "Anteile nach den direkten Kosten" if de else "shares by direct cost"
        base = {"equal": "gleich" if de else "equal", "population": "nach Einwohnern" if de else "by population"}
        return (f"Grundanteil {base[self.base]}, Modulanteil {base[self.modules]} unter den buchenden Kommunen" if de
                else f"base share {base[self.base]}, module share {base[self.modules]} among the booking "
                     "municipalities")

    def describe(self, lang: str = "de") -> str:
        de = lang == "de"
        how = {"equal": "zu gleichen Teilen" if de else "in equal parts",
               "population": "nach Einwohnerzahl" if de else "by population"}
        if self.name == "equal":
            return ("Gleichverteilung: gemeinsame, nicht zugeordnete und Leerlaufkosten zu gleichen Teilen auf alle Mitglieder"
                    if de else "Equal: shared, untagged and idle costs in equal parts among all members")
        if self.name == "population":
            return ("Einwohnerschlüssel: gemeinsame, nicht zugeordnete und Leerlaufkosten im Verhältnis der Einwohnerzahlen"
                    if de else "Population: shared, untagged and idle costs in proportion to population")
        if self.name == "usage":
            return ("Nutzungsschlüssel: gemeinsame, nicht zugeordnete und Leerlaufkosten im Verhältnis der direkten Kosten des Monats"
                    if de else "Usage: shared, untagged and idle costs in proportion to each member's direct cost of the month")
        return (f"Hybridschlüssel: Plattform-Grundkosten (Fixkosten, Plattformkomponenten, nicht zugeordnete und "
                f"Leerlaufkosten) {how[self.base]} auf alle Mitglieder; gemeinsamer Anteil eines Moduls "
                f"{how[self.modules]} nur auf die Kommunen, die das Modul gebucht haben"
                if de else
                f"Hybrid: platform base (fixed costs, platform components, untagged and idle costs) {how[self.base]} "
                f"among all members; a module's shared cost {how[self.modules]} only among the municipalities "
                f"that booked it")


def key_from_config(cfg, name: str | None = None) -> Key:
    """The key from the price catalogue's ``allocation`` section, optionally overridden by ``--key``."""
    return Key(name or cfg.key, cfg.hybrid.base, cfg.hybrid.modules)


def members_sorted(members: Mapping[str, Member]) -> list[Member]:
    return [members[s] for s in sorted(members)]
