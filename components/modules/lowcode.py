"""lowCode: Node-RED (low-code flows)."""

from __future__ import annotations

from pydantic import Field

from components.base import ModuleOptions, ModuleSpec
from components.sizing import Size, Workload


class Options(ModuleOptions):
    """Options of the `lowCode` module (Node-RED)."""

    projects: bool = Field(False, description="Enable Node-RED projects (flows versioned with git).")


SPEC = ModuleSpec(
    key="lowCode",
    name="lowcode",
    title="Low-code tools (Node-RED)",
    description="One Node-RED instance for the municipality's integration flows, editor login through its realm.",
    options=Options,
    workloads={
        "editor": Workload(Size(250, 512), replicas={"small": 1, "medium": 1, "large": 1},
                           storage_gi={"small": 5, "medium": 10, "large": 20}),
    },
)
