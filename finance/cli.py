"""``urbanstack costs``: cost statements per municipality, the consortium overview, what-if, FOCUS check.

Mounted by ``urbanstack/cli.py``; also runnable alone as ``python -m finance.cli``.

``urbanstack --help`` imports this module, so each command imports its machinery inside the function: the
tenant schema and price models (catalogue.tenants, catalogue.prices), duckdb and pyarrow (allocation, sources,
outputs) load only when a command runs (``tests/test_cli.py`` holds ``--help`` to that). Each such import names
what it keeps out.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from clikit.console import err, out, progress
from clikit.outdir import OutputRefused, check_target, replace_owned
from finance.focuscheck import FocusCheckError, validate

if TYPE_CHECKING:  # pragma: no cover
    from finance.sources import CostSource

app = typer.Typer(help="Cost statements per municipality: estimate, FOCUS, AWS or OpenCost; allocation keys; what-if.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

REPORT_KIND = "costs report"
"""Owner name in the output folder's marker (clikit/outdir.py): a report replaces only an earlier report."""

PeriodOpt = Annotated[str | None, typer.Option(
    "--period", help="Month (2026-10) or range of months (2026-01..2026-12); default: the previous month.")]
KeyOpt = Annotated[str | None, typer.Option(
    "--key", help="Allocation key: equal | population | usage | hybrid (default: allocation.key in the prices file).")]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of the statements: de | en.")]
PricesOpt = Annotated[Path | None, typer.Option("--prices", help="Price catalogue (default: finance/prices.yaml).")]
TenantsOpt = Annotated[list[Path] | None, typer.Option(
    "--tenants", help="Tenant files or folders (default: tenants/). Repeatable.")]
ProviderOpt = Annotated[str | None, typer.Option(
    "--provider", help="Unit prices of a cloud provider (stackit, ionos, plusserver, hetzner: "
                       "finance/prices/providers/NAME.yaml, or a file); none: those of the prices file. Default: "
                       "urban-stack:pricesProvider of stacks/Pulumi.shared.yaml (what OpenCost meters with).")]


def arrow_without_pandas() -> None:
    """Tell pyarrow once that it has no pandas to look for.

    pyarrow imports pandas, when it is installed (it is, for the benchmark's baseline), the first time it converts
    Python objects (``pa.array``), to check whether they are pandas objects: 250 modules and a second or more of a
    small report (bench/report_bench.py). The cost commands never hand pyarrow a pandas object, so pyarrow's lazy
    import (pyarrow/pandas-shim.pxi, ``_PandasAPIShim._import_pandas``: tried once per process, ImportError means
    no pandas) is answered with "not installed" before the first conversion. Nothing else is changed: ``import
    pandas`` works as before afterwards."""
    import sys

    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    class NoPandas:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "pandas":
                raise ImportError("pandas is not used by the cost commands")
            return None

    sys.meta_path.insert(0, NoPandas)  # `import pandas` raises ImportError while pyarrow looks for it
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(NoPandas)


@contextmanager
def _errors():
    """Bad input ends with the message (file and field) on stderr and exit code 1, never a traceback."""
    from catalogue.prices import PriceError  # lazy: builds the price models
    from catalogue.tenants import TenantError  # lazy: builds the tenant schema
    from finance.model import FinanceError  # lazy: builds the tenant schema (catalogue.tenants)

    try:
        yield
    except (PriceError, TenantError) as exc:
        for p in exc.problems:
            err.print(str(p), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (FinanceError, FocusCheckError, OutputRefused) as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _setup(period: str | None, prices: Path | None, tenants: list[Path] | None, key: str | None,
           provider: str | None = None, *, warn: bool = True):
    """Period, price catalogue (with the provider's unit prices), members and key. ``warn``: print the warning
    about old provider prices (reports whose amounts come from the prices: the estimate, what-if, offers)."""
    from catalogue.prices import load_prices, load_provider, with_provider  # lazy: builds the price models
    from finance.model import key_from_config, load_members, parse_period, previous_month  # lazy: tenant schema
    from finance.report import price_warnings  # lazy: duckdb (via finance.allocate)

    p = parse_period(period) if period else previous_month()
    provider = provider or configured_provider()
    catalogue = with_provider(load_prices(prices), load_provider(provider) if provider != "none" else None)
    for warning in price_warnings(catalogue) if warn else []:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    members = load_members(tenants)
    return p, catalogue, members, key_from_config(catalogue.allocation, key)


def configured_provider() -> str:
    """The shared stack's ``urban-stack:pricesProvider`` (the prices OpenCost meters with), or ``none``."""
    from catalogue.paths import STACKS  # lazy: only when no --provider is given
    from catalogue.yamlsafe import YamlError, load_yaml  # lazy: only when no --provider is given

    try:
        data = load_yaml(STACKS / "Pulumi.shared.yaml").data
    except YamlError:
        return "none"
    value = ((data or {}).get("config") or {}).get("urban-stack:pricesProvider")
    return str(value) if value else "none"


@app.command("report")
def report(
    period: PeriodOpt = None,
    source: Annotated[str, typer.Option("--source", help="estimate | focus | aws | opencost.")] = "estimate",
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="focus: FOCUS files (.csv, .csv.gz, .parquet, s3://...); opencost: JSON files or API URL, "
                        "CELL=... for a cell other than the default one (each cell's OpenCost meters its own "
                        "cluster). Repeatable.")] = None,
    key: KeyOpt = None,
    formats: Annotated[list[str] | None, typer.Option(
        "--format", help="csv, xlsx, html, pdf, json, focus (comma-separated or repeated; default: all).")] = None,
    lang: LangOpt = "de",
    csv_dialect: Annotated[str | None, typer.Option(
        "--csv", help="excel-de (';', decimal comma, UTF-8 BOM) | plain (',' and '.'); default: excel-de for "
                      "--lang de, plain for en.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder (default: build/costs/<period>).")] = None,
    upload: Annotated[str | None, typer.Option(
        "--upload", help="Also store every file in s3://bucket/prefix/<period>/ with tags tenant and period.")] = None,
    prices: PricesOpt = None,
    provider: ProviderOpt = None,
    tenants: TenantsOpt = None,
    cost_column: Annotated[str, typer.Option(
        "--cost-column", help="focus: BilledCost | EffectiveCost | ListCost | ContractedCost.")] = "BilledCost",
    tag_column: Annotated[str | None, typer.Option(
        "--tag-column", help="focus: an x_ column holding the tenant slug, instead of the Tags JSON.")] = None,
    currency: Annotated[str, typer.Option("--currency", help="opencost: currency of OpenCost's figures.")] = "EUR",
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Write statements of 0.00 for a period without cost records (otherwise an error).")] = False,
) -> None:
    """Allocate the costs of a period and write statements, overview and FOCUS dataset.

    With no options: the estimate for the municipalities in tenants/, every format, into build/costs/<period>/.
    """
    from finance.allocate import allocate  # lazy: duckdb
    from finance.archive import upload as do_upload  # lazy: duckdb, pyarrow (via finance.outputs)
    from finance.outputs import parse_formats, write_all  # lazy: duckdb, pyarrow
    from finance.report import fmt_money  # lazy: duckdb (via finance.allocate)

    with _errors():
        arrow_without_pandas()
        p, catalogue, members, k = _setup(period, prices, tenants, key, provider, warn=source == "estimate")
        target = out_dir or Path("build") / "costs" / p.label
        check_target(target, REPORT_KIND)  # refuse before the allocation, not after
        fmts = parse_formats(formats)
        options = {"cost_column": cost_column, "currency": currency}
        if tag_column:
            options["tag_column"] = tag_column
        src = make_source(source, inputs=inputs, members=members, prices=catalogue, **options)
        allocation = allocate(src, members, k, p, example_prices=catalogue.example and source == "estimate",
                              allow_empty=allow_empty)
        for warning in allocation.warnings:
            err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
        if source == "estimate":
            from finance.report import prices_text  # lazy: duckdb (via finance.allocate)

            out.print(("Preise: " if lang == "de" else "Prices: ") + prices_text(catalogue, lang, paths=True),
                      markup=False, highlight=False, soft_wrap=True)
        # Written into a temporary folder and moved in on success: a failed run never leaves an earlier run's
        # files looking like this run's output, and only what an earlier report wrote is replaced.
        # "done" comes after the files are moved in (progress is the outer context).
        with progress("costs report") as step, replace_owned(target, REPORT_KIND) as staging:
            written = write_all(allocation, staging, formats=fmts, lang=lang, csv_dialect=csv_dialect, step=step)
        written = [w.moved(staging, target) for w in written]
        table = Table(title=f"{'Kosten' if lang == 'de' else 'Costs'} {p.label} · {k.code} · {src.describe(lang)}")
        for col in ("Kommune" if lang == "de" else "Municipality", "AGS", "Summe" if lang == "de" else "Total"):
            table.add_column(col)
        for slug in sorted(members):
            table.add_row(members[slug].name, members[slug].ags, fmt_money(allocation.total_cents(slug), lang))
        unalloc = allocation.unallocated
        for ln in unalloc:
            table.add_row(f"{'nicht verteilt' if lang == 'de' else 'unallocated'}: {ln.reason}", "",
                          fmt_money(ln.cents, lang))
        table.add_row("Eingangssumme" if lang == "de" else "Input total", "", fmt_money(allocation.input_cents, lang))
        out.print(table)
        if catalogue.example and source == "estimate":
            out.print("BEISPIELPREISE (finance/prices.yaml: example: true)" if lang == "de"
                      else "EXAMPLE PRICES (finance/prices.yaml: example: true)", style="yellow")
        out.print(f"{len(written)} file(s) in {target}", markup=False)
        if upload:
            keys = do_upload(written, upload, p.label)
            out.print(f"uploaded {len(keys)} object(s) to {upload}", markup=False)


@app.command("simulate")
def simulate_cmd(
    add: Annotated[list[Path] | None, typer.Option("--add", help="Tenant file of a joining municipality. Repeatable.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Slug of a leaving municipality. Repeatable.")] = None,
    join: Annotated[str | None, typer.Option(
        "--join", help="Day the --add municipalities join (2026-10-17); that month is split by days.")] = None,
    leave: Annotated[str | None, typer.Option(
        "--leave", help="Last day of the --remove municipalities (2026-10-15); that month is split by days.")] = None,
    period: PeriodOpt = None,
    key: KeyOpt = None,
    lang: LangOpt = "de",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for table and chart (default: build/costs/simulate).")] = None,
    prices: PricesOpt = None,
    provider: ProviderOpt = None,
    tenants: TenantsOpt = None,
) -> None:
    """What-if: each member's monthly cost before and after a join or leave, and standalone (estimate)."""
    from finance.model import FinanceError  # lazy: builds the tenant schema (catalogue.tenants)
    from finance.report import fmt_money  # lazy: duckdb (via finance.allocate)
    from finance.simulate import chart, parse_day, simulate, to_csv, totals  # lazy: duckdb, pyarrow

    with _errors():
        arrow_without_pandas()
        join_day = parse_day(join, "--join") if join else None
        leave_day = parse_day(leave, "--leave") if leave else None
        day = join_day or leave_day
        if period is None and (day or _joining_day(add or [])) is not None:
            period = f"{day or _joining_day(add or []):%Y-%m}"  # the month of the change, not the month before today
        p, catalogue, members, k = _setup(period, prices, tenants, key, provider)
        if day is not None and not p.first <= day.replace(day=1) <= p.last:
            raise FinanceError(f"--join/--leave: {day.isoformat()} lies outside --period {p.label}")
        rows = simulate(members, catalogue, k, p, add=add, remove=remove, join=join_day, leave=leave_day)
        de = lang == "de"
        months = len(p.months)
        span = (f" ({months} Monate)" if de else f" ({months} months)") if months > 1 else ""
        title = ("Was wäre wenn" if de else "What-if") + f" · {p.label}{span} · {k.words(lang)}"
        table = Table(title=title)
        for col in (("Kommune", "vorher", "nachher", "Änderung", "allein") if de else
                    ("Municipality", "before", "after", "change", "standalone")):
            table.add_column(col, justify="left" if col in ("Kommune", "Municipality") else "right")

        def money(c: int | None, signed: bool = False) -> str:
            if c is None:
                return "–"
            text = fmt_money(c, lang, catalogue.currency)
            return f"+{text}" if signed and c > 0 else text

        for r in rows:
            table.add_row(r.name, money(r.before), money(r.after), money(r.change, True), money(r.standalone))
        tot = totals(rows)
        table.add_row("Summe" if de else "Total", money(tot.before), money(tot.after), money(tot.change, True), "")
        out.print(table)
        from finance.report import prices_text  # lazy: duckdb (via finance.allocate)

        out.print(("Preise: " if de else "Prices: ") + prices_text(catalogue, lang, paths=True), markup=False,
                  highlight=False, soft_wrap=True)
        if catalogue.example:
            out.print("BEISPIELPREISE: Die Beträge beruhen auf Beispielwerten und sind keine Rechnung." if de
                      else "EXAMPLE PRICES: the amounts are based on example values; this is not an invoice.",
                      style="yellow")
        target = out_dir or Path("build") / "costs" / "simulate"
        dialect = "excel-de" if de else "plain"
        with replace_owned(target, "costs simulate") as staging:
            (staging / "simulate.csv").write_text(to_csv(rows, dialect, example=catalogue.example, period=p, key=k,
                                                                      issued=dt.date.today()),
                                                  encoding="utf-8-sig" if de else "utf-8", newline="")
            (staging / "simulate.png").write_bytes(chart(rows, lang, catalogue.currency))
        out.print(f"table and chart in {target}", markup=False)


@app.command("offer")
def offer_cmd(
    tenant: Annotated[Path, typer.Option("--tenant", help="Tenant file of a municipality that is not yet a member.")],
    provider: ProviderOpt = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: build/costs/offer-<slug>).")] = None,
    period: Annotated[str | None, typer.Option(
        "--period", help="Month whose membership and prices are used (2026-10); default: the previous month.")] = None,
    key: KeyOpt = None,
    lang: LangOpt = "de",
    prices: PricesOpt = None,
    tenants: TenantsOpt = None,
) -> None:
    """An offer for a municipality that considers joining: its monthly share at today's membership (each key),
    everyone else's change, and what the same modules would cost it alone, per provider (PDF, HTML, CSV)."""
    from catalogue.prices import load_prices  # lazy: builds the price models
    from finance.offer import document, make_offer  # lazy: duckdb (via finance.allocate)
    from finance.outputs import operator_name  # lazy: duckdb, pyarrow
    from finance.render import chart_png, write_csv, write_html, write_pdf  # lazy: matplotlib, reportlab
    from finance.report import fmt_money  # lazy: duckdb (via finance.allocate)

    with _errors():
        arrow_without_pandas()
        if lang not in ("de", "en"):
            from finance.model import FinanceError  # lazy: builds the tenant schema (catalogue.tenants)

            raise FinanceError(f"--lang: {lang!r} is not de or en")
        p, catalogue, members, k = _setup(period, prices, tenants, key, provider)
        offer = make_offer(tenant, members, catalogue, load_prices(prices), k, p.first)
        slug = offer.candidate.slug
        target = out_dir or Path("build") / "costs" / f"offer-{slug}"
        check_target(target, "costs offer")
        doc = document(offer, lang, operator_name())
        with replace_owned(target, "costs offer") as staging:
            png = chart_png(doc)
            base = staging / doc.stem
            write_pdf(doc, base.with_suffix(".pdf"), png)
            write_html(doc, base.with_suffix(".html"), png)
            dialect = "excel-de" if lang == "de" else "plain"
            for index, suffix in ((2, ""), (1, "-schluessel" if lang == "de" else "-keys"),
                                  (3, "-mitglieder" if lang == "de" else "-members")):
                write_csv(replace(doc, main=index), staging / f"{doc.stem}{suffix}.csv", dialect)
        de = lang == "de"
        c = offer.candidate
        out.print(f"{c.name}: {fmt_money(offer.share, lang)} {'im Monat' if de else 'a month'} "
                  f"({'allein' if de else 'alone'}: {fmt_money(offer.chosen.standalone, lang)}); "
                  f"{'Angebot in' if de else 'offer in'} {target}", markup=False, highlight=False, soft_wrap=True)


def _joining_day(add: list[Path]):
    """The earliest ``memberSince`` of the ``--add`` files that lies in this month or later (a municipality that
    ``tenants new`` wrote joins on the first day of next month): the default period of the what-if is that month."""
    import datetime as dt

    from catalogue.tenants import TenantError, load_tenant  # lazy: builds the tenant schema

    days = []
    for path in add:
        try:
            since = load_tenant(path).memberSince
        except TenantError:
            continue  # reported with the simulation
        if since is not None and since >= dt.date.today().replace(day=1):
            days.append(since)
    return min(days, default=None)


@app.command("focus-check")
def focus_check(
    parquet: Annotated[Path, typer.Argument(help="A FOCUS Parquet file, e.g. build/costs/2026-10/focus-allocation.parquet.")],
) -> None:
    """Validate a FOCUS dataset with focus-validator 1.0.0 (creates .venv-focus when missing)."""
    problem = _not_parquet(parquet)
    if problem:
        err.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    try:
        result = validate(parquet)
    except FocusCheckError as exc:
        # One line: what failed and the validator's last word, never its traceback.
        first, *rest = str(exc).splitlines() or [""]
        last = next((ln.strip() for ln in reversed(rest) if ln.strip()), "")
        err.print(f"{first.rstrip(':')}{': ' + last if last else ''}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    s = result.summary
    out.print(f"focus-validator 1.0.0 (rules 1.0): {len(s.get('passed', []))} passed, {len(s.get('failed', []))} failed, "
              f"{len(s.get('errored', []))} errored, {len(s.get('skipped', []))} skipped "
              f"(finance/focus-validator.yaml)", markup=False)
    for f in result.failed:
        err.print(f"{parquet}: {f['column']}: {f['check']}: {f['description']} {f.get('error') or ''}", markup=False)
    if not result.ok:
        raise typer.Exit(1)


def _not_parquet(path: Path) -> str | None:
    """Why ``path`` cannot be a Parquet file (one line), or None. Parquet files begin and end with ``PAR1``."""
    if not path.exists():
        return f"{path}: no such file; focus-check reads a FOCUS Parquet file such as " \
               "build/costs/<period>/focus-allocation.parquet (written by `urbanstack costs report`)"
    if not path.is_file():
        return f"{path}: not a file; give the FOCUS Parquet file itself"
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"PAR1":
        kind = "a CSV or text file" if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "not Parquet"
        return (f"{path}: {kind}, not a Parquet file; focus-check validates the FOCUS Parquet dataset "
                "(focus-allocation.parquet from `urbanstack costs report`); a provider's FOCUS CSV is read with "
                f"`urbanstack costs report --source focus --input {path}`")
    return None


def make_source(name: str, *, inputs: list[str] | None = None, members=None, prices=None, **options) -> CostSource:
    """The source called ``name`` with its inputs (files or URLs) and options."""
    if name == "estimate":
        from finance.sources.estimate import EstimateSource  # lazy: duckdb, pyarrow

        return EstimateSource(members=members, prices=prices)
    if name == "focus":
        from finance.sources.focus import FocusSource  # lazy: duckdb, pyarrow

        return FocusSource(inputs or [], **{k: v for k, v in options.items() if k in ("cost_column", "tag_column", "s3_client")})
    if name == "aws":
        from finance.model import load_cells  # lazy: builds the tenant schema (catalogue.tenants)
        from finance.sources.aws import AwsCostExplorerSource  # lazy: duckdb, pyarrow

        return AwsCostExplorerSource(cells=load_cells(),
                                     **{k: v for k, v in options.items() if k in ("client", "tag_key", "metric")})
    if name == "opencost":
        from finance.model import load_cells  # lazy: builds the tenant schema (catalogue.tenants)
        from finance.sources.opencost import OpenCostSource  # lazy: duckdb, pyarrow

        return OpenCostSource(inputs or [], cells=load_cells(),
                              **{k: v for k, v in options.items() if k in ("currency",)})
    from finance.model import FinanceError  # lazy: builds the tenant schema (catalogue.tenants)

    raise FinanceError(f"--source: {name!r} is not one of estimate, focus, aws, opencost")


if __name__ == "__main__":  # pragma: no cover
    app()
