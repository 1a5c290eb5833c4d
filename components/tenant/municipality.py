"""One municipality's stack: its isolated space, database, realm, bucket and booked modules."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import names
from components.base import SharedRefs, TenantContext
from components.k8s import meta


def shared_refs(ref: pulumi.StackReference) -> SharedRefs:
    """The shared stack's outputs, as the tenant components use them."""
    return SharedRefs(
        gateway_name=ref.get_output("gatewayName"),
        gateway_namespace=names.NS_GATEWAY,
        cluster_issuer=ref.get_output("clusterIssuer"),
        keycloak_url=ref.get_output("keycloakUrl"),
        keycloak_namespace=names.NS_IDENTITY,
        keycloak_admin_secret=ref.get_output("keycloakAdminSecret"),
        s3_endpoint=ref.get_output("s3Endpoint"),
        s3_mode=ref.get_output("s3Mode"),
        storage_class=ref.get_output("storageClass"),
        object_store=ref.get_output("objectStore"),
        gateway_pod_labels=dict(names.GATEWAY_POD_LABELS),
    )


class Tenancy(pulumi.ComponentResource):
    """The municipality's namespace (Pod Security ``restricted``)."""

    def __init__(self, name: str, ctx: TenantContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:tenant:tenancy", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            ctx.namespace,
            metadata=meta(ctx.namespace, None, labels={
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }),
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        self.register_outputs({})


class Municipality(pulumi.ComponentResource):
    def __init__(self, name: str, tenant, shared: SharedRefs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:stack:municipality", name, None, opts)
        ctx = TenantContext(tenant=tenant, shared=shared, namespace=tenant.slug)
        self.tenancy = Tenancy("tenancy", ctx, opts=pulumi.ResourceOptions(parent=self))
        self.outputs: dict[str, Any] = {"namespace": ctx.namespace}
        self.register_outputs(self.outputs)
