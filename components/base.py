"""The context a tenant stack hands its components: the shared stack's outputs and the municipality."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from catalogue import names
from catalogue.schema import Tenant
from catalogue.shared_config import Network, OffsiteBackup, Smtp, Tls
from catalogue.spec import ModuleSpec


@dataclass(frozen=True)
class SharedRefs:
    """What a tenant stack receives from the shared stack (its ``StackReference`` outputs).

    Values may be Pulumi Outputs under the real engine. ``gateway_namespace`` and ``s3_mode`` are plain values
    (``catalogue/names.py``, ``stacks/Pulumi.shared.yaml``): NetworkPolicies name the namespace, and the mode
    decides which objects exist; ``mode_check`` fails the deployment if the deployed shared stack disagrees.
    """

    gateway_name: Any
    gateway_namespace: str
    cluster_issuer: Any
    keycloak_url: Any
    s3_endpoint: Any
    s3_mode: str
    storage_class: Any
    mode_check: Any = None
    smtp: Smtp | None = None
    """Mail relay of the realms (``catalogue.shared_config.Smtp``) or None: from ``stacks/Pulumi.shared.yaml``."""
    offsite_backup: OffsiteBackup | None = None
    """The operator's off-site backup target (``catalogue.shared_config.OffsiteBackup``) or ``None``."""
    network: Network | None = None
    """The cluster's address ranges (shared config ``network``): egress rules (``components/egress.py``)."""
    image_registry: str = ""
    """Registry of the images built here (shared config ``imageRegistry``): module pods pull them from there."""
    tls: Tls | None = None
    """How certificates are issued (shared config ``tls``): with ``acme`` the municipality's stack makes its own ACME
    Issuer (``components/tenant/gateway.py``), with ``internal-ca`` it uses the shared CA ClusterIssuer. ``None``:
    the shared CA ClusterIssuer."""
    admin_email: str = ""
    """Contact of the ACME account (shared config ``adminEmail``)."""
    base_domain: str = ""
    """The platform's ``baseDomain`` (shared config): hosts of a municipality on a platform subdomain lie below it."""


@dataclass(frozen=True)
class DatabaseInfo:
    """How modules reach the municipality's cluster (``components.tenant.database``): ``credentials[db]`` is a
    basic-auth Secret (username/password)."""

    cluster: str
    host: str
    port: int
    credentials: dict[str, str] = field(default_factory=dict)
    readonly_secret: str = ""


@dataclass(frozen=True)
class BucketInfo:
    """Where a module finds the municipality's bucket (``components.tenant.storage``): ``secret`` (keys) and
    ``config_map`` (coordinates) share a name."""

    name: str
    secret: str
    config_map: str
    endpoint: Any

    def url_for(self, prefix: str) -> str:
        return f"s3://{self.name}/{prefix}"


@dataclass(frozen=True, kw_only=True)
class TenantContext:
    """What every component of a municipality's stack knows: the validated tenant file, the shared stack's
    outputs, its namespace and realm issuer, and the namespace object everything in it is created after
    (``None`` only for the component that creates it, ``components.tenant.tenancy``)."""

    tenant: Tenant
    shared: SharedRefs
    namespace: str
    issuer_url: pulumi.Output[str] | str
    """OIDC issuer of the municipality's realm (``<keycloakUrl>/realms/<slug>``)."""
    namespace_resource: pulumi.Resource | None = None

    @property
    def in_namespace(self) -> pulumi.ResourceOptions:
        """Options for every object in the municipality's namespace: created after the namespace exists."""
        return pulumi.ResourceOptions(depends_on=[self.namespace_resource] if self.namespace_resource else [])

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def plan(self) -> str:
        return self.tenant.plan

    def host(self, spec: ModuleSpec) -> str:
        """Public host of a module: ``<module>.<domain>`` on the municipality's own domain, or
        ``<slug>-<module>.<baseDomain>`` on a platform subdomain (one label below ``baseDomain``: the wildcard
        certificate ``*.<baseDomain>`` covers exactly one; ``catalogue/names.py``)."""
        if self.tenant.platformSubdomain:
            if not self.shared.base_domain:
                raise ValueError(f"tenants/{self.slug}.yaml: platformSubdomain: the platform's baseDomain is unknown "
                                 "to this stack (SharedRefs.base_domain from stacks/Pulumi.shared.yaml)")
            return names.platform_subdomain_host(self.slug, spec.name, self.shared.base_domain)
        return f"{spec.name}.{self.tenant.domain}"

    @property
    def on_platform_subdomain(self) -> bool:
        """Served below the platform's ``baseDomain`` through the shared wildcard listener and certificate."""
        return bool(self.tenant.platformSubdomain)



@dataclass(frozen=True, kw_only=True)
class ModuleContext(TenantContext):
    """What a booked module's component knows besides the :class:`TenantContext`: the municipality's database and
    bucket, and the components that make the Secrets its workloads name. Built once, after those components."""

    db: DatabaseInfo
    bucket: BucketInfo
    prerequisites: tuple[pulumi.Resource, ...]
    """The municipality's components that make the Secrets module workloads name (the database component: role
    Secrets ``db-<role>``; the identity component: ``<module>-oidc``). Every module workload and Job depends on
    them (``ModuleComponent``): depending on a component waits for all its children."""
