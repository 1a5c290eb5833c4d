"""`urbanstack costs`: statements in every format, German by default, what-if, archive in S3."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from openpyxl import load_workbook
from typer.testing import CliRunner

from clikit.outdir import MARKER
from finance.cli import app
from finance.model import load_members
from finance.report import fmt_money

runner = CliRunner()
SLUGS = sorted(load_members())


@pytest.fixture(scope="module")
def default_report(tmp_path_factory) -> Path:
    """`urbanstack costs report --period 2026-10` with no other option (run in a scratch working directory)."""
    import os

    cwd = tmp_path_factory.mktemp("cwd")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(app, ["report", "--period", "2026-10"])
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    return cwd / "build" / "costs" / "2026-10"


def test_amounts_are_german_by_default_and_english_on_request():
    assert fmt_money(123456, "de") == "1.234,56 €"
    assert fmt_money(-5, "de") == "-0,05 €"
    assert fmt_money(123456, "en") == "€1,234.56"


def test_the_default_report_is_the_estimate_for_every_municipality_in_every_format(default_report):
    names = {p.name for p in default_report.iterdir()}
    for stem in [*(f"statement-{s}" for s in SLUGS), "overview"]:
        for ext in ("csv", "xlsx", "html", "pdf", "json"):
            assert f"{stem}.{ext}" in names
    assert {"focus-allocation.parquet", "focus-allocation.csv"} <= names


def test_statements_and_overview_reconcile_to_the_cent(default_report):
    over = json.loads((default_report / "overview.json").read_text(encoding="utf-8"))
    assert over["reconciled"] is True and over["unallocatedCents"] == 0
    totals = [json.loads((default_report / f"statement-{s}.json").read_text(encoding="utf-8"))["totalCents"]
              for s in SLUGS]
    assert sum(totals) == over["inputTotalCents"] == over["statementsTotalCents"]
    focus = pq.read_table(default_report / "focus-allocation.parquet").to_pylist()
    assert round(sum(Decimal(str(r["BilledCost"])) for r in focus) * 100) == over["inputTotalCents"]
    assert over["examplePrices"] is True


def test_the_german_csv_opens_in_excel_semicolon_decimal_comma_bom(default_report):
    raw = (default_report / "statement-verl.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    blank = rows.index([])
    header, rows = dict(r for r in rows[:blank] if r[0] != "Hinweis"), rows[blank + 1:]
    notes = [r[1] for r in list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))[:blank]
             if r[0] == "Hinweis"]
    # the header block says whose figures these are, for when, which cost, which key, and that prices are examples
    assert header["Kommune"] == "Verl" and header["Zeitraum"] == "Oktober 2026"
    assert header["Kostenspalte"].startswith("geschätzte Kosten")
    assert header["Verteilschlüssel"].startswith("Grundanteil nach Einwohnern, Modulanteil gleich")
    assert any(n.startswith("BEISPIELPREISE") for n in notes)
    assert rows[0][:4] == ["Monat", "Art", "Modul", "Leistung"] and rows[0][-1] == "Betrag"
    total = rows[-1]
    assert total[0] == "Summe" and "," in total[-1] and "." not in total[-1]
    statement = json.loads((default_report / "statement-verl.json").read_text(encoding="utf-8"))
    assert total[-1] == statement["totals"]["total"].replace(".", ",")


def test_the_key_is_printed_on_every_statement(default_report):
    for slug in SLUGS:
        html = (default_report / f"statement-{slug}.html").read_text(encoding="utf-8")
        assert "Verteilschlüssel" in html
        assert "Grundanteil nach Einwohnern, Modulanteil gleich unter den buchenden Kommunen" in html
        assert "Ihr Anteil" in html and "BEISPIELPREISE" in html
        assert 'src="data:image/png;base64,' in html  # the chart is embedded


def test_xlsx_holds_numbers_and_pdf_is_a_pdf(default_report):
    wb = load_workbook(default_report / "overview.xlsx")
    # the overview and every statement; a statement's long list of line items on a sheet of its own
    assert len([n for n in wb.sheetnames if not n.endswith("Positionen")]) == 1 + len(SLUGS)
    ws = wb[wb.sheetnames[0]]
    money = [c.value for row in ws.iter_rows() for c in row if c.number_format.endswith('"€"') and c.value is not None]
    assert money and all(isinstance(v, int | float) or v.startswith("=SUM(") for v in money)
    assert (default_report / "overview.pdf").read_bytes().startswith(b"%PDF")


def test_english_plain_csv_and_selected_formats(tmp_path):
    result = runner.invoke(app, ["report", "--period", "2026-01..2026-03", "--lang", "en", "--format", "csv,json",
                                 "--key", "population", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(p.suffix for p in tmp_path.iterdir() if p.name != MARKER)
    assert written == [".csv"] * (len(SLUGS) + 1) + [".json"] * (len(SLUGS) + 1)
    text = (tmp_path / "overview.csv").read_text(encoding="utf-8")
    assert text.startswith("Input total,")
    assert text.split("\n")[1] == "Period,January to March 2026"
    assert text.split("\n\n", 1)[1].startswith("Municipality,AGS,Population,Direct costs")
    stmt = json.loads((tmp_path / "statement-verl.json").read_text(encoding="utf-8"))
    assert {ln["month"] for ln in stmt["lines"]} == {"2026-01", "2026-02", "2026-03"}
    assert stmt["key"]["code"] == "population"


def test_bad_options_and_files_end_with_a_clear_message(tmp_path):
    result = runner.invoke(app, ["report", "--period", "2026-13"])
    assert result.exit_code == 1 and "--period: '2026-13' is not a month" in result.output
    result = runner.invoke(app, ["report", "--period", "2026-10", "--key", "lottery"])
    assert result.exit_code == 1 and "--key: 'lottery'" in result.output
    prices = tmp_path / "prices.yaml"
    prices.write_text("schemaVersion: 1\nexample: true\nunitPrices:\n  vcpuMonth: -1\n  ramGibMonth: x\n", encoding="utf-8")
    result = runner.invoke(app, ["report", "--period", "2026-10", "--prices", str(prices)])
    assert result.exit_code == 1
    assert f"{prices}:4: unitPrices.vcpuMonth:" in result.output
    assert f"{prices}:5: unitPrices.ramGibMonth: 'x' is not a number" in result.output
    assert "unitPrices.blockStorageGibMonth: required field is missing" in result.output


def test_simulate_shows_before_after_and_standalone(tmp_path, tenants_copy):
    new = tenants_copy / "verl.yaml"
    joining = tmp_path / "halle.yaml"
    joining.write_text(new.read_text(encoding="utf-8").replace("slug: verl", "slug: halle")
                       .replace('ags: "05754044"', 'ags: "05754012"').replace("name: Verl", "name: Halle (Westf.)")
                       .replace("urbanstack.verl.example", "urbanstack.halle.example"), encoding="utf-8")
    result = runner.invoke(app, ["simulate", "--add", str(joining), "--period", "2026-10", "--out", str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "sim" / "simulate.csv").read_text(encoding="utf-8-sig")
    note, table = text.split("\n\n", 1)  # the example-prices note first, then the table, German throughout
    assert note.startswith("Hinweis;BEISPIELPREISE: Beispielwerte des Preiskatalogs, keine Rechnung")
    assert "\nZeitraum;Oktober 2026;" in note and "\nAusgestellt am;" in note
    rows = list(csv.DictReader(io.StringIO(table), delimiter=";"))
    assert list(rows[0]) == ["Kürzel", "Kommune", "Bisher", "Nachher", "Änderung", "Allein betrieben"]
    by = {r["Kürzel"]: r for r in rows}
    assert by["halle"]["Bisher"] == "" and by["halle"]["Nachher"]
    for slug in SLUGS:  # a new member shares the platform base: everyone else pays less
        assert by[slug]["Änderung"].startswith("-")
        assert Decimal(by[slug]["Nachher"].replace(",", ".")) < Decimal(by[slug]["Allein betrieben"].replace(",", "."))
    total = by["Summe"]  # the consortium's totals and the signed difference
    assert Decimal(total["Bisher"].replace(",", ".")) == sum(Decimal(by[s]["Bisher"].replace(",", ".")) for s in SLUGS)
    assert total["Änderung"].startswith("+")  # one more member: the consortium's total grows
    assert "Summe" in result.output and "BEISPIELPREISE" in result.output and "+" in result.output
    assert "Grundanteil nach Einwohnern, Modulanteil gleich unter den buchenden Kommunen" in " ".join(result.output.split())
    assert (tmp_path / "sim" / "simulate.png").read_bytes().startswith(b"\x89PNG")
    result = runner.invoke(app, ["simulate", "--remove", "nowhere"])
    assert result.exit_code == 1 and "--remove: 'nowhere' is not a member" in result.output


def test_upload_archives_every_file_with_tenant_and_period_tags(tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="kaemmerei")
        result = runner.invoke(app, ["report", "--period", "2026-10", "--format", "json,focus", "--out", str(tmp_path),
                                     "--upload", "s3://kaemmerei/urbanstack"])
        assert result.exit_code == 0, result.output
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="kaemmerei")["Contents"]]
        assert "urbanstack/2026-10/statement-verl.json" in keys and "urbanstack/2026-10/focus-allocation.parquet" in keys
        tagset = s3.get_object_tagging(Bucket="kaemmerei", Key="urbanstack/2026-10/statement-verl.json")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tagset} == {"tenant": "verl", "period": "2026-10"}
        tagset = s3.get_object_tagging(Bucket="kaemmerei", Key="urbanstack/2026-10/overview.json")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tagset}["tenant"] == "consortium"


def test_the_costs_command_is_mounted_in_urbanstack():
    from urbanstack.cli import app as main_app

    result = runner.invoke(main_app, ["costs", "--help"])
    assert result.exit_code == 0 and "report" in result.output and "simulate" in result.output


def test_the_costs_commands_also_run_alone_as_python_m_finance_cli(tmp_path):
    # The docstring promises `python -m finance.cli`; `report` used to end in a NameError (make_source was
    # defined below the `__main__` block, so it did not exist yet when the command ran).
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "finance.cli", "report", "--period", "2026-10", "--format", "json",
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    written = {p.name for p in (tmp_path / "out").glob("*.json")}
    assert written == {"overview.json", *(f"statement-{s}.json" for s in SLUGS)}


def test_a_municipality_name_that_looks_like_a_formula_reaches_csv_and_xlsx_as_text(tmp_path):
    """Spreadsheet formula injection (OWASP "CSV Injection"): names starting with = + - @ tab or CR stay text."""
    import re
    import zipfile

    from catalogue.prices import load_prices
    from finance.allocate import allocate
    from finance.model import Key, Member, parse_period
    from finance.outputs import write_all
    from finance.simulate import SimRow, to_csv
    from finance.sources.estimate import EstimateSource

    evil = ['=HYPERLINK("http://evil.example","Rechnung")', "+49 Gemeinde", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]
    members = {f"m{i}": Member(f"m{i}", name, f"0575400{i}", 10000 + i, f"K-{i}", "small", ())
               for i, name in enumerate(evil)}
    prices = load_prices()
    a = allocate(EstimateSource(members, prices), members, Key("equal"), parse_period("2026-10"))
    written = write_all(a, tmp_path, formats=("csv", "xlsx", "focus"), lang="de", issuer="Betreiber")
    assert written
    with open(tmp_path / "overview.csv", encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh, delimiter=";") for c in row]
    for name in evil:
        assert f"'{name}" in cells and name not in cells
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)  # numbers such as -1,00 stay numbers
    focus_text = (tmp_path / "focus-allocation.csv").read_text(encoding="utf-8")
    focus_cells = [c for row in csv.reader(io.StringIO(focus_text, newline="")) for c in row]
    assert f"'{evil[0]}" in focus_cells and evil[0] not in focus_cells
    # XLSX: the exact name, stored as text with Excel's quote prefix, never as a formula
    for book in ("overview.xlsx", "statement-m0.xlsx"):
        with zipfile.ZipFile(tmp_path / book) as z:
            formulas = [f for n in z.namelist() if n.startswith("xl/worksheets/")
                        for f in re.findall(r"<f>(.*?)</f>", z.read(n).decode())]
            # the only formulas are the document's own sums and references, never a name
            assert all(re.fullmatch(r"SUM\([A-Z0-9:,]+\)|'[^']+'![A-Z]+\d+|[A-Z]+\d+", f) for f in formulas), formulas
        wb = load_workbook(tmp_path / book)
        readable = evil[:-1]  # XML reads a lone CR back as a line feed; the written cell is checked by "<f>" above
        texts = [c for ws in wb for row in ws.iter_rows() for c in row if c.value in readable]
        assert {c.value for c in texts} >= ({evil[0]} if book.startswith("statement") else set(readable))
        assert all(c.data_type == "s" and c.quotePrefix for c in texts)
    sim = to_csv([SimRow("m0", evil[0], 100, 200, 300)], "plain")
    assert f"'{evil[0]}".replace('"', '""') in sim


def _document_texts(doc) -> list[str]:
    texts = [doc.title, *(f"{k}: {v}" for k, v in doc.meta), *doc.notes, doc.chart_title,
             *(label for label, _ in doc.chart)]
    for table in doc.tables:
        texts += [table.title, *(c.header for c in table.columns)]
        texts += [str(v) for row in [*table.rows, *([table.total] if table.total else [])] for v in row
                  if isinstance(v, str)]
    return texts


def test_statements_are_german_throughout_or_english_throughout_and_name_no_repository_file():
    import re

    from catalogue.labels import PLATFORM_MODULES
    from catalogue.modules import CATALOGUE
    from catalogue.prices import load_prices
    from finance.allocate import allocate
    from finance.model import Key, parse_period
    from finance.names import NAMES
    from finance.report import statement
    from finance.sources.estimate import EstimateSource

    assert set(NAMES) >= {m.name for m in CATALOGUE.values()} | set(PLATFORM_MODULES)
    members = load_members()
    prices = load_prices()
    a = allocate(EstimateSource(members, prices), members, Key("hybrid"), parse_period("2026-10"),
                 example_prices=True)
    english_titles = ({m.title for m in CATALOGUE.values()} | set(PLATFORM_MODULES.values())) - {
        de for de, _ in NAMES.values()}  # "Geoportal (Masterportal)" is German too
    german_fixed = {f.name for f in prices.platform.fixed}
    repo_file = re.compile(r"[\w-]+/[\w./-]+|\b[\w-]+\.(py|ya?ml|md)\b")
    for slug in SLUGS:
        de = " | ".join(_document_texts(statement(a, slug, "de", "Kreis Gütersloh")))
        en = " | ".join(_document_texts(statement(a, slug, "en", "Kreis Gütersloh")))
        assert not [title for title in english_titles if title in de]
        assert "Datenvisualisierung (Apache Superset)" in de or "dashboards" not in members[slug].modules
        assert "Datenbank (PostgreSQL mit PostGIS)" in de and "Database (PostgreSQL with PostGIS)" in en
        assert not [name for name in german_fixed if name in en]
        assert "Grundanteil nach Einwohnern, Modulanteil gleich unter den buchenden Kommunen" in de
        assert "base share by population, module share equal among the booking municipalities" in en
        assert "hybrid(" not in de and "hybrid(" not in en
        assert not repo_file.search(de.replace("DCAT-AP.de", "")), repo_file.search(de)
        assert not repo_file.search(en.replace("DCAT-AP.de", "")), repo_file.search(en)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_pdf_has_total_and_key_on_page_one_page_numbers_and_no_lonely_heading(tmp_path, monkeypatch, lang):
    """Read from the uncompressed PDF: each page's text comes before its footer "page N of M"."""
    import re

    from reportlab import rl_config

    from catalogue.prices import load_prices
    from finance.allocate import allocate
    from finance.model import Key, parse_period
    from finance.render import write_pdf
    from finance.report import overview, statement
    from finance.sources.estimate import EstimateSource

    monkeypatch.setattr(rl_config, "pageCompression", 0)
    members = load_members()
    a = allocate(EstimateSource(members, load_prices()), members, Key("hybrid"), parse_period("2026-10"),
                 example_prices=True)
    words = (b"Grundanteil nach Einwohnern" if lang == "de" else b"base share by population")
    page_word = b"Seite" if lang == "de" else b"Page"
    for doc in [statement(a, "guetersloh", lang, "Kreis"), overview(a, lang, "Kreis")]:
        raw = write_pdf(doc, tmp_path / f"{doc.stem}-{lang}.pdf").read_bytes()
        footers = re.findall(rb"\(" + page_word + rb" (\d+) (?:von|of) (\d+)\)", raw)
        count = int(footers[0][1])
        assert count >= 2 and [int(n) for n, _ in footers] == list(range(1, count + 1))
        pages = re.split(rb"\(" + page_word + rb" \d+ (?:von|of) \d+\)", raw)[:count]
        total = doc.data.get("totalCents", doc.data.get("inputTotalCents"))
        amount = fmt_money(total, lang).replace("€", "").strip().encode()
        assert amount in pages[0] and words in pages[0]  # the total and the key on page 1
        shown = [tb for tb in doc.tables if tb.rows]  # an empty table is left out (the reconciliation says 0,00)
        headings = [tb.title.encode("latin-1") for tb in shown]
        for page in pages:
            for heading in headings:
                at = page.find(b"(" + heading + b")")
                if at >= 0:  # a heading is followed on its page by its table's header and at least one row
                    after = page[at:]
                    assert after.count(b"Tj") >= 2 + len(shown[headings.index(heading)].columns), heading


def test_a_report_refuses_a_folder_it_did_not_write_and_leaves_it_untouched(tmp_path):
    (tmp_path / "budget-2027.xlsx").write_text("the treasurer's own file")
    result = runner.invoke(app, ["report", "--period", "2026-10", "--format", "json", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "not written by urbanstack" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budget-2027.xlsx"]


def test_a_failed_report_leaves_the_earlier_run_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "costs"
    assert runner.invoke(app, ["report", "--period", "2026-10", "--format", "json", "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import finance.outputs

    def broken(doc, path):
        path.write_text("{half")
        raise OSError("disk full")

    monkeypatch.setattr(finance.outputs, "write_json", broken)
    result = runner.invoke(app, ["report", "--period", "2026-11", "--format", "json", "--out", str(out)])
    assert result.exit_code != 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, "the October files are untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["costs"], "no temporary folder is left behind"


def test_a_report_replaces_only_what_an_earlier_report_wrote(tmp_path):
    out = tmp_path / "costs"
    assert runner.invoke(app, ["report", "--period", "2026-10", "--format", "csv,json", "--out", str(out)]).exit_code == 0
    assert runner.invoke(app, ["report", "--period", "2026-10", "--format", "json", "--out", str(out)]).exit_code == 0
    assert not list(out.glob("*.csv")), "files of the earlier report are replaced, not mixed with the new run"
    assert {p.suffix for p in out.iterdir() if p.name != MARKER} == {".json"}
