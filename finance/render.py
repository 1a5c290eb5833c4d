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
import html
import io
import json
from decimal import Decimal
from pathlib import Path

from finance.report import Document, Table, fmt_money, fmt_number, fmt_pct, t

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
    # the header block: what the numbers are (municipality, period, cost column, key, notes), then an empty row
    for key, value in doc.meta:
        writer.writerow([spreadsheet_text(key), spreadsheet_text(value)])
    for note in doc.notes:
        writer.writerow([spreadsheet_text(doc.note_label), spreadsheet_text(note)])
    writer.writerow([])
    writer.writerow([c.header + (" %" if c.kind == "pct" else "") for c in table.columns])
    for row in [*table.rows, *([table.total] if table.total else [])]:
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
    from matplotlib.ticker import FuncFormatter

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
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;font-size:.9em}
th{background:#eef3f7;text-align:left}td.n{text-align:right;white-space:nowrap}tr.total td{font-weight:bold}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}
.note{background:#fff6e0;border-left:4px solid #f0b27a;padding:.4em .8em;margin:.4em 0}
"""


def _html_table(table: Table, doc: Document) -> str:
    out = [f"<h2>{html.escape(table.title)}</h2><table><thead><tr>"]
    out += [f"<th>{html.escape(c.header)}</th>" for c in table.columns]
    out.append("</tr></thead><tbody>")
    rows = [(r, "") for r in table.rows] + ([(table.total, "total")] if table.total else [])
    for row, cls in rows:
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for value, col in zip(row, table.columns, strict=True):
            numeric = col.kind != "text"
            text = html.escape(cell_text(value, col.kind, doc.lang, doc.currency))
            out.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def write_html(doc: Document, path: Path, png: bytes | None = None) -> Path:
    png = png if png is not None else chart_png(doc)
    meta = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in doc.meta)
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in doc.notes)
    img = (f'<img alt="{html.escape(doc.chart_title)}" src="data:image/png;base64,'
           f'{base64.b64encode(png).decode()}" style="max-width:100%">')
    tables = "".join(_html_table(tb, doc) for tb in doc.tables)
    page = (f'<!DOCTYPE html><html lang="{doc.lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(doc.title)}</h1><dl>{meta}</dl>{notes}<figure>{img}</figure>{tables}</body></html>\n")
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


def _sheet(ws, doc: Document) -> None:
    from openpyxl.styles import Font, PatternFill

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="EEF3F7")
    money_fmt = '#,##0.00 "€"' if doc.currency == "EUR" else f'#,##0.00 "{doc.currency}"'
    ws.append([doc.title])
    _text_cells(ws, ws.max_row)
    ws.cell(ws.max_row, 1).font = Font(bold=True, size=14)
    for k, v in doc.meta:
        ws.append([k, v])
        _text_cells(ws, ws.max_row)
        ws.cell(ws.max_row, 1).font = bold
    for n in doc.notes:
        ws.append([n])
        _text_cells(ws, ws.max_row)
    for table in doc.tables:
        ws.append([])
        ws.append([table.title])
        ws.cell(ws.max_row, 1).font = Font(bold=True, size=12)
        ws.append([c.header for c in table.columns])
        for i in range(1, len(table.columns) + 1):
            ws.cell(ws.max_row, i).font = bold
            ws.cell(ws.max_row, i).fill = head_fill
        for row, is_total in [*((r, False) for r in table.rows), *([(table.total, True)] if table.total else [])]:
            values = []
            for value, col in zip(row, table.columns, strict=True):
                if value is None or value == "":
                    values.append(None)
                elif col.kind == "money":
                    values.append(Decimal(int(value)) / 100)
                elif col.kind in ("pct", "qty"):
                    values.append(Decimal(value))
                else:
                    values.append(value)
            ws.append(values)
            _text_cells(ws, ws.max_row)
            for i, col in enumerate(table.columns, start=1):
                c = ws.cell(ws.max_row, i)
                if col.kind == "money":
                    c.number_format = money_fmt
                elif col.kind == "pct":
                    c.number_format = "0.00%"
                elif col.kind == "qty":
                    c.number_format = "#,##0.000"
                if is_total:
                    c.font = bold
    ws.column_dimensions["A"].width = 34
    for letter in "BCDEFGHIJK":
        ws.column_dimensions[letter].width = 18


def write_xlsx(docs: list[Document], path: Path) -> Path:
    """One sheet per document (a statement: one sheet; the overview: overview plus every statement)."""
    from openpyxl import Workbook

    wb = Workbook()
    for i, doc in enumerate(docs):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = _sheet_title(doc, i)
        _sheet(ws, doc)
    wb.save(path)
    return path


def _sheet_title(doc: Document, i: int) -> str:
    name = doc.data.get("municipality", {}).get("name") if doc.data.get("document") == "statement" else doc.title
    bad = '[]:*?/\\'
    clean = "".join("-" if ch in bad else ch for ch in str(name))[:28]
    return clean or f"Sheet{i + 1}"


# -- PDF ----------------------------------------------------------------------------------------------------


def _numbered_canvas(doc: Document):
    """A reportlab canvas that writes "Seite N von M" / "Page N of M" and the title on every page (two passes:
    the page count is known only at the end)."""
    from reportlab.lib.units import cm
    from reportlab.pdfgen.canvas import Canvas

    label = ("Seite {n} von {m}" if doc.lang == "de" else "Page {n} of {m}")

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for state in self._pages:
                self.__dict__.update(state)
                width, _ = self._pagesize
                self.setFont("Helvetica", 7.5)
                self.drawString(1.5 * cm, 0.7 * cm, doc.title)
                self.drawRightString(width - 1.5 * cm, 0.7 * cm,
                                     label.format(n=self._pageNumber, m=len(self._pages)))
                super().showPage()
            super().save()

    return NumberedCanvas


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

    png = png if png is not None else chart_png(doc)
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    big = styles["BodyText"].clone("big", fontSize=13, leading=16, spaceAfter=6)
    heading = styles["Heading2"]
    page_w, page_h = landscape(A4)
    margin = 1.5 * cm
    frame_w, frame_h = page_w - 2 * margin, page_h - 2.4 * cm - 1.2 * cm

    def table_flowable(table: Table) -> RLTable:
        data = [[Paragraph(f"<b>{html.escape(c.header)}</b>", small) for c in table.columns]]
        rows = [*table.rows, *([table.total] if table.total else [])]
        for row in rows:
            data.append([cell_text(v, c.kind, doc.lang, doc.currency) if c.kind != "text"
                         else Paragraph(html.escape(cell_text(v, c.kind, doc.lang, doc.currency)), small)
                         for v, c in zip(row, table.columns, strict=True)])
        rl = RLTable(data, repeatRows=1)
        style = [("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF3F7")),
                 ("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTSIZE", (0, 1), (-1, -1), 7.5)]
        if table.total:
            style.append(("FONTNAME", (0, len(data) - 1), (-1, len(data) - 1), "Helvetica-Bold"))
        for i, col in enumerate(table.columns):
            if col.kind != "text":
                style.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
        rl.setStyle(TableStyle(style))
        return rl

    def section(title: str, flowable) -> list:
        # a heading needs room for itself and a few rows below it, else it starts the next page
        return [CondPageBreak(3.5 * cm), Paragraph(html.escape(title), heading), flowable]

    total = doc.data.get("totalCents", doc.data.get("inputTotalCents"))
    total_label = doc.data.get("totalLabel") or (
        t(doc.lang, "total") if doc.data.get("document") == "statement" else t(doc.lang, "input_total"))
    story = [Paragraph(html.escape(doc.title), styles["Title"])]
    if total is not None:
        story.append(Paragraph(f"<b>{html.escape(total_label)}: {html.escape(fmt_money(int(total), doc.lang, doc.currency))}</b>", big))
    meta = RLTable([[Paragraph(f"<b>{html.escape(k)}</b>", small), Paragraph(html.escape(v), small)]
                    for k, v in doc.meta], colWidths=[4.5 * cm, frame_w - 4.5 * cm])
    meta.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [meta, Spacer(1, 6)]
    first, rest = ((doc.tables[0], doc.tables[1:]) if doc.data.get("document") in ("statement", "offer")
                   else (None, doc.tables))
    if first is not None:  # the statement's summary by kind, the offer's summary: on page 1 with the total
        story += section(first.title, table_flowable(first))
    story += [Spacer(1, 4), *(Paragraph(html.escape(n), small) for n in doc.notes)]
    img = Image(io.BytesIO(png))
    scale = min(frame_w / img.drawWidth, (frame_h - 2 * cm) / img.drawHeight)
    img.drawWidth, img.drawHeight = img.drawWidth * scale, img.drawHeight * scale
    story += [CondPageBreak(img.drawHeight + 0.5 * cm), Spacer(1, 6), img]  # the chart carries its own title
    for table in rest:
        if table.rows or table.total:
            story += section(table.title, table_flowable(table))
    pdf = SimpleDocTemplate(str(path), pagesize=landscape(A4), title=doc.title, author="Urban Stack",
                            leftMargin=margin, rightMargin=margin, topMargin=1.2 * cm, bottomMargin=1.2 * cm)
    pdf.build(story, canvasmaker=_numbered_canvas(doc))
    return path
