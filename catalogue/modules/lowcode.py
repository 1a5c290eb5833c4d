"""lowCode: Node-RED (low-code flows).

What the catalogue knows of the module: its options in the tenant file and its spec. The component that
builds it is ``components/modules/lowcode.py``.
"""

from __future__ import annotations

from pydantic import Field

from catalogue.sizing import Size, Workload
from catalogue.spec import BACKCHANNEL_INTERNAL, DataStore, ModuleOptions, ModuleSpec


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
        # The oauth2-proxy sidecar in the editor's pod (sized here so quota and cost estimate count it).
        "auth-proxy": Workload(Size(50, 64), replicas={"small": 1, "medium": 1, "large": 1}),
    },
    data_stores=(DataStore("volume", "data", "Node-RED's user directory: flows, credentials file, installed nodes",
                           workload="editor", container="node-red", path="/data"),),
    # OIDC callback paths: oauth2-proxy's callback (OAUTH2_PROXY_REDIRECT_URL, components/modules/lowcode.py).
    oidc_callbacks=("/oauth2/callback",),
    # oauth2-proxy (sidecar of the Node-RED editor) redeems codes, reads the profile and keys there.
    backchannel={"editor": BACKCHANNEL_INTERNAL},
)
