"""Publishing the municipality's modules through the shared Gateway: its TLS certificate.

The shared Gateway has one HTTPS listener per municipality (``https-<slug>``, hostname ``*.<domain>``,
routes only from namespace ``<slug>``) whose certificate lives in the municipality's namespace: this
component requests it from the shared ClusterIssuer (one certificate for every booked module's host),
grants the Gateway read access to exactly that Secret (``ReferenceGrant``) and lets the Gateway's Envoy pods
reach cert-manager's HTTP-01 solver pods, which the namespace's default deny would otherwise isolate
(issuer ``acme``: no certificate could ever be issued).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from components import k8s as kb
from components.base import TenantContext
from components.tenant import netpol


class Gateway(pulumi.ComponentResource):
    """The municipality's part of the shared Gateway: certificate, ReferenceGrant, solver flows."""

    def __init__(self, name: str, ctx: TenantContext, hosts: list[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:tenant:gateway", name, None, opts)
        ns, secret = ctx.namespace, names.tenant_tls_secret(ctx.slug)
        self.certificate = None
        if hosts:
            self.certificate = k8s.apiextensions.CustomResource(
                "tls", api_version="cert-manager.io/v1", kind="Certificate",
                metadata=kb.meta(secret, ns),
                spec={
                    "secretName": secret,
                    "dnsNames": sorted(hosts),
                    "issuerRef": {"name": ctx.shared.cluster_issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "duration": "2160h",
                    "renewBefore": "720h",
                },
                opts=kb.child(self, ctx.in_namespace),
            )
            # Solver pods exist only while a challenge is open; the policy selects them by cert-manager's label.
            kb.network_policy(self, "acme-http01-solver", ns, netpol.ACME_SOLVER_LABELS,
                              ingress=[netpol.acme_solver_ingress()], opts=ctx.in_namespace)
        k8s.apiextensions.CustomResource(
            "gateway-reads-tls", api_version="gateway.networking.k8s.io/v1beta1", kind="ReferenceGrant",
            metadata=kb.meta("gateway-reads-tls", ns),
            spec={
                "from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": names.NS_GATEWAY}],
                "to": [{"group": "", "kind": "Secret", "name": secret}],
            },
            opts=kb.child(self, ctx.in_namespace),
        )
        self.register_outputs({"hosts": sorted(hosts)})
