"""Helpers for tests: plan a synthetic municipality, edit a copy of a written plan."""

from __future__ import annotations

from pathlib import Path

import yaml

from catalogue.tenants import load_all
from tests.module_contract import tenant_document
from urbanstack.planfiles import load_file

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
    obj = read(path)
    change(obj)
    path.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")


def read(path: Path) -> dict:
    """One plan file (libyaml's loader: chart CRDs are large)."""
    return load_file(path)


def objects_of(plan_dir: Path, stack: str, folder: str) -> dict[str, dict]:
    """File name -> object of one chart/manifests/operator folder of a written plan."""
    return {f.name: read(f) for f in sorted((plan_dir / stack / folder).glob("*.yaml"))}
