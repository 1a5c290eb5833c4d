"""The ``aws`` source: AWS Cost Explorer ``get_cost_and_usage``, grouped by the tenant cost-allocation tag.

One call per period (monthly granularity, ``TimePeriod`` = the period, end exclusive), grouped by the tag
``urban-stack/tenant`` (activate it as a cost-allocation tag in the billing console) and by ``SERVICE``, and
followed through every ``NextPageToken``. Group keys look like ``urban-stack/tenant$verl``; ``urban-stack/tenant$``
is cost without the tag (untagged).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import duckdb

from catalogue import labels
from finance.model import IDLE_TAGS, UNTAGGED_TAGS, FinanceError, Period
from finance.sources import records_relation

MAX_PAGES = 1000
"""Safety stop: a Cost Explorer answer that keeps returning page tokens is a bug, not a bill."""


class AwsCostExplorerSource:
    """Cost Explorer results grouped by the tenant tag and the AWS service."""

    name = "aws"

    def __init__(self, client=None, tag_key: str = labels.TENANT, metric: str = "UnblendedCost"):
        self._client = client
        self.tag_key = tag_key
        self.metric = metric

    def describe(self, lang: str = "de") -> str:
        return (f"AWS Cost Explorer ({self.metric}, nach Kostenzuordnungs-Tag {self.tag_key})" if lang == "de"
                else f"AWS Cost Explorer ({self.metric}, by cost-allocation tag {self.tag_key})")

    def _ce(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("ce", region_name="us-east-1")
        return self._client

    def results(self, period: Period) -> list[dict]:
        """Every ``ResultsByTime`` entry of every page."""
        request = {
            "TimePeriod": {"Start": period.start.date().isoformat(), "End": period.end.date().isoformat()},
            "Granularity": "MONTHLY",
            "Metrics": [self.metric],
            "GroupBy": [{"Type": "TAG", "Key": self.tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}],
        }
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

    def records(self, period: Period) -> list[dict]:
        prefix = f"{self.tag_key}$"
        recs = []
        for result in self.results(period):
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
