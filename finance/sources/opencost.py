"""The ``opencost`` source: OpenCost ``/allocation`` results aggregated by ``label:urban-stack/tenant``.

Input: JSON files saved from the API, or an ``http(s)://`` base URL of the OpenCost API (one request per month:
``/allocation?window=<start>,<end>&aggregate=label:urban-stack/tenant&accumulate=true&includeIdle=true``).

The answer is ``{"code": 200, "data": [ {name: allocation, ...}, ... ]}``: a list of sets, each mapping the
aggregate's value to an allocation with ``start``/``end`` (or ``window``) and the costs ``cpuCost``, ``gpuCost``,
``ramCost``, ``pvCost``, ``networkCost``, ``loadBalancerCost``, ``sharedCost``, ``externalCost`` and ``totalCost``.
Names: a tenant slug (direct), ``shared``, ``__idle__`` (idle), ``__unallocated__`` (untagged). Aggregating by
``label:urban-stack/tenant,label:urban-stack/module`` gives names ``verl/dashboards``; the module is kept.
Each cost component becomes one record; ``totalCost`` minus the components (OpenCost's adjustments) becomes an
``adjustment`` record, so the records add up to ``totalCost``.

OpenCost meters one cluster, and each cell is its own cluster with its own OpenCost (in its platform stack). An
input written ``CELL=REF`` (``stadt-guetersloh=https://opencost.stadt-guetersloh.example/``) holds the costs of
that cell; an input without ``CELL=`` those of the default cell. The cell decides who shares the ``shared``,
idle and untagged costs (docs/finance.md, "Zellen").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
import urllib.request
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from catalogue import labels
from catalogue.schema import CELL_NAME_PATTERN
from finance.model import IDLE_TAGS, UNTAGGED_TAGS, Cells, FinanceError, Period
from finance.sources import limits, records_relation

CELL_PREFIX = re.compile(CELL_NAME_PATTERN.rstrip("$") + r"=(?P<ref>.+)$")


def split_input(ref: str) -> tuple[str | None, str]:
    """``(cell, ref)`` of an input ``CELL=REF``; ``(None, ref)`` without a cell (or for a file that exists under
    the whole name)."""
    m = CELL_PREFIX.match(ref)
    if not m or Path(ref).exists():
        return None, ref
    return ref[: m.start("ref") - 1], m["ref"]

COMPONENTS = {
    "cpuCost": ("cpu", "Compute"),
    "gpuCost": ("gpu", "Compute"),
    "ramCost": ("memory", "Compute"),
    "pvCost": ("block-storage", "Storage"),
    "networkCost": ("network", "Networking"),
    "loadBalancerCost": ("load-balancer", "Networking"),
    "sharedCost": ("shared", "Other"),
    "externalCost": ("external", "Other"),
}
SERVICE = "Kubernetes (OpenCost)"


class OpenCostSource:
    """OpenCost allocation sets (files or the API)."""

    name = "opencost"

    def __init__(self, inputs: list[str | Path], currency: str = "EUR", cells: Cells | None = None):
        if not inputs:
            raise FinanceError("--source opencost needs --input: a saved /allocation JSON file or the API URL")
        self.inputs = [str(i) for i in inputs]
        self.currency = currency
        self.cells = [split_input(i) for i in self.inputs]
        """``(cell or None, ref)`` of every input."""
        for given, (cell, _) in zip(self.inputs, self.cells, strict=True):
            if cell is not None and cells is not None and cell not in cells:
                raise FinanceError(f"--input {limits.cut(given)}: no cell {cell!r} in urban-stack:cells of "
                                   f"stacks/Pulumi.shared.yaml ({', '.join(cells.names)})")

    def describe(self, lang: str = "de") -> str:
        return (f"OpenCost-Allokation ({', '.join(self.inputs)})" if lang == "de"
                else f"OpenCost allocation ({', '.join(self.inputs)})")

    def _documents(self, period: Period) -> list[tuple[str, str | None, object]]:
        docs = []
        for cell, ref in self.cells:
            if ref.startswith(("http://", "https://")):
                for month in period.months:
                    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
                    query = urllib.parse.urlencode({
                        "window": f"{month.isoformat()}T00:00:00Z,{end.isoformat()}T00:00:00Z",
                        "aggregate": f"label:{labels.TENANT}", "accumulate": "true", "includeIdle": "true",
                    })
                    url = f"{ref.rstrip('/')}/allocation?{query}"
                    try:
                        with urllib.request.urlopen(url, timeout=60) as resp:
                            docs.append((url, cell, json.loads(limits.read_json_bytes(url, resp))))
                    except (OSError, ValueError) as exc:
                        raise FinanceError(f"{url}: cannot read OpenCost allocation: {limits.cut(str(exc))}") from None
            else:
                path = Path(ref)
                try:
                    with open(path, "rb") as fh:
                        text = limits.read_json_bytes(ref, fh).decode("utf-8")
                except UnicodeDecodeError:
                    raise FinanceError(f"{ref}: not UTF-8 text") from None
                except OSError as exc:
                    raise FinanceError(f"{ref}: cannot read: {exc.strerror or exc}") from None
                if not text.strip():
                    raise FinanceError(f"{ref}: empty file")
                try:
                    docs.append((ref, cell, json.loads(text)))
                except ValueError as exc:
                    raise FinanceError(f"{ref}: not JSON: {limits.cut(str(exc))}") from None
        return docs

    def records(self, period: Period) -> list[dict]:
        recs: list[dict] = []
        for ref, cell, doc in self._documents(period):
            if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
                raise FinanceError(f"{ref}: expected an OpenCost answer {{\"code\": 200, \"data\": [...]}}")
            if doc.get("code", 200) != 200:
                raise FinanceError(f"{ref}: OpenCost answered code {doc.get('code')}: {doc.get('message', '')}")
            for i, allocation_set in enumerate(doc["data"]):
                if allocation_set is None:
                    continue
                if not isinstance(allocation_set, dict):
                    raise FinanceError(f"{ref}: data[{i}]: expected a mapping of allocations")
                for name, alloc in allocation_set.items():
                    recs.extend({**r, "cell": cell} for r in self._allocation(ref, f"data[{i}].{name}", name, alloc))
        if not recs:
            raise FinanceError(f"{', '.join(self.inputs)}: no allocations: nothing to allocate")
        return recs

    def _allocation(self, ref: str, where: str, name: str, alloc: dict) -> list[dict]:
        if not isinstance(alloc, dict):
            raise FinanceError(f"{ref}: {where}: expected an allocation object")
        start = alloc.get("start") or (alloc.get("window") or {}).get("start")
        try:
            month = dt.datetime.fromisoformat(str(start).replace("Z", "+00:00")).astimezone(dt.UTC).date().replace(day=1)
        except ValueError:
            raise FinanceError(f"{ref}: {where}.start: {start!r} is not an ISO 8601 date-time") from None

        def amount(field: str) -> Decimal:
            value = alloc.get(field, 0) or 0
            try:
                result = Decimal(str(value))
            except InvalidOperation:
                raise FinanceError(f"{ref}: {where}.{field}: {value!r} is not a number") from None
            if not result.is_finite():
                raise FinanceError(f"{ref}: {where}.{field}: {value!r} is not a finite number")
            return result

        tenant_part, _, module = name.partition("/")
        if tenant_part in IDLE_TAGS:
            kind, tenant = "idle", None
        elif tenant_part in (*UNTAGGED_TAGS, ):
            kind, tenant = "untagged", None
        elif tenant_part == labels.SHARED_TENANT:
            kind, tenant = "shared", None
        else:
            kind, tenant = "direct", tenant_part
        module = None if not module or module.startswith("__") else module
        total = amount("totalCost")
        recs, summed = [], Decimal(0)
        for field, (resource, category) in COMPONENTS.items():
            value = amount(field)
            if value == 0:
                continue
            summed += value
            recs.append({"charge_month": month, "kind": kind, "tenant": tenant, "module": module, "service": SERVICE,
                         "service_category": category, "resource": resource, "currency": self.currency, "cost": value})
        if total != summed:
            recs.append({"charge_month": month, "kind": kind, "tenant": tenant, "module": module, "service": SERVICE,
                         "service_category": "Other", "resource": "adjustment", "currency": self.currency,
                         "cost": total - summed})
        return recs

    def load(self, con: duckdb.DuckDBPyConnection, period: Period) -> duckdb.DuckDBPyRelation:
        return records_relation(con, self.records(period), "opencost_records")
