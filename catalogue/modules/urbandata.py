"""urbanData: FROST-Server (OGC SensorThings API) for the urban sensor data platform.

What the catalogue knows of the module: its options in the tenant file and its spec. The component that
builds it is ``components/modules/urbandata.py``.
"""

from __future__ import annotations

from pydantic import Field

from catalogue.sizing import Size, Workload
from catalogue.spec import BACKCHANNEL_INTERNAL, DataStore, ModuleOptions, ModuleSpec

CLIENT_ROLES: dict[str, tuple[str, ...]] = {
    "read": ("admins", "editors", "viewers"),
    "create": ("admins", "editors"),
    "update": ("admins", "editors"),
    "delete": ("admins", "editors"),
    "admin": ("admins",),
}
"""FROST's roles (``auth.role.*``) as client roles of the ``urbandata`` client and the realm groups that get them.

FROST's KeycloakAuthProvider checks roles of its own client, not realm roles or groups (upstream
docs/settings/auth.md: "the roles need to be set explicitly for the FROST client"). The realm component
must create these client roles and map them to the groups (see ``SPEC.client_roles``).
"""

class Options(ModuleOptions):
    """Options of the `urbanData` module (FROST-Server)."""

    mqtt: bool = Field(True, description="Offer the SensorThings MQTT extension (FROST MQTT server, "
                                         "MQTT over secure WebSocket at wss://urbandata.<domain>/mqtt).")
    publicRead: bool = Field(False, description="Let anonymous users read observations (writes always need a login).")

SPEC = ModuleSpec(
    key="urbanData",
    name="urbandata",
    title="Urban data platform (FROST-Server, OGC SensorThings API)",
    description="Sensor things, datastreams and observations via HTTP and MQTT, stored in PostGIS.",
    options=Options,
    workloads={
        "http": Workload(Size(500, 1024)),
        "mqtt": Workload(Size(250, 512), replicas={"small": 1, "medium": 1, "large": 2}),
        "bus": Workload(Size(50, 64), replicas={"small": 1, "medium": 1, "large": 1}),
    },
    databases=("sensorthings",),
    data_stores=(DataStore("database", "sensorthings", "things, sensors, datastreams and observations"),),
    db_extensions={"sensorthings": ("postgis",)},
    client_roles=CLIENT_ROLES,
    # OIDC callback paths: none: FROST checks bearer tokens of API clients and logs no browser in, so the client has no browser flow.
    oidc_callbacks=(),
    # FROST's Keycloak adapter reads discovery and keys and redeems basic-auth logins there.
    backchannel={"http": BACKCHANNEL_INTERNAL, "mqtt": BACKCHANNEL_INTERNAL},
)
