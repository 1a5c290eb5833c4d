"""The outside checks pass over the real offline plan of shared + every example municipality."""

from __future__ import annotations

import pytest

from catalogue.tenants import load_all
from urbanstack.checks import CHECK_NAMES, run_all
from urbanstack.checks.base import load_plan


@pytest.fixture(scope="module")
def real_plan(real_plan_dir):
    return load_plan(real_plan_dir)


@pytest.mark.parametrize("check", CHECK_NAMES)
def test_the_real_plan_passes(real_plan, check):
    [result] = run_all(real_plan, only=[check])
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.checked > 0
    assert result.figure().startswith(f"{result.name}: {result.checked} {result.unit} checked [ours ")
    assert "], 0 failures" in result.figure()


def test_the_plan_covers_every_cells_platform_stack_and_every_example_municipality(real_plan):
    assert real_plan.stacks == sorted(["shared", "rheda-wiedenbrueck", "rietberg", "verl",
                                       "shared.stadt-guetersloh", "guetersloh.stadt-guetersloh"])
    assert {slug for view in real_plan.cells() for slug in view.slug_of.values()} == set(load_all())
