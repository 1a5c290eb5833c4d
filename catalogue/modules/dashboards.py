"""dashboards: Apache Superset (data visualisation).

What the catalogue knows of the module: its options in the tenant file and its spec. The component that
builds it is ``components/modules/dashboards.py``.
"""

from __future__ import annotations

from pydantic import Field

from catalogue.sizing import Size, Workload
from catalogue.spec import BACKCHANNEL_INTERNAL, DataStore, ModuleOptions, ModuleSpec


class Options(ModuleOptions):
    """Options of the `dashboards` module (Apache Superset)."""

    readOnlyDatasource: bool = Field(
        True, description="Register the municipality's PostGIS database as a read-only Superset datasource."
    )

SPEC = ModuleSpec(
    key="dashboards",
    name="dashboards",
    title="Data visualisation (Apache Superset)",
    description="Dashboards and charts on the municipality's data, login through its realm.",
    options=Options,
    workloads={
        "web": Workload(Size(500, 1024)),
        "worker": Workload(Size(500, 1024), replicas={"small": 1, "medium": 1, "large": 2}),
        "cache": Workload(Size(100, 256), replicas={"small": 1, "medium": 1, "large": 1}),
    },
    databases=("superset",),
    data_stores=(DataStore("database", "superset", "dashboards, charts, saved queries, users and roles"),),
    # OIDC callback paths: Flask-AppBuilder's OAuth view `/oauth-authorized/<provider>` (provider `keycloak`, components/modules/dashboards.py).
    oidc_callbacks=("/oauth-authorized/keycloak",),
    # Superset reads discovery, redeems codes and fetches keys at the internal back channel.
    backchannel={"web": BACKCHANNEL_INTERNAL},
)
