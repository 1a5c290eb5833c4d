"""The written plan's format: how an object's file is named and how a written plan is read back.

Plain YAML, no Pulumi: the checks read plans with these (``urbanstack/plan.py`` writes them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
CONFIG_GROUP_TYPE = "kubernetes:yaml/v2:ConfigGroup"
"""Pulumi types of the remote components whose objects the plan renders offline (``urbanstack/render.py``)."""

FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it (chart CRDs are large), else the pure-Python one."""


def object_filename(obj: dict[str, Any]) -> str:
    md = obj.get("metadata") or {}
    parts = [obj.get("kind", "Unknown"), md.get("namespace") or "cluster", md.get("name") or "unnamed"]
    return "-".join(str(p).lower() for p in parts) + ".yaml"


def type_token(obj: dict[str, Any]) -> str:
    """The Pulumi type of a Kubernetes object: ``apps/v1`` Deployment -> ``kubernetes:apps/v1:Deployment``."""
    api = str(obj.get("apiVersion", ""))
    group_version = api if "/" in api else f"core/{api}"
    return f"kubernetes:{group_version}:{obj.get('kind', '')}"


def plan_files(stack_folder: Path) -> list[Path]:
    """Every object file of one stack: its own (``*.yaml``) and those of its chart/manifests/operator folders."""
    return sorted(stack_folder.glob("*.yaml")) + sorted(stack_folder.glob("*/*.yaml"))


def read_objects(plan_dir: Path) -> dict[str, list[tuple[Path, dict]]]:
    """Read a written plan back: stack -> [(file, object)], the subfolders' objects included."""
    out: dict[str, list[tuple[Path, dict]]] = {}
    for folder in sorted(p for p in plan_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out[folder.name] = [(f, yaml.load(f.read_text(encoding="utf-8"), Loader=FAST_LOADER))
                            for f in plan_files(folder)]
    return out
