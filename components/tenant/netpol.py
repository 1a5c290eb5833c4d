"""NetworkPolicy peers of a municipality's namespace: the only flows that exist.

Tenant components and modules build their policies from these peers so that the allowed flows are named
once: DNS, gateway → apps, apps → their own database, apps → their realm's back channel on the Gateway,
apps/database → S3, the internet (``components/egress.py``). No rule here reaches Keycloak's pods.
"""

from __future__ import annotations

from catalogue import names
from components import egress
from components.base import TenantContext
from components.k8s import peer, tcp

DB_POD_LABELS = {"cnpg.io/cluster": names.DB_CLUSTER}
ENVOY_HTTPS_PORT = 10443
"""Container port of Envoy's HTTPS listener (Envoy Gateway maps port 443 to 10443 to run unprivileged)."""
ACME_SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
"""Label cert-manager puts on every HTTP-01 solver pod it starts in the Certificate's namespace
(cert-manager v1.21.1 pkg/issuer/acme/http/pod.go ``podLabels``: ``cmacme.SolverIdentificationLabelKey`` =
``acme.cert-manager.io/http01-solver`` with value ``"true"``, pkg/apis/acme/v1/types.go); the other two labels
it sets (``http-domain``, ``http-token``) are hashes that differ per challenge."""
ACME_SOLVER_PORT = 8089
"""Port of the solver pod's ``acmesolver`` container (cert-manager v1.21.1 pkg/issuer/acme/http/http.go
``acmeSolverListenPort = 8089``, passed as ``--listen-port`` and declared as container port ``http``)."""


def from_gateway(*ports: int) -> dict:
    """Ingress rule: the shared Gateway's Envoy pods, on the app's ports."""
    return {"from": [peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS)], "ports": tcp(*ports)}


def acme_solver_ingress() -> dict:
    """Ingress rule of the HTTP-01 solver pods: the Envoy pods on the solver's port.

    The ACME CA fetches ``http://<host>/.well-known/acme-challenge/<token>`` through the Gateway's ``http``
    listener; Envoy forwards it to the solver Service cert-manager creates, i.e. to the solver pod on 8089.
    """
    return from_gateway(ACME_SOLVER_PORT)


def to_database() -> dict:
    """Egress rule: the municipality's own CloudNativePG cluster (same namespace)."""
    return {"to": [peer(None, DB_POD_LABELS)], "ports": tcp(names.DB_PORT)}


def to_keycloak(slug: str, port: int | None = None) -> dict:
    """Egress rule: the realm's OIDC back channel (discovery, token, userinfo, keys) at municipality ``slug``'s
    internal listener of the shared Gateway (``names.backchannel_base_url``), i.e. the Envoy pods on
    ``names.backchannel_port(slug)``. The Envoy pods admit there only this municipality's pods labelled
    ``urban-stack/oidc-backchannel: internal`` (the municipality's own NetworkPolicy ``backchannel-<slug>`` in
    urban-gateway), and the listener's route serves only that realm's back-channel paths
    (components/tenant/gateway.py). Module pods have no rule to
    Keycloak's pods. It does not depend on how the Gateway's public address is published (docs/operations.md,
    "Traffic to the Gateway's public address")."""
    return {"to": [peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS)], "ports": tcp(names.backchannel_port(slug, port))}


def to_keycloak_public(ctx: TenantContext | None = None) -> list[dict]:
    """Egress rules: Keycloak through the Gateway's public address, for apps that can only be given one base URL
    (browser and back channel alike). Two rules, because the address reaches Envoy in two ways: with kube-proxy
    and an IP LoadBalancer the node rewrites it to an Envoy pod on 10443 (first rule); with a hostname or
    proxy-mode LoadBalancer the connection leaves the cluster for the load balancer on 443 (second rule, which
    needs a load balancer address outside the private ranges)."""
    return [{"to": [peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS)], "ports": tcp(ENVOY_HTTPS_PORT)},
            to_internet_https(ctx)]


def _network(ctx: TenantContext | None):
    return ctx.shared.network if ctx is not None else None


def to_s3(ctx: TenantContext) -> dict:
    """Egress rule: the object store (Rook RGW pods in-cluster, or the external provider / own target)."""
    tenant = ctx.tenant
    if ctx.shared.s3_mode == "rook-ceph" and tenant.backup.target is None:
        return {"to": [peer(names.NS_STORAGE, {"app": "rook-ceph-rgw"})], "ports": tcp(names.RGW_PORT)}
    return egress.to_internet(_network(ctx), 443)


def to_backup(ctx: TenantContext) -> dict:
    """Egress rule of the database instances to where their backups go, in the precedence of
    ``components.tenant.database.backup_store``: the municipality's own ``backup.target`` (the internet, HTTPS),
    else the operator's off-site target (shared config ``backup.offsite.egressCidr``, HTTPS), else the bucket
    (:func:`to_s3`)."""
    offsite = ctx.shared.offsite_backup
    if ctx.tenant.backup.target is None and offsite is not None:
        return egress.to_cidr(offsite.egressCidr, _network(ctx), 443)
    return to_s3(ctx)


def to_api_server(ctx: TenantContext) -> dict:
    """Egress rule: the Kubernetes API server (443/6443; shared config ``network.apiServerCidrs``), for the
    database instances' instance manager only."""
    return egress.api_server(_network(ctx))


def from_pods(pods: dict[str, str], *ports: int) -> dict:
    """Ingress rule: pods with ``pods`` labels in the same namespace, on ``ports``."""
    return {"from": [peer(None, pods)], "ports": tcp(*ports)}


def to_pods(pods: dict[str, str], *ports: int) -> dict:
    """Egress rule: pods with ``pods`` labels in the same namespace, on ``ports``."""
    return {"to": [peer(None, pods)], "ports": tcp(*ports)}


def to_internet_https(ctx: TenantContext | None = None) -> dict:
    """Egress rule: HTTPS to the public internet (external APIs a flow calls; ``components/egress.py``: never the
    cluster's private, CGNAT, link-local or configured ranges, never the API server)."""
    return egress.to_internet(_network(ctx), 443)
