"""Tenancy baseline: the municipality's namespace, quota, limits, RBAC and default-deny network."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import k8s as kb
from components.base import TenantContext
from components.sizing import LIMIT_RANGE_DEFAULT, LIMIT_RANGE_MAX, TENANT_PLANS
from components.tenant import netpol

PSA = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
ROLE_BINDINGS = {"admins": "admin", "editors": "edit", "viewers": "view"}
"""Realm group -> Kubernetes ClusterRole granted inside the municipality's namespace only."""


def group_name(slug: str, group: str) -> str:
    """Kubernetes group of a realm group, as the cluster's OIDC authenticator presents it."""
    return f"urban-stack:{slug}:{group}"


class Tenancy(pulumi.ComponentResource):
    """Namespace ``<slug>`` (PSA restricted), ResourceQuota + LimitRange by plan, RBAC, default deny."""

    def __init__(self, name: str, ctx: TenantContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:tenant:tenancy", name, None, opts)
        ns = ctx.namespace
        plan = TENANT_PLANS[ctx.plan]
        # The namespace holds every PVC of the municipality: deleting it would delete its data.
        self.namespace = k8s.core.v1.Namespace(
            ns, metadata=kb.meta(ns, None, labels=PSA),
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        k8s.core.v1.ResourceQuota(
            "quota", metadata=kb.meta("quota", ns),
            spec={"hard": {
                "requests.cpu": f"{plan.quota_cpu_m}m",
                "limits.cpu": f"{plan.quota_cpu_m * 2}m",
                "requests.memory": f"{plan.quota_memory_mi}Mi",
                "limits.memory": f"{plan.quota_memory_mi}Mi",
                "requests.storage": f"{plan.quota_storage_gi}Gi",
                "persistentvolumeclaims": str(plan.quota_pods),
                "pods": str(plan.quota_pods),
                "services.loadbalancers": "0",
                "services.nodeports": "0",
            }},
            opts=child,
        )
        k8s.core.v1.LimitRange(
            "limits", metadata=kb.meta("limits", ns),
            spec={"limits": [{
                "type": "Container",
                "defaultRequest": {"cpu": f"{LIMIT_RANGE_DEFAULT.cpu_m}m", "memory": f"{LIMIT_RANGE_DEFAULT.memory_mi}Mi"},
                "default": LIMIT_RANGE_DEFAULT.resources()["limits"],
                "max": LIMIT_RANGE_MAX.resources()["limits"],
            }]},
            opts=child,
        )
        for group, role in ROLE_BINDINGS.items():
            k8s.rbac.v1.RoleBinding(
                f"{group}-{role}", metadata=kb.meta(f"realm-{group}", ns),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                           "name": group_name(ctx.slug, group)}],
                opts=child,
            )
        after_ns = pulumi.ResourceOptions(depends_on=[self.namespace])
        kb.network_policy(self, "default-deny", ns, {}, ingress=[], egress=[], opts=after_ns)
        kb.network_policy(self, "allow-dns", ns, {}, egress=[netpol.dns_egress()], opts=after_ns)
        self.register_outputs({"namespace": ns})
