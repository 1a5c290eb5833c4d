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
    """``plan_stack(stack, tenants_dir=None, config=None) -> StackPlan`` (cached for the default inputs)."""
    cache: dict[str, StackPlan] = {}

    def run(stack: str, tenants_dir: Path | None = None, config: dict | None = None) -> StackPlan:
        default = tenants_dir is None and config is None
        if default and stack in cache:
            return cache[stack]
        if stack == "shared":
            result = plan_shared(tenants_dir, config)
        else:
            shared = run("shared", tenants_dir) if tenants_dir is not None else run("shared")
            result = plan_tenant(stack, shared.outputs, tenants_dir, config)
        if default:
            cache[stack] = result
        return result

    return run


@pytest.fixture(scope="session")
def real_plan_dir(plan_stack, tmp_path_factory) -> Path:
    """The offline plan of shared + every example municipality, written once per session (do not modify)."""
    from catalogue.tenants import load_all
    from urbanstack.engine.plan import write_plan

    out = tmp_path_factory.mktemp("real") / "plan"
    write_plan([plan_stack(stack) for stack in ["shared", *load_all()]], out)
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
