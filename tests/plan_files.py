"""Helpers for tests that edit a copy of a written plan."""

from __future__ import annotations

import yaml


def edit(path, change) -> None:
    """Load one plan file, apply ``change(obj)``, write it back."""
    obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(obj)
    path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
