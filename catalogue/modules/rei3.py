"""rei3: REI3 low-code business applications.

What the catalogue knows of the module: its options in the tenant file and its spec. The component that
builds it is ``components/modules/rei3.py``.
"""

from __future__ import annotations

from catalogue.sizing import Size, Workload
from catalogue.spec import BACKCHANNEL_PUBLIC, DataStore, ModuleOptions, ModuleSpec

DATA = "/opt/r3/data"
"""The persistent volume: config.json (REI3 rewrites it), files, certificates, temp and transfer folders."""

class Options(ModuleOptions):
    """Options of the `rei3` module (none yet: REI3 keeps its settings, languages and OIDC clients in its own
    database, set in its admin UI; book it with `rei3: {}`)."""

SPEC = ModuleSpec(
    key="rei3",
    name="rei3",
    title="Business applications (REI3)",
    description="REI3 low-code business applications, data in the municipality's database.",
    options=Options,
    workloads={
        "app": Workload(Size(500, 1024), replicas={"small": 1, "medium": 1, "large": 1},
                        storage_gi={"small": 10, "medium": 25, "large": 50}),
    },
    databases=("rei3",),
    data_stores=(
        DataStore("database", "rei3", "applications, their data and users"),
        DataStore("volume", "data", "uploaded files, transfer and temporary data (REI3's data folder)",
                  workload="app", container="rei3", path=DATA),
    ),
    # OIDC callback paths: the redirect URL entered in REI3's admin UI at the one-time OIDC step: the app's root (docs/operations.md).
    oidc_callbacks=("/",),
    # REI3 takes one issuer URL for browser and back channel.
    backchannel={"app": BACKCHANNEL_PUBLIC},
)
