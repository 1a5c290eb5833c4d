"""cert-manager's ClusterIssuer ``urban-issuer``, by config ``tls.issuer``:

* ``acme``: an ACME account (``tls.acmeServer``, e-mail ``adminEmail``) solving HTTP-01 challenges with an
  HTTPRoute on the shared Gateway's ``http`` listener (cert-manager's Gateway API support);
* ``internal-ca``: a self-signed root (ClusterIssuer ``urban-selfsigned`` → CA Certificate
  ``urban-root-ca`` in ``urban-cert-manager``, the namespace cert-manager reads ClusterIssuer secrets from)
  and a CA ClusterIssuer ``urban-issuer`` on it. Browsers must trust the root (distribute
  ``urban-root-ca``'s ``ca.crt``); meant for closed networks and tests.

Certificates of the platform (``platform-tls``) and of every municipality (``<slug>-tls``) use ``urban-issuer``.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import names
from components.k8s import child, meta

SELF_SIGNED = "urban-selfsigned"
ROOT_CA = "urban-root-ca"
ACME_ACCOUNT_KEY = "urban-issuer-acme-account"


def acme_spec(cfg) -> dict[str, Any]:
    return {"acme": {
        "email": str(cfg.adminEmail),
        "server": str(cfg.tls.acmeServer),
        "privateKeySecretRef": {"name": ACME_ACCOUNT_KEY},
        "solvers": [{"http01": {"gatewayHTTPRoute": {"parentRefs": [{
            "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": names.GATEWAY_NAME,
            "namespace": names.NS_GATEWAY, "sectionName": names.HTTP_LISTENER,
        }]}}}],
    }}


class Certificates(pulumi.ComponentResource):
    """The platform's ClusterIssuer (ACME or internal CA)."""

    def __init__(self, name: str, cfg, namespace: pulumi.Resource, operators,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:certificates", name, None, opts)
        after = pulumi.ResourceOptions(depends_on=[namespace, operators.cert_manager])

        def cluster_issuer(issuer_name: str, spec: dict, extra: list | None = None):
            return k8s.apiextensions.CustomResource(
                issuer_name, api_version="cert-manager.io/v1", kind="ClusterIssuer",
                metadata=meta(issuer_name, None), spec=spec,
                opts=child(self, pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=extra or []))))

        if cfg.tls.issuer == "acme":
            self.issuer = cluster_issuer(names.CLUSTER_ISSUER, acme_spec(cfg))
        else:
            self.self_signed = cluster_issuer(SELF_SIGNED, {"selfSigned": {}})
            self.root_ca = k8s.apiextensions.CustomResource(
                ROOT_CA, api_version="cert-manager.io/v1", kind="Certificate",
                metadata=meta(ROOT_CA, names.NS_CERT_MANAGER),
                spec={
                    "isCA": True,
                    "commonName": f"Urban Stack CA ({cfg.operatorName})"[:64],
                    "secretName": ROOT_CA,
                    "duration": "87600h",
                    "renewBefore": "720h",
                    "privateKey": {"algorithm": "ECDSA", "size": 384},
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": SELF_SIGNED},
                },
                opts=child(self, pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(
                    depends_on=[self.self_signed]))))
            self.issuer = cluster_issuer(names.CLUSTER_ISSUER, {"ca": {"secretName": ROOT_CA}}, [self.root_ca])
        self.register_outputs({})
