"""Helpers for tests: plan a synthetic municipality, edit a copy of a written plan."""

from __future__ import annotations

from pathlib import Path

import yaml

from catalogue.tenants import load_all
from tests.module_contract import tenant_document
from urbanstack.engine.planfiles import load_file

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


def add_installed_crds(plan_dir: Path, real_plan_dir: Path) -> Path:
    """Copy the CRDs ``shared`` installs (its chart and manifests folders in ``real_plan_dir``) into ``plan_dir``: a
    municipality's plan written on its own then holds the CRDs its custom resources are judged by, as on a cluster
    where ``shared`` is deployed first."""
    import shutil

    for crd in sorted((real_plan_dir / "shared").glob("*/customresourcedefinition-*.yaml")):
        folder = plan_dir / "shared" / crd.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(crd, folder / crd.name)
        if (crd.parent / "render.json").is_file():
            shutil.copyfile(crd.parent / "render.json", folder / "render.json")
    return plan_dir
