"""The layering of the project: the URNs a refactoring must not change."""

from __future__ import annotations

import json

from catalogue.tenants import load_all
from tests.stack_urns import RECORDED, urns_by_stack


def test_the_urns_of_every_example_stack_are_the_recorded_ones(plan_stack):
    """A changed URN replaces a resource (blocked by protect) or needs a state migration: code moves must not
    change one (re-record with ``python -m tests.stack_urns`` only for an intended change)."""
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    current = urns_by_stack([plan_stack(stack) for stack in ["shared", *load_all()]])
    assert list(current) == list(recorded)
    for stack, urns in recorded.items():
        assert set(current[stack]) - set(urns) == set(), f"{stack}: new URNs"
        assert set(urns) - set(current[stack]) == set(), f"{stack}: URNs gone"
