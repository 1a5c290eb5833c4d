"""The URNs of every example stack (``shared`` and each ``tenants/*.yaml``), recorded in ``tests/stack_urns.json``.

A URN is what Pulumi keys a resource's state by: a changed URN means a replacement (blocked by ``protect`` on
data-bearing resources) or a state migration. ``tests/test_architecture.py`` compares the URNs of today's
programs with the recorded list; refactorings must leave it unchanged. When a change of URNs is intended (a new
resource, a new municipality), re-record with ``python -m tests.stack_urns`` and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from urbanstack.engine.plan import plan_all

RECORDED = Path(__file__).resolve().parent / "stack_urns.json"


def urns_by_stack(plans) -> dict[str, list[str]]:
    """Stack -> the sorted URNs of every resource it registers."""
    return {plan.stack: sorted(r.urn for r in plan.resources) for plan in plans}


def record() -> None:
    RECORDED.write_text(json.dumps(urns_by_stack(plan_all()), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    record()
