"""Reading a written plan back (``build/plan/<stack>/...``): one reader for the checks, ``plan --compare`` and the
tests. Pulumi-free: reading a plan needs no program."""

from __future__ import annotations

from pathlib import Path

import yaml

FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it (chart CRDs are large; the pure-Python one is ten times slower), else
the pure-Python one."""


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
