"""Write every output of a cost report for one period into a folder (default ``build/costs/<period>/``).

=============================== ===========================================================================
``statement-<slug>.<fmt>``       one statement per municipality (csv, xlsx, html, pdf, json)
``overview.<fmt>``               the consortium overview (csv, xlsx with every statement as a sheet, html, pdf,
                                 json)
``focus-allocation.parquet``     the FOCUS allocation dataset (``focus`` format; also as ``.csv``)
=============================== ===========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from catalogue.paths import ROOT
from catalogue.yamlsafe import YamlError, load_yaml
from finance import focus_export
from finance.allocate import Allocation
from finance.model import FinanceError
from finance.render import FORMATS, chart_png, write_csv, write_html, write_json, write_pdf, write_xlsx
from finance.report import overview, statement

ALL_FORMATS = (*FORMATS, "focus")
SHARED_STACK_CONFIG = ROOT / "stacks" / "Pulumi.shared.yaml"
DEFAULT_ISSUER = "Urban Stack platform operator"


def operator_name(config: Path = SHARED_STACK_CONFIG) -> str:
    """The platform operator (``urban-stack:operatorName`` of the shared stack): issuer on every statement."""
    try:
        data = load_yaml(config).data
    except YamlError:
        return DEFAULT_ISSUER
    value = ((data or {}).get("config") or {}).get("urban-stack:operatorName")
    return str(value) if value else DEFAULT_ISSUER


@dataclass
class Written:
    tenant: str | None
    """Municipality slug, or None for consortium-wide files."""
    path: Path

    def moved(self, old: Path, new: Path) -> Written:
        """The same file after its folder ``old`` was moved to ``new``."""
        return Written(self.tenant, new / self.path.relative_to(old))


def parse_formats(text: str | list[str] | None) -> tuple[str, ...]:
    if not text:
        return ALL_FORMATS
    items = text if isinstance(text, list) else [text]
    out: list[str] = []
    for item in items:
        out.extend(x.strip().lower() for x in item.split(",") if x.strip())
    bad = [f for f in out if f not in ALL_FORMATS]
    if bad:
        raise FinanceError(f"--format: {', '.join(bad)} unknown; use {', '.join(ALL_FORMATS)} (comma-separated)")
    return tuple(dict.fromkeys(out))


def write_all(a: Allocation, out_dir: Path, *, formats: tuple[str, ...] = ALL_FORMATS, lang: str = "de",
              csv_dialect: str | None = None, issuer: str | None = None, issued=None,
              step: Callable[[str, int], None] = lambda name, total: None) -> list[Written]:
    """Write the statements, the overview and the FOCUS dataset; return what was written.

    ``issued``: the date of issue printed on every document (default today). ``step(document, total)`` is called
    as each document starts (progress of a long run)."""
    if lang not in ("de", "en"):
        raise FinanceError(f"--lang: {lang!r} is not de or en")
    issuer = issuer or operator_name()
    dialect = csv_dialect or ("excel-de" if lang == "de" else "plain")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Written] = []
    docs = [(slug, statement(a, slug, lang, issuer, issued)) for slug in sorted(a.members)]
    over = overview(a, lang, issuer, issued)
    for slug, doc in [*docs, (None, over)]:
        step(doc.stem, len(docs) + 1)
        png = chart_png(doc) if {"html", "pdf"} & set(formats) else None
        base = out_dir / doc.stem
        if "csv" in formats:
            written.append(Written(slug, write_csv(doc, base.with_suffix(".csv"), dialect)))
        if "xlsx" in formats:
            sheets = [doc] if slug else [over, *(d for _, d in docs)]
            written.append(Written(slug, write_xlsx(sheets, base.with_suffix(".xlsx"))))
        if "html" in formats:
            written.append(Written(slug, write_html(doc, base.with_suffix(".html"), png)))
        if "pdf" in formats:
            written.append(Written(slug, write_pdf(doc, base.with_suffix(".pdf"), png)))
        if "json" in formats:
            written.append(Written(slug, write_json(doc, base.with_suffix(".json"))))
    if "focus" in formats:
        for path in focus_export.write(a, issuer, out_dir):
            written.append(Written(None, path))
    return written
