"""Helpers for tests: plan a synthetic municipality, edit a copy of a written plan."""

from __future__ import annotations

from pathlib import Path

import yaml

from catalogue.tenants import load_all
from tests.module_contract import tenant_document

SLUG = "contract"


def plan_booking(plan_stack, folder: Path, modules: dict, plan_name: str = "medium"):
    """Write municipality ``contract`` booking ``modules`` (key -> options) into ``folder``; return
    ``(plan, tenant)`` of its stack."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SLUG}.yaml").write_text(yaml.safe_dump(tenant_document(modules, plan_name), allow_unicode=True),
                                         encoding="utf-8")
    return plan_stack(SLUG, tenants_dir=folder), load_all([folder])[SLUG]


def edit(path, change) -> None:
    """Load one plan file, apply ``change(obj)``, write it back."""
    obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(obj)
    path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
