"""What-if: how each member's cost changes when a municipality joins or leaves.

Uses the ``estimate`` source for the whole period asked (one month or a range of months, every month computed):
*before* is the consortium as the tenant files describe it, *after* the consortium with ``--add`` files and
without ``--remove`` slugs. A file that is already in the tenants folder with a ``memberSince`` on the period's
first day or later (``tenants new`` writes the first day of next month) is a *prospective* member: *before* is without it,
*after* with it from its ``memberSince`` (or ``--join``). *Standalone* is what a municipality would pay
running the same modules alone: the full platform base (fixed costs and platform components), its own resources,
and the full shared part of every module it books. The gap between standalone and shared is the economic lever of
the consortium.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from catalogue.prices import PriceCatalogue
from catalogue.tenants import TenantError, load_tenant
from finance.allocate import allocate, to_cents
from finance.model import FinanceError, Key, Member, Period, member_of, next_month
from finance.render import axis_money, spreadsheet_text
from finance.sources.estimate import EstimateSource


@dataclass
class SimRow:
    slug: str
    name: str
    before: int | None
    """Monthly cost in cents today (None: not a member today)."""
    after: int | None
    """Monthly cost in cents after the change (None: not a member afterwards)."""
    standalone: int
    """Monthly cost in cents running its modules alone."""

    @property
    def change(self) -> int | None:
        return None if self.before is None or self.after is None else self.after - self.before


def prospective(members: dict[str, Member], add: list[Path], period: Period) -> set[str]:
    """Slugs of ``--add`` files that are in the folder already but join on or after the first day of ``period``:
    the what-if of their joining."""
    out = set()
    for path in add:
        try:
            tenant = load_tenant(path)
        except TenantError:
            continue  # reported by changed_members
        m = members.get(tenant.slug)
        if m is not None and m.since is not None and m.since >= period.first and m.ags == tenant.ags:
            out.add(tenant.slug)
    return out


def changed_members(members: dict[str, Member], add: list[Path], remove: list[str], *,
                    join: dt.date | None = None, leave: dt.date | None = None,
                    period: Period | None = None) -> dict[str, Member]:
    """The members after the change. ``join``: the day the added municipalities become members (default: their
    ``memberSince``); ``leave``: the last day of the removed ones (default: they are gone for the whole month).
    ``members`` must not hold the prospective ones (:func:`prospective`) when ``period`` is given."""
    after = dict(members)
    for slug in remove:
        if slug not in after:
            raise FinanceError(f"--remove: {slug!r} is not a member ({', '.join(sorted(members))})")
        if leave is None:
            del after[slug]
        else:
            after[slug] = replace(after[slug], until=leave)
    for path in add:
        try:
            tenant = load_tenant(path)
        except TenantError as exc:
            raise FinanceError(str(exc)) from None
        if tenant.slug in after:
            since = after[tenant.slug].since
            during = f" in {period.label}" if period else ""
            raise FinanceError(
                f"{path}: {tenant.slug!r} is already a member{during} (memberSince: {since or 'not set'}); for what "
                f"its joining changes, set memberSince to the day it joins and simulate --period of that month; "
                f"for what its leaving changes: --remove {tenant.slug}")
        clash = [m.slug for m in after.values() if m.ags == tenant.ags]
        if clash:
            raise FinanceError(f"{path}: ags {tenant.ags!r} is already used by {clash[0]}")
        member = member_of(tenant)
        after[tenant.slug] = replace(member, since=join) if join is not None else member
        if period is not None and after[tenant.slug].since is not None \
                and after[tenant.slug].since >= next_month(period.last):
            raise FinanceError(f"{path}: {tenant.slug!r} joins on {after[tenant.slug].since}, after --period "
                               f"{period.label}: simulate --period {after[tenant.slug].since:%Y-%m} (or give --join)")
    if not after:
        raise FinanceError("no members would be left")
    return after


def simulate(members: dict[str, Member], prices: PriceCatalogue, key: Key, period: Period,
             add: list[Path] | None = None, remove: list[str] | None = None, *,
             join: dt.date | None = None, leave: dt.date | None = None) -> list[SimRow]:
    """Each member's cost over ``period`` (every month of it) before and after the change. With ``join``/``leave``
    inside a month, the shared costs of that month are split by the days of membership; a prospective member
    (:func:`prospective`) is left out of *before*. ``standalone``: running its modules alone for the period."""
    if not add and not remove:
        raise FinanceError("simulate needs --add FILE or --remove SLUG")
    if join is not None and not add:
        raise FinanceError("--join: needs --add FILE (the municipality that joins)")
    if leave is not None and not remove:
        raise FinanceError("--leave: needs --remove SLUG (the municipality that leaves)")
    joining = prospective(members, list(add or []), period)
    members = {slug: m for slug, m in members.items() if slug not in joining}
    after_members = changed_members(members, list(add or []), list(remove or []), join=join, leave=leave,
                                    period=period)
    before = allocate(EstimateSource(members, prices), members, key, period, example_prices=prices.example)
    after = allocate(EstimateSource(after_members, prices), after_members, key, period, example_prices=prices.example)
    months = len(period.months)
    rows = []
    for slug in sorted(set(members) | set(after_members)):
        m = after_members.get(slug) or members[slug]
        src = EstimateSource({slug: m}, prices)
        rows.append(SimRow(
            slug, m.name,
            before.total_cents(slug) if slug in members else None,
            after.total_cents(slug) if slug in after_members else None,
            to_cents(src.standalone_monthly(slug) * months),
        ))
    return rows


def parse_day(text: str, option: str) -> dt.date:
    import re

    german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text.strip())
    if german:
        raise FinanceError(f"{option}: {text!r} is not a date like 2026-10-17: a German date; write it as "
                           f"{german[3]}-{int(german[2]):02d}-{int(german[1]):02d}")
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise FinanceError(f"{option}: {text!r} is not a date like 2026-10-17") from None
    if not dt.date(2000, 1, 1) <= day <= dt.date(2199, 12, 31):
        raise FinanceError(f"{option}: {text!r} lies outside 2000-01-01..2199-12-31")
    return day


def totals(rows: list[SimRow]) -> SimRow:
    """The consortium's total before and after (``change`` = the signed difference)."""
    return SimRow("", "", sum(r.before or 0 for r in rows), sum(r.after or 0 for r in rows), 0)


CSV_HEADERS = {
    "de": ("Kürzel", "Kommune", "Bisher", "Nachher", "Änderung", "Allein betrieben", "Summe", "Hinweis",
           "BEISPIELPREISE: Beispielwerte des Preiskatalogs, keine Rechnung", "Ausgestellt am"),
    "en": ("slug", "name", "before", "after", "change", "standalone", "total", "note",
           "EXAMPLE PRICES: example values of the price catalogue, not an invoice", "issued"),
}
"""``simulate.csv``: German with the German dialect (``--lang de``), English with the plain one."""


def to_csv(rows: list[SimRow], dialect: str = "excel-de", *, example: bool = False, period: Period | None = None,
           key: Key | None = None, issued: dt.date | None = None) -> str:
    """The table with a total row; first what it was computed for (period in words, allocation key, date of issue)
    and a note row when the prices are examples. Changes are signed. German headers with ``excel-de``."""
    from finance.report import day_words, period_words  # lazy: duckdb (via finance.allocate)

    def num(cents: int | None, signed: bool = False) -> str:
        if cents is None:
            return ""
        text = f"{Decimal(cents) / 100:.2f}"
        text = f"+{text}" if signed and cents > 0 else text
        return text.replace(".", ",") if dialect == "excel-de" else text

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";" if dialect == "excel-de" else ",", lineterminator="\r\n")
    de = dialect == "excel-de"
    lang = "de" if de else "en"
    slug, name, before, after, change, alone, total, note, example_text, issued_label = CSV_HEADERS[lang]
    if example:
        w.writerow([note, example_text])
    if period is not None:
        w.writerow(["Zeitraum" if de else "period", period_words(period, lang),
                    f"{len(period.months)} {'Monate' if de else 'months'}" if len(period.months) > 1 else ""])
    if key is not None:
        w.writerow(["Verteilschlüssel" if de else "key", key.code, key.words(lang)])
    if issued is not None:
        w.writerow([issued_label, day_words(issued, lang)])
    if period is not None or key is not None or example or issued is not None:
        w.writerow([])
    w.writerow([slug, name, before, after, change, alone])
    for r in rows:
        w.writerow([r.slug, spreadsheet_text(r.name), num(r.before), num(r.after), num(r.change, True),
                    num(r.standalone)])
    tot = totals(rows)
    w.writerow([total, "", num(tot.before), num(tot.after), num(tot.change, True), ""])
    return buf.getvalue()


def chart(rows: list[SimRow], lang: str, currency: str = "EUR") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    de = lang == "de"
    labels = [r.name for r in rows]
    series = [("Vorher" if de else "Before", [r.before or 0 for r in rows], "#7fb3d5"),
              ("Nachher" if de else "After", [r.after or 0 for r in rows], "#1f5f8b"),
              ("Allein" if de else "Standalone", [r.standalone for r in rows], "#f0b27a")]
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.7 * len(rows)))
    try:
        height = 0.27
        for i, (name, values, color) in enumerate(series):
            ax.barh([y + (i - 1) * height for y in range(len(rows))], [v / 100 for v in values], height=height,
                    color=color, label=name)
        ax.set_yticks(range(len(rows)), labels)
        ax.invert_yaxis()
        ax.set_title("Monatliche Kosten: gemeinsam vs. allein" if de else "Monthly cost: shared vs. standalone")
        ax.xaxis.set_major_formatter(lambda v, _: axis_money(v, lang, currency))
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=110)
        return out.getvalue()
    finally:
        plt.close(fig)
