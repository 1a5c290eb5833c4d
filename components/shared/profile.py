"""What the shared stack's profiles (`dev`, `production`) mean in replicas and sizes.

Every shared component sizes itself from one :class:`Profile`; tests assert the composition per profile.
``dev`` runs one replica of everything on small requests (a laptop cluster or a test namespace);
``production`` runs every stateless controller twice and every data service three times, spread over nodes
(anti-affinity) and protected by PodDisruptionBudgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalogue.shared_config import SharedConfig
from catalogue.sizing import Size


@dataclass(frozen=True)
class Profile:
    """Replicas and sizes of the shared platform.

    Attributes:
        name: ``dev`` or ``production``.
        controller_replicas: operators and controllers with leader election (CloudNativePG, cert-manager,
            Envoy Gateway controller).
        gateway_replicas: Envoy data-plane pods of the shared Gateway.
        keycloak_instances: Keycloak pods (one Infinispan cluster).
        database_instances: PostgreSQL instances of Keycloak's CloudNativePG cluster.
        prometheus_replicas / alertmanager_replicas: monitoring.
        ceph_mons: Ceph monitors (odd); ``ceph_mons == 1`` allows several per node.
        rgw_instances: Ceph RGW (S3) pods.
        keycloak_size, database_size, prometheus_size: requests per pod.
        database_storage_gi, prometheus_storage_gi: persistent volume per pod.
        prometheus_retention: how long metrics are kept (OpenCost reads them).
    """

    name: str
    controller_replicas: int
    gateway_replicas: int
    keycloak_instances: int
    database_instances: int
    prometheus_replicas: int
    alertmanager_replicas: int
    ceph_mons: int
    rgw_instances: int
    keycloak_size: Size
    database_size: Size
    prometheus_size: Size
    database_storage_gi: int
    prometheus_storage_gi: int
    prometheus_retention: str

    @property
    def highly_available(self) -> bool:
        return self.name == "production"


PROFILES: dict[str, Profile] = {
    "dev": Profile(
        name="dev", controller_replicas=1, gateway_replicas=1, keycloak_instances=1, database_instances=1,
        prometheus_replicas=1, alertmanager_replicas=1, ceph_mons=1, rgw_instances=1,
        keycloak_size=Size(250, 1024), database_size=Size(100, 256), prometheus_size=Size(200, 1024),
        database_storage_gi=5, prometheus_storage_gi=20, prometheus_retention="7d",
    ),
    "production": Profile(
        name="production", controller_replicas=2, gateway_replicas=3, keycloak_instances=3, database_instances=3,
        prometheus_replicas=2, alertmanager_replicas=3, ceph_mons=3, rgw_instances=2,
        keycloak_size=Size(1000, 2048), database_size=Size(500, 1024), prometheus_size=Size(1000, 4096),
        database_storage_gi=20, prometheus_storage_gi=100, prometheus_retention="40d",
    ),
}


def profile_of(cfg: SharedConfig) -> Profile:
    """The profile named by the shared config (``urban-stack:profile``)."""
    return PROFILES[cfg.profile]


def spread(labels: dict[str, str], required: bool = False) -> dict:
    """Pod anti-affinity: replicas with ``labels`` on different nodes (preferred, or required)."""
    term = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": "kubernetes.io/hostname"}
    if required:
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": term}]}}
