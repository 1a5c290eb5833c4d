"""The ``focus`` source: FOCUS 1.x billing exports (CSV, gzip CSV, Parquet; local paths or ``s3://``).

Each row is attributed by its ``urban-stack/tenant`` tag, read from the FOCUS ``Tags`` column (a JSON object,
or a MAP in Parquet) or, with ``tag_column``, from a custom ``x_`` column that holds the tenant directly.

Everything runs in DuckDB: one streaming, columnar pass reads the files, checks every row and aggregates them
to a few hundred groups; no input row becomes a Python object. ``s3://`` objects are downloaded with boto3 to a
temporary file first (no DuckDB extension download needed).

Row rules (docs/finance.md):

* required columns: the cost column (``BilledCost`` by default), ``BillingCurrency``, ``ChargePeriodStart``,
  ``ServiceName`` and ``Tags`` (or the ``tag_column``) -> otherwise an error naming the file and the columns;
* a cost that is empty or not a number -> error naming the file, the column, the count and an example;
* a negative cost -> error, unless ``ChargeCategory`` is ``Credit`` or ``Adjustment`` or ``ChargeClass`` is
  ``Correction`` (FOCUS's ways of saying money comes back);
* an unreadable ``ChargePeriodStart`` -> error; a charge month outside the period -> unallocated line;
* ``Tags`` that is not a JSON object -> unallocated line with the reason;
* tenant tag ``shared`` -> shared; ``__idle__`` or ``CommitmentDiscountStatus = 'Unused'`` -> idle; missing, empty or
  ``__unallocated__`` -> untagged; any other value -> direct (an unknown value is reported by the allocator);
* an empty file or one with no rows -> error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from finance.model import IDLE_TAGS, MODULE_TAG, SHARED_TAG, TENANT_TAG, UNTAGGED_TAGS, FinanceError, Period

REQUIRED = ("BillingCurrency", "ChargePeriodStart", "ServiceName")
CREDIT_CATEGORIES = ("Credit", "Adjustment")


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

    def describe(self, lang: str = "de") -> str:
        names = ", ".join(os.path.basename(i) or i for i in self.inputs)
        return f"FOCUS-Abrechnungsdaten: {names}" if lang == "de" else f"FOCUS billing export: {names}"

    # -- files --------------------------------------------------------------------------------------------
    def _local(self, ref: str) -> Path:
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
            client.download_file(bucket, key, str(target))
        except Exception as exc:  # botocore raises many kinds; name the object either way
            raise FinanceError(f"{ref}: cannot download: {exc}") from None
        return target

    @staticmethod
    def _reader(path: Path) -> str:
        name = path.name.lower()
        p = _lit(str(path))
        if name.endswith(".parquet"):
            return f"read_parquet({p})"
        if name.endswith((".csv", ".csv.gz", ".csv.gzip")):
            return f"read_csv({p}, header=true, all_varchar=true, auto_detect=true)"
        raise FinanceError(f"{path.name}: unknown file type: use .csv, .csv.gz or .parquet")

    def _check_file(self, con: duckdb.DuckDBPyConnection, ref: str, path: Path) -> tuple[str, dict[str, str]]:
        if path.stat().st_size == 0:
            raise FinanceError(f"{ref}: empty file")
        reader = self._reader(path)
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        except duckdb.Error as exc:
            raise FinanceError(f"{ref}: cannot read as {'Parquet' if 'parquet' in reader else 'CSV'}: "
                               f"{str(exc).splitlines()[0]}") from None
        types = {row[0]: row[1] for row in described}
        needed = [self.cost_column, *REQUIRED, self.tag_column or "Tags"]
        missing = [c for c in needed if c not in types]
        if missing:
            raise FinanceError(f"{ref}: missing FOCUS column(s) {', '.join(missing)} "
                               f"(found: {', '.join(types) or 'none'})")
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
            tags_ok = "TRUE"
        elif types["Tags"].startswith("MAP"):
            tenant = f"{q('Tags')}[{_lit(TENANT_TAG)}]"
            module = f"{q('Tags')}[{_lit(MODULE_TAG)}]"
            tags_ok = "TRUE"
        else:
            tags = col("Tags")
            tags_ok = f"({tags} IS NULL OR TRIM({tags}) = '' OR (json_valid({tags}) AND LTRIM({tags}) LIKE '{{%'))"
            # DuckDB may evaluate both branches of a CASE: hand json_extract_string only valid JSON.
            safe = f"(CASE WHEN {tags_ok} AND {tags} IS NOT NULL AND TRIM({tags}) <> '' THEN {tags} ELSE '{{}}' END)"
            # One JSON parse per row for both tags (a list of paths), instead of one per tag.
            both = f"json_extract_string({safe}, [{_json_path(TENANT_TAG)}, {_json_path(MODULE_TAG)}])"
            tenant = f"{both}[1]"
            module = f"{both}[2]"
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
              COALESCE(NULLIF(TRIM({col('ServiceName')}), ''), '(no ServiceName)') AS service,
              COALESCE({col('ServiceCategory')}, 'Other') AS service_category,
              {status} AS commitment_status
            FROM {reader}
        """, idle_tags, untagged, credit

    def load(self, con: duckdb.DuckDBPyConnection, period: Period) -> duckdb.DuckDBPyRelation:
        parts, idle_tags, untagged, credit = [], "", "", ""
        for ref in self.inputs:
            path = self._local(ref)
            reader, types = self._check_file(con, ref, path)
            select, idle_tags, untagged, credit = self._select(reader, types, ref)
            parts.append(select)
        union = " UNION ALL BY NAME ".join(f"({p})" for p in parts)
        problem = f"""CASE
              WHEN cost IS NULL AND (cost_raw IS NULL OR TRIM(cost_raw) = '') THEN 'empty'
              WHEN cost IS NULL THEN 'not a number'
              WHEN start_ts IS NULL THEN 'bad ChargePeriodStart'
              WHEN cost < 0 AND COALESCE(category, '') NOT IN ({credit}) AND COALESCE(charge_class, '') <> 'Correction'
                THEN 'negative'
            END"""
        kind = f"""CASE
              WHEN NOT tags_ok THEN 'unallocated'
              WHEN COALESCE(commitment_status, '') = 'Unused' OR tag IN ({idle_tags}) THEN 'idle'
              WHEN tag IS NULL OR TRIM(tag) IN ({untagged}) THEN 'untagged'
              WHEN tag = {_lit(SHARED_TAG)} THEN 'shared'
              ELSE 'direct'
            END"""
        sql = f"""
            CREATE OR REPLACE TEMP TABLE focus_groups AS
            WITH src AS ({union}),
            classified AS (
              SELECT *, {problem} AS problem, {kind} AS kind FROM src
            )
            SELECT
              problem,
              CAST(date_trunc('month', start_ts) AS DATE) AS charge_month,
              kind,
              CASE WHEN kind = 'direct' THEN tag END AS tenant,
              module, service, service_category,
              NULL::VARCHAR AS resource,
              NULL::DECIMAL(38,6) AS quantity,
              currency,
              SUM(cost) AS cost,
              COUNT(*) AS rows,
              CASE WHEN kind = 'unallocated' THEN 'Tags is not a JSON object' END AS reason,
              ANY_VALUE(file) AS example_file,
              ANY_VALUE(CASE WHEN problem = 'bad ChargePeriodStart' THEN start_raw
                             WHEN kind = 'unallocated' THEN tags_raw
                             ELSE cost_raw END) AS example
            FROM classified
            GROUP BY ALL
        """
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise FinanceError(f"{', '.join(self.inputs)}: cannot read: {str(exc).splitlines()[0]}") from None
        self._raise_problems(con)
        rel = con.sql("SELECT charge_month, kind, tenant, module, service, service_category, resource, quantity, "
                      "currency, cost, rows, reason FROM focus_groups")
        if con.execute("SELECT COALESCE(SUM(rows), 0) FROM focus_groups").fetchall()[0][0] == 0:
            raise FinanceError(f"{', '.join(self.inputs)}: no cost rows (the file has only a header)")
        return rel

    def _raise_problems(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute("""
            SELECT problem, example_file, SUM(rows), ANY_VALUE(example) FROM focus_groups
            WHERE problem IS NOT NULL GROUP BY ALL ORDER BY 1, 2
        """).fetchall()
        if not rows:
            return
        msgs = []
        for problem, file, count, example in rows:
            if problem == "bad ChargePeriodStart":
                msgs.append(f"{file}: ChargePeriodStart: {count} row(s) without a readable ISO 8601 date-time, "
                            f"e.g. {example!r}")
            elif problem == "negative":
                msgs.append(f"{file}: {self.cost_column}: {count} row(s) with a negative cost although "
                            f"ChargeCategory is not Credit/Adjustment and ChargeClass is not Correction, "
                            f"e.g. {example!r}")
            elif problem == "empty":
                msgs.append(f"{file}: {self.cost_column}: {count} row(s) without a value")
            else:
                msgs.append(f"{file}: {self.cost_column}: {count} row(s) that are not a number, e.g. {example!r}")
        raise FinanceError("\n".join(msgs))
