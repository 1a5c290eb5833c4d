"""Reading a written plan back (``build/plan/<stack>/...``): one reader for the checks, ``plan --compare`` and the
tests. Pulumi-free: reading a plan needs no program."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import yaml

CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
CONFIG_GROUP_TYPE = "kubernetes:yaml/v2:ConfigGroup"
"""Pulumi types (in ``resources.json``) of the remote components whose objects the plan renders offline
(``urbanstack/engine/render.py``)."""


def type_token(obj: dict[str, Any]) -> str:
    """The Pulumi type of a Kubernetes object: ``apps/v1`` Deployment -> ``kubernetes:apps/v1:Deployment``."""
    api = str(obj.get("apiVersion", ""))
    group_version = api if "/" in api else f"core/{api}"
    return f"kubernetes:{group_version}:{obj.get('kind', '')}"


FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it (chart CRDs are large; the pure-Python one is ten times slower), else
the pure-Python one."""

_PARSED: dict[bytes, bytes] = {}
"""File content digest -> the parsed object, pickled. Within one process a file whose bytes were read before is
not parsed again: ``plan --compare`` reads two plans that differ in a few files, and the tests read many copies
of one plan. Unpickling is a fresh object (callers may change it) and ten times faster than parsing YAML."""
_PARSED_LIMIT = 512 * 1024 * 1024
_parsed_bytes = 0


def load_file(path: Path) -> Any:
    """One plan file, parsed (a fresh object on every call)."""
    global _parsed_bytes
    data = path.read_bytes()
    key = hashlib.blake2b(data, digest_size=20).digest()
    blob = _PARSED.get(key)
    if blob is not None:
        return pickle.loads(blob)
    obj = yaml.load(data.decode("utf-8"), Loader=FAST_LOADER)
    if _parsed_bytes < _PARSED_LIMIT:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        _PARSED[key] = blob
        _parsed_bytes += len(blob)
    return obj


def plan_files(stack_folder: Path) -> list[Path]:
    """Every object file of one stack: its own (``*.yaml``) and those of its chart/manifests/operator folders."""
    return sorted(stack_folder.glob("*.yaml")) + sorted(stack_folder.glob("*/*.yaml"))


def read_objects(plan_dir: Path) -> dict[str, list[tuple[Path, Any]]]:
    """Read a written plan back: stack -> [(file, object)], the subfolders' objects included."""
    return {folder.name: [(f, load_file(f)) for f in plan_files(folder)]
            for folder in sorted(p for p in plan_dir.iterdir() if p.is_dir() and not p.name.startswith("."))}
