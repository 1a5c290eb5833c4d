"""dashboards: Apache Superset (data visualisation)."""

from __future__ import annotations

from pydantic import Field

from components.base import ModuleOptions, ModuleSpec
from components.sizing import Size, Workload


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
        "worker": Workload(Size(500, 1024)),
        "cache": Workload(Size(100, 256), replicas={"small": 1, "medium": 1, "large": 1},
                          storage_gi={"small": 1, "medium": 2, "large": 5}),
    },
    databases=("superset",),
)
