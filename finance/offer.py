"""An offer for a municipality that considers joining (``urbanstack costs offer``).

For a tenant file that is not yet a member: its monthly share at today's membership under each allocation key,
what every current member would pay more or less, and what the same modules would cost it alone, per provider
price list. The estimate is the one ``costs report`` and ``costs simulate`` use (declared sizing x prices); the
prospective member counts as a member for the whole month (its ``memberSince`` is left aside: the offer is about a
normal month of membership).

The result is a :class:`finance.report.Document`, written by :mod:`finance.render` as PDF and HTML (German by
default) and as CSV: page 1 of the PDF holds the monthly amount, the amount per inhabitant, the standalone
comparison, the assumptions and the price sources with their dates.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from catalogue.prices import KEYS, PriceCatalogue, load_provider, price_name, provider_names, with_provider
from catalogue.tenants import TenantError, load_tenant
from finance.allocate import allocate, to_cents
from finance.model import FinanceError, Key, Member, Period, member_of
from finance.names import module_name
from finance.report import Column, Document, Table, day_words, fmt_money, fmt_month, fmt_number, price_warnings, t
from finance.sources.estimate import EstimateSource


@dataclass
class ProviderFigures:
    provider: str
    """Provider file stem, or ``""`` for the unit prices of the operator's catalogue."""
    name: str
    share: int
    """Monthly share in cents under the chosen key, with this provider's unit prices."""
    standalone: int
    """Monthly cost in cents running the same modules alone, with this provider's unit prices."""
    read: str
    """Dates the prices were read (``2026-05-20``), empty for the operator's catalogue."""


@dataclass
class Offer:
    candidate: Member
    month: dt.date
    key: Key
    catalogue: PriceCatalogue
    """The catalogue with the chosen provider's unit prices."""
    by_key: dict[str, int]
    """Key name -> the candidate's monthly share in cents (chosen provider)."""
    members: list[tuple[Member, int, int]]
    """Each current member with its monthly cost before and after the candidate joins (chosen key), cents."""
    providers: list[ProviderFigures]

    @property
    def share(self) -> int:
        return self.by_key[self.key.name]

    @property
    def chosen(self) -> ProviderFigures:
        name = self.catalogue.provider.provider if self.catalogue.provider else ""
        return next(p for p in self.providers if p.provider == name)


def prospective_member(path: Path, members: dict[str, Member]) -> Member:
    """The municipality of ``path`` as a member for whole months; refused when it is one already."""
    try:
        tenant = load_tenant(path)
    except TenantError as exc:
        raise FinanceError(str(exc)) from None
    if tenant.slug in members:
        raise FinanceError(f"{path}: {tenant.slug!r} is already a member (tenants/{tenant.slug}.yaml); an offer is for "
                           "a municipality that is not yet one: pass --tenants with the other members' files, or "
                           "use `costs report` for a member's statement")
    clash = [m.slug for m in members.values() if m.ags == tenant.ags]
    if clash:
        raise FinanceError(f"{path}: ags {tenant.ags!r} is already used by member {clash[0]!r}")
    return replace(member_of(tenant), since=None, until=None, bookings=())


def _share(members: dict[str, Member], prices: PriceCatalogue, key: Key, month: Period, slug: str) -> int:
    return allocate(EstimateSource(members, prices), members, key, month).total_cents(slug)


def make_offer(path: Path, members: dict[str, Member], catalogue: PriceCatalogue, base: PriceCatalogue, key: Key,
               month: dt.date) -> Offer:
    """The offer for the tenant file ``path``. ``catalogue``: prices with the chosen provider's unit prices;
    ``base``: the operator's catalogue, to which every provider file is applied for the comparison."""
    if not members:
        raise FinanceError("no members: an offer compares with today's membership (tenants/ is empty)")
    candidate = prospective_member(path, members)
    after = {**members, candidate.slug: candidate}
    period = Period(month, month)
    by_key = {}
    for name in KEYS:
        k = Key(name, key.base, key.modules)
        by_key[name] = _share(after, catalogue, k, period, candidate.slug)
    before = allocate(EstimateSource(members, catalogue), members, key, period)
    joined = allocate(EstimateSource(after, catalogue), after, key, period)
    rows = [(m, before.total_cents(s), joined.total_cents(s)) for s, m in sorted(members.items())]
    providers = []
    own = base.model_copy()
    for stem in ["", *provider_names()]:
        prices = with_provider(own, load_provider(stem)) if stem else own
        alone = EstimateSource({candidate.slug: candidate}, prices).standalone_monthly(candidate.slug)
        prov = prices.provider
        providers.append(ProviderFigures(
            stem, prov.name if prov else "Preiskatalog des Betreibers",
            _share(after, prices, key, period, candidate.slug), to_cents(alone),
            ", ".join(sorted({r.read.isoformat() for _, r in prov.rows()})) if prov else ""))
    return Offer(candidate, month, key, catalogue, by_key, rows, providers)


def day_text(iso: str, lang: str) -> str:
    """``2026-05-20`` -> ``20.05.2026`` in German documents (comma-separated lists too)."""
    if lang != "de" or not iso:
        return iso
    return ", ".join(dt.date.fromisoformat(d.strip()).strftime("%d.%m.%Y") for d in iso.split(","))


VERSION_DE = [
    (re.compile(r"^price list "), "Preisliste "),
    (re.compile(r" shop list prices after (\d{4}-\d\d-\d\d)"), r" Shop-Listenpreise ab \1"),
    (re.compile(r" shop list prices"), " Shop-Listenpreise"),
    (re.compile(r" list prices after (\d{4}-\d\d-\d\d)"), r" Listenpreise ab \1"),
    (re.compile(r" list prices"), " Listenpreise"),
    (re.compile(r"\(via ([^ ]+) "), r"(über \1, Stand "),
]


def version_text(version: str, lang: str) -> str:
    """A price list's version as the provider file words it (English), in German documents in German with German
    dates: ``Hetzner Cloud Listenpreise ab 15.06.2026 (über mixxor/eu-cloud-prices, Stand 17.08.2026)``."""
    if lang != "de":
        return version
    for pattern, german in VERSION_DE:
        version = pattern.sub(german, version)
    return re.sub(r"\b(\d{4})-(\d\d)-(\d\d)\b", r"\3.\2.\1", version)


def month_words(month: dt.date, lang: str) -> str:
    return fmt_month(month, lang)


def per_inhabitant(cents: int, population: int, lang: str) -> str:
    """Per inhabitant and year, to the cent: a monthly amount per inhabitant is a fraction of a cent's worth of
    digits nobody reads (``0,0513 €``); ``0,62 €`` a year is what a council compares."""
    value = (Decimal(cents) * 12 / 100 / Decimal(population)).quantize(Decimal("0.01"))
    text = fmt_number(value, lang, 2)
    return f"{text} €" if lang == "de" else f"€{text}"


KEY_WORDS = {
    "de": {"equal": "gleiche Anteile", "population": "nach Einwohnern", "usage": "nach direkten Kosten",
           "hybrid": "Hybrid: Grundanteil nach Einwohnern, Module unter den Buchenden"},
    "en": {"equal": "equal shares", "population": "by population", "usage": "by direct cost",
           "hybrid": "hybrid: base by population, modules among their bookers"},
}


def document(o: Offer, lang: str = "de", issuer: str = "", today: dt.date | None = None) -> Document:
    """The offer as a document for :mod:`finance.render` (German by default)."""
    de = lang == "de"
    today = today or dt.date.today()
    c = o.candidate
    cur = o.catalogue.currency
    chosen = o.chosen
    saving = chosen.standalone - o.share

    def money(cents: int) -> str:
        return fmt_money(cents, lang, cur)

    prov = o.catalogue.provider
    price_line = (f"{prov.name}: Stückpreise aus der öffentlichen Preisliste, gelesen {day_text(chosen.read, lang)}; "
                  f"Fixkosten und "
                  f"Modulanteile aus dem Preiskatalog des Betreibers" if de and prov else
                  f"{prov.name}: unit prices from the public price list, read {chosen.read}; fixed costs and module "
                  f"shares from the operator's price catalogue" if prov else
                  ("Preiskatalog des Betreibers" if de else "the operator's price catalogue"))
    meta = [
        ("Kommune" if de else "Municipality", c.name),
        ("AGS", c.ags),
        ("Einwohner" if de else "Population", fmt_number(Decimal(c.population), lang, 0)),
        ("Gebuchte Module" if de else "Booked modules", ", ".join(module_name(m, lang) for m in c.modules) or "–"),
        ("Monatlicher Anteil" if de else "Monthly share",
         f"{money(o.share)} ({money(o.share * 12)} {'im Jahr' if de else 'a year'}; "
         f"{per_inhabitant(o.share, c.population, lang)} {'je Einwohner und Jahr' if de else 'per inhabitant a year'})"),
        ("Allein betrieben" if de else "Running it alone",
         f"{money(chosen.standalone)} {'im Monat' if de else 'a month'} "
         f"({per_inhabitant(chosen.standalone, c.population, lang)} {'je Einwohner und Jahr' if de else 'per inhabitant a year'})"),
        ("Vorteil im Verbund" if de else "Saving in the consortium",
         f"{money(saving)} {'im Monat' if de else 'a month'}, {money(saving * 12)} {'im Jahr' if de else 'a year'}"),
        ("Verteilschlüssel" if de else "Allocation key", o.key.words(lang)),
        ("Preise" if de else "Prices", price_line),
        ("Berechnungsmonat" if de else "Month computed", month_words(o.month, lang)),
        (t(lang, "issued"), day_words(today, lang)),
        (t(lang, "as_of"), day_words(today, lang)),
        ("Herausgeber" if de else "Issuer", issuer),
    ]
    members_now = len(o.members)
    notes = [
        ("Annahmen: Schätzung aus den gebuchten Modulen und der Planungsgröße "
         f"„{c.plan}“ × Preise; {members_now} heutige Mitglieder plus {c.name} für einen vollen Monat; Beträge netto "
         "(ohne Umsatzsteuer), in Euro. Die Umlage setzt der Verband nach § 19 GkG NRW fest; dieses Angebot ersetzt "
         "den Beschluss nicht." if de else
         f"Assumptions: estimate from the booked modules and plan size '{c.plan}' × prices; today's {members_now} "
         f"members plus {c.name} for a whole month; net amounts (without VAT), in euros. The association sets the "
         "levy (§ 19 GkG NRW); this offer does not replace that decision."),
        ("„Allein betrieben“: dieselben Module ohne Verbund – die ganze Plattform-Grundlast (Betrieb, Support, "
         "Steuerungsebene, Reserve, gemeinsame Komponenten) und der volle gemeinsame Anteil jedes Moduls trägt die "
         "Kommune selbst." if de else
         "'Running it alone': the same modules without the consortium – the municipality carries the whole platform "
         "base (operations, support, control plane, spare capacity, shared components) and the full shared part of "
         "every module."),
    ]
    base = EstimateSource({}, o.catalogue).platform_base()
    notes.append(
        f"Den Alleinbetrieb bestimmt die Plattform-Grundlast von {money(to_cents(base))} im Monat, die im Verbund "
        "geteilt wird; die Anbieter unterscheiden sich nur in den Stückpreisen für Rechenleistung und Speicher "
        "(Tabelle „nach Anbieter“)." if de else
        f"Running alone is dominated by the platform base of {money(to_cents(base))} a month, which the consortium "
        "shares; providers differ only in the unit prices for compute and storage (table 'by provider').")
    if o.catalogue.example:
        notes.append("BEISPIELPREISE: Fixkosten und Modulanteile des Preiskatalogs sind Beispielwerte; das Angebot "
                     "ist eine Schätzung, keine Rechnung." if de else
                     "EXAMPLE PRICES: the catalogue's fixed costs and module shares are examples; this offer is an "
                     "estimate, not an invoice.")
    notes += price_warnings(o.catalogue, lang, today, path=False)

    summary = Table(
        "Auf einen Blick" if de else "At a glance",
        [Column("what", ""), Column("month", "im Monat" if de else "a month", "money"),
         Column("year", "im Jahr" if de else "a year", "money"),
         Column("inhabitant", "je Einwohner und Jahr" if de else "per inhabitant a year")],
        [[f"{'Anteil im Verbund' if de else 'Share in the consortium'} ({chosen.name})", o.share, o.share * 12,
          per_inhabitant(o.share, c.population, lang)],
         [f"{'Allein betrieben' if de else 'Running it alone'} ({chosen.name})", chosen.standalone,
          chosen.standalone * 12, per_inhabitant(chosen.standalone, c.population, lang)],
         ["Vorteil im Verbund" if de else "Saving in the consortium", saving, saving * 12,
          per_inhabitant(saving, c.population, lang)]],
    )
    keys = Table(
        "Anteil nach Verteilschlüssel" if de else "Share by allocation key",
        [Column("key", "Verteilschlüssel" if de else "Key"), Column("month", "im Monat" if de else "a month", "money"),
         Column("inhabitant", "je Einwohner und Jahr" if de else "per inhabitant a year"),
         Column("chosen", "vereinbart" if de else "agreed")],
        [[KEY_WORDS[lang][k], v, per_inhabitant(v, c.population, lang),
          ("ja" if de else "yes") if k == o.key.name else ""] for k, v in o.by_key.items()],
    )
    providers = Table(
        "Im Verbund und allein, nach Anbieter" if de else "In the consortium and alone, by provider",
        [Column("provider", "Preise" if de else "Prices"), Column("share", "im Verbund" if de else "consortium", "money"),
         Column("alone", "allein" if de else "alone", "money"),
         Column("saving", "Vorteil" if de else "saving", "money"),
         Column("read", "Preise gelesen" if de else "prices read")],
        [[p.name, p.share, p.standalone, p.standalone - p.share, day_text(p.read, lang) or "–"]
         for p in o.providers],
    )
    others = Table(
        "Was sich für die heutigen Mitglieder ändert" if de else "What changes for today's members",
        [Column("member", "Kommune" if de else "Municipality"), Column("before", "bisher" if de else "before", "money"),
         Column("after", "mit " + c.name if de else "with " + c.name, "money"),
         Column("change", "Änderung" if de else "change", "money")],
        [[m.name, b, a, a - b] for m, b, a in o.members],
        ["Summe" if de else "Total", sum(b for _, b, _ in o.members), sum(a for _, _, a in o.members),
         sum(a - b for _, b, a in o.members)],
    )
    sources_rows = []
    if prov:
        for field_path, row in prov.rows():
            amount = fmt_number(row.amount, lang, 4)
            sources_rows.append([price_name(field_path, lang), f"{amount} €" if de else f"€{amount}", row.unit,
                                 day_text(row.read.isoformat(), lang), version_text(row.version, lang), row.source])
    sources = Table(
        (f"Preisquellen ({prov.name})" if de else f"Price sources ({prov.name})") if prov else
        ("Preisquellen" if de else "Price sources"),
        [Column("price", "Preis" if de else "Price"), Column("amount", "Betrag (netto)" if de else "Amount (net)"),
         Column("unit", "Einheit" if de else "Unit"), Column("read", "gelesen" if de else "read"),
         Column("version", "Preisliste" if de else "Price list"), Column("source", "Quelle" if de else "Source")],
        sources_rows,
    )
    chart = [(f"{'im Verbund' if de else 'consortium'} ({chosen.name})", {"amount": o.share})]
    chart += [(f"{'allein' if de else 'alone'}: {p.name}", {"amount": p.standalone}) for p in o.providers]
    data = {
        "document": "offer", "municipality": {"slug": c.slug, "name": c.name, "ags": c.ags,
                                              "population": c.population, "plan": c.plan, "modules": list(c.modules)},
        "month": o.month.strftime("%Y-%m"), "asOf": today.isoformat(), "issued": today.isoformat(), "key": o.key.code, "currency": cur,
        "totalCents": o.share, "totalLabel": "Monatlicher Anteil" if de else "Monthly share",
        "perInhabitantYear": str((Decimal(o.share) * 12 / 100 / Decimal(c.population)).quantize(Decimal("0.01"))),
        "byKey": o.by_key, "standaloneCents": chosen.standalone,
        "providers": [{"provider": p.provider or None, "name": p.name, "shareCents": p.share,
                       "standaloneCents": p.standalone, "read": p.read or None} for p in o.providers],
        "members": [{"slug": m.slug, "beforeCents": b, "afterCents": a} for m, b, a in o.members],
        "examplePrices": o.catalogue.example,
    }
    title = (f"Angebot zur Mitgliedschaft – {c.name}" if de else f"Membership offer – {c.name}")
    return Document(f"angebot-{c.slug}" if de else f"offer-{c.slug}", title, lang, cur, meta, notes,
                    [summary, keys, providers, others, sources], 2,
                    "Monatliche Kosten: im Verbund und allein" if de else "Monthly cost: consortium and alone",
                    chart, data, {"Einwohner" if de else "Population": ("int", c.population),
                                  t(lang, "issued"): ("date", today), t(lang, "as_of"): ("date", today)},
                    data["totalLabel"], o.share)
