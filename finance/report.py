"""Statements (one per municipality) and the consortium overview, as format-neutral documents.

:func:`statement` and :func:`overview` turn an :class:`finance.allocate.Allocation` into a :class:`Document`
(title, header facts, notes, tables, chart data); :mod:`finance.render` writes a document as CSV, XLSX, HTML,
PDF or JSON. Amounts in tables are integer cents, shares Decimals: nothing is rounded twice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath

from catalogue.labels import GLOBAL_CELL
from finance.allocate import Allocation, Line, split_basis, to_cents
from finance.model import KINDS, UNALLOCATED, month_days, next_month
from finance.names import module_name, service_name

T = {
    "de": {
        "statement": "Kostenaufstellung", "overview": "Konsortialübersicht", "municipality": "Kommune",
        "ags": "AGS", "cost_center": "Kostenstelle", "population": "Einwohner", "period": "Zeitraum",
        "source": "Datenquelle", "key": "Verteilschlüssel", "your_share": "Ihr Anteil", "issuer": "Rechnungssteller",
        "cell": "Zelle", "cells": "Zellen",
        "currency": "Währung", "month": "Monat", "kind": "Art", "module": "Modul", "service": "Leistung",
        "resource": "Ressource", "quantity": "Menge", "pool": "Gesamtbetrag", "share": "Anteil", "basis": "Schlüssel",
        "amount": "Betrag", "total": "Summe", "summary": "Zusammenfassung", "lines": "Positionen",
        "members": "Mitglieder", "unallocated": "Nicht verteilt", "reason": "Grund", "rows": "Eingangszeilen",
        "input_total": "Eingangssumme", "statements_total": "Summe der Aufstellungen", "check": "Abstimmung",
        "share_of_total": "Anteil an der Summe", "none": "–",
        "direct": "Direkte Kosten", "shared": "Gemeinsame Kosten (anteilig)",
        "untagged": "Nicht zugeordnete Kosten (anteilig)", "idle": "Leerlaufkosten (anteilig)",
        "kind_unallocated": "Nicht verteilt",
        "example": "BEISPIELPREISE: Die Beträge beruhen auf Beispielwerten des Preiskatalogs und sind keine "
                   "Rechnung.",
        "reconciled": "Summe der Aufstellungen + nicht verteilte Beträge = Eingangssumme (auf den Cent)",
        "not_reconciled": "ABWEICHUNG zwischen Aufstellungen und Eingangssumme",
        "rounding": "Rundung: jede Position auf den Cent abgerundet, fehlende Cent nach größtem Rest verteilt "
                    "(Hare-Niemeyer), sodass alle Positionen exakt die Eingangssumme ergeben.",
        "legal": "Verteilung nach dem Vorteilsprinzip (§ 19 Abs. 1 GkG NRW): direkte Kosten trägt die verursachende "
                 "Kommune, gemeinsame Kosten werden nach dem Verteilschlüssel aufgeteilt.",
        "chart_overview": "Wer zahlt was", "chart_statement": "Kosten nach Leistung",
        "cost_column": "Kostenspalte", "prices": "Preise",
        "unknown_tags": "Unbekannte Werte der Kostenkennzeichnung", "tag": "Kennzeichnung", "value": "Wert",
        "handling": "Behandlung", "warnings": "Hinweise",
        "issued": "Ausgestellt am", "as_of": "Stand", "months": "Monatssummen", "month_total": "Summe",
        "by_service": "Jahresübersicht nach Leistung", "by_service_range": "Übersicht nach Leistung und Monat",
        "outside": "Zeilen außerhalb des Zeitraums nicht berücksichtigt",
        "handled_unallocated": "nicht verteilt", "handled_base": "als Plattform-Grundkosten verteilt",
        "handled_kept": "auf der eigenen Position belassen",
    },
    "en": {
        "statement": "Cost statement", "overview": "Consortium overview", "municipality": "Municipality",
        "ags": "AGS", "cost_center": "Cost centre", "population": "Population", "period": "Period",
        "source": "Source", "key": "Allocation key", "your_share": "Your share", "issuer": "Issuer",
        "cell": "Cell", "cells": "Cells",
        "currency": "Currency", "month": "Month", "kind": "Kind", "module": "Module", "service": "Service",
        "resource": "Resource", "quantity": "Quantity", "pool": "Pool", "share": "Share", "basis": "Basis",
        "amount": "Amount", "total": "Total", "summary": "Summary", "lines": "Line items",
        "members": "Members", "unallocated": "Unallocated", "reason": "Reason", "rows": "Input rows",
        "input_total": "Input total", "statements_total": "Sum of statements", "check": "Reconciliation",
        "share_of_total": "Share of total", "none": "–",
        "direct": "Direct costs", "shared": "Shared costs (share)", "untagged": "Untagged costs (share)",
        "idle": "Idle costs (share)", "kind_unallocated": "Unallocated",
        "example": "EXAMPLE PRICES: amounts are based on example values of the price catalogue; this is not an "
                   "invoice.",
        "reconciled": "Sum of statements + unallocated amounts = input total (to the cent)",
        "not_reconciled": "MISMATCH between statements and input total",
        "rounding": "Rounding: every line rounded down to the cent, missing cents to the largest remainders "
                    "(largest remainder method), so all lines add up exactly to the input total.",
        "legal": "Split by benefit (§ 19 (1) GkG NRW): direct costs are borne by the municipality that causes them, "
                 "shared costs are split by the allocation key.",
        "chart_overview": "Who pays what", "chart_statement": "Cost by service",
        "cost_column": "Cost column", "prices": "Prices",
        "unknown_tags": "Unknown tag values", "tag": "Tag", "value": "Value", "handling": "Handling",
        "warnings": "Warnings",
        "issued": "Issued", "as_of": "As of", "months": "Month subtotals", "month_total": "Total",
        "by_service": "Annual summary by service", "by_service_range": "Summary by service and month",
        "outside": "rows outside the period left out",
        "handled_unallocated": "unallocated", "handled_base": "split as platform base",
        "handled_kept": "kept on its line",
    },
}

RESOURCE = {
    "de": {"cpu": "CPU (vCPU)", "memory": "Arbeitsspeicher (GiB)", "block-storage": "Blockspeicher (GiB)",
           "object-storage": "Objektspeicher (GiB)", "fixed": "Fixkosten", "module-shared": "Modul-Gemeinkosten",
           "gpu": "GPU", "network": "Netzwerk", "load-balancer": "Load Balancer", "shared": "Gemeinkosten",
           "external": "Extern", "adjustment": "Korrektur"},
    "en": {"cpu": "CPU (vCPU)", "memory": "Memory (GiB)", "block-storage": "Block storage (GiB)",
           "object-storage": "Object storage (GiB)", "fixed": "Fixed cost", "module-shared": "Module shared cost",
           "gpu": "GPU", "network": "Network", "load-balancer": "Load balancer", "shared": "Shared",
           "external": "External", "adjustment": "Adjustment"},
}


def t(lang: str, key: str) -> str:
    return T[lang][key]


# -- number formats -----------------------------------------------------------------------------------------


def fmt_number(value: Decimal, lang: str, places: int = 2, grouping: bool = True) -> str:
    text = f"{value:,.{places}f}" if grouping else f"{value:.{places}f}"
    if lang == "de":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def fmt_money(cents: int, lang: str, currency: str = "EUR") -> str:
    """``1.234,56 €`` (de) or ``€1,234.56`` (en)."""
    value = Decimal(cents) / 100
    symbol = "€" if currency == "EUR" else currency
    if lang == "de":
        return f"{fmt_number(value, lang)} {symbol}"
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{fmt_number(abs(value), lang)}" if symbol == "€" else f"{fmt_number(value, lang)} {symbol}"


def fmt_pct(share: Decimal, lang: str) -> str:
    return f"{fmt_number(share * 100, lang, 2)} %"


MONTHS = {
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
MONTHS_SHORT = {
    "de": ("Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sep.", "Okt.", "Nov.", "Dez."),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def fmt_month(month: dt.date, lang: str = "de") -> str:
    """``Oktober 2026`` / ``October 2026``: a month as a treasurer reads it (JSON keeps ``2026-10``)."""
    return f"{MONTHS[lang][month.month - 1]} {month.year}"


def month_short(month: dt.date, lang: str, with_year: bool) -> str:
    """A month column's header: ``Okt.`` (``Okt. 2026`` when the period spans years)."""
    return f"{MONTHS_SHORT[lang][month.month - 1]}{f' {month.year}' if with_year else ''}"


def period_words(period, lang: str) -> str:
    """``Oktober 2026``, ``Januar bis Dezember 2026``, ``November 2025 bis Februar 2026`` (en: ``to``)."""
    first, last = period.first, period.last
    if first == last:
        return fmt_month(first, lang)
    to = "bis" if lang == "de" else "to"
    if first.year == last.year:
        return f"{MONTHS[lang][first.month - 1]} {to} {fmt_month(last, lang)}"
    return f"{fmt_month(first, lang)} {to} {fmt_month(last, lang)}"


def day_words(day: dt.date, lang: str) -> str:
    """``6. Dezember 2026`` / ``6 December 2026``."""
    return f"{day.day}. {fmt_month(day, lang)}" if lang == "de" else f"{day.day} {fmt_month(day, lang)}"


def last_day(period) -> dt.date:
    return next_month(period.last) - dt.timedelta(days=1)


def as_of(period, issued: dt.date) -> dt.date:
    """The state of the data: the period's last day, or the day of issue for a period not yet over."""
    return min(last_day(period), issued)


def dates_meta(period, lang: str, issued: dt.date) -> list[tuple[str, str]]:
    return [(t(lang, "issued"), day_words(issued, lang)), (t(lang, "as_of"), day_words(as_of(period, issued), lang))]


def basis_text(basis: str, lang: str) -> str:
    de = lang == "de"
    names = {"equal": "gleich" if de else "equal", "population": "Einwohner" if de else "population",
             "usage": "Nutzung" if de else "usage", "direct": "direkt" if de else "direct",
             "unallocated": "nicht verteilt" if de else "unallocated"}
    how, module, cell = split_basis(basis)
    if module:
        title = module_name(module, lang)
        text = (f"{names[how]}, nur Kommunen mit {title}" if de else f"{names[how]}, municipalities booking {title} only")
    else:
        text = names.get(how, how)
    if cell == GLOBAL_CELL:
        text += ", alle Zellen" if de else ", all cells"
    elif cell:
        text += f", Zelle {cell}" if de else f", cell {cell}"
    return text


def _stays(a: Allocation, slug: str) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """The municipality's ``(cell, first day, last day)`` that overlap the period (None: open)."""
    first, last = a.period.first, last_day(a.period)
    return [(name, since, until) for name, since, until in (a.members[slug].stays or ((a.cells.default, None, None),))
            if (since is None or since <= last) and (until is None or until >= first)]


def cell_text(a: Allocation, slug: str, lang: str) -> str | None:
    """The cells the municipality lived in during the period, with the days it moved ("kreis bis 14. Oktober 2026,
    ab 15. Oktober 2026 stadt-guetersloh"), for the statement's line "Zelle"; None when the period involves one
    cell only."""
    if not a.several_cells:
        return None
    stays = _stays(a, slug)
    if len(stays) == 1:
        return stays[0][0]
    de = lang == "de"
    parts = []
    for i, (name, since, until) in enumerate(stays):
        if i == 0:
            parts.append(f"{name} bis {day_words(until, lang)}" if de else f"{name} until {day_words(until, lang)}")
        elif i == len(stays) - 1:
            parts.append(f"ab {day_words(since, lang)} {name}" if de else f"from {day_words(since, lang)} {name}")
        else:
            parts.append(f"vom {day_words(since, lang)} bis {day_words(until, lang)} {name}" if de
                         else f"from {day_words(since, lang)} to {day_words(until, lang)} {name}")
    return ", ".join(parts)


def cells_overview(a: Allocation) -> str:
    """Each cell of the period with the municipalities that lived in it ("kreis: Rheda-Wiedenbrück, Rietberg, Verl;
    stadt-guetersloh: Gütersloh"; a member that moved is named under each of its cells)."""
    lived: dict[str, list[str]] = {}
    for slug in sorted(a.members):
        for name, _, _ in _stays(a, slug):
            lived.setdefault(name, []).append(a.members[slug].name)
    return "; ".join(f"{cell}: {', '.join(sorted(lived[cell]))}" for cell in a.cells.names if cell in lived)


def cells_json(a: Allocation, slug: str) -> list[dict]:
    """The municipality's cells in the period: ``[{"cell", "from", "until"}]`` (ISO days, None: open)."""
    return [{"cell": name, "from": since.isoformat() if since else None, "until": until.isoformat() if until else None}
            for name, since, until in _stays(a, slug)]


# -- documents ----------------------------------------------------------------------------------------------


@dataclass
class Column:
    key: str
    header: str
    kind: str = "text"
    """``text``, ``money`` (integer cents), ``pct`` (Decimal share), ``qty`` (Decimal), ``int``, ``month`` (the
    month's first day, shown as ``Oktober 2026``)."""


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    total: list | None = None
    subtotals: list[int] = field(default_factory=list)
    """Indices of rows that sum the rows before them back to the previous subtotal (a month's subtotal); the
    total is then the sum of the subtotals. CSV leaves them out (a column sum stays the total)."""


@dataclass
class Document:
    stem: str
    """File name without extension."""
    title: str
    lang: str
    currency: str
    meta: list[tuple[str, str]]
    notes: list[str]
    tables: list[Table]
    main: int
    """Index of the table written to CSV."""
    chart_title: str
    chart: list[tuple[str, dict[str, int]]]
    """Chart data: ``[(label, {series: cents})]``."""
    data: dict
    """The JSON form."""
    figures: dict[str, tuple[str, object]] = field(default_factory=dict)
    """Header facts that are numbers or dates: label -> (kind, value), kinds as :class:`Column` (``money`` cents,
    ``int``) plus ``date``; spreadsheets store these as numbers and dates, not as the text in ``meta``."""
    total_label: str = ""
    """What the total at the top is (``Summe``, ``Eingangssumme``, ``Monatlicher Anteil``)."""
    total_cents: int | None = None

    @property
    def note_label(self) -> str:
        return "Hinweis" if self.lang == "de" else "Note"


COST_COLUMNS = {
    "de": {
        "BilledCost": "BilledCost – der in Rechnung gestellte Betrag (stimmt mit der Rechnung des Anbieters überein)",
        "EffectiveCost": "EffectiveCost – amortisierte Kosten: Vorauszahlungen und Zusagerabatte auf die Nutzung "
                         "verteilt (Kostentransparenz, nicht rechnungsgleich)",
        "ListCost": "ListCost – Listenpreise ohne Rabatte (Vergleichswert, nicht rechnungsgleich)",
        "ContractedCost": "ContractedCost – Vertragspreise ohne Amortisierung (Vergleichswert, nicht rechnungsgleich)",
    },
    "en": {
        "BilledCost": "BilledCost – the amount invoiced (reconciles with the provider's invoice)",
        "EffectiveCost": "EffectiveCost – amortised cost: prepayments and commitment discounts spread over usage "
                         "(showback, does not match the invoice)",
        "ListCost": "ListCost – list prices without discounts (for comparison, does not match the invoice)",
        "ContractedCost": "ContractedCost – contracted prices without amortisation (for comparison, does not match "
                          "the invoice)",
    },
}


def cost_column_text(a: Allocation, lang: str) -> str | None:
    """Which cost the amounts are, in words (FOCUS: the chosen column; other sources: their measure)."""
    de = lang == "de"
    column = getattr(a.source, "cost_column", None)
    if column:
        return COST_COLUMNS[lang].get(column, column)
    if a.source.name == "estimate":
        return ("geschätzte Kosten: gebuchte Ressourcen × Preiskatalog" if de
                else "estimated cost: booked resources × price catalogue")
    if a.source.name == "aws":
        return f"{getattr(a.source, 'metric', 'UnblendedCost')} (AWS Cost Explorer)"
    if a.source.name == "opencost":
        return "totalCost (OpenCost)"
    return None


ISO_DAY = re.compile(r"\b(\d{4})-(\d\d)-(\d\d)\b")


ISO_MONTH = re.compile(r"\b(\d{4})-(\d\d)\b(?!-\d)")


def month_names(text: str, lang: str) -> str:
    """``2026-09`` -> ``September 2026``, ``2026-09..2026-10`` -> ``September 2026 bis Oktober 2026``."""
    to = " bis " if lang == "de" else " to "
    text = ISO_MONTH.sub(lambda m: fmt_month(dt.date(int(m[1]), int(m[2]), 1), lang), text)
    return re.sub(r"(\w+ \d{4})\.\.(\w+ \d{4})", rf"\1{to}\2", text)


def german_dates(text: str, lang: str) -> str:
    """``gelesen 2026-05-20`` -> ``gelesen 20.05.2026`` in German documents."""
    return ISO_DAY.sub(r"\3.\2.\1", text) if lang == "de" else text


def prices_text(prices, lang: str, *, paths: bool = False) -> str:
    """Which prices an estimate used: the operator's catalogue and, with a provider, whose unit prices, read when.
    ``paths`` (the screen): the files; documents name no repository file."""
    de = lang == "de"
    own = "finance/prices.yaml" if paths else ("Preiskatalog des Betreibers" if de else "operator's price catalogue")
    own += (" (Fixkosten, Modulanteile, Verteilschlüssel)" if de else " (fixed costs, module shares, allocation key)")
    if prices.provider is None:
        return own + ("; Stückpreise ebenda" if de else "; unit prices from the same catalogue")
    label = prices.provider.label(lang, path=paths)
    return own + ("; Stückpreise (vCPU, GiB Arbeitsspeicher, Block- und Objektspeicher): " if de
                  else "; unit prices (vCPU, GiB memory, block and object storage): ") + (
        label if paths else german_dates(label, lang))


def price_warnings(prices, lang: str = "en", today: dt.date | None = None, *, path: bool = True) -> list[str]:
    """The provider file's prices older than 180 days, as one warning (empty when none or no provider)."""
    provider = getattr(prices, "provider", None)
    warning = provider.stale_warning(today, lang, path=path) if provider is not None else None
    return [warning if path else german_dates(warning, lang)] if warning else []


def prices_json(a: Allocation) -> dict | None:
    """Which prices an estimate used, for the JSON form (None for other sources)."""
    prices = getattr(a.source, "prices", None) if a.source.name == "estimate" else None
    if prices is None:
        return None
    provider = prices.provider
    return {"catalogue": "finance/prices.yaml", "example": prices.example,
            "provider": provider.provider if provider else None,
            "file": f"finance/prices/providers/{provider.provider}.yaml" if provider else None,
            "read": sorted({r.read.isoformat() for _, r in provider.rows()}) if provider else None,
            "warnings": price_warnings(prices)}


def _common_meta(a: Allocation, lang: str, issuer: str, issued: dt.date) -> list[tuple[str, str]]:
    column = cost_column_text(a, lang)
    prices = getattr(a.source, "prices", None) if a.source.name == "estimate" else None
    return [
        (t(lang, "period"), period_words(a.period, lang)),
        *dates_meta(a.period, lang, issued),
        (t(lang, "source"), a.source.describe(lang)),
        *([(t(lang, "cost_column"), column)] if column else []),
        *([(t(lang, "prices"), prices_text(prices, lang))] if prices is not None else []),
        (t(lang, "key"), f"{a.key.words(lang)}. {a.key.describe(lang)}"),
        (t(lang, "issuer"), issuer),
        (t(lang, "currency"), a.currency),
    ]


OUTSIDE = re.compile(r"^(?P<ref>.+?): ChargePeriodStart: .*? lies? outside \S+ \(charge months (?P<months>\S+)\) "
                     r"and (?:are|is) left out: (?P<amount>\S+) ?(?P<currency>\S*)$")
PATH = re.compile(r"(?:[A-Za-z]:)?[\w.~-]*[/\\][^\s:,;()]*")


def warning_text(warning: str, lang: str) -> str | None:
    """A source's or the allocator's warning (worded in English, naming local files) for a document: in
    ``lang``, a file by its name only. None for an unknown tag value: its table says it in words."""
    if warning.startswith("unknown ") and " value " in warning:
        return None
    if m := OUTSIDE.match(warning):
        name = PurePath(m["ref"]).name
        months = m["months"]
        amount = fmt_money(to_cents(Decimal(m["amount"])), lang, m["currency"] or "EUR")
        return (f"{name}: {t(lang, 'outside')} (Abrechnungsmonat {month_names(months, lang)}): {amount}"
                if lang == "de" else f"{name}: {t(lang, 'outside')} (charge months {months}): {amount}")
    return PATH.sub(lambda p: PurePath(p[0]).name, warning)


def _notes(a: Allocation, lang: str) -> list[str]:
    notes = []
    if a.example_prices:
        notes.append(t(lang, "example"))
    if a.source.name == "estimate":
        notes += price_warnings(getattr(a.source, "prices", None), lang, path=False)
    notes.append(t(lang, "rounding"))
    notes.append(t(lang, "legal"))
    return notes


def share_texts(a: Allocation, slug: str, lang: str) -> list[str]:
    """The member's shares under each basis used in the period, with what they are computed from and, in a month
    the municipality was a member (or booked the module) for part of, the days."""
    member = a.members[slug]
    de = lang == "de"
    out = []
    seen = set()
    for (month, basis), weights in sorted(a.weights.items()):
        if slug not in weights:
            continue
        days = a.days.get((month, basis), {})
        share = weights[slug]
        if (basis, share, tuple(sorted(days.items()))) in seen and split_basis(basis)[0] != "usage":
            continue  # the same share as in an earlier month: printed once
        seen.add((basis, share, tuple(sorted(days.items()))))
        label = basis_text(basis, lang)
        how = split_basis(basis)[0]
        if how == "population":
            total_pop = sum(a.members[s].population for s in weights)
            detail = (f"{fmt_number(Decimal(member.population), lang, 0)} von "
                      f"{fmt_number(Decimal(total_pop), lang, 0)} Einwohnern" if de else
                      f"{fmt_number(Decimal(member.population), lang, 0)} of {fmt_number(Decimal(total_pop), lang, 0)} inhabitants")
        elif how == "equal":
            detail = (f"1 von {len(weights)} Kommunen" if de else f"1 of {len(weights)} municipalities")
        else:
            detail = (f"Anteil an den direkten Kosten {fmt_month(month, lang)}" if de
                      else f"share of direct costs {fmt_month(month, lang)}")
        if days:
            mine, whole = days.get(slug, 0), month_days(month)
            detail += (f"; {mine} von {whole} Tagen im {fmt_month(month, lang)}, anteilig nach Tagen" if de
                       else f"; {mine} of {whole} days in {fmt_month(month, lang)}, pro rata by days")
        prefix = f"{fmt_month(month, lang)}: " if how == "usage" or days else ""
        out.append(f"{prefix}{label}: {fmt_pct(share, lang)} ({detail})")
    return out


def fixed_names(a: Allocation) -> dict[str, str]:
    """German -> English names of the price catalogue's fixed costs (estimate source)."""
    prices = getattr(a.source, "prices", None)
    if prices is None:
        return {}
    return {f.name: f.nameEn for f in prices.platform.fixed if f.nameEn}


REASONS_DE = [
    (re.compile(r"^unknown municipality tag '(.*)' \(no tenant file\)$"), r"unbekannte Kommune '\1' (kein Mitglied)"),
    (re.compile(r"^outside the period (\S+) \(charge month (\S+)\)$"), r"außerhalb des Zeitraums \1 (Monat \2)"),
    (re.compile(r"^module '(.*)' is booked by no municipality in (\S+)$"), r"Modul '\1' hat im \2 keine Kommune gebucht"),
    (re.compile(r"^usage key: no municipality has direct costs in (\S+)$"),
     r"Nutzungsschlüssel: keine Kommune hat im \1 direkte Kosten"),
    (re.compile(r"^no municipality is a member in (\S+)$"), r"im \1 ist keine Kommune Mitglied"),
    (re.compile(r"^no municipality lives in cell '(.*)' in (\S+)$"), r"in Zelle \1 lebt im \2 keine Kommune"),
    (re.compile(r"^module '(.*)' is booked by no municipality of cell '(.*)' in (\S+)$"),
     r"Modul '\1' hat im \3 keine Kommune der Zelle \2 gebucht"),
    (re.compile(r"^usage key: no municipality of cell '(.*)' has direct costs in (\S+)$"),
     r"Nutzungsschlüssel: keine Kommune der Zelle \1 hat im \2 direkte Kosten"),
    (re.compile(r"^unknown cell tag '(.*)' \(not in urban-stack:cells\)$"),
     r"unbekannte Zelle '\1' (nicht in urban-stack:cells)"),
    (re.compile(r"^not attributable$"), "nicht zuzuordnen"),
]


def reason_text(reason: str | None, lang: str) -> str:
    """Why a line is unallocated, in ``lang`` (the allocator words it in English)."""
    if not reason or lang != "de":
        return reason or ""
    for pattern, german in REASONS_DE:
        if pattern.match(reason):
            return month_names(pattern.sub(german, reason), lang)
    return reason


def _line_row(ln: Line, lang: str, fixed: dict[str, str]) -> list:
    return [
        ln.month,
        t(lang, ln.kind) if ln.kind != UNALLOCATED else t(lang, "kind_unallocated"),
        module_name(ln.module, lang) or t(lang, "none"),
        service_name(ln.service, ln.module, lang, fixed),
        RESOURCE[lang].get(ln.resource or "", ln.resource or t(lang, "none")),
        ln.quantity,
        # pool and share only where something was split: a direct line is the municipality's own cost
        to_cents_exact(ln.pool) if ln.kind not in ("direct", UNALLOCATED) else None,
        ln.share if ln.kind not in ("direct", UNALLOCATED) else None,
        basis_text(ln.basis, lang),
        ln.cents,
    ]


def to_cents_exact(amount: Decimal) -> int:
    return to_cents(amount)


def _line_columns(lang: str) -> list[Column]:
    return [Column("month", t(lang, "month"), "month"), Column("kind", t(lang, "kind")), Column("module", t(lang, "module")),
            Column("service", t(lang, "service")), Column("resource", t(lang, "resource")),
            Column("quantity", t(lang, "quantity"), "qty"), Column("pool", t(lang, "pool"), "money"),
            Column("share", t(lang, "share"), "pct"), Column("basis", t(lang, "basis")),
            Column("amount", t(lang, "amount"), "money")]


def _line_json(ln: Line) -> dict:
    return {
        "month": ln.month.strftime("%Y-%m"), "kind": ln.kind, "tenant": ln.tenant, "module": ln.module,
        "service": ln.service, "serviceCategory": ln.service_category, "resource": ln.resource,
        "quantity": None if ln.quantity is None else str(ln.quantity), "pool": str(ln.pool),
        "share": str(ln.share), "basis": ln.basis, "amount": f"{ln.amount:.2f}", "cents": ln.cents,
        "inputRows": ln.rows, "reason": ln.reason,
    }


def _service(ln: Line, lang: str, fixed: dict[str, str]) -> str:
    return module_name(ln.module, lang) or service_name(ln.service, None, lang, fixed)


def month_table(a: Allocation, lines: list[Line], lang: str) -> Table:
    """Each month of the period by kind of cost, with its subtotal; the total row is the period's total."""
    rows, sums = [], dict.fromkeys(KINDS, 0)
    for month in a.period.months:
        k = dict.fromkeys(KINDS, 0)
        for ln in lines:
            if ln.month == month and ln.kind in k:
                k[ln.kind] += ln.cents
        for kind in KINDS:
            sums[kind] += k[kind]
        rows.append([month, *(k[kind] for kind in KINDS), sum(k.values())])
    return Table(t(lang, "months"), [Column("month", t(lang, "month"), "month"),
                                     *(Column(k, t(lang, k), "money") for k in KINDS),
                                     Column("total", t(lang, "month_total"), "money")],
                 rows, [t(lang, "total"), *(sums[k] for k in KINDS), sum(sums.values())])


def service_table(a: Allocation, lines: list[Line], lang: str, fixed: dict[str, str]) -> Table:
    """Leistung x month: what each service cost in each month and in the whole period."""
    months = a.period.months
    with_year = months[0].year != months[-1].year
    cents: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for ln in lines:
        cents[_service(ln, lang, fixed)][ln.month] += ln.cents
    rows = [[name, *(by_month.get(m, 0) for m in months), sum(by_month.values())]
            for name, by_month in sorted(cents.items(), key=lambda x: (-sum(x[1].values()), x[0]))]
    total = [t(lang, "total"), *(sum(r[i + 1] for r in rows) for i in range(len(months))), sum(r[-1] for r in rows)]
    title = t(lang, "by_service") if len(months) == 12 and months[0].month == 1 else t(lang, "by_service_range")
    return Table(title, [Column("service", t(lang, "service")),
                         *(Column(m.isoformat(), month_short(m, lang, with_year), "money") for m in months),
                         Column("total", t(lang, "total"), "money")], rows, total)


def lines_table(a: Allocation, lines: list[Line], lang: str, fixed: dict[str, str], total: int) -> Table:
    """The line items; over several months, each month followed by its subtotal."""
    columns = _line_columns(lang)
    empty = ["", "", "", "", None, None, None, ""]
    if len(a.period.months) == 1:
        return Table(t(lang, "lines"), columns, [_line_row(ln, lang, fixed) for ln in lines],
                     [t(lang, "total"), *empty, total])
    rows, subtotals = [], []
    for month in a.period.months:
        mine = [ln for ln in lines if ln.month == month]
        rows += [_line_row(ln, lang, fixed) for ln in mine]
        subtotals.append(len(rows))
        rows.append([f"{t(lang, 'month_total')} {fmt_month(month, lang)}", *empty, sum(ln.cents for ln in mine)])
    return Table(t(lang, "lines"), columns, rows, [t(lang, "total"), *empty, total], subtotals)


def statement(a: Allocation, slug: str, lang: str = "de", issuer: str = "", issued: dt.date | None = None) -> Document:
    """One municipality's statement. ``issued``: the date of issue (default today)."""
    issued = issued or dt.date.today()
    m = a.members[slug]
    lines = a.lines_of(slug)
    by_kind = a.by_kind(slug)
    total = sum(by_kind.values())
    cells = cell_text(a, slug, lang)
    meta = [(t(lang, "municipality"), m.name), (t(lang, "ags"), m.ags), (t(lang, "cost_center"), m.cost_center),
            (t(lang, "population"), fmt_number(Decimal(m.population), lang, 0)),
            *([(t(lang, "cell"), cells)] if cells else []),
            *_common_meta(a, lang, issuer, issued)]
    for text in share_texts(a, slug, lang):
        meta.append((t(lang, "your_share"), text))
    summary = Table(t(lang, "summary"), [Column("kind", t(lang, "kind")), Column("amount", t(lang, "amount"), "money")],
                    [[t(lang, k), by_kind[k]] for k in KINDS], [t(lang, "total"), total])
    fixed = fixed_names(a)
    items = lines_table(a, lines, lang, fixed, total)
    ranged = [month_table(a, lines, lang), service_table(a, lines, lang, fixed)] if len(a.period.months) > 1 else []
    per_service: dict[str, int] = defaultdict(int)
    for ln in lines:
        per_service[_service(ln, lang, fixed)] += ln.cents
    chart = [(name, {"amount": cents}) for name, cents in sorted(per_service.items(), key=lambda x: -x[1])]
    data = {
        "document": "statement", "period": a.period.label, "currency": a.currency, "issuer": issuer,
        "issued": issued.isoformat(), "asOf": as_of(a.period, issued).isoformat(),
        "municipality": {"slug": m.slug, "name": m.name, "ags": m.ags, "costCenter": m.cost_center,
                         "population": m.population, "plan": m.plan, "modules": list(m.modules),
                         **({"cells": cells_json(a, slug)} if a.several_cells else {})},
        "source": a.source.describe("en"), "key": {"code": a.key.code, "description": a.key.describe(lang)},
        "shares": share_texts(a, slug, lang), "examplePrices": a.example_prices, "prices": prices_json(a),
        "totals": {**{k: f"{Decimal(v) / 100:.2f}" for k, v in by_kind.items()}, "total": f"{Decimal(total) / 100:.2f}"},
        "totalCents": total,
        "months": [{"month": mo.strftime("%Y-%m"), "cents": sum(ln.cents for ln in lines if ln.month == mo)}
                   for mo in a.period.months],
        "lines": [_line_json(ln) for ln in lines],
    }
    figures = {t(lang, "population"): ("int", m.population), t(lang, "issued"): ("date", issued),
               t(lang, "as_of"): ("date", as_of(a.period, issued))}
    tables = [summary, *ranged, items]
    return Document(f"statement-{slug}", f"{t(lang, 'statement')} {period_words(a.period, lang)} – {m.name}", lang,
                    a.currency, meta, _notes(a, lang), tables, len(tables) - 1, t(lang, "chart_statement"), chart,
                    data, figures, t(lang, "total"), total)


def overview(a: Allocation, lang: str = "de", issuer: str = "", issued: dt.date | None = None) -> Document:
    """The consortium overview. ``issued``: the date of issue (default today)."""
    issued = issued or dt.date.today()
    members = [a.members[s] for s in sorted(a.members)]
    grand = a.total_cents()
    rows, chart = [], []
    sums = dict.fromkeys(KINDS, 0)
    for m in members:
        k = a.by_kind(m.slug)
        total = sum(k.values())
        for kind in KINDS:
            sums[kind] += k[kind]
        rows.append([m.name, m.ags, m.population, *(k[kind] for kind in KINDS), total,
                     Decimal(total) / grand if grand else Decimal(0)])
        chart.append((m.name, {kind: k[kind] for kind in KINDS}))
    statements_total = sum(sums.values())
    unalloc = a.unallocated
    unalloc_total = sum(ln.cents for ln in unalloc)
    member_table = Table(
        t(lang, "members"),
        [Column("name", t(lang, "municipality")), Column("ags", t(lang, "ags")),
         Column("population", t(lang, "population"), "int"), *(Column(k, t(lang, k), "money") for k in KINDS),
         Column("total", t(lang, "total"), "money"), Column("shareOfTotal", t(lang, "share_of_total"), "pct")],
        rows, [t(lang, "total"), "", sum(m.population for m in members), *(sums[k] for k in KINDS),
               statements_total, Decimal(statements_total) / grand if grand else Decimal(0)],
    )
    unalloc_table = Table(
        t(lang, "unallocated"),
        [Column("month", t(lang, "month"), "month"), Column("service", t(lang, "service")),
         Column("module", t(lang, "module")), Column("tenant", t(lang, "tag")), Column("reason", t(lang, "reason")), Column("rows", t(lang, "rows"), "int"),
         Column("amount", t(lang, "amount"), "money")],
        [[ln.month, ln.service, ln.module or t(lang, "none"), t(lang, "none"), reason_text(ln.reason, lang),
          ln.rows,
          ln.cents] for ln in unalloc],
        [t(lang, "total"), "", "", "", "", None, unalloc_total],
    )
    handled = {"unallocated": "handled_unallocated", "split as platform base": "handled_base",
               "kept on its line": "handled_kept"}
    unknown_table = Table(
        t(lang, "unknown_tags"),
        [Column("tag", t(lang, "tag")), Column("value", t(lang, "value")), Column("rows", t(lang, "rows"), "int"),
         Column("amount", t(lang, "amount"), "money"), Column("handling", t(lang, "handling"))],
        [[u.tag, u.value, u.rows, to_cents_exact(u.cost), t(lang, handled[u.handling])] for u in a.unknown_tags],
    )
    ok = statements_total + unalloc_total == a.input_cents
    check = Table(
        t(lang, "check"), [Column("what", ""), Column("amount", t(lang, "amount"), "money")],
        [[t(lang, "statements_total"), statements_total], [t(lang, "unallocated"), unalloc_total],
         [t(lang, "input_total"), a.input_cents]],
    )
    meta = [*_common_meta(a, lang, issuer, issued), (t(lang, "rows"), fmt_number(Decimal(a.input_rows), lang, 0)),
            (t(lang, "input_total"), fmt_money(a.input_cents, lang, a.currency)),
            (t(lang, "check"), t(lang, "reconciled") if ok else t(lang, "not_reconciled"))]
    if a.several_cells:
        meta.append((t(lang, "cells"), cells_overview(a)))
    data = {
        "document": "overview", "period": a.period.label, "currency": a.currency, "issuer": issuer,
        "issued": issued.isoformat(), "asOf": as_of(a.period, issued).isoformat(),
        "source": a.source.describe("en"), "key": {"code": a.key.code, "description": a.key.describe(lang)},
        "examplePrices": a.example_prices, "prices": prices_json(a), "inputRows": a.input_rows,
        "inputTotal": f"{Decimal(a.input_cents) / 100:.2f}", "inputTotalCents": a.input_cents,
        "inputTotalExact": str(a.input_exact),
        "statementsTotalCents": statements_total, "unallocatedCents": unalloc_total, "reconciled": ok,
        "members": [{"slug": m.slug, "name": m.name, "ags": m.ags, "population": m.population,
                     "costCenter": m.cost_center, **{f"{k}Cents": a.by_kind(m.slug)[k] for k in KINDS},
                     "totalCents": a.total_cents(m.slug),
                     **({"cells": cells_json(a, m.slug)} if a.several_cells else {})} for m in members],
        "unallocated": [_line_json(ln) for ln in unalloc],
        "unknownTags": [{"tag": u.tag, "value": u.value, "rows": u.rows, "amount": str(u.cost),
                         "cents": to_cents_exact(u.cost), "handling": u.handling} for u in a.unknown_tags],
        "warnings": list(a.warnings),
    }
    warned = [w for w in (warning_text(w, lang) for w in a.warnings) if w]
    notes = [*_notes(a, lang), *(f"{t(lang, 'warnings')}: {w}" for w in warned)]
    allocated = [ln for ln in a.lines if ln.tenant is not None]
    ranged = [month_table(a, allocated, lang)] if len(a.period.months) > 1 else []
    figures = {t(lang, "rows"): ("int", a.input_rows), t(lang, "input_total"): ("money", a.input_cents),
               t(lang, "issued"): ("date", issued), t(lang, "as_of"): ("date", as_of(a.period, issued))}
    return Document("overview", f"{t(lang, 'overview')} {period_words(a.period, lang)}", lang, a.currency, meta,
                    notes, [member_table, *ranged, unalloc_table, unknown_table, check], 0,
                    t(lang, "chart_overview"), chart, data, figures, t(lang, "input_total"), a.input_cents)
