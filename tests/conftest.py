"""Shared fixtures: run a stack under Pulumi's mocks and return what it registered.

``plan_stack("verl")`` runs the real program of stack ``verl`` (shared first, for its outputs) exactly as
``pulumi up`` would, with the label transform applied the way the engine applies it (see
``urbanstack/engine/offline.py``). Results for the repository's own tenant files are cached per session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalogue.paths import ROOT
from catalogue.shared_config import SHARED_CONFIG, stack_config
from urbanstack.engine.offline import StackPlan
from urbanstack.engine.plan import plan_shared, plan_tenant

TENANTS = ROOT / "tenants"


@pytest.fixture(scope="session")
def plan_stack():
    """``plan_stack(stack, tenants_dir=None, config=None) -> StackPlan`` (cached for the default inputs).

    ``stack`` is a stack name (``shared``, ``shared.<cell>``, ``<slug>.<cell>``) or a slug: the municipality's stack
    in the cell its tenant file names (``plan_stack("guetersloh")`` plans ``guetersloh.stadt-guetersloh`` after
    ``shared.stadt-guetersloh``)."""
    from catalogue.tenants import load_all
    from urbanstack.engine.plan import resolve

    cache: dict[str, StackPlan] = {}

    def run(stack: str, tenants_dir: Path | None = None, config: dict | None = None) -> StackPlan:
        default = tenants_dir is None and config is None
        if default and stack in cache:
            return cache[stack]
        where = resolve(stack, load_all([tenants_dir] if tenants_dir else None))
        if where.slug is None:
            result = plan_shared(tenants_dir, config, stack=where.stack)
        else:
            shared = run(where.platform, tenants_dir) if tenants_dir is not None else run(where.platform)
            result = plan_tenant(where.slug, shared.outputs, tenants_dir, config, stack=where.stack,
                                 platform=where.platform)
        if default:
            cache[stack] = result
        return result

    return run


@pytest.fixture(scope="session")
def real_plan_dir(plan_stack, tmp_path_factory) -> Path:
    """The offline plan of every cell (its platform stack and its members) of the example, written once per session
    (do not modify)."""
    from catalogue import cells
    from catalogue.shared_config import load_file
    from catalogue.tenants import load_all
    from urbanstack.engine.plan import write_plan

    out = tmp_path_factory.mktemp("real") / "plan"
    stacks = [name for cs in cells.layout(load_file(), load_all()) for name in (cs.platform, *cs.members.values())]
    write_plan([plan_stack(stack) for stack in stacks], out)
    return out


@pytest.fixture
def crafted(real_plan_dir, tmp_path) -> Path:
    """A writable copy of the real plan plus a hardened sample workload in municipality ``verl``."""
    from catalogue.tenants import load_all
    from tests.sample_plan import write_crafted_plan

    tenants = {slug: t.costCenter for slug, t in load_all().items()}
    return write_crafted_plan(real_plan_dir, tmp_path / "plan", tenants, "verl")


@pytest.fixture
def tenants_copy(tmp_path) -> Path:
    """A writable copy of the example tenant files."""
    dest = tmp_path / "tenants"
    shutil.copytree(TENANTS, dest)
    return dest


@pytest.fixture
def shared_config() -> dict:
    """The shared stack's config from stacks/Pulumi.shared.yaml (a fresh dict to modify)."""
    return dict(stack_config(SHARED_CONFIG))
