"""Synthetic municipalities for the benchmarks: valid tenant files that book every module."""

from __future__ import annotations

from pathlib import Path

import yaml

PLANS = ("small", "medium", "large")


def tenant_document(i: int, every_module: bool = True) -> dict:
    """Municipality number ``i``: unique slug, AGS (Land 05, NRW) and domain; every module booked."""
    slug = f"kommune-{i:04d}"
    modules = {}
    if every_module:
        modules = {
            "dashboards": {}, "lowCode": {}, "openData": {}, "urbanData": {},
            "masterportal": {"center": [7.0 + (i % 50) / 10, 51.0 + (i % 30) / 20], "zoom": 8,
                             "layers": [{"id": "basemap", "name": "Basiskarte", "type": "WMS",
                                         "url": "https://sgx.geodatenzentrum.de/wms_basemapde",
                                         "layers": "de_basemapde_web_raster_farbe", "visible": True}]},
            "rei3": {},
        }
    return {
        "schemaVersion": 1, "slug": slug, "name": f"Kommune {i}", "ags": f"05{i:06d}",
        "population": 5000 + (i * 7919) % 200000, "populationDate": "2024-12-31",
        "costCenter": f"KST-{i:04d}", "contact": {"name": "IT", "email": f"it@{slug}.example"},
        "domain": f"{slug}.example", "plan": PLANS[i % 3], "modules": modules,
        "identity": {"admins": [f"admin@{slug}.example"]},
    }


def write_tenants(folder: Path, n: int, every_module: bool = True) -> list[str]:
    """Write ``n`` tenant files; a municipality whose back-channel port (derived from its slug) is already taken
    gets ``backchannelPort`` pinned to the next free one, as ``urbanstack tenants new`` writes it."""
    from catalogue import names
    from catalogue.tenants import free_backchannel_port

    folder.mkdir(parents=True, exist_ok=True)
    slugs = []
    taken: set[int] = set()
    for i in range(1, n + 1):
        doc = tenant_document(i, every_module)
        port = names.backchannel_port(doc["slug"])
        if port in taken:
            port = doc["backchannelPort"] = free_backchannel_port(taken, port)
        taken.add(port)
        (folder / f"{doc['slug']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        slugs.append(doc["slug"])
    return slugs
