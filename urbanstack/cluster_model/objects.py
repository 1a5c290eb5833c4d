"""The plain-object helpers every operator model uses: metadata, labels, lookups, a pod's containers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catalogue import manifests

Obj = dict[str, Any]


def _md(obj: Obj) -> Obj:
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def _labels(obj: Obj) -> dict[str, str]:
    return dict(_md(obj).get("labels") or {})


def _find(objs: Iterable[Obj], kind: str, name: str | None = None, namespace: str | None = None,
          api_group: str | None = None) -> list[Obj]:
    out = []
    for o in objs:
        if o.get("kind") != kind:
            continue
        if api_group is not None and not str(o.get("apiVersion", "")).startswith(api_group + "/"):
            continue
        if name is not None and _md(o).get("name") != name:
            continue
        if namespace is not None and _md(o).get("namespace") != namespace:
            continue
        out.append(o)
    return out


def _containers(obj: Obj) -> list[Obj]:
    """The regular containers of a workload's pod template (none for other objects)."""
    template = manifests.workload_pod(obj)
    return [dict(c.body) for c in template.containers(("containers",))] if template else []


def _container_env(obj: Obj, container: str, env: str) -> str | None:
    for c in _containers(obj):
        if c.get("name") == container:
            for e in c.get("env") or []:
                if e.get("name") == env and "value" in e:
                    return str(e["value"])
    return None
