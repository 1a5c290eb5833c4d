"""The ``aws`` source: AWS Cost Explorer ``get_cost_and_usage``, grouped by the tenant cost-allocation tag.

One call per period (monthly granularity, ``TimePeriod`` = the period, end exclusive), grouped by the tag
``urban-stack/tenant`` (activate it as a cost-allocation tag in the billing console) and by ``SERVICE``, and
followed through every ``NextPageToken``. Group keys look like ``urban-stack/tenant$verl``; ``urban-stack/tenant$``
is cost without the tag (untagged).

Cells (docs/finance.md, "Zellen"): Cost Explorer groups by at most two dimensions, so for a cooperation of several
cells the source first asks which values the cell tag ``urban-stack/cell`` has in the period (grouped by that tag
alone; ``urban-stack/cell$`` is cost without it), then makes the call above once per value, filtered to it (without
the tag: ``MatchOptions: ABSENT``, the default cell's). Every euro is in exactly one of those calls; a value that
names no cell reaches the allocator as it is and becomes an unallocated line with its reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import duckdb

from catalogue import labels
from finance.model import IDLE_TAGS, UNTAGGED_TAGS, Cells, FinanceError, Period
from finance.sources import records_relation

MAX_PAGES = 1000
"""Safety stop: a Cost Explorer answer that keeps returning page tokens is a bug, not a bill."""


class AwsCostExplorerSource:
    """Cost Explorer results grouped by the tenant tag and the AWS service."""

    name = "aws"

    def __init__(self, client=None, tag_key: str = labels.TENANT, metric: str = "UnblendedCost",
                 cells: Cells | None = None):
        self._client = client
        self.tag_key = tag_key
        self.metric = metric
        self.cells = cells
        """The cooperation's cells; with more than one, costs are read per value of the cell tag (module
        docstring). None: one call, every cost the default cell's."""

    def describe(self, lang: str = "de") -> str:
        return (f"AWS Cost Explorer ({self.metric}, nach Kostenzuordnungs-Tag {self.tag_key})" if lang == "de"
                else f"AWS Cost Explorer ({self.metric}, by cost-allocation tag {self.tag_key})")

    def _ce(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("ce", region_name="us-east-1")
        return self._client

    def results(self, period: Period, cell_filter: dict | None = None,
                group_by: list[dict] | None = None) -> list[dict]:
        """Every ``ResultsByTime`` entry of every page (grouped by tenant tag and service unless ``group_by``;
        restricted by ``cell_filter``, a Cost Explorer ``Filter`` expression)."""
        request = {
            "TimePeriod": {"Start": period.start.date().isoformat(), "End": period.end.date().isoformat()},
            "Granularity": "MONTHLY",
            "Metrics": [self.metric],
            "GroupBy": group_by or [{"Type": "TAG", "Key": self.tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}],
        }
        if cell_filter is not None:
            request["Filter"] = cell_filter
        out: list[dict] = []
        token = None
        for _ in range(MAX_PAGES):
            kwargs = dict(request, NextPageToken=token) if token else request
            try:
                page = self._ce().get_cost_and_usage(**kwargs)
            except Exception as exc:
                raise FinanceError(f"AWS Cost Explorer: get_cost_and_usage failed: {exc}") from None
            out.extend(page.get("ResultsByTime", []))
            token = page.get("NextPageToken")
            if not token:
                return out
        raise FinanceError(f"AWS Cost Explorer: more than {MAX_PAGES} pages; stopping")

    def cell_values(self, period: Period) -> list[str]:
        """The values of the cell tag in the period (``""``: cost without it), from one call grouped by that tag."""
        prefix = f"{labels.CELL}$"
        values = set()
        for result in self.results(period, group_by=[{"Type": "TAG", "Key": labels.CELL}]):
            for group in result.get("Groups", []):
                values.update(k[len(prefix):] for k in group.get("Keys", []) if k.startswith(prefix))
            total = result.get("Total", {}).get(self.metric)
            if not result.get("Groups") and total and Decimal(total.get("Amount", "0")) != 0:
                values.add("")  # a total without groups: read as cost without the tag, never dropped
        return sorted(values)

    def records(self, period: Period) -> list[dict]:
        if self.cells is None or len(self.cells.names) < 2:
            return self._records(self.results(period))
        recs = []
        for value in self.cell_values(period):
            tags = ({"Key": labels.CELL, "Values": [value], "MatchOptions": ["EQUALS"]} if value
                    else {"Key": labels.CELL, "MatchOptions": ["ABSENT"]})
            recs += [{**r, "cell": value or None} for r in self._records(self.results(period, {"Tags": tags}))]
        return recs

    def _records(self, results: list[dict]) -> list[dict]:
        prefix = f"{self.tag_key}$"
        recs = []
        for result in results:
            try:
                month = dt.date.fromisoformat(result["TimePeriod"]["Start"][:10]).replace(day=1)
            except (KeyError, ValueError):
                raise FinanceError(f"AWS Cost Explorer: a result without a valid TimePeriod.Start: {result!r}") from None
            for group in result.get("Groups", []):
                keys = group.get("Keys", [])
                tag = next((k[len(prefix):] for k in keys if k.startswith(prefix)), None)
                service = next((k for k in keys if not k.startswith(prefix)), "(no service)")
                metric = group.get("Metrics", {}).get(self.metric)
                if metric is None:
                    raise FinanceError(f"AWS Cost Explorer: group {keys} has no metric {self.metric}")
                try:
                    amount = Decimal(metric["Amount"])
                except (KeyError, InvalidOperation):
                    raise FinanceError(f"AWS Cost Explorer: group {keys}: amount {metric.get('Amount')!r} is not a number") from None
                recs.append(_record(month, tag, service, amount, metric.get("Unit") or ""))
            total = result.get("Total", {}).get(self.metric)
            if not result.get("Groups") and total and Decimal(total.get("Amount", "0")) != 0:
                recs.append(_record(month, None, "(total without groups)", Decimal(total["Amount"]), total.get("Unit") or ""))
        return recs

    def load(self, con: duckdb.DuckDBPyConnection, period: Period) -> duckdb.DuckDBPyRelation:
        return records_relation(con, self.records(period), "aws_records")


def _record(month: dt.date, tag: str | None, service: str, amount: Decimal, unit: str) -> dict:
    tag = (tag or "").strip()
    if tag in IDLE_TAGS:
        kind, tenant = "idle", None
    elif tag in UNTAGGED_TAGS:
        kind, tenant = "untagged", None
    elif tag == labels.SHARED_TENANT:
        kind, tenant = "shared", None
    else:
        kind, tenant = "direct", tag
    return {"charge_month": month, "kind": kind, "tenant": tenant, "module": None, "service": service,
            "service_category": "Other", "currency": unit, "cost": amount}
