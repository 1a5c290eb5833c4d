"""Tenancy baseline: the municipality's namespace, quota, limits, RBAC and default-deny network."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from catalogue.sizing import LIMIT_RANGE_DEFAULT, LIMIT_RANGE_MAX, TENANT_PLANS
from components import k8s as kb
from components.base import TenantContext

PSA = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
READ = ["get", "list", "watch"]
VIEWER_RULES: list[dict] = [
    # What runs and how it is doing: workloads, their pods and events, services, routes, volumes (claims),
    # configuration without secrets (ConfigMaps here never hold secrets: modules put those in Secrets), the
    # quota, and the state of the database cluster and its backups. Not Secrets, not logs.
    {"apiGroups": [""], "resources": ["pods", "services", "events", "persistentvolumeclaims", "configmaps",
                                      "resourcequotas", "limitranges"], "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "replicasets"], "verbs": READ},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": READ},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": READ},
    # CloudNativePG resources (plural names of the CRDs its chart installs, vendor/charts/cloudnative-pg-*/, CloudNativePG 1.30).
    {"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters", "backups", "scheduledbackups"], "verbs": READ},
]
EDITOR_RULES: list[dict] = [
    *VIEWER_RULES,
    # Logs, to find out why a module misbehaves; deleting a pod restarts it (its controller re-creates it
    # unchanged). Nothing that changes a pod template: whoever may write a pod spec can mount any Secret.
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
]
ADMIN_RULES: list[dict] = [
    *EDITOR_RULES,
    # Scale a module down and up again (the scale subresource changes only the replica count), and take an
    # on-demand database backup before a risky change.
    {"apiGroups": ["apps"], "resources": ["deployments/scale", "statefulsets/scale"],
     "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["postgresql.cnpg.io"], "resources": ["backups"], "verbs": ["create"]},
]
GROUP_RULES: dict[str, list[dict]] = {"admins": ADMIN_RULES, "editors": EDITOR_RULES, "viewers": VIEWER_RULES}
"""What each realm group may do in its municipality's namespace (Roles of our own; docs/operations.md says
why). Deliberately never: read Secrets (database passwords, OIDC client secrets, bucket keys), exec, attach
or port-forward into pods, write NetworkPolicies, RBAC, cert-manager objects or pod templates, delete
PersistentVolumeClaims. Kubernetes' ``admin``/``edit`` ClusterRoles allow all of that (and controllers
aggregate their own rights into them, e.g. cert-manager's ``cert-manager-edit``), so they are not used."""


def role_name(group: str) -> str:
    """Name of the Role a realm group is bound to in its municipality's namespace."""
    return f"urban-stack-{group}"


class Tenancy(pulumi.ComponentResource):
    """Namespace ``<slug>`` (PSA restricted), ResourceQuota + LimitRange by plan, RBAC, default deny."""

    def __init__(self, name: str, ctx: TenantContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:tenant:tenancy", name, None, opts)
        ns = ctx.namespace
        plan = TENANT_PLANS[ctx.plan]
        # The namespace holds every PVC of the municipality: deleting it would delete its data.
        # A municipality on a platform subdomain: the shared wildcard listener admits routes from namespaces with
        # this label (components/shared/subdomains.py); the groups' Roles grant nothing on Namespaces.
        subdomain = names.PLATFORM_SUBDOMAIN_NAMESPACE_LABELS if ctx.on_platform_subdomain else {}
        self.namespace = k8s.core.v1.Namespace(
            ns, metadata=kb.meta(ns, None, labels={**PSA, **subdomain}),
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
        for group, rules in GROUP_RULES.items():
            role = k8s.rbac.v1.Role(f"{group}-role", metadata=kb.meta(role_name(group), ns), rules=rules,
                                    opts=child)
            k8s.rbac.v1.RoleBinding(
                f"{group}-binding", metadata=kb.meta(f"realm-{group}", ns),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name(group)},
                subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                           "name": names.group_name(ctx.slug, group)}],
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[role])),
            )
        after_ns = pulumi.ResourceOptions(depends_on=[self.namespace])
        kb.network_policy(self, "default-deny", ns, {}, ingress=[], egress=[], opts=after_ns)
        kb.network_policy(self, "allow-dns", ns, {}, egress=[kb.dns_egress()], opts=after_ns)
        self.register_outputs({"namespace": ns})
