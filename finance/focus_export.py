"""The FOCUS allocation dataset: what each municipality is charged, as FOCUS 1.2 rows.

One row per municipality x ServiceName x charge month (plus one row per unallocated line, billing account
``unallocated``), so the dataset adds up to the input total like the statements. The platform operator is
provider, publisher and invoice issuer; the billing account is the municipality's AGS, the sub account its slug.

Columns: every column FOCUS 1.2 requires (BilledCost, BillingAccountId, BillingAccountName, BillingCurrency,
BillingPeriodStart/End, ChargeCategory, ChargeClass, ChargeDescription, ChargePeriodStart/End, ContractedCost,
EffectiveCost, InvoiceIssuerName, ListCost, PricingQuantity, PricingUnit, ProviderName, PublisherName,
ServiceCategory, ServiceName), the conditional ones focus-validator's 1.0 rules ask for (null where they do not
apply), ``Tags``, and custom columns:

================== =========================================================================================
x_AllocationKey    the key (``hybrid(base=population,modules=equal)``)
x_AllocationShare  share of this service's non-direct pool(s) of the month charged to this row (0 if none)
x_AllocationPool   the non-direct pool(s) of this service and month, in full
x_DirectCost       direct part of BilledCost
x_SharedCost       shared part
x_UntaggedCost     part of the untagged pool
x_IdleCost         part of the idle pool
x_CostCenter       the municipality's Kostenstelle
x_Source           where the input came from
x_UnallocatedReason why a row could not be charged (unallocated rows only)
================== =========================================================================================

FOCUS 1.3 allocation columns (FOCUS_Spec ``specification/columns/allocated*.md``, 1.3): a row that carries a part
of a shared, untagged or idle pool is an *allocated charge* of a data generator-calculated split cost allocation:

====================== ======================================================================================
AllocatedMethodId      a stable id per key: ``urban-stack/equal``, ``urban-stack/population``, ``urban-stack/usage``,
                       ``urban-stack/hybrid`` (:data:`METHOD_IDS`; docs/finance.md documents each)
AllocatedMethodDetails ``{"Elements": [...]}``: one element per origin charge (input group of a pool) this row
                       takes a part of, with ``AllocatedRatio`` (the row's part of that charge; the ratios of one
                       origin charge add up to exactly 1) and ``x_`` properties: pool kind, basis, the
                       municipality's share and the key's inputs (population, members, days; ``x_Cell``: the cell
                       of a cell's pool), the amount (``x_AllocatedCost``), the origin charge (``x_OriginId``,
                       unique in the report) and its amount; the root carries ``x_Key``
AllocatedResourceId    what the cost was allocated to: ``urban-stack/tenant/<slug>``
AllocatedResourceName  the municipality's name
AllocatedTags          ``{"urban-stack/cost-share": "shared"}`` (tags not already in ``Tags``)
====================== ======================================================================================

A row with only direct cost and the unallocated remainder rows leave the five columns empty (null).
focus-validator 1.0.0 knows FOCUS 1.2 at most; the runner hands it a copy without the 1.3 columns
(``finance/focus-validator.yaml``, ``hide``).

Money columns are written as float64 with two decimals (what focus-validator checks) and as exact decimal
strings in the CSV.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from catalogue import labels
from catalogue.prices import SERVICE_CATEGORIES
from finance.allocate import Allocation, apportion, split_basis
from finance.model import KINDS, next_month
from finance.render import spreadsheet_text

UNALLOCATED_ACCOUNT = "unallocated"
DECIMAL_COLUMNS = ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost", "PricingQuantity",
                   "ListUnitPrice", "ContractedUnitPrice", "ConsumedQuantity", "x_AllocationShare",
                   "x_AllocationPool", "x_DirectCost", "x_SharedCost", "x_UntaggedCost", "x_IdleCost")
COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodStart", "ChargePeriodEnd", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedQuantity",
    "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
    "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    "x_AllocationKey", "x_AllocationShare", "x_AllocationPool", "x_DirectCost", "x_SharedCost", "x_UntaggedCost",
    "x_IdleCost", "x_CostCenter", "x_Source", "x_UnallocatedReason",
    "AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags",
)
FOCUS_13_COLUMNS = ("AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName",
                    "AllocatedTags")
"""The FOCUS 1.3 split cost allocation columns."""
METHOD_IDS = {"equal": "urban-stack/equal", "population": "urban-stack/population", "usage": "urban-stack/usage",
              "hybrid": "urban-stack/hybrid"}
"""AllocatedMethodId per allocation key: stable, documented in docs/finance.md ("FOCUS 1.3 allocation columns")."""
RATIO_PLACES = 12
"""AllocatedRatio is written with this many decimals; the ratios of one origin charge add up to exactly 1."""


def _ratios(a: Allocation) -> dict[int, dict[tuple, Decimal]]:
    """pool id -> (slug, service, month) -> AllocatedRatio: each row's part of the origin charge, rounded to
    :data:`RATIO_PLACES` decimals by the largest remainder so that every origin charge's ratios add up to 1."""
    parts: dict[int, dict[tuple, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    for ln in a.lines:
        if ln.tenant is not None and ln.kind != "direct" and ln.pool:
            parts[ln.pool_id][(ln.tenant, ln.service, ln.month)] += Fraction(ln.exact) / Fraction(ln.pool)
    unit = 10 ** RATIO_PLACES
    out: dict[int, dict[tuple, Decimal]] = {}
    for pool_id, rows_of in parts.items():
        keys = sorted(rows_of)
        total = sum(rows_of.values())
        ideals = [rows_of[k] / total * unit for k in keys]
        units = apportion(ideals, unit)
        out[pool_id] = {k: Decimal(u).scaleb(-RATIO_PLACES) for k, u in zip(keys, units, strict=True)}
    return out


def _key_inputs(a: Allocation, slug: str, month: dt.date, basis: str) -> dict:
    """What the municipality's share of a pool is computed from (the key's inputs), as ``x_`` properties."""
    weights = a.weights.get((month, basis), {})
    how, _, cell = split_basis(basis)
    out: dict = {"x_Basis": basis, "x_MemberShare": str(weights.get(slug, Decimal(0))),
                 "x_Members": len(weights)}
    if cell:
        out["x_Cell"] = cell
    if how == "population":
        out["x_Population"] = a.members[slug].population
        out["x_PopulationTotal"] = sum(a.members[s].population for s in weights)
    days = a.days.get((month, basis))
    if days:
        out["x_DaysOfMembership"] = days.get(slug, 0)
    return out


def _iso(d: dt.date) -> str:
    return f"{d.isoformat()}T00:00:00Z"


def rows(a: Allocation, issuer: str) -> list[dict]:
    """The dataset as dicts (Decimal money), in a fixed order."""
    # Non-direct pools per (service, month): each pool counted once.
    pools: dict[tuple[str, dt.date], dict[int, Decimal]] = defaultdict(dict)
    for ln in a.lines:
        if ln.tenant is not None and ln.kind != "direct":
            pools[(ln.service, ln.month)][ln.pool_id] = ln.pool
    grouped: dict[tuple, dict] = {}
    prices = unit_prices(a)
    for ln in a.lines:
        if ln.tenant is None:
            continue
        priced = ln.resource if ln.kind == "direct" and ln.resource in prices else None
        key = (ln.tenant, ln.service, ln.month, priced)
        g = grouped.setdefault(key, {"category": ln.service_category, "cents": dict.fromkeys(KINDS, 0),
                                     "exact_non_direct": Decimal(0), "pools": {}, "quantity": Decimal(0)})
        g["cents"][ln.kind] += ln.cents
        if priced:
            g["quantity"] += ln.quantity or 0
        if ln.kind != "direct":
            g["exact_non_direct"] += ln.exact
            part = g["pools"].setdefault(ln.pool_id, {"kind": ln.kind, "basis": ln.basis, "pool": ln.pool, "cents": 0})
            part["cents"] += ln.cents
    ratios = _ratios(a)
    out = []
    key_code = a.key.code
    source = a.source.describe("en")
    for (slug, service, month, priced), g in sorted(grouped.items(),
                                                     key=lambda x: (x[0][0], x[0][2], x[0][1], x[0][3] or "")):
        m = a.members[slug]
        pool = sum(pools.get((service, month), {}).values(), Decimal(0))
        share = (g["exact_non_direct"] / pool) if pool else Decimal(0)
        cents = sum(g["cents"].values())
        out.append(_row(
            a, issuer, month, cents, account=m.ags, account_name=m.name, sub=m.slug, service=service,
            category=g["category"],
            description=f"{service}: {', '.join(k for k in KINDS if g['cents'][k])} – key {key_code}",
            tags={labels.TENANT: m.slug, labels.COST_CENTER: m.cost_center},
            extra={"x_AllocationKey": key_code, "x_AllocationShare": share.quantize(Decimal("0.000001")),
                   "x_AllocationPool": pool.quantize(Decimal("0.01")),
                   **{f"x_{k.capitalize()}Cost": Decimal(g["cents"][k]) / 100 for k in KINDS},
                   "x_CostCenter": m.cost_center, "x_Source": source, "x_UnallocatedReason": None,
                   **_allocated_columns(a, slug, service, month, g["pools"], ratios),
                   **(_priced(service, priced, g["quantity"], prices[priced]) if priced else {})},
        ))
    for ln in a.unallocated:
        out.append(_row(
            a, issuer, ln.month, ln.cents, account=UNALLOCATED_ACCOUNT, account_name="Unallocated / nicht verteilt",
            sub=None, service=ln.service, category=ln.service_category,
            description=f"{ln.service}: unallocated: {ln.reason}", tags={},
            extra={"x_AllocationKey": key_code, "x_AllocationShare": Decimal(0), "x_AllocationPool": Decimal(0),
                   **{f"x_{k.capitalize()}Cost": Decimal(0) for k in KINDS}, "x_CostCenter": None,
                   "x_Source": source, "x_UnallocatedReason": ln.reason},
        ))
    return out


PRICED = {"cpu": ("vcpuMonth", "vCPU-Month"), "memory": ("ramGibMonth", "GiB-Month"),
          "block-storage": ("blockStorageGibMonth", "GiB-Month"), "object-storage": ("objectStorageGibMonth", "GiB-Month")}
"""Estimate resources priced per unit: the unit price field of the price catalogue and the FOCUS PricingUnit."""


def unit_prices(a: Allocation) -> dict[str, Decimal]:
    """Resource -> unit price of an estimate (the catalogue's, or the provider file's with ``--provider``): the
    ListUnitPrice and ContractedUnitPrice of its direct rows. Empty for other sources (their rows are what the
    allocation charged per service and month)."""
    prices = getattr(a.source, "prices", None) if a.source.name == "estimate" else None
    if prices is None:
        return {}
    return {resource: getattr(prices.unitPrices, field) for resource, (field, _) in PRICED.items()}


def _priced(service: str, resource: str, quantity: Decimal, price: Decimal) -> dict:
    """FOCUS price columns of an estimate's direct row: quantity x unit price of the price list the estimate used.
    ListCost and ContractedCost are that product (FOCUS: unit price x PricingQuantity); BilledCost stays the
    allocated amount, rounded to the cent."""
    sku = f"urban-stack/{_sku_part(service)}/{resource}"
    cost = (quantity * price).quantize(Decimal("0.0000000001"))
    unit = PRICED[resource][1]
    return {"PricingQuantity": quantity, "PricingUnit": unit, "ConsumedQuantity": quantity, "ConsumedUnit": unit,
            "ListUnitPrice": price, "ContractedUnitPrice": price, "ListCost": cost, "ContractedCost": cost,
            "SkuId": sku, "SkuPriceId": sku}


def _allocated_columns(a: Allocation, slug: str, service: str, month: dt.date, pools: dict[int, dict],
                       ratios: dict[int, dict[tuple, Decimal]]) -> dict:
    """The FOCUS 1.3 allocation columns of one municipality's row (all null when it holds no pool part)."""
    if not pools:
        return {}
    elements = []
    for pool_id in sorted(pools):
        part = pools[pool_id]
        elements.append({
            # a JSON number (NumericFormat); float() of a 12-decimal value prints those 12 decimals again
            "AllocatedRatio": float(ratios[pool_id][(slug, service, month)]),
            "x_OriginId": f"{month:%Y-%m}/{part['kind']}/{pool_id}",
            "x_PoolKind": part["kind"],
            "x_OriginCost": str(part["pool"].quantize(Decimal("0.0000000001"))),
            "x_AllocatedCost": f"{Decimal(part['cents']) / 100:.2f}",
            **_key_inputs(a, slug, month, part["basis"]),
        })
    details = {"Elements": elements, "x_Key": a.key.code}
    return {
        "AllocatedMethodId": METHOD_IDS[a.key.name],
        "AllocatedMethodDetails": json.dumps(details, ensure_ascii=False, sort_keys=False),
        "AllocatedResourceId": f"urban-stack/tenant/{slug}",
        "AllocatedResourceName": a.members[slug].name,
        "AllocatedTags": json.dumps({labels.COST_SHARE: "shared"}, ensure_ascii=False),
    }


def _row(a: Allocation, issuer: str, month: dt.date, cents: int, *, account: str, account_name: str,
         sub: str | None, service: str, category: str, description: str, tags: dict, extra: dict) -> dict:
    amount = Decimal(cents) / 100
    end = next_month(month)
    row = dict.fromkeys(COLUMNS)
    sku = f"urban-stack/{_sku_part(service)}"
    row.update({
        # FOCUS 1.2 SkuPriceId: not null for Usage unless ChargeClass is Correction; a provider without price ids
        # MAY use the SkuId (FOCUS_Spec specification/columns/skupriceid.md). One SKU per allocated service.
        "SkuId": sku, "SkuPriceId": sku,
        "BilledCost": amount, "ContractedCost": amount, "EffectiveCost": amount, "ListCost": amount,
        "ListUnitPrice": amount, "ContractedUnitPrice": amount, "PricingQuantity": Decimal(1), "PricingUnit": "Month",
        "ConsumedQuantity": Decimal(1), "ConsumedUnit": "Month", "PricingCategory": "Standard",
        "BillingAccountId": account, "BillingAccountName": account_name, "BillingCurrency": a.currency,
        "BillingPeriodStart": _iso(month), "BillingPeriodEnd": _iso(end),
        "ChargePeriodStart": _iso(month), "ChargePeriodEnd": _iso(end),
        "ChargeCategory": "Usage", "ChargeClass": None, "ChargeDescription": description,
        "ChargeFrequency": "Recurring", "InvoiceIssuerName": issuer, "ProviderName": issuer, "PublisherName": issuer,
        "ServiceCategory": category if category in SERVICE_CATEGORIES else "Other", "ServiceName": service,
        "SubAccountId": sub, "SubAccountName": sub and a.members[sub].name,
        "Tags": json.dumps(tags, ensure_ascii=False, sort_keys=True),
    })
    row.update(extra)
    return row


def _sku_part(service: str) -> str:
    """``Object storage`` -> ``object-storage``: a stable id part from a service name."""
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in service)
    return "-".join(p for p in out.split("-") if p) or "service"


def arrow_table(a: Allocation, issuer: str) -> pa.Table:
    data = rows(a, issuer)
    arrays = {}
    for col in COLUMNS:
        values = [r[col] for r in data]
        if col in DECIMAL_COLUMNS:
            arrays[col] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        else:
            arrays[col] = pa.array(values, pa.string())
    return pa.table(arrays)


def write(a: Allocation, issuer: str, out_dir: Path) -> tuple[Path, Path]:
    """``focus-allocation.parquet`` and ``focus-allocation.csv`` (plain CSV, every decimal with a point; text that
    starts like a spreadsheet formula gets a leading ``'`` in the CSV, the Parquet file keeps the exact text)."""
    table = arrow_table(a, issuer)
    parquet = out_dir / "focus-allocation.parquet"
    pq.write_table(table, parquet)
    csv_path = out_dir / "focus-allocation.csv"
    data = rows(a, issuer)
    text_cols = {}
    for col in COLUMNS:
        if col in DECIMAL_COLUMNS:
            text_cols[col] = pa.array([None if r[col] is None else _decimal_text(r[col]) for r in data], pa.string())
        else:
            text_cols[col] = pa.array([None if r[col] is None else spreadsheet_text(str(r[col])) for r in data],
                                      pa.string())
    pacsv.write_csv(pa.table(text_cols), csv_path)
    return parquet, csv_path


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." in text else f"{text}.0"
