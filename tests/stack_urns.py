"""The URNs of every example stack (each cell's platform stack and members), recorded in ``tests/stack_urns.json``.

Cells (decision record 0015) were added without changing a URN of the default cell's stacks (``shared``,
``rheda-wiedenbrueck``, ``rietberg``, ``verl``); the stacks of the cell ``stadt-guetersloh`` register exactly the
resources of ``shared`` and of Gütersloh in the default cell, under their own stack names
(``tests/test_cells.py``).

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
