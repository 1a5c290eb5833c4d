"""What the planned Kubernetes objects request, summed per (tenant, module) label: the plan side of the
"estimate = plan" check (``tests/test_costs_estimate.py``).

Works on plain manifests (dicts, e.g. ``RecordedResource.inputs`` or the YAML files of ``build/plan``), so it
needs no Pulumi runtime. Counted, per object's ``urban-stack/tenant`` and ``urban-stack/module`` labels:

* Deployment / StatefulSet: ``replicas`` (default 1) x the requests of every container (init containers do not
  run alongside, and our sizing catalogue has one size per workload), plus ``replicas`` x every
  ``volumeClaimTemplates`` request;
* PersistentVolumeClaim: its storage request, unless it is the claim of a StatefulSet's replica
  (``<template>-<statefulset>-<i>``, the resize patch of ``components/module.py``): the StatefulSet counts it;
* CloudNativePG ``Cluster``: ``instances`` x ``resources.requests`` and ``instances`` x (``storage.size`` +
  ``walStorage.size``);
* ``ObjectBucketClaim``: ``additionalConfig.maxSize`` as object storage.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from catalogue.labels import MODULE, TENANT
from finance.sources.estimate import Declared

_SUFFIX = {
    "": Decimal(1), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
}
_QTY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def cpu_millis(value) -> int:
    """Kubernetes CPU quantity -> millicores (``500m`` -> 500, ``1.5`` -> 1500)."""
    text = str(value).strip()
    m = _QTY.match(text)
    if not m or m.group(2) not in (None, "m"):
        raise ValueError(f"not a CPU quantity: {value!r}")
    number = Decimal(m.group(1))
    return int(number if m.group(2) == "m" else number * 1000)


def _bytes(value) -> Decimal:
    text = str(value).strip()
    m = _QTY.match(text)
    if not m or m.group(2) == "m":
        raise ValueError(f"not a byte quantity: {value!r}")
    return Decimal(m.group(1)) * _SUFFIX[m.group(2) or ""]


def mebibytes(value) -> int:
    """Memory quantity -> MiB (``1Gi`` -> 1024, ``512Mi`` -> 512)."""
    return int(_bytes(value) / _SUFFIX["Mi"])


def gibibytes(value) -> int:
    """Storage quantity -> GiB (``5Gi`` -> 5); decimal units (``100G``) are read as GiB-sized quotas."""
    text = str(value).strip()
    m = _QTY.match(text)
    if m and m.group(2) in ("G", "T"):  # bucket quotas are written in G; the price is per "GB" of quota
        return int(Decimal(m.group(1)) * (1000 if m.group(2) == "T" else 1))
    return int(_bytes(value) / _SUFFIX["Gi"])


def _requests(resources: dict | None) -> tuple[int, int]:
    req = (resources or {}).get("requests") or {}
    return (cpu_millis(req["cpu"]) if "cpu" in req else 0, mebibytes(req["memory"]) if "memory" in req else 0)


def manifest_declared(obj: dict) -> Declared | None:
    """What one object requests, or None when it requests nothing we price."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet"):
        replicas = int(spec.get("replicas", 1) or 0)
        cpu = mem = 0
        for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
            c_cpu, c_mem = _requests(c.get("resources"))
            cpu, mem = cpu + c_cpu, mem + c_mem
        storage = sum(gibibytes((((t.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "0"))
                      for t in spec.get("volumeClaimTemplates") or [])
        return Declared(replicas * cpu, replicas * mem, replicas * storage)
    if kind == "PersistentVolumeClaim":
        return Declared(storage_gi=gibibytes(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")))
    if kind == "Cluster" and str(obj.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
        n = int(spec.get("instances", 1))
        cpu, mem = _requests(spec.get("resources"))
        storage = sum(gibibytes((spec.get(k) or {}).get("size", "0")) for k in ("storage", "walStorage"))
        return Declared(n * cpu, n * mem, n * storage)
    if kind == "ObjectBucketClaim":
        size = ((spec.get("additionalConfig") or {}).get("maxSize"))
        return Declared(object_gi=gibibytes(size)) if size else None
    return None


def plan_totals(objects: Iterable[dict]) -> dict[tuple[str, str], Declared]:
    """``(tenant, module) -> Declared`` summed over the manifests that request something."""
    objects = list(objects)
    replica_claims = {
        ((o.get("metadata") or {}).get("namespace"), f"{(t.get('metadata') or {}).get('name')}-{(o.get('metadata') or {}).get('name')}-{i}")
        for o in objects if o.get("kind") == "StatefulSet"
        for t in (o.get("spec") or {}).get("volumeClaimTemplates") or []
        for i in range(int((o.get("spec") or {}).get("replicas", 1) or 0))
    }
    out: dict[tuple[str, str], Declared] = defaultdict(Declared)
    for obj in objects:
        md = obj.get("metadata") or {}
        if obj.get("kind") == "PersistentVolumeClaim" and (md.get("namespace"), md.get("name")) in replica_claims:
            continue
        declared = manifest_declared(obj)
        if declared is None:
            continue
        labels = (obj.get("metadata") or {}).get("labels") or {}
        out[(labels.get(TENANT, "?"), labels.get(MODULE, "?"))] += declared
    return dict(out)
