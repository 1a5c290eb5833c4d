"""The ``estimate`` source: what each municipality has declared, priced with ``finance/prices.yaml``.

It reads the same sizing catalogue the components size their objects from (``catalogue/sizing.py`` and each
module's ``SPEC.workloads``), so the estimate and the offline plan agree
(``tests/test_costs_estimate.py`` compares them). Per municipality and month:

* every booked module: per workload ``replicas[plan]`` x ``size_for(plan)`` (CPU and memory requests) and
  ``replicas[plan]`` x ``storage_gi[plan]`` (one volume per replica);
* ``database`` (every municipality has its PostGIS cluster, see ``components/tenant/database.py``):
  ``db_instances`` x ``db_size`` and ``db_instances`` x (``db_storage_gi`` + ``db_wal_storage_gi``) of its plan;
* ``storage``: the bucket quota of the plan (every municipality has a bucket, its default backup target);

priced per vCPU-month (1000m), GiB-RAM-month (1024Mi), GiB block storage and GiB object storage. The platform's
fixed costs, the shared platform components and each module's shared part are ``shared`` records.

Cells (decision record 0015): every configured cell runs its own cluster and platform stack, so every platform
component and every fixed cost of ``scope: cell`` is a record of each cell (split among that cell's members);
fixed costs of ``scope: cooperation`` and the modules' shared parts are ``global`` records (split among all
members).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from catalogue.labels import GLOBAL_CELL, PLATFORM_MODULES
from catalogue.modules import by_name, module_names
from catalogue.prices import PriceCatalogue
from catalogue.sizing import TENANT_PLANS
from finance.model import Cells, Member, Period, load_cells, month_days
from finance.sources import records_relation, service_category

DATABASE = "database"
"""Module label of a municipality's CloudNativePG cluster."""
BUCKET = "storage"
"""Module label of a municipality's bucket."""


@dataclass(frozen=True)
class Declared:
    """What one municipality declared for one module: requests x replicas and volume sizes."""

    cpu_m: int = 0
    memory_mi: int = 0
    storage_gi: int = 0
    """Block storage (persistent volumes, including database WAL volumes)."""
    object_gi: int = 0
    """Object storage (bucket quota)."""

    def __add__(self, other: Declared) -> Declared:
        return Declared(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi,
                        self.storage_gi + other.storage_gi, self.object_gi + other.object_gi)


def declared_for(member: Member) -> dict[str, Declared]:
    """Declared totals of one municipality, by module label value (booked modules, ``database``, ``storage``)."""
    plan = member.plan
    out: dict[str, Declared] = {}
    for module in member.modules:
        spec = by_name(module)
        total = Declared()
        for workload in spec.workloads.values():
            replicas = workload.replicas[plan]
            size = workload.size_for(plan)
            total += Declared(replicas * size.cpu_m, replicas * size.memory_mi, replicas * workload.storage_gi[plan])
        out[module] = total
    tp = TENANT_PLANS[plan]
    out[DATABASE] = Declared(tp.db_instances * tp.db_size.cpu_m, tp.db_instances * tp.db_size.memory_mi,
                             tp.db_instances * (tp.db_storage_gi + tp.db_wal_storage_gi))
    out[BUCKET] = Declared(object_gi=tp.bucket_quota_gi)
    return out


def declared_totals(members: Mapping[str, Member]) -> dict[tuple[str, str], Declared]:
    """``(tenant, module) -> Declared`` for every municipality: what the estimate prices."""
    return {(slug, module): d for slug in sorted(members) for module, d in declared_for(members[slug]).items()}


def service_name(module: str) -> str:
    """Service name printed on statements for a module or platform component."""
    try:
        return by_name(module).title
    except KeyError:
        return PLATFORM_MODULES.get(module, module)


RESOURCES = (
    # resource, unit price field, quantity from Declared
    ("cpu", "vcpuMonth", lambda d: Decimal(d.cpu_m) / 1000),
    ("memory", "ramGibMonth", lambda d: Decimal(d.memory_mi) / 1024),
    ("block-storage", "blockStorageGibMonth", lambda d: Decimal(d.storage_gi)),
    ("object-storage", "objectStorageGibMonth", lambda d: Decimal(d.object_gi)),
)


class EstimateSource:
    """Declared resources x unit prices, plus the platform's fixed and shared costs (needs nothing external)."""

    name = "estimate"

    def __init__(self, members: Mapping[str, Member], prices: PriceCatalogue, cells: Cells | None = None):
        self.members = dict(members)
        self.prices = prices
        self.cells = cells or load_cells()

    def describe(self, lang: str = "de") -> str:
        example = " (BEISPIELPREISE)" if self.prices.example and lang == "de" else (
            " (EXAMPLE PRICES)" if self.prices.example else "")
        return (f"Schätzung aus den gebuchten Modulen und dem Größenkatalog × Preiskatalog{example}" if lang == "de"
                else f"Estimate from booked modules and the sizing catalogue × price catalogue{example}")

    def monthly_records(self) -> list[dict]:
        """The records of one month (charge_month left empty)."""
        p = self.prices
        cur = p.currency
        recs: list[dict] = []
        for (slug, module), d in declared_totals(self.members).items():
            for resource, field, qty in RESOURCES:
                quantity = qty(d)
                if quantity == 0:
                    continue
                recs.append({
                    "kind": "direct", "tenant": slug, "module": module, "service": service_name(module),
                    "service_category": service_category(module), "resource": resource, "quantity": quantity,
                    "currency": cur, "cost": quantity * getattr(p.unitPrices, field),
                })
        for cell in self.cells.names:
            for fixed in p.platform.fixed:
                if fixed.scope == "cell":
                    recs.append({"kind": "shared", "module": None, "service": fixed.name,
                                 "service_category": fixed.serviceCategory, "resource": "fixed", "currency": cur,
                                 "cost": fixed.monthly, "cell": cell})
            for module, amount in p.platform.modules.items():
                recs.append({"kind": "shared", "module": module, "service": service_name(module),
                             "service_category": service_category(module), "resource": "fixed", "currency": cur,
                             "cost": amount, "cell": cell})
        for fixed in p.platform.fixed:
            if fixed.scope == "cooperation":
                recs.append({"kind": "shared", "module": None, "service": fixed.name,
                             "service_category": fixed.serviceCategory, "resource": "fixed", "currency": cur,
                             "cost": fixed.monthly, "cell": GLOBAL_CELL})
        for module, price in p.module_prices().items():
            recs.append({"kind": "shared", "module": module, "service": service_name(module),
                         "service_category": service_category(module), "resource": "module-shared",
                         "currency": cur, "cost": price.sharedMonthly, "cell": GLOBAL_CELL})
        return recs

    def load(self, con: duckdb.DuckDBPyConnection, period: Period) -> duckdb.DuckDBPyRelation:
        """The monthly records for every month of ``period``; a municipality's own resources only for the days it
        is a member (and has the module booked) in that month, pro rata."""
        bookable = module_names()
        month_recs = self.monthly_records()
        records = []
        for m in period.months:
            for r in month_recs:
                if r["kind"] == "direct":
                    member = self.members[r["tenant"]]
                    days = member.days_in(m, r["module"] if r["module"] in bookable else None)
                    if days == 0:
                        continue
                    if days != month_days(m):
                        factor = Decimal(days) / Decimal(month_days(m))
                        r = {**r, "cost": (r["cost"] * factor).quantize(Decimal("1e-10")),
                             "quantity": (r["quantity"] * factor).quantize(Decimal("1e-6"))}
                records.append({**r, "charge_month": m})
        return records_relation(con, records, "estimate_records")

    # -- what-if ---------------------------------------------------------------------------------------------
    def platform_base(self) -> Decimal:
        """Monthly platform base of one cell: fixed costs and shared platform components."""
        return sum((f.monthly for f in self.prices.platform.fixed), Decimal(0)) + sum(
            self.prices.platform.modules.values(), Decimal(0))

    def direct_monthly(self, slug: str) -> Decimal:
        p = self.prices.unitPrices
        return sum((qty(d) * getattr(p, field) for d in declared_for(self.members[slug]).values()
                    for _, field, qty in RESOURCES), Decimal(0))

    def standalone_monthly(self, slug: str) -> Decimal:
        """What ``slug`` would pay running its modules alone: the full platform base, its own resources and
        the full shared part of every module it books."""
        member = self.members[slug]
        return (self.platform_base() + self.direct_monthly(slug)
                + sum((self.prices.module_shared(m) for m in member.modules), Decimal(0)))
