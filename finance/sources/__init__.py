"""Cost sources: one interface, four implementations.

Every source turns its input into a DuckDB relation with the columns of :data:`RECORD_COLUMNS`
(one row per cost record; large sources may already return aggregated rows). The allocator
(:mod:`finance.allocate`) aggregates that relation in DuckDB, so no source has to load its rows into Python.

=============== ==================================================================================
``estimate``    declared requests, volumes and bucket quota of every municipality x prices (default)
``focus``       FOCUS 1.x billing exports: CSV, gzip CSV, Parquet; local paths or ``s3://``
``aws``         AWS Cost Explorer ``get_cost_and_usage`` grouped by the tenant cost-allocation tag
``opencost``    OpenCost ``/allocation`` results aggregated by ``label:urban-stack/tenant``
=============== ==================================================================================

Columns of a record:

* ``charge_month`` (DATE): first day of the month the charge belongs to (UTC);
* ``kind``: ``direct`` (tenant tag set), ``shared``, ``untagged``, ``idle`` or ``unallocated`` (the source
  already knows it cannot be charged; ``reason`` says why);
* ``tenant``: the tenant tag value for ``direct`` records (may be unknown: the allocator reports it);
* ``module``, ``service``, ``service_category``, ``resource``, ``quantity``: what the cost is for;
* ``currency``, ``cost`` (DECIMAL(38,10), never a float), ``rows`` (input rows in the record);
* ``cell``: the cell whose cluster the cost belongs to (billing tag ``urban-stack/cell``; ``global``: a cost of no
  single cell; NULL: the default cell). It matters for shared, untagged and idle costs, which are split among
  the members of that cell (docs/finance.md, "Zellen").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import duckdb
import pyarrow as pa

from finance.model import Period

COST_TYPE = pa.decimal128(38, 10)
RECORD_SCHEMA = pa.schema([
    ("charge_month", pa.date32()),
    ("kind", pa.string()),
    ("tenant", pa.string()),
    ("module", pa.string()),
    ("service", pa.string()),
    ("service_category", pa.string()),
    ("resource", pa.string()),
    ("quantity", pa.decimal128(38, 6)),
    ("currency", pa.string()),
    ("cost", COST_TYPE),
    ("rows", pa.int64()),
    ("reason", pa.string()),
    ("cell", pa.string()),
])
RECORD_COLUMNS = tuple(RECORD_SCHEMA.names)


@runtime_checkable
class CostSource(Protocol):
    """What every cost source provides."""

    name: str
    """``estimate``, ``focus``, ``aws`` or ``opencost``."""

    def describe(self, lang: str = "de") -> str:
        """One line for the statements: where the numbers come from."""
        ...

    def load(self, con: duckdb.DuckDBPyConnection, period: Period) -> duckdb.DuckDBPyRelation:
        """Cost records (columns :data:`RECORD_COLUMNS`) for ``period``; rows outside it may be included
        (the allocator reports them as unallocated). Raises :class:`finance.model.FinanceError` on bad input."""
        ...


def records_relation(con: duckdb.DuckDBPyConnection, records: Iterable[dict], name: str) -> duckdb.DuckDBPyRelation:
    """A relation over records given as dicts (small sources); missing keys are NULL."""
    rows = list(records)
    table = pa.Table.from_pylist(
        [{c: r.get(c, 1 if c == "rows" else None) for c in RECORD_COLUMNS} for r in rows], schema=RECORD_SCHEMA
    )
    con.register(name, table)
    return con.table(name)


SERVICE_CATEGORY = {
    # bookable modules
    "dashboards": "Analytics",
    "lowcode": "Integration",
    "opendata": "Analytics",
    "urbandata": "Internet of Things",
    "masterportal": "Web",
    "rei3": "Business Applications",
    # platform components
    "operators": "Management and Governance",
    "identity": "Identity",
    "gateway": "Networking",
    "certificates": "Security",
    "monitoring": "Management and Governance",
    "storage": "Storage",
    "platform": "Management and Governance",
    "tenancy": "Management and Governance",
    "database": "Databases",
}
"""FOCUS ServiceCategory of each module and platform component (``Other`` when unknown)."""


def service_category(module: str | None) -> str:
    return SERVICE_CATEGORY.get(module or "", "Other")
