"""One municipality's stack: its isolated space, database, realm, bucket and booked modules."""

from __future__ import annotations

from typing import Any

import pulumi

from catalogue import names
from catalogue.modules import CATALOGUE
from catalogue.schema import Tenant
from components.base import ModuleContext, SharedRefs, TenantContext
from components.modules import component
from components.tenant.database import Database
from components.tenant.gateway import Gateway
from components.tenant.identity import Identity
from components.tenant.storage import Storage
from components.tenant.tenancy import Tenancy


def shared_refs(ref: pulumi.StackReference, s3_mode: str, smtp: Any = None) -> SharedRefs:
    """The shared stack's outputs, as the tenant components use them.

    ``s3_mode`` decides which objects exist, so it must be a plain value: it comes from
    ``stacks/Pulumi.shared.yaml`` and is checked against the shared stack's output at deploy time.
    """
    def check_mode(deployed: str | None) -> str:
        if deployed and deployed != s3_mode:
            raise pulumi.RunError(f"storage mode mismatch: stacks/Pulumi.shared.yaml says '{s3_mode}', the deployed "
                                  f"shared stack runs '{deployed}'; deploy the shared stack first")
        return s3_mode

    return SharedRefs(
        gateway_name=ref.get_output("gatewayName"),
        gateway_namespace=names.NS_GATEWAY,
        cluster_issuer=ref.get_output("clusterIssuer"),
        keycloak_url=ref.get_output("keycloakUrl"),
        s3_endpoint=ref.get_output("s3Endpoint"),
        s3_mode=s3_mode,
        storage_class=ref.get_output("storageClass"),
        mode_check=ref.get_output("s3Mode").apply(check_mode),
        smtp=smtp,
    )


class Municipality(pulumi.ComponentResource):
    """Tenancy baseline → bucket → database → realm → gateway certificate → booked modules."""

    def __init__(self, name: str, tenant: Tenant, shared: SharedRefs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:stack:municipality", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        issuer_url = pulumi.Output.concat(shared.keycloak_url, "/realms/", tenant.slug)
        booked = [(CATALOGUE[key], options) for key, options in tenant.booked().items()]
        self.tenancy = Tenancy("tenancy", TenantContext(tenant=tenant, shared=shared, namespace=tenant.slug,
                                                        issuer_url=issuer_url), opts=child)
        ctx = TenantContext(tenant=tenant, shared=shared, namespace=tenant.slug, issuer_url=issuer_url,
                            namespace_resource=self.tenancy.namespace)
        self.storage = Storage("storage", ctx, opts=child)
        databases = {db: mod.db_extensions.get(db, ()) for mod, _ in booked for db in mod.databases}
        readonly = tuple(db for mod, _ in booked for db in mod.readonly_roles)
        self.database = Database("database", ctx, databases, self.storage.info, opts=child, readonly=readonly)
        self.identity = Identity("identity", ctx, [mod for mod, _ in booked], opts=child)
        hosts = [ctx.host(mod) for mod, _ in booked]
        # Its ListenerSet (with only the back channel on a platform subdomain, components/tenant/gateway.py).
        self.gateway = Gateway("gateway", ctx, hosts, opts=child)
        # The Secrets module workloads name come from the database and identity components.
        module_ctx = ModuleContext(tenant=tenant, shared=shared, namespace=tenant.slug, issuer_url=issuer_url,
                                   namespace_resource=self.tenancy.namespace, db=self.database.info,
                                   bucket=self.storage.info, prerequisites=(self.database, self.identity))
        self.modules = {
            mod.key: component(mod.key)(module_ctx, options, opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.database, self.identity, self.gateway]))
            for mod, options in booked
        }
        self.outputs: dict[str, Any] = {
            "namespace": ctx.namespace,
            "realm": tenant.slug,
            "issuerUrl": ctx.issuer_url,
            "urls": {mod.key: f"https://{ctx.host(mod)}" for mod, _ in booked},
            "databaseService": self.database.info.host,
            "databases": sorted(self.database.info.credentials),
            "bucket": self.storage.info.name,
            "backupDestination": tenant.backup.target.bucket if tenant.backup.target else self.storage.info.url_for("cnpg"),
            "storageMode": shared.mode_check,
        }
        self.register_outputs(self.outputs)
