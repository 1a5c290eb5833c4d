"""The ``focus`` source: FOCUS 1.x billing exports (CSV, gzip CSV, Parquet; local paths or ``s3://``).

Each row is attributed by its ``urban-stack/tenant`` tag, read from the FOCUS ``Tags`` column (a JSON object,
or a MAP in Parquet) or, with ``tag_column``, from a custom ``x_`` column that holds the tenant directly.

Everything runs in DuckDB: one streaming, columnar pass reads the files, checks every row and aggregates them
to a few hundred groups; no input row becomes a Python object. ``s3://`` objects are downloaded with boto3 to a
temporary file first (no DuckDB extension download needed).

Row rules (docs/finance.md). Every error names the file, the column, the rows (CSV: line numbers, the header
is line 1; Parquet: row numbers from 1) and the values; nothing is allocated when there is one:

* required columns: the cost column (``BilledCost`` by default), ``BillingCurrency``, ``ChargePeriodStart``,
  ``ServiceName`` and ``Tags`` (or the ``tag_column``) -> otherwise an error naming the file and the columns;
* a cost that is empty or not a number -> error;
* a negative cost -> error, unless ``ChargeCategory`` is ``Credit`` or ``Adjustment`` or ``ChargeClass`` is
  ``Correction`` (FOCUS's ways of saying money comes back);
* an unreadable ``ChargePeriodStart`` -> error;
* ``Tags`` that is not empty and not a JSON object -> error (FOCUS 1.2: Tags is a JSON object);
* a charge outside the period -> left out, with a warning naming the file, the rows and the amount;
* the same file twice (identical content), or the same row in two files (identical in every column) -> error;
* the cell tag ``urban-stack/cell`` names the cell whose cluster the cost belongs to (``global``: none; missing:
  the default cell);
* tenant tag ``shared`` -> shared; ``__idle__`` or ``CommitmentDiscountStatus = 'Unused'`` -> idle; missing, empty or
  ``__unallocated__`` -> untagged; any other value -> direct (an unknown value is reported by the allocator);
* an empty file or one with no rows -> error.

Before any of that, the input is bounded (``finance/sources/limits.py``, docs/finance.md "Input limits"): file
size, inflated size, lines and line length are checked in one streaming pass that stops at the first limit, and
every value an error quotes is cut to a readable length.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import duckdb

from catalogue import labels
from finance.model import IDLE_TAGS, UNTAGGED_TAGS, FinanceError, Period
from finance.sources import limits

REQUIRED = ("BillingCurrency", "ChargePeriodStart", "ServiceName")
CREDIT_CATEGORIES = ("Credit", "Adjustment")
SHOWN_ROWS = 10
"""How many row numbers an error or warning lists (then "and N more")."""


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _json_path(key: str) -> str:
    return _lit('$."' + key.replace('"', '\\"') + '"')


class FocusSource:
    """FOCUS billing exports attributed by the tenant tag."""

    name = "focus"

    def __init__(self, inputs: list[str | Path], cost_column: str = "BilledCost", tag_column: str | None = None,
                 s3_client=None):
        if not inputs:
            raise FinanceError("--source focus needs at least one --input file (CSV, .csv.gz, Parquet or s3://...)")
        if cost_column not in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            raise FinanceError(f"cost column {cost_column!r}: use BilledCost, EffectiveCost, ListCost or ContractedCost")
        if tag_column is not None and not tag_column.startswith("x_"):
            raise FinanceError(f"tag column {tag_column!r}: custom FOCUS columns start with 'x_'")
        self.inputs = [str(i) for i in inputs]
        self.cost_column = cost_column
        self.tag_column = tag_column
        self._s3 = s3_client
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._local_cache: dict[str, Path] = {}
        self.warnings: list[str] = []
        """Rows left out (outside the period), set by :meth:`load`; the allocator passes them on."""

    def describe(self, lang: str = "de") -> str:
        names = ", ".join(os.path.basename(i) or i for i in self.inputs)
        return f"FOCUS-Abrechnungsdaten: {names}" if lang == "de" else f"FOCUS billing export: {names}"

    # -- files --------------------------------------------------------------------------------------------
    def _local(self, ref: str) -> Path:
        path = self._local_cache.get(ref)
        if path is None:
            path = self._local_cache[ref] = self._fetch(ref)
        return path

    def _fetch(self, ref: str) -> Path:
        if not ref.startswith("s3://"):
            path = Path(ref)
            if not path.is_file():
                raise FinanceError(f"{ref}: no such file")
            return path
        bucket, _, key = ref[5:].partition("/")
        if not bucket or not key:
            raise FinanceError(f"{ref}: expected s3://bucket/key")
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="urbanstack-focus-")
        target = Path(self._tmp.name) / f"{len(os.listdir(self._tmp.name))}-{os.path.basename(key)}"
        client = self._s3
        if client is None:
            import boto3

            client = boto3.client("s3")
        try:
            size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except Exception as exc:  # botocore raises many kinds; name the object either way
            raise FinanceError(f"{ref}: cannot download: {limits.cut(str(exc))}") from None
        limits.check_size(ref, int(size))  # before a byte is downloaded
        try:
            client.download_file(bucket, key, str(target))
        except Exception as exc:  # botocore raises many kinds; name the object either way
            raise FinanceError(f"{ref}: cannot download: {limits.cut(str(exc))}") from None
        return target

    @staticmethod
    def _reader(path: Path) -> str:
        name = path.name.lower()
        p = _lit(str(path))
        if name.endswith(".parquet"):
            return f"read_parquet({p})"
        if name.endswith((".csv", ".csv.gz", ".csv.gzip")):
            return (f"read_csv({p}, header=true, all_varchar=true, auto_detect=true, "
                    f"max_line_size={limits.MAX_LINE_BYTES})")
        raise FinanceError(f"{path.name}: unknown file type: use .csv, .csv.gz or .parquet")

    def _check_file(self, con: duckdb.DuckDBPyConnection, ref: str, path: Path) -> tuple[str, dict[str, str]]:
        size = path.stat().st_size
        if size == 0:
            raise FinanceError(f"{ref}: empty file")
        reader = self._reader(path)
        limits.check_size(ref, size)
        if reader.startswith("read_parquet"):
            limits.check_parquet(ref, path)
        else:
            limits.scan_csv(ref, path, compressed=path.name.lower().endswith((".gz", ".gzip")))
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        except duckdb.Error as exc:
            raise FinanceError(f"{ref}: cannot read as {'Parquet' if 'parquet' in reader else 'CSV'}: "
                               f"{limits.cut(str(exc))}") from None
        types = {row[0]: row[1] for row in described}
        needed = [self.cost_column, *REQUIRED, self.tag_column or "Tags"]
        missing = [c for c in needed if c not in types]
        if missing:
            found = [limits.shown(c)[1:-1] if len(c) > 40 else c for c in list(types)[:30]]
            more = f" and {len(types) - 30} more" if len(types) > 30 else ""
            raise FinanceError(f"{ref}: missing FOCUS column(s) {', '.join(missing)} "
                               f"(found: {', '.join(found) or 'none'}{more})")
        return reader, types

    # -- the query ----------------------------------------------------------------------------------------
    def _select(self, reader: str, types: dict[str, str], ref: str) -> tuple[str, str, str, str]:
        """``(SELECT over one file, idle tag list, untagged tag list, credit categories)`` as SQL."""
        q = _quote_ident

        def col(name: str) -> str:
            return f"CAST({q(name)} AS VARCHAR)" if name in types else "NULL"

        cost_raw = col(self.cost_column)
        if self.tag_column:
            tenant = f"NULLIF(TRIM({col(self.tag_column)}), '')"
            module = "NULL"
            cell = "NULL"
            tags_ok = "TRUE"
        elif types["Tags"].startswith("MAP"):
            tenant = f"{q('Tags')}[{_lit(labels.TENANT)}]"
            module = f"{q('Tags')}[{_lit(labels.MODULE)}]"
            cell = f"{q('Tags')}[{_lit(labels.CELL)}]"
            tags_ok = "TRUE"
        else:
            tags = col("Tags")
            tags_ok = f"({tags} IS NULL OR TRIM({tags}) = '' OR (json_valid({tags}) AND LTRIM({tags}) LIKE '{{%'))"
            # DuckDB may evaluate both branches of a CASE: hand json_extract_string only valid JSON.
            safe = f"(CASE WHEN {tags_ok} AND {tags} IS NOT NULL AND TRIM({tags}) <> '' THEN {tags} ELSE '{{}}' END)"
            # One JSON parse per row for all three tags (a list of paths), instead of one per tag.
            both = (f"json_extract_string({safe}, [{_json_path(labels.TENANT)}, {_json_path(labels.MODULE)}, "
                    f"{_json_path(labels.CELL)}])")
            tenant = f"{both}[1]"
            module = f"{both}[2]"
            cell = f"{both}[3]"
        idle_tags = ", ".join(_lit(t) for t in IDLE_TAGS)
        untagged = ", ".join(_lit(t) for t in UNTAGGED_TAGS)
        credit = ", ".join(_lit(c) for c in CREDIT_CATEGORIES)
        status = col("CommitmentDiscountStatus")
        return f"""
            SELECT
              {_lit(ref)} AS file,
              {cost_raw} AS cost_raw,
              TRY_CAST(TRIM({cost_raw}) AS DECIMAL(38,10)) AS cost,
              NULLIF(TRIM({col('BillingCurrency')}), '') AS currency,
              {col('ChargePeriodStart')} AS start_raw,
              TRY_CAST({col('ChargePeriodStart')} AS TIMESTAMPTZ) AS start_ts,
              {col('ChargeCategory')} AS category,
              {col('ChargeClass')} AS charge_class,
              {tags_ok} AS tags_ok,
              {col('Tags') if not self.tag_column else 'NULL'} AS tags_raw,
              {tenant} AS tag,
              {module} AS module,
              NULLIF(TRIM({cell}), '') AS cell,
              COALESCE(NULLIF(TRIM({col('ServiceName')}), ''), '(no ServiceName)') AS service,
              COALESCE({col('ServiceCategory')}, 'Other') AS service_category,
              {status} AS commitment_status
            FROM {reader}
        """, idle_tags, untagged, credit

    def load(self, con: duckdb.DuckDBPyConnection, period: Period) -> duckdb.DuckDBPyRelation:
        self.warnings = []
        files: dict[str, tuple[str, dict[str, str], bool]] = {}
        digests: dict[str, str] = {}
        for ref in self.inputs:
            path = self._local(ref)
            digest = _sha256(path)
            if digest in digests:
                raise FinanceError(f"{ref}: the same file as {digests[digest]} (identical content, sha256 "
                                   f"{digest[:16]}…): each export may be given once")
            digests[digest] = ref
            reader, types = self._check_file(con, ref, path)
            select, idle_tags, untagged, credit = self._select(reader, types, ref)
            files[ref] = (select, types, reader.startswith("read_csv"))
        union = " UNION ALL BY NAME ".join(f"({sel})" for sel, _, _ in files.values())
        in_period = (f"(start_ts IS NULL OR (start_ts >= TIMESTAMPTZ {_lit(period.start.isoformat())} "
                     f"AND start_ts < TIMESTAMPTZ {_lit(period.end.isoformat())}))")
        kind = f"""CASE
              WHEN COALESCE(commitment_status, '') = 'Unused' OR tag IN ({idle_tags}) THEN 'idle'
              WHEN tag IS NULL OR TRIM(tag) IN ({untagged}) THEN 'untagged'
              WHEN tag = {_lit(labels.SHARED_TENANT)} THEN 'shared'
              ELSE 'direct'
            END"""
        sql = f"""
            CREATE OR REPLACE TEMP TABLE focus_groups AS
            WITH src AS ({union}),
            classified AS (
              SELECT *, {self._problem(credit)} AS problem, {kind} AS kind, {in_period} AS in_period FROM src
            )
            SELECT
              problem,
              in_period,
              CASE WHEN problem IS NOT NULL OR NOT in_period THEN file END AS bad_file,
              CAST(date_trunc('month', start_ts) AS DATE) AS charge_month,
              kind,
              CASE WHEN kind = 'direct' THEN tag END AS tenant,
              module, service, service_category,
              NULL::VARCHAR AS resource,
              NULL::DECIMAL(38,6) AS quantity,
              currency,
              SUM(cost) AS cost,
              COUNT(*) AS rows,
              NULL::VARCHAR AS reason,
              cell
            FROM classified
            GROUP BY ALL
        """
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise FinanceError(f"{', '.join(self.inputs)}: cannot read: {limits.cut(str(exc))}") from None
        self._raise_problems(con, files, credit)
        if con.execute("SELECT COALESCE(SUM(rows), 0) FROM focus_groups").fetchall()[0][0] == 0:
            raise FinanceError(f"{', '.join(self.inputs)}: no cost rows (the file has only a header)")
        if len(files) > 1:
            self._raise_duplicate_rows(con, files)
        self._warn_outside(con, files, in_period, period)
        return con.sql("SELECT charge_month, kind, tenant, module, service, service_category, resource, quantity, "
                       "currency, cost, rows, reason, cell FROM focus_groups WHERE in_period")

    def _problem(self, credit: str) -> str:
        """SQL: what is wrong with a row of a file's SELECT, or NULL."""
        return f"""CASE
              WHEN cost IS NULL AND (cost_raw IS NULL OR TRIM(cost_raw) = '') THEN 'empty'
              WHEN cost IS NULL THEN 'not a number'
              WHEN start_ts IS NULL THEN 'bad ChargePeriodStart'
              WHEN NOT tags_ok THEN 'bad Tags'
              WHEN cost < 0 AND COALESCE(category, '') NOT IN ({credit}) AND COALESCE(charge_class, '') <> 'Correction'
                THEN 'negative'
            END"""

    @staticmethod
    def _numbered(select: str) -> str:
        """The file's SELECT with ``row_no``: 1 for the first row after the header (DuckDB keeps file order)."""
        return f"(SELECT row_number() OVER () AS row_no, * FROM ({select}))"

    @staticmethod
    def _where(rows: list[int], count: int, csv: bool) -> str:
        """``lines 2, 5, 9`` (CSV: header = line 1) or ``rows 1, 4, 8`` (Parquet), with "and N more"."""
        shown = ", ".join(str(r + 1 if csv else r) for r in rows)
        more = f" and {count - len(rows)} more" if count > len(rows) else ""
        return f"{'line' if csv else 'row'}{'s' if count > 1 else ''} {shown}{more}"

    def _raise_problems(self, con: duckdb.DuckDBPyConnection, files: dict, credit: str) -> None:
        found = con.execute("""
            SELECT problem, bad_file, SUM(rows) FROM focus_groups
            WHERE problem IS NOT NULL GROUP BY ALL ORDER BY 2, 1
        """).fetchall()
        if not found:
            return
        column = {"bad ChargePeriodStart": "ChargePeriodStart", "bad Tags": "Tags"}
        value = {"bad ChargePeriodStart": "start_raw", "bad Tags": "tags_raw"}
        what = {
            "empty": "no value",
            "not a number": "not a number",
            "bad ChargePeriodStart": "not an ISO 8601 date-time",
            "bad Tags": "not a JSON object (FOCUS: Tags is a JSON object of key-value pairs)",
            "negative": "a negative cost although ChargeCategory is not Credit/Adjustment and ChargeClass is "
                        "not Correction",
        }
        msgs = []
        for problem, ref, count in found:
            select, _, csv = files[ref]
            rows = con.execute(
                f"SELECT row_no, {value.get(problem, 'cost_raw')} FROM {self._numbered(select)} "
                f"WHERE ({self._problem(credit)}) = {_lit(problem)} ORDER BY row_no LIMIT {SHOWN_ROWS}"
            ).fetchall()
            values = ", ".join(dict.fromkeys(limits.shown(v) for _, v in rows))
            msgs.append(f"{ref}: {column.get(problem, self.cost_column)}: {self._where([r for r, _ in rows], count, csv)}: "
                        f"{what[problem]}" + (f": {values}" if problem != "empty" else ""))
        raise FinanceError("\n".join(msgs))

    def _raise_duplicate_rows(self, con: duckdb.DuckDBPyConnection, files: dict) -> None:
        """The same row (identical in every column) in two files: overlapping exports would be counted twice."""
        parts = []
        for ref, (_, types, _) in files.items():
            cols = ", ".join(f"COALESCE(CAST({_quote_ident(c)} AS VARCHAR), chr(30))" for c in sorted(types))
            reader = self._reader_of(ref)
            parts.append(f"SELECT {_lit(ref)} AS file, row_number() OVER () AS row_no, "
                         f"md5(concat_ws(chr(31), {cols})) AS identity FROM {reader}")
        rows = con.execute(f"""
            WITH h AS ({" UNION ALL ".join(f"({p})" for p in parts)}),
            d AS (SELECT identity FROM h GROUP BY identity HAVING COUNT(DISTINCT file) > 1)
            SELECT file, COUNT(*), list(row_no ORDER BY row_no)[1:{SHOWN_ROWS}] FROM h JOIN d USING (identity)
            GROUP BY file ORDER BY file
        """).fetchall()
        if rows:
            where = "; ".join(f"{ref}: {self._where(list(nos), n, files[ref][2])}" for ref, n, nos in rows)
            raise FinanceError(f"the same rows (identical in every column) appear in more than one file, so they "
                               f"would be counted twice: {where}. Give each export once, or remove the overlap.")

    def _reader_of(self, ref: str) -> str:
        return self._reader(self._local_cache[ref])

    def _warn_outside(self, con: duckdb.DuckDBPyConnection, files: dict, in_period: str, period: Period) -> None:
        found = con.execute("""
            SELECT bad_file, SUM(rows), SUM(cost), MIN(charge_month), MAX(charge_month), ANY_VALUE(currency)
            FROM focus_groups WHERE NOT in_period GROUP BY ALL ORDER BY 1
        """).fetchall()
        for ref, count, cost, first, last, currency in found:
            select, _, csv = files[ref]
            rows = [r for (r,) in con.execute(
                f"SELECT row_no FROM {self._numbered(select)} WHERE NOT {in_period} ORDER BY row_no "
                f"LIMIT {SHOWN_ROWS}").fetchall()]
            months = f"{first:%Y-%m}" if first == last else f"{first:%Y-%m}..{last:%Y-%m}"
            verbs = "lie outside" if count > 1 else "lies outside"
            left = "are left out" if count > 1 else "is left out"
            self.warnings.append(f"{ref}: ChargePeriodStart: {self._where(rows, count, csv)} {verbs} "
                                 f"{period.label} (charge months {months}) and {left}: "
                                 f"{cost.normalize():f} {currency or ''}".rstrip())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
