"""Documents a treasurer files (issue 25 item 13): German throughout, date of issue and "Stand", periods in words,
month subtotals and a summary per service over several months, the total at the top of every format, PDF/A-2b
with embedded fonts, spreadsheets with formulas, typed numbers and dates, frozen headers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pikepdf
import pytest
from openpyxl import load_workbook

from catalogue.prices import load_prices, load_provider, with_provider
from finance.allocate import allocate
from finance.model import Key, load_members, parse_period
from finance.offer import document, make_offer
from finance.outputs import write_all
from finance.render import write_csv, write_html, write_pdf, write_xlsx
from finance.report import fmt_money, fmt_month, overview, statement
from finance.sources.estimate import EstimateSource
from finance.sources.focus import FocusSource
from tests.test_costs_allocation import MEMBERS, focus_csv, tags
from tests.test_costs_offer import HALLE

ISSUED = dt.date(2026, 12, 6)
YEAR = parse_period("2026-01..2026-12")
OCT = parse_period("2026-10")
STANDARD_14 = {"Courier", "Helvetica", "Times-Roman", "Symbol", "ZapfDingbats"}


def estimate(period):
    members = load_members()
    return allocate(EstimateSource(members, load_prices()), members, Key("hybrid"), period, example_prices=True)


@pytest.fixture(scope="module")
def month():
    return estimate(OCT)


@pytest.fixture(scope="module")
def year():
    return estimate(YEAR)


@pytest.fixture(scope="module")
def offer_doc(tmp_path_factory):
    path = tmp_path_factory.mktemp("offer") / "halle.yaml"
    path.write_text(HALLE, encoding="utf-8")
    own = load_prices()
    o = make_offer(path, load_members(), with_provider(own, load_provider("stackit")), own, Key(), dt.date(2026, 10, 1))
    return document(o, "de", "Urban Stack Betrieb", today=ISSUED)


@pytest.fixture(scope="module")
def documents(month, year, offer_doc):
    """The four documents a treasurer files: a monthly and an annual statement, the overview, the offer."""
    return {"monthly": statement(month, "verl", "de", "Kreis", ISSUED),
            "annual": statement(year, "verl", "de", "Kreis", ISSUED),
            "overview": overview(month, "de", "Kreis", ISSUED), "offer": offer_doc}


def texts(doc) -> list[str]:
    out = [doc.title, *(f"{k}: {v}" for k, v in doc.meta), *doc.notes, doc.chart_title, doc.total_label,
           *(label for label, _ in doc.chart)]
    for table in doc.tables:
        out += [table.title, *(c.header for c in table.columns)]
        out += [v for row in [*table.rows, *([table.total] if table.total else [])] for v in row if isinstance(v, str)]
    return out


# -- German throughout, no local paths ----------------------------------------------------------------------

ENGLISH = ["Total", "Period", "Amount", "Issued", "As of", "Month", "Tag", "Summary", "Line items", "Warnings",
           "Note", "unknown", "left out", "lies outside", "price list", "prices read", "rows", "Cost statement",
           "Consortium overview", "Input total", "Unallocated", "Reconciliation", "charge months"]


LOCAL_PATH = re.compile(r"(?<![\w:/])/[\w.-]+/|\b[\w-]+/[\w./-]+\.(?:ya?ml|py|csv|parquet|json)\b")


def english_in(text: str) -> list[str]:
    return [w for w in ENGLISH if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]


def test_german_documents_carry_no_english_label_and_no_local_path(documents):
    for name, doc in documents.items():
        for text in texts(doc):
            assert not english_in(text), (name, text)
            assert not LOCAL_PATH.search(text), (name, text)


def test_an_overview_from_a_provider_export_says_its_warnings_in_german_and_names_no_local_path(tmp_path):
    """Rows outside the period and an unknown municipality tag: the overview said so in English, with the path of
    the export on this machine."""
    rows = [{"BilledCost": "10.00", "Tags": tags("bielefeld")},
            {"BilledCost": "5.00", "Tags": tags("aa"), "ChargePeriodStart": "2026-09-30T10:00:00Z"},
            {"BilledCost": "3.00", "Tags": tags("aa")}]
    export = focus_csv(tmp_path / "focus.csv", rows)
    a = allocate(FocusSource([export]), MEMBERS, Key("equal"), OCT)
    doc = overview(a, "de", "Kreis", ISSUED)
    all_text = " | ".join(texts(doc))
    assert str(tmp_path) not in all_text and not english_in(all_text), english_in(all_text)
    assert not re.search(r"\b20\d\d-\d\d\b", all_text)  # months in words
    assert any("focus.csv: Zeilen außerhalb des Zeitraums nicht berücksichtigt (Abrechnungsmonat September 2026): 5,00 €"
               in n for n in doc.notes), doc.notes
    assert {tb.title for tb in doc.tables} >= {"Unbekannte Werte der Kostenkennzeichnung"}
    unknown = next(tb for tb in doc.tables if tb.title == "Unbekannte Werte der Kostenkennzeichnung")
    assert [c.header for c in unknown.columns][:2] == ["Kennzeichnung", "Wert"]
    en = " | ".join(texts(overview(a, "en", "Kreis", ISSUED)))
    assert "focus.csv: rows outside the period left out" in en and str(tmp_path) not in en


# -- date of issue, Stand, periods in words -----------------------------------------------------------------


def test_every_document_states_its_date_of_issue_its_stand_and_its_period_in_words(documents):
    expected = {"monthly": ("Oktober 2026", "31. Oktober 2026"), "annual": ("Januar bis Dezember 2026", "6. Dezember 2026"),
                "overview": ("Oktober 2026", "31. Oktober 2026"), "offer": (None, "6. Dezember 2026")}
    for name, doc in documents.items():
        meta = dict(doc.meta)
        period, stand = expected[name]
        assert meta["Ausgestellt am"] == "6. Dezember 2026", name
        assert meta["Stand"] == stand, name  # the period's last day, or the day of issue for a period not yet over
        if period:
            assert meta["Zeitraum"] == period and period in doc.title, name
        assert not re.search(r"\b20\d\d-\d\d\b", doc.title + " ".join(v for _, v in doc.meta)), name
    english = statement(estimate(parse_period("2025-11..2026-02")), "verl", "en", "Kreis", ISSUED)
    assert dict(english.meta)["Period"] == "November 2025 to February 2026"
    assert dict(english.meta)["Issued"] == "6 December 2026"


def test_the_date_of_issue_is_in_every_format(tmp_path, month):
    written = write_all(month, tmp_path, formats=("csv", "html", "pdf", "xlsx"), issuer="Kreis", issued=ISSUED)
    assert written
    for suffix in ("csv", "html"):
        text = (tmp_path / f"statement-verl.{suffix}").read_text(encoding="utf-8-sig")
        assert "Ausgestellt am" in text and "6. Dezember 2026" in text and "31. Oktober 2026" in text
    pdf = pikepdf.open(tmp_path / "statement-verl.pdf")
    assert pdf.open_metadata()["dc:title"] == "Kostenaufstellung Oktober 2026 – Verl"
    ws = load_workbook(tmp_path / "statement-verl.xlsx").worksheets[0]
    facts = {r[0].value: r[1] for r in ws.iter_rows(min_row=3) if r[0].value and len(r) > 1}
    assert facts["Ausgestellt am"].value == dt.datetime(2026, 12, 6) and facts["Ausgestellt am"].is_date
    assert facts["Stand"].value == dt.datetime(2026, 10, 31)


# -- annual statements: month subtotals and the summary per service ------------------------------------------


def test_the_annual_statement_has_twelve_month_subtotals_and_a_summary_per_service_that_add_up_to_the_total(year):
    doc = statement(year, "verl", "de", "Kreis", ISSUED)
    total = doc.data["totalCents"]
    tables = {tb.title: tb for tb in doc.tables}
    months = tables["Monatssummen"]
    assert [r[0] for r in months.rows] == YEAR.months
    assert sum(r[-1] for r in months.rows) == months.total[-1] == total
    services = tables["Jahresübersicht nach Leistung"]
    assert [c.header for c in services.columns][1:13] == ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli",
                                                          "Aug.", "Sep.", "Okt.", "Nov.", "Dez."]
    assert all(sum(r[1:13]) == r[13] for r in services.rows)
    assert services.total[1:13] == [r[-1] for r in months.rows] and services.total[13] == total
    lines = tables["Positionen"]
    assert len(lines.subtotals) == 12
    start = 0
    for month, at in zip(YEAR.months, lines.subtotals, strict=True):
        row = lines.rows[at]
        assert row[0] == f"Summe {fmt_month(month, 'de')}"
        assert row[-1] == sum(r[-1] for r in lines.rows[start:at]) == next(r[-1] for r in months.rows if r[0] == month)
        start = at + 1
    assert lines.total[-1] == total
    # a monthly statement stays as it was: no subtotals, no month tables
    single = statement(estimate(OCT), "verl", "de", "Kreis", ISSUED)
    assert [tb.title for tb in single.tables] == ["Zusammenfassung", "Positionen"] and not single.tables[1].subtotals


def test_the_annual_overview_has_its_month_subtotals(year):
    doc = overview(year, "de", "Kreis", ISSUED)
    months = next(tb for tb in doc.tables if tb.title == "Monatssummen")
    assert len(months.rows) == 12 and months.total[-1] == doc.data["statementsTotalCents"]


# -- the total at the top of every format ---------------------------------------------------------------------


def test_the_total_stands_at_the_top_of_csv_html_xlsx_and_pdf(tmp_path, year):
    doc = statement(year, "verl", "de", "Kreis", ISSUED)
    total = doc.data["totalCents"]
    rows = list(csv.reader(io.StringIO(write_csv(doc, tmp_path / "s.csv").read_text(encoding="utf-8-sig")),
                           delimiter=";"))
    assert rows[0] == ["Summe", f"{Decimal(total) / 100:.2f}".replace(".", ",")]
    assert dict(r for r in rows[:rows.index([])] if len(r) == 2)["Einwohner"] == "26000"  # a number, not "26.000"
    subtotals = [r for r in rows[:rows.index([])] if r[0].startswith("Summe ")]
    assert [r[0] for r in subtotals][:2] == ["Summe Januar 2026", "Summe Februar 2026"] and len(subtotals) == 12
    assert sum(Decimal(r[1].replace(",", ".")) for r in subtotals) * 100 == total
    # the CSV's table leaves the subtotals out: its amount column adds up to the total
    body = rows[rows.index([]) + 1:]
    amounts = [Decimal(r[-1].replace(",", ".")) for r in body[1:-1]]
    assert sum(amounts) * 100 == total and not any(r[0].startswith("Summe ") for r in body[1:-1])
    page = write_html(doc, tmp_path / "s.html", b"").read_text(encoding="utf-8")
    top = page.index(f'<p class="total">Summe: {fmt_money(total, "de")}</p>')
    assert top < page.index("<dl>") < page.index("<table>")
    assert page.count('<tr class="sub">') == 12
    ws = load_workbook(write_xlsx([doc], tmp_path / "s.xlsx")).worksheets[0]
    assert ws["A2"].value == "Summe" and str(ws["B2"].value).startswith("='")  # the lines sheet's total cell
    assert ws.freeze_panes == "A3"


# -- XLSX: formulas, numbers, dates, frozen headers, widths --------------------------------------------------


def cell_sum(wb, formula: str, ws) -> Decimal:
    """Evaluate the document's own formulas: ``=SUM(J2:J9)``, ``=SUM(J10,J20)``, ``='sheet'!J30``."""
    if m := re.fullmatch(r"='((?:[^']|'')+)'!([A-Z]+\d+)", formula):
        other = wb[m[1].replace("''", "'")]
        return value_of(wb, other[m[2]], other)
    m = re.fullmatch(r"=SUM\((.+)\)", formula)
    assert m, formula
    out = Decimal(0)
    for part in m[1].split(","):
        cells = ws[part] if ":" in part else ((ws[part],),)
        for row in cells:
            for c in row if isinstance(row, tuple) else (row,):
                out += value_of(wb, c, ws)
    return out


def value_of(wb, c, ws) -> Decimal:
    if c.value is None:
        return Decimal(0)
    if isinstance(c.value, str) and c.value.startswith("="):
        return cell_sum(wb, c.value, ws)
    return Decimal(str(c.value))


def test_xlsx_sums_are_formulas_over_numbers_and_dates_are_dates_with_frozen_headers(tmp_path, year):
    doc = statement(year, "verl", "de", "Kreis", ISSUED)
    wb = load_workbook(write_xlsx([doc], tmp_path / "s.xlsx"))
    first, lines = wb.worksheets
    assert lines.title.endswith("Positionen") and lines.freeze_panes == "B2"
    assert [c.value for c in lines[1]][:2] == ["Monat", "Art"]  # the header row, frozen
    amount = next(c.column_letter for c in lines[1] if c.value == "Betrag")
    total = lines[f"{amount}{lines.max_row}"]
    assert total.value.startswith("=SUM(") and total.number_format == '#,##0.00 "€"'
    assert value_of(wb, total, lines) * 100 == doc.data["totalCents"]
    assert value_of(wb, first["B2"], first) * 100 == doc.data["totalCents"]  # the total at the top
    subtotals = [r for r in lines.iter_rows(min_row=2) if isinstance(r[0].value, str) and r[0].value.startswith("Summe ")]
    assert len(subtotals) == 12
    for r, month in zip(subtotals, doc.data["months"], strict=True):
        cell = next(c for c in r if c.column_letter == amount)
        assert cell.value.startswith("=SUM(") and value_of(wb, cell, lines) * 100 == month["cents"]
    line = lines[2]
    assert line[0].is_date and line[0].number_format == "MMMM YYYY"
    assert isinstance(lines[f"{amount}2"].value, int | float)
    # the facts: numbers as numbers, dates as dates; each service's year a formula over its months
    facts = {r[0].value: r[1].value for r in first.iter_rows(min_row=3) if r[0].value}
    assert facts["Einwohner"] == 26000 and isinstance(facts["Ausgestellt am"], dt.datetime)
    formulas = [c.value for row in first.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert any(re.fullmatch(r"=SUM\(B\d+:M\d+\)", f) for f in formulas)  # Jan..Dez of a service
    assert first.column_dimensions["A"].width >= 30 and lines.column_dimensions["D"].width > 10


def test_the_overview_workbook_sums_with_formulas(tmp_path, month):
    doc = overview(month, "de", "Kreis", ISSUED)
    wb = load_workbook(write_xlsx([doc], tmp_path / "o.xlsx"))
    ws = wb.worksheets[0]
    header = next(r for r in ws.iter_rows() if r[0].value == "Kommune")
    total_col = next(c.column_letter for c in header if c.value == "Summe")
    total_row = next(r for r in ws.iter_rows(min_row=header[0].row) if r[0].value == "Summe")
    cell = ws[f"{total_col}{total_row[0].row}"]
    assert cell.value.startswith("=SUM(") and value_of(wb, cell, ws) * 100 == doc.data["statementsTotalCents"]
    facts = {r[0].value: r[1].value for r in ws.iter_rows(min_row=3, max_row=20) if r[0].value}
    assert isinstance(facts["Eingangssumme"], int | float) and isinstance(facts["Eingangszeilen"], int)


# -- PDF/A-2b ------------------------------------------------------------------------------------------------


def fonts(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    out = []
    for page in pdf.pages:
        resources = page.obj.get("/Resources", {})
        out += list(resources.get("/Font", {}).values())
        for xobj in resources.get("/XObject", {}).values():
            out += list(xobj.get("/Resources", {}).get("/Font", {}).values())
    return out


def check_pdfa(path: Path, title: str) -> None:
    pdf = pikepdf.open(path)
    used = fonts(pdf)
    assert used
    for font in used:
        name = str(font.BaseFont).lstrip("/").split("+")[-1]
        descriptor = font.get("/FontDescriptor")
        assert descriptor is not None and name.split("-")[0] not in STANDARD_14, name
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), f"{name} not embedded"
    meta = pdf.open_metadata()
    assert meta.pdfa_status == "2B"
    assert "/Filter" not in pdf.Root.Metadata  # ISO 19005-2 6.6.2.1: metadata is not compressed
    [intent] = pdf.Root.OutputIntents
    assert intent.S == "/GTS_PDFA1" and intent.DestOutputProfile.N == 3
    icc = intent.DestOutputProfile.read_bytes()
    assert icc[36:40] == b"acsp" and icc[16:20] == b"RGB " and (icc[8], icc[9] >> 4) <= (4, 2)
    assert "/Encrypt" not in pdf.trailer and len(pdf.trailer.ID) == 2
    info = pdf.docinfo  # the information dictionary equals the XMP (6.6.2.3)
    assert str(info.Title) == meta["dc:title"] == title
    assert str(info.Producer) == meta["pdf:Producer"] and str(info.Creator) == meta["xmp:CreatorTool"]
    created = str(info.CreationDate)  # D:20261206031500+00'00' and 2026-12-06T03:15:00+00:00
    assert meta["xmp:CreateDate"].startswith(
        f"{created[2:6]}-{created[6:8]}-{created[8:10]}T{created[10:12]}:{created[12:14]}:{created[14:16]}")
    assert str(pdf.Root.Lang) == "de-DE"


def test_every_pdf_embeds_its_fonts_and_declares_pdfa_2b(tmp_path, documents):
    for name, doc in documents.items():
        path = write_pdf(doc, tmp_path / f"{name}.pdf")
        check_pdfa(path, doc.title)


def test_the_annual_pdf_has_its_month_subtotals_on_page_one_or_two(tmp_path, year):
    doc = statement(year, "verl", "de", "Kreis", ISSUED)
    pdf = pikepdf.open(write_pdf(doc, tmp_path / "a.pdf"))
    first_two = b"".join(p.obj.Contents.read_bytes() for p in pdf.pages[:2])
    assert b"Monatssummen" in first_two and b"Summe" in first_two  # content streams as pikepdf decodes them
