"""Provider-like FOCUS 1.2 exports with exactly known sums, made inside the tests (no large committed files).

:func:`provider_export` writes a CSV shaped like one provider's FOCUS export (AWS, Azure or Google Cloud: their
service names, column order, date-time spelling, number of decimals and a few of their ``x_`` columns) with rows for
members, the platform (``shared``, with module tags in both spellings, platform components and an unknown module),
untagged rows (no Tags, ``{}``, tags without the tenant key), idle capacity, a municipality that is not a member,
and credits. Every amount is a :class:`~decimal.Decimal`; :class:`Export` carries the exact sums the allocation
must reproduce.

The shapes follow what the providers publish for their FOCUS exports (column ids are FOCUS's; the provider-specific
columns start with ``x_``); only the columns the cost report reads and a few others are written.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from finance.model import Member

MEMBERS = {
    # four members with equal population (equal weights under every key but usage), one larger
    "ahlen": Member("ahlen", "Ahlen", "05570004", 30000, "AH-1", "small", ("dashboards", "lowcode", "urbandata")),
    "borken": Member("borken", "Borken", "05554012", 30000, "BO-1", "small", ("dashboards", "opendata", "urbandata")),
    "coesfeld": Member("coesfeld", "Coesfeld", "05558012", 30000, "CO-1", "small",
                       ("dashboards", "lowcode", "urbandata")),
    "dorsten": Member("dorsten", "Dorsten", "05562012", 30000, "DO-1", "small",
                      ("dashboards", "opendata", "urbandata")),
    "emsdetten": Member("emsdetten", "Emsdetten", "05566012", 36000, "EM-1", "medium", ("lowcode", "urbandata")),
}
NON_MEMBER = "bielefeld"
UNKNOWN_MODULE = "gis-portal"
MODULE_SPELLINGS = {"dashboards": ("dashboards",), "lowcode": ("lowcode", "lowCode"),
                    "opendata": ("opendata", "openData"), "urbandata": ("urbandata", "urbanData")}
"""Module tag values written into the exports: the label spelling and the tenant-file spelling."""
PLATFORM_COMPONENTS = ("identity", "monitoring", "storage")

PROVIDERS = {
    "aws": {
        "ProviderName": "AWS", "PublisherName": "AWS", "InvoiceIssuerName": "AWS",
        "services": [("Amazon Elastic Compute Cloud", "Compute"), ("Amazon Simple Storage Service", "Storage"),
                     ("Amazon Elastic Kubernetes Service", "Compute"), ("Amazon Relational Database Service", "Databases")],
        "decimals": 10, "start": "{d}T{h:02d}:00:00Z", "extra": ("x_UsageType", "x_Operation"),
    },
    "azure": {
        "ProviderName": "Microsoft", "PublisherName": "Microsoft", "InvoiceIssuerName": "Microsoft",
        "services": [("Virtual Machines", "Compute"), ("Storage Accounts", "Storage"),
                     ("Azure Kubernetes Service", "Compute"), ("Azure Database for PostgreSQL", "Databases")],
        "decimals": 8, "start": "{d}T00:00:00Z", "extra": ("x_SkuMeterCategory", "x_ResourceGroupName"),
    },
    "gcp": {
        "ProviderName": "Google Cloud", "PublisherName": "Google Cloud", "InvoiceIssuerName": "Google Cloud",
        "services": [("Compute Engine", "Compute"), ("Cloud Storage", "Storage"), ("Kubernetes Engine", "Compute"),
                     ("Cloud SQL", "Databases")],
        "decimals": 6, "start": "{d} {h:02d}:00:00+00:00", "extra": ("x_ServiceId",),
    },
}
BASE_COLUMNS = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingAccountId", "BillingAccountName",
                "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd", "ChargeCategory", "ChargeClass",
                "ChargeDescription", "ChargePeriodStart", "ChargePeriodEnd", "InvoiceIssuerName", "PricingQuantity",
                "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName", "ResourceId",
                "SubAccountId", "Tags"]


@dataclass
class Export:
    """One written export and the exact sums in it (cost column ``BilledCost``)."""

    path: Path
    provider: str
    rows: int = 0
    total: Decimal = Decimal(0)
    direct: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """Exact direct cost per member (its tagged rows, credits included)."""
    by_kind: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """Exact totals of ``direct`` (members), ``shared``, ``untagged``, ``idle`` and ``non-member``."""
    module_shared: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """Exact shared cost per bookable module (both spellings together)."""
    unknown: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """``(tag, value) -> amount`` of tag values that name no member or module."""


def _amount(rng: random.Random, decimals: int, top: int = 120) -> Decimal:
    return Decimal(rng.randint(0, top * 10**decimals)) / (10**decimals)


def provider_export(path: Path, provider: str, rows: int = 3000, *, month: str = "2026-10", seed: int = 1,
                    members: dict[str, Member] = MEMBERS) -> Export:
    """Write ``rows`` rows of ``provider``'s shape for ``month`` to ``path`` (CSV) and return the exact sums."""
    spec = PROVIDERS[provider]
    rng = random.Random(f"{provider}-{seed}")
    out = Export(path, provider)
    slugs = sorted(members)
    year, mon = (int(x) for x in month.split("-"))
    nxt = f"{year + (mon == 12)}-{mon % 12 + 1:02d}"
    columns = [*BASE_COLUMNS, *spec["extra"]]
    rng.shuffle(columns)  # every provider orders its columns its own way
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        for i in range(rows):
            service, category = spec["services"][i % len(spec["services"])]
            cost = _amount(rng, spec["decimals"])
            roll = rng.random()
            charge_category, tags = "Usage", None
            if roll < 0.55:
                slug = slugs[i % len(slugs)]
                tags = {"urban-stack/tenant": slug}
                if rng.random() < 0.5:
                    module = rng.choice(members[slug].modules)
                    tags["urban-stack/module"] = rng.choice(MODULE_SPELLINGS.get(module, (module,)))
                out.direct[slug] += cost
                out.by_kind["direct"] += cost
            elif roll < 0.60:  # a credit on a member's account
                slug = slugs[i % len(slugs)]
                cost, charge_category, tags = -_amount(rng, spec["decimals"], 5), "Credit", {"urban-stack/tenant": slug}
                out.direct[slug] += cost
                out.by_kind["direct"] += cost
            elif roll < 0.78:
                module = rng.choice([*MODULE_SPELLINGS, *PLATFORM_COMPONENTS, UNKNOWN_MODULE, None])
                tags = {"urban-stack/tenant": "shared"}
                if module in MODULE_SPELLINGS:
                    tags["urban-stack/module"] = rng.choice(MODULE_SPELLINGS[module])
                    out.module_shared[module] += cost
                elif module is not None:
                    tags["urban-stack/module"] = module
                if module == UNKNOWN_MODULE:
                    out.unknown[("urban-stack/module", module)] += cost
                out.by_kind["shared"] += cost
            elif roll < 0.90:
                tags = rng.choice([None, {}, {"team": "gis"}, {"urban-stack/tenant": ""}])
                out.by_kind["untagged"] += cost
            elif roll < 0.95:
                tags = {"urban-stack/tenant": "__idle__"}
                out.by_kind["idle"] += cost
            else:
                tags = {"urban-stack/tenant": NON_MEMBER, "urban-stack/module": "dashboards"}
                out.unknown[("urban-stack/tenant", NON_MEMBER)] += cost
                out.by_kind["non-member"] += cost
            day = f"{month}-{1 + i % 28:02d}"
            row = {
                "BilledCost": format(cost, "f"), "EffectiveCost": format(cost * Decimal("0.96"), "f"),
                "ListCost": format(cost * Decimal("1.1"), "f"), "ContractedCost": format(cost, "f"),
                "BillingAccountId": f"{provider}-billing-0001", "BillingAccountName": "Kreis Consortium",
                "BillingCurrency": "EUR", "BillingPeriodStart": f"{month}-01T00:00:00Z",
                "BillingPeriodEnd": f"{nxt}-01T00:00:00Z", "ChargeCategory": charge_category, "ChargeClass": "",
                "ChargeDescription": f"{service} usage", "ChargePeriodStart": spec["start"].format(d=day, h=i % 24),
                "ChargePeriodEnd": spec["start"].format(d=day, h=i % 24),
                "InvoiceIssuerName": spec["InvoiceIssuerName"], "PricingQuantity": "1", "PricingUnit": "Hours",
                "ProviderName": spec["ProviderName"], "PublisherName": spec["PublisherName"],
                "ServiceCategory": category, "ServiceName": service, "ResourceId": f"{provider}-res-{i % 97}",
                "SubAccountId": f"{provider}-sub-{i % 3}",
                "Tags": "" if tags is None else json.dumps(tags),
                **{x: f"{x.lower()}-{i % 5}" for x in spec["extra"]},
            }
            w.writerow(row)
            out.rows += 1
            out.total += cost
    return out
