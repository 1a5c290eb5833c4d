"""NetworkPolicy peers of a municipality's namespace: the only flows that exist.

Tenant components and modules build their policies from these peers so that the allowed flows are named
once: DNS, gateway → apps, apps → their own database, apps → shared Keycloak, apps/database → S3.
"""

from __future__ import annotations

from components import names
from components.base import TenantContext
from components.k8s import peer, tcp

DB_CLUSTER = "postgis"
DB_PORT = 5432
DB_POD_LABELS = {"cnpg.io/cluster": DB_CLUSTER}
ENVOY_HTTPS_PORT = 10443
"""Container port of Envoy's HTTPS listener (Envoy Gateway maps port 443 to 10443 to run unprivileged)."""


def dns_egress() -> dict:
    """Egress rule: cluster DNS (kube-dns / CoreDNS in kube-system)."""
    return {
        "to": [peer("kube-system", {"k8s-app": "kube-dns"})],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def from_gateway(*ports: int) -> dict:
    """Ingress rule: the shared Gateway's Envoy pods, on the app's ports."""
    return {"from": [peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS)], "ports": tcp(*ports)}


def to_database() -> dict:
    """Egress rule: the municipality's own CloudNativePG cluster (same namespace)."""
    return {"to": [peer(None, DB_POD_LABELS)], "ports": tcp(DB_PORT)}


def to_keycloak() -> dict:
    """Egress rule: the shared Keycloak, through the Gateway (apps use the public issuer URL for discovery,
    tokens and keys; Keycloak itself admits only the Gateway and the realm jobs)."""
    return {"to": [peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS)], "ports": tcp(ENVOY_HTTPS_PORT)}


def to_s3(ctx: TenantContext) -> dict:
    """Egress rule: the object store (Rook RGW pods in-cluster, or the external provider / own target)."""
    tenant = ctx.tenant
    if ctx.shared.s3_mode == "rook-ceph" and tenant.backup.target is None:
        return {"to": [peer(names.NS_STORAGE, {"app": "rook-ceph-rgw"})], "ports": tcp(names.RGW_PORT)}
    return {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
            "ports": tcp(443)}


def from_pods(pods: dict[str, str], *ports: int) -> dict:
    """Ingress rule: pods with ``pods`` labels in the same namespace, on ``ports``."""
    return {"from": [peer(None, pods)], "ports": tcp(*ports)}


def to_pods(pods: dict[str, str], *ports: int) -> dict:
    """Egress rule: pods with ``pods`` labels in the same namespace, on ``ports``."""
    return {"to": [peer(None, pods)], "ports": tcp(*ports)}


def to_internet_https() -> dict:
    """Egress rule: HTTPS to addresses outside the cluster's private ranges (external APIs a flow calls)."""
    return {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
            "ports": tcp(443)}
