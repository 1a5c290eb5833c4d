"""urbanData: FROST-Server (OGC SensorThings API) for the urban sensor data platform."""

from __future__ import annotations

from pydantic import Field

from components.base import ModuleOptions, ModuleSpec
from components.sizing import Size, Workload


class Options(ModuleOptions):
    """Options of the `urbanData` module (FROST-Server)."""

    mqtt: bool = Field(True, description="Offer the SensorThings MQTT extension (FROST MQTT server).")
    publicRead: bool = Field(False, description="Let anonymous users read observations (writes always need a login).")


SPEC = ModuleSpec(
    key="urbanData",
    name="urbandata",
    title="Urban data platform (FROST-Server, OGC SensorThings API)",
    description="Sensor things, datastreams and observations via HTTP and MQTT, stored in PostGIS.",
    options=Options,
    workloads={
        "http": Workload(Size(500, 1024)),
        "mqtt": Workload(Size(250, 512)),
    },
    databases=("sensorthings",),
)
