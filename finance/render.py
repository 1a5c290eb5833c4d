"""Writers for :class:`finance.report.Document`: CSV, XLSX, HTML (with chart), PDF (with chart), JSON.

* CSV: a header block (the document's facts and notes: municipality, period, cost column, key, example-prices
  note; one ``name;value`` row each), an empty row, then the document's main table. ``excel-de`` (default for ``--lang de``): ``;`` separator, decimal comma, UTF-8
  BOM, so German Excel opens it correctly by double-click; ``plain``: ``,`` and ``.`` (RFC 4180), UTF-8.
  Amounts are plain numbers (no currency sign, no thousands separator).
* XLSX (openpyxl): header facts, notes and every table on one sheet; amounts are numbers with a currency format.
* HTML: self-contained page, the chart embedded as a PNG data URI (matplotlib).
* PDF (reportlab): the same content and chart.
* JSON: the document's ``data`` (amounts as decimal strings and integer cents, never floats).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import functools
import html
import io
import json
from decimal import Decimal
from pathlib import Path

from finance.report import Document, Table, day_words, fmt_money, fmt_month, fmt_number, fmt_pct, t

FORMATS = ("csv", "xlsx", "html", "pdf", "json")
KIND_COLORS = {"direct": "#1f5f8b", "shared": "#7fb3d5", "untagged": "#f0b27a", "idle": "#bfbfbf",
               "amount": "#1f5f8b"}


# -- cells --------------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""Characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection")."""


def spreadsheet_text(text: str) -> str:
    """A text for a CSV cell that a spreadsheet shows as text: a leading ``'`` before ``= + - @``, tab or CR (a
    municipality called ``=HYPERLINK(...)`` must not become a formula). Numbers are written by :func:`csv_cell`
    and never pass through here."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def cell_text(value, kind: str, lang: str, currency: str) -> str:
    """A cell for people (HTML, PDF)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # a subtotal's or total's label in a month column
        return value
    if kind == "month":
        return fmt_month(value, lang)
    if kind == "money":
        return fmt_money(int(value), lang, currency)
    if kind == "pct":
        return fmt_pct(Decimal(value), lang)
    if kind == "qty":
        return fmt_number(Decimal(value), lang, 3)
    if kind == "int":
        return fmt_number(Decimal(value), lang, 0)
    return str(value)


def csv_cell(value, kind: str, dialect: str) -> str:
    """A cell for machines and spreadsheets: plain numbers; decimal comma for ``excel-de``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return spreadsheet_text(value)
    if kind == "month":  # German: Oktober 2026 (Excel-de reads it as a date); plain: 2026-10
        return fmt_month(value, "de") if dialect == "excel-de" else value.strftime("%Y-%m")
    if kind == "money":
        text = f"{Decimal(int(value)) / 100:.2f}"
    elif kind == "pct":
        text = f"{Decimal(value) * 100:.4f}"
    elif kind == "qty":
        text = f"{Decimal(value):.3f}"
    elif kind == "int":
        text = str(int(value))
    else:
        return spreadsheet_text(str(value))
    return text.replace(".", ",") if dialect == "excel-de" else text


# -- CSV ----------------------------------------------------------------------------------------------------


def write_csv(doc: Document, path: Path, dialect: str = "excel-de") -> Path:
    if dialect not in ("excel-de", "plain"):
        raise ValueError(f"CSV dialect {dialect!r}: use excel-de or plain")
    table = doc.tables[doc.main]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";" if dialect == "excel-de" else ",", lineterminator="\r\n")
    # the header block: the total first, then what the numbers are (municipality, period, dates, cost column, key,
    # notes; over several months each month's subtotal), then an empty row
    if doc.total_cents is not None:
        writer.writerow([spreadsheet_text(doc.total_label), csv_cell(doc.total_cents, "money", dialect)])
    for key, value in doc.meta:
        kind, figure = doc.figures.get(key, ("text", value))  # population, input total: numbers, as in the table
        writer.writerow([spreadsheet_text(key), csv_cell(figure, kind, dialect) if kind in ("int", "money")
                         else spreadsheet_text(value)])
    for tb in doc.tables:
        if tb.title == t(doc.lang, "months") and tb is not table:
            for row in tb.rows:  # the month subtotals table
                writer.writerow([spreadsheet_text(f"{t(doc.lang, 'month_total')} {fmt_month(row[0], doc.lang)}"),
                                 csv_cell(row[-1], "money", dialect)])
    for note in doc.notes:
        writer.writerow([spreadsheet_text(doc.note_label), spreadsheet_text(note)])
    writer.writerow([])
    writer.writerow([c.header + (" %" if c.kind == "pct" else "") for c in table.columns])
    subtotals = set(table.subtotals)  # left out: a column's sum stays the total
    rows = [r for i, r in enumerate(table.rows) if i not in subtotals]
    for row in [*rows, *([table.total] if table.total else [])]:
        writer.writerow([csv_cell(v, c.kind, dialect) for v, c in zip(row, table.columns, strict=True)])
    path.write_text(buf.getvalue(), encoding="utf-8-sig" if dialect == "excel-de" else "utf-8", newline="")
    return path


# -- JSON ---------------------------------------------------------------------------------------------------


def write_json(doc: Document, path: Path) -> Path:
    path.write_text(json.dumps(doc.data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# -- chart --------------------------------------------------------------------------------------------------


def chart_png(doc: Document, dpi: int = 110) -> bytes:
    """Horizontal (stacked) bars of the document's chart data, as PNG."""
    # matplotlib's object API with the Agg canvas, not pyplot: pyplot's import (backend selection, the global
    # figure manager) is a third of matplotlib's start-up and nothing here needs it (bench/report_bench.py).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    labels = [label for label, _ in doc.chart] or ["–"]
    series = list(doc.chart[0][1]) if doc.chart else ["amount"]
    width, height = 11, 1.4 + 0.3 * len(labels)
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    try:
        left = [0.0] * len(labels)
        for s in series:
            values = [float(Decimal(d.get(s, 0)) / 100) for _, d in doc.chart] or [0.0]
            name = t(doc.lang, s) if s in ("direct", "shared", "untagged", "idle") else t(doc.lang, "amount")
            ax.barh(labels, values, left=left, color=KIND_COLORS.get(s, "#1f5f8b"), label=name)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_title(doc.chart_title)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: axis_money(v, doc.lang, doc.currency)))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6))  # "1.000 €" labels need room: at most six
        if len(series) > 1:
            ax.legend(loc="lower right", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        # Fixed margins from the longest label instead of tight_layout(), which measures every text by drawing
        # it (a third of each chart's time, bench/report_bench.py): DejaVu Sans at 10 pt is at most ~0.085 in per
        # character; the title and the axis ticks need ~0.45 in each.
        label_in = 0.25 + 0.085 * max(len(str(x)) for x in labels)
        fig.subplots_adjust(left=min(0.6, label_in / width), right=0.98, top=1 - 0.45 / height,
                            bottom=0.45 / height)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=dpi)
        return out.getvalue()
    finally:
        fig.clear()


def axis_money(value: float, lang: str, currency: str) -> str:
    """Axis tick: whole currency units, ``6.000 €`` (de) or ``€6,000`` (en)."""
    text = fmt_number(Decimal(round(value)), lang, 0)
    symbol = "€" if currency == "EUR" else currency
    return f"{text} {symbol}" if lang == "de" or symbol != "€" else f"{symbol}{text}"


# -- HTML ---------------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .4em;font-size:.8em}
th{background:#eef3f7;text-align:left;position:sticky;top:0}td.n{text-align:right;white-space:nowrap}
tr.total td{font-weight:bold}tr.sub td{font-weight:bold;background:#f6f8fa}
p.total{font-size:1.25em;font-weight:bold;margin:.3em 0 1em}div.wide{overflow-x:auto}
table.many td,table.many th{font-size:.7em;padding:.15em .3em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}
.note{background:#fff6e0;border-left:4px solid #f0b27a;padding:.4em .8em;margin:.4em 0}
"""


def _html_table(table: Table, doc: Document) -> str:
    many = ' class="many"' if len(table.columns) > 10 else ""  # service x twelve months: smaller, to fit a page
    out = [f'<h2>{html.escape(table.title)}</h2><div class="wide"><table{many}><thead><tr>']
    out += [f"<th>{html.escape(c.header)}</th>" for c in table.columns]
    out.append("</tr></thead><tbody>")
    subtotals = set(table.subtotals)
    rows = [(r, "sub" if i in subtotals else "") for i, r in enumerate(table.rows)]
    rows += [(table.total, "total")] if table.total else []
    for row, cls in rows:
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for value, col in zip(row, table.columns, strict=True):
            numeric = col.kind not in ("text", "month")
            text = html.escape(cell_text(value, col.kind, doc.lang, doc.currency))
            out.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def write_html(doc: Document, path: Path, png: bytes | None = None) -> Path:
    png = png if png is not None else chart_png(doc)
    meta = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in doc.meta)
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in doc.notes)
    img = (f'<img alt="{html.escape(doc.chart_title)}" src="data:image/png;base64,'
           f'{base64.b64encode(png).decode()}" style="max-width:100%">')
    tables = "".join(_html_table(tb, doc) for tb in doc.tables)
    total = (f'<p class="total">{html.escape(doc.total_label)}: '
             f"{html.escape(fmt_money(doc.total_cents, doc.lang, doc.currency))}</p>"
             if doc.total_cents is not None else "")
    page = (f'<!DOCTYPE html><html lang="{doc.lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(doc.title)}</h1>{total}<dl>{meta}</dl>{notes}<figure>{img}</figure>{tables}"
            "</body></html>\n")
    path.write_text(page, encoding="utf-8")
    return path


# -- XLSX ---------------------------------------------------------------------------------------------------


def _text_cells(ws, row: int) -> None:
    """Text cells of ``row`` that start like a formula stay text: string type and Excel's quote prefix (openpyxl
    would otherwise store ``=...`` as a formula)."""
    for c in ws[row]:
        if isinstance(c.value, str) and c.value.startswith(FORMULA_START):
            c.data_type = "s"
            c.quotePrefix = True


LONG_TABLE = 30
"""A main table with more rows than this gets its own sheet, its header row frozen (the line items)."""


def _xlsx_value(value, kind: str):
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if kind == "money":
        return Decimal(int(value)) / 100
    if kind in ("pct", "qty"):
        return Decimal(value)
    return value


def _formats(doc: Document) -> dict[str, str]:
    money = '#,##0.00 "€"' if doc.currency == "EUR" else f'#,##0.00 "{doc.currency}"'
    de = doc.lang == "de"
    return {"money": money, "pct": "0.00%", "qty": "#,##0.000", "int": "#,##0", "month": "MMMM YYYY",
            "date": "DD.MM.YYYY" if de else "YYYY-MM-DD"}


def _write_table(ws, table: Table, doc: Document, *, title: bool = True) -> tuple[int, str] | None:
    """Append ``table`` to ``ws``: numbers as numbers, sums as formulas (a month's subtotal sums its rows, the
    total sums the subtotals or the column, a row's total sums its amounts). Returns the total cell (row, column
    letter of the last money column), if any."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    fmt = _formats(doc)
    if title:
        ws.append([table.title])
        ws.cell(ws.max_row, 1).font = Font(bold=True, size=12)
    ws.append([c.header for c in table.columns])
    head = ws.max_row
    for i in range(1, len(table.columns) + 1):
        ws.cell(head, i).font = bold
        ws.cell(head, i).fill = PatternFill("solid", fgColor="EEF3F7")
    numeric = {i for i, c in enumerate(table.columns) if c.kind in ("money", "int", "qty", "pct")}
    # a row's total: the sum of the money columns right before it (kinds, months)
    total_col = next((i for i, c in enumerate(table.columns) if c.key == "total" and c.kind == "money"), None)
    row_sum = None
    if total_col is not None:
        first = total_col
        while first > 0 and table.columns[first - 1].kind == "money":
            first -= 1
        if total_col - first >= 2:
            row_sum = (get_column_letter(first + 1), get_column_letter(total_col))
    subtotals = set(table.subtotals)
    start, sub_rows = head + 1, []
    rows = [*((r, "sub" if i in subtotals else "") for i, r in enumerate(table.rows)),
            *([(table.total, "total")] if table.total else [])]
    for row, what in rows:
        ws.append([_xlsx_value(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
        r = ws.max_row
        _text_cells(ws, r)
        for i, col in enumerate(table.columns):
            c = ws.cell(r, i + 1)
            letter = get_column_letter(i + 1)
            if what == "sub" and i in numeric and c.value is not None:
                c.value = f"=SUM({letter}{start}:{letter}{r - 1})"
            elif what == "total" and i in numeric and c.value is not None:
                c.value = (f"=SUM({','.join(f'{letter}{x}' for x in sub_rows)})" if sub_rows
                           else f"=SUM({letter}{head + 1}:{letter}{r - 1})")
            elif row_sum and i == total_col and what != "total":
                c.value = f"=SUM({row_sum[0]}{r}:{row_sum[1]}{r})"
            if col.kind in fmt and not isinstance(row[i], str):
                c.number_format = fmt[col.kind]
            if what:
                c.font = bold
        if what == "sub":
            sub_rows.append(r)
            start = r + 1
    money_cols = [i for i, c in enumerate(table.columns) if c.kind == "money"]
    if table.total and money_cols:
        return ws.max_row, get_column_letter(money_cols[-1] + 1)
    return None


def _widths(ws) -> None:
    """Column widths from the longest value (capped): headers and amounts readable without widening by hand."""
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=2):
        for c in row:
            if c.value is None or (isinstance(c.value, str) and c.value.startswith("=")):
                length = 14
            elif isinstance(c.value, str):
                length = len(c.value) + 2
            else:
                length = 16
            widths[c.column] = max(widths.get(c.column, 10), min(length, 60))
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = width


def _sheet(ws, doc: Document, lines_ws=None) -> None:
    """The document on ``ws``: title, the total (a formula on the main table's total), the facts (numbers and dates
    typed), the notes and the tables; the main table on ``lines_ws`` when given (its header row frozen)."""
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    fmt = _formats(doc)
    ws.append([doc.title])
    _text_cells(ws, ws.max_row)
    ws.cell(ws.max_row, 1).font = Font(bold=True, size=14)
    total_row = None
    if doc.total_cents is not None:
        ws.append([doc.total_label, Decimal(doc.total_cents) / 100])
        total_row = ws.max_row
        ws.cell(total_row, 1).font = Font(bold=True, size=12)
        ws.cell(total_row, 2).font = Font(bold=True, size=12)
        ws.cell(total_row, 2).number_format = fmt["money"]
    ws.freeze_panes = ws.cell(ws.max_row + 1, 1)  # title and total stay in view
    for k, v in doc.meta:
        kind, value = doc.figures.get(k, ("text", v))
        ws.append([k, _xlsx_value(value, kind)])
        _text_cells(ws, ws.max_row)
        ws.cell(ws.max_row, 1).font = bold
        ws.cell(ws.max_row, 2).alignment = Alignment(horizontal="left", wrap_text=kind == "text")
        if kind in fmt:
            ws.cell(ws.max_row, 2).number_format = fmt[kind]
    for n in doc.notes:
        ws.append([n])
        _text_cells(ws, ws.max_row)
    main_total = None
    for i, table in enumerate(doc.tables):
        if i == doc.main and lines_ws is not None:
            cell = _write_table(lines_ws, table, doc, title=False)
            lines_ws.freeze_panes = "B2"
            _widths(lines_ws)
            sheet = lines_ws.title.replace("'", "''")
            main_total = cell and f"'{sheet}'!{cell[1]}{cell[0]}"
            continue
        ws.append([])
        cell = _write_table(ws, table, doc)
        if i == doc.main and cell:
            main_total = f"{cell[1]}{cell[0]}"
    if total_row is not None and main_total and doc.data.get("document") == "statement":
        ws.cell(total_row, 2).value = f"={main_total}"
    _widths(ws)
    ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, 30)
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width or 0, 18)


def write_xlsx(docs: list[Document], path: Path) -> Path:
    """One sheet per document (a statement: one sheet; the overview: overview plus every statement); a long main
    table (the line items) on a sheet of its own after its document's sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    for i, doc in enumerate(docs):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = _sheet_title(doc, i)
        main = doc.tables[doc.main]
        lines_ws = None
        if len(main.rows) > LONG_TABLE:
            lines_ws = wb.create_sheet()
            lines_ws.title = f"{ws.title[:31 - len(main.title) - 3]} – {main.title}"[:31]
        _sheet(ws, doc, lines_ws)
    wb.calculation.fullCalcOnLoad = True  # the sums are formulas without stored results: computed on opening
    wb.save(path)
    return path


def _sheet_title(doc: Document, i: int) -> str:
    name = doc.data.get("municipality", {}).get("name") if doc.data.get("document") == "statement" else doc.title
    bad = '[]:*?/\\'
    clean = "".join("-" if ch in bad else ch for ch in str(name))[:28]
    return clean or f"Sheet{i + 1}"


# -- PDF ----------------------------------------------------------------------------------------------------

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
"""Embedded in every PDF (PDF/A forbids the 14 standard fonts unembedded): DejaVu Sans, the TTF files matplotlib
ships in ``mpl-data/fonts/ttf`` (a pinned dependency already; licence: LICENSE_DEJAVU next to them)."""


def _register_fonts() -> None:
    from matplotlib import get_data_path
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    ttf = Path(get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(ttf / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(ttf / "DejaVuSans-Bold.ttf")))
    for bold, italic in ((0, 0), (0, 1)):
        addMapping(FONT, bold, italic, FONT)
    for bold, italic in ((1, 0), (1, 1)):
        addMapping(FONT, bold, italic, FONT_BOLD)


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile for the PDF/A output intent, made by LittleCMS in Pillow (a matplotlib dependency).
    Its header says version 4.4; PDF/A-2 (ISO 32000-1) names ICC.1:2004-10, version 4.2: the header is set to
    4.2 (the profile has no ID checksum, bytes 84-99 are zero, and uses no tag newer than 4.2)."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    if data[84:100] == bytes(16):
        data[8:12] = bytes((4, 0x20, 0, 0))
    return bytes(data)


def _xmp(title: str, author: str, creator: str, producer: str, stamp: str, lang: str) -> bytes:
    """XMP metadata declaring PDF/A-2b (pdfaid:part 2, conformance B), equal to the document information
    dictionary (ISO 19005-2, 6.6.2.3)."""
    e = html.escape
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(title)}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{e(author)}</rdf:li></rdf:Seq></dc:creator>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(title)}</rdf:li></rdf:Alt></dc:description>
<dc:language><rdf:Bag><rdf:li>{lang}</rdf:li></rdf:Bag></dc:language>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
<xmp:CreatorTool>{e(creator)}</xmp:CreatorTool><xmp:CreateDate>{stamp}</xmp:CreateDate>
<xmp:ModifyDate>{stamp}</xmp:ModifyDate><xmp:MetadataDate>{stamp}</xmp:MetadataDate>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
<pdf:Producer>{e(producer)}</pdf:Producer><pdf:Keywords></pdf:Keywords><pdf:Trapped>False</pdf:Trapped>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


PDF_CREATOR = "Urban Stack (urbanstack costs)"
PDF_PRODUCER = "ReportLab"


def _make_pdfa(canvas, doc: Document) -> None:
    """Make the document PDF/A-2b before it is written: sRGB output intent, XMP metadata (uncompressed, as
    ISO 19005-2 6.6.2.1 asks), document language. Fonts are embedded by using only :data:`FONT`."""
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream, PDFString

    pdf = canvas._doc
    ts = pdf._timeStamp
    y, mo, d, h, mi, sec = ts.YMDhms
    stamp = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}{ts.dhh:+03d}:{ts.dmm:02d}"
    info = pdf.info
    info.creator, info.producer, info.subject, info.keywords = PDF_CREATOR, PDF_PRODUCER, doc.title, ""
    class Uncompressed(PDFStream):
        """A stream without a Filter key (reportlab writes ``/Filter []`` for an empty filter list)."""

        def format(self, document):
            saved, document.defaultStreamFilters = document.defaultStreamFilters, None
            try:
                return super().format(document)
            finally:
                document.defaultStreamFilters = saved

    icc = PDFStream(PDFDictionary({"N": 3}), srgb_profile())
    intent = PDFDictionary({"Type": PDFName("OutputIntent"), "S": PDFName("GTS_PDFA1"),
                            "OutputConditionIdentifier": PDFString("sRGB IEC61966-2.1"),
                            "Info": PDFString("sRGB IEC61966-2.1"), "DestOutputProfile": pdf.Reference(icc)})
    meta = Uncompressed(PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
                        _xmp(info.title, info.author, PDF_CREATOR, PDF_PRODUCER, stamp,
                             "de-DE" if doc.lang == "de" else "en"))
    catalog = pdf.Catalog
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, "OutputIntents"]
    catalog.OutputIntents = PDFArray([intent])
    catalog.Metadata = meta
    catalog.Lang = PDFString("de-DE" if doc.lang == "de" else "en")


def _numbered_canvas(doc: Document):
    """A reportlab canvas that writes "Seite N von M" / "Page N of M", the title and the date of issue on every
    page (two passes: the page count is known only at the end), and makes the file PDF/A-2b."""
    from reportlab.lib.units import cm
    from reportlab.pdfgen.canvas import Canvas

    label = ("Seite {n} von {m}" if doc.lang == "de" else "Page {n} of {m}")
    issued = doc.data.get("issued") or doc.data.get("asOf")
    footer = doc.title
    if issued:
        day = day_words(dt.date.fromisoformat(issued), doc.lang)
        footer += f" · {t(doc.lang, 'issued')} {day}"

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            # reportlab's initial font is Helvetica (one of the 14 standard fonts, never embedded)
            super().__init__(*args, **{**kwargs, "initialFontName": FONT})
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for state in self._pages:
                self.__dict__.update(state)
                width, _ = self._pagesize
                self.setFont(FONT, 7.5)
                self.drawString(1.5 * cm, 0.7 * cm, footer)
                self.drawRightString(width - 1.5 * cm, 0.7 * cm,
                                     label.format(n=self._pageNumber, m=len(self._pages)))
                super().showPage()
            _make_pdfa(self, doc)
            super().save()

    return NumberedCanvas


def _rgb_png(png: bytes) -> bytes:
    """The chart without its alpha channel (a soft mask PDF/A-2 would allow, but nothing needs)."""
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(png)) as im:
        if im.mode == "RGB":
            return png
        out = io.BytesIO()
        im.convert("RGB").save(out, format="PNG")
        return out.getvalue()


def write_pdf(doc: Document, path: Path, png: bytes | None = None) -> Path:
    """Landscape A4. Page 1: title, the total, the facts (key included), the summary table and the notes; then the
    chart, scaled to fit a page, and the tables. A heading never stands alone at the bottom of a page (a page
    break comes first when less than a few rows fit below it); every page carries "page N of M"."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import CondPageBreak, Image, Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as RLTable

    png = _rgb_png(png if png is not None else chart_png(doc))
    _register_fonts()
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9, fontName=FONT)
    big = styles["BodyText"].clone("big", fontSize=13, leading=16, spaceAfter=6, fontName=FONT)
    heading = styles["Heading2"].clone("heading", fontName=FONT_BOLD)
    title_style = styles["Title"].clone("title", fontName=FONT_BOLD)
    page_w, page_h = landscape(A4)
    margin = 1.5 * cm
    frame_w, frame_h = page_w - 2 * margin, page_h - 2.4 * cm - 1.2 * cm

    def table_flowable(table: Table) -> RLTable:
        data = [[Paragraph(f"<b>{html.escape(c.header)}</b>", small) for c in table.columns]]
        rows = [*table.rows, *([table.total] if table.total else [])]
        for row in rows:
            data.append([cell_text(v, c.kind, doc.lang, doc.currency) if c.kind not in ("text", "month")
                         else Paragraph(html.escape(cell_text(v, c.kind, doc.lang, doc.currency)), small)
                         for v, c in zip(row, table.columns, strict=True)])
        wide = len(table.columns) > 10  # Leistung x twelve months: every amount column the same width, a smaller font
        widths = ([4.2 * cm, *[(frame_w - 4.2 * cm) / (len(table.columns) - 1)] * (len(table.columns) - 1)]
                  if wide else None)
        rl = RLTable(data, colWidths=widths, repeatRows=1)
        style = [("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF3F7")),
                 ("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), FONT),
                 ("FONTSIZE", (0, 1), (-1, -1), 6.5 if wide else 7.5)]
        if wide:
            style += [("LEFTPADDING", (1, 0), (-1, -1), 2), ("RIGHTPADDING", (1, 0), (-1, -1), 2)]
        for i in table.subtotals:
            style += [("FONTNAME", (0, i + 1), (-1, i + 1), FONT_BOLD),
                      ("BACKGROUND", (0, i + 1), (-1, i + 1), colors.HexColor("#F6F8FA"))]
        if table.total:
            style.append(("FONTNAME", (0, len(data) - 1), (-1, len(data) - 1), FONT_BOLD))
        for i, col in enumerate(table.columns):
            if col.kind != "text":
                style.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
        rl.setStyle(TableStyle(style))
        return rl

    def section(title: str, flowable) -> list:
        # a heading needs room for itself and a few rows below it, else it starts the next page
        return [CondPageBreak(3.5 * cm), Paragraph(html.escape(title), heading), flowable]

    story = [Paragraph(html.escape(doc.title), title_style)]
    if doc.total_cents is not None:
        amount = fmt_money(doc.total_cents, doc.lang, doc.currency)
        story.append(Paragraph(f"<b>{html.escape(doc.total_label)}: {html.escape(amount)}</b>", big))
    meta = RLTable([[Paragraph(f"<b>{html.escape(k)}</b>", small), Paragraph(html.escape(v), small)]
                    for k, v in doc.meta], colWidths=[4.5 * cm, frame_w - 4.5 * cm])
    meta.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), FONT)]))
    story += [meta, Spacer(1, 6)]
    # page 1: the statement's summary by kind, the offer's summary, the overview's members, with the total
    first, rest = doc.tables[0], doc.tables[1:]
    ranged = [tb for tb in rest if tb.title == t(doc.lang, "months")]  # over several months: the subtotals next
    rest = [tb for tb in rest if tb not in ranged]
    for tb in [first, *ranged]:
        story += section(tb.title, table_flowable(tb))
    story += [Spacer(1, 4), *(Paragraph(html.escape(n), small) for n in doc.notes)]
    img = Image(io.BytesIO(png))
    scale = min(frame_w / img.drawWidth, (frame_h - 2 * cm) / img.drawHeight)
    img.drawWidth, img.drawHeight = img.drawWidth * scale, img.drawHeight * scale
    story += [CondPageBreak(img.drawHeight + 0.5 * cm), Spacer(1, 6), img]  # the chart carries its own title
    for table in rest:
        if table.rows:  # an empty table (nothing unallocated): the reconciliation says 0,00 €
            story += section(table.title, table_flowable(table))
    pdf = SimpleDocTemplate(str(path), pagesize=landscape(A4), title=doc.title, author=doc.data.get("issuer") or
                            "Urban Stack", subject=doc.title, creator=PDF_CREATOR, producer=PDF_PRODUCER,
                            leftMargin=margin, rightMargin=margin, topMargin=1.2 * cm, bottomMargin=1.2 * cm)
    pdf.build(story, canvasmaker=_numbered_canvas(doc))
    return path
