"""cert-manager's ClusterIssuer ``urban-issuer``, by config ``tls.issuer``:

* ``acme``: an ACME account (``tls.acmeServer``, e-mail ``adminEmail``) solving HTTP-01 challenges with an
  HTTPRoute on the shared Gateway (cert-manager's Gateway API support) for the platform's hosts only: its one
  solver (``selector.dnsNames``) attaches to ``http`` (routes from ``urban-gateway`` only). There is no default
  solver: a name outside the selector gets no challenge solver (cert-manager v1.21.1 ``ACMEChallengeSolver.selector``:
  "If not specified, the solver will be treated as the 'default' solver"). Municipalities do not use it: each
  municipality's stack makes its own ACME ``Issuer`` in its namespace, whose solver attaches to the HTTP listener
  of its own ListenerSet (``components/tenant/gateway.py``), so a join adds no solver here;
* ``internal-ca``: a self-signed root (ClusterIssuer ``urban-selfsigned`` → CA Certificate
  ``urban-root-ca`` in ``urban-cert-manager``, the namespace cert-manager reads ClusterIssuer secrets from)
  and a CA ClusterIssuer ``urban-issuer`` on it. Browsers must trust the root (distribute
  ``urban-root-ca``'s ``ca.crt``); meant for closed networks and tests.

The platform certificate (``platform-tls``) uses ``urban-issuer``; a municipality's (``<slug>-tls``) uses its own
ACME Issuer, or ``urban-issuer`` in mode ``internal-ca`` (a CA issuer needs no solver: nothing to add here either).
Only the platform requests certificates: cert-manager's chart does not aggregate its ``cert-manager-edit``
ClusterRole into ``admin``/``edit`` (``global.rbac.aggregateClusterRoles: false``, ``components/shared/operators.py``)
and the municipality groups' Roles (``components/tenant/tenancy.py``) grant nothing of cert-manager. cert-manager's
approver-policy is not installed, so the CA issuer of mode ``internal-ca`` would sign whatever a permitted
requester asks (``isCA: true`` included): the permission to create Certificates or CertificateRequests is the
boundary, and only the platform's stacks hold it.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from catalogue.shared_config import SharedConfig
from components.k8s import DEFAULT_UID, child, meta
from components.shared.operators import Operators

SELF_SIGNED = "urban-selfsigned"
ROOT_CA = "urban-root-ca"
ACME_ACCOUNT_KEY = "urban-issuer-acme-account"


def platform_hosts(cfg: SharedConfig) -> list[str]:
    """DNS names of the platform certificate ``platform-tls``."""
    return [f"{names.KEYCLOAK_HOST_PREFIX}.{cfg.baseDomain}", f"{names.KEYCLOAK_ADMIN_HOST_PREFIX}.{cfg.baseDomain}"]


SOLVER_POD_SECURITY: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": DEFAULT_UID, "runAsGroup": DEFAULT_UID,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
"""Pod security context of the HTTP-01 solver pods. cert-manager v1.21.1 (pkg/issuer/acme/http/pod.go,
``mergePodObjectMetaWithPodTemplate``) takes the pod's securityContext from the solver's ``podTemplate.spec``
instead of its default (runAsNonRoot + RuntimeDefault, no UID); the acmesolver image is a static Go binary on
distroless static with USER 1000 (hack/containers/Containerfile.acmesolver), so any UID runs it."""


def solver(parent_ref: dict[str, str], selector: dict[str, list[str]]) -> dict[str, Any]:
    """An HTTP-01 solver whose challenge HTTPRoute attaches to ``parent_ref`` (a listener of the shared Gateway or of
    a municipality's ListenerSet). cert-manager v1.21.1 copies ``parentRefs`` into the route unchanged
    (pkg/issuer/acme/http/httproute.go ``generateHTTPRouteSpec``) and creates it in the Challenge's namespace."""
    return {"selector": selector, "http01": {"gatewayHTTPRoute": {
        "parentRefs": [{"group": "gateway.networking.k8s.io", **parent_ref}],
        "podTemplate": {"spec": {"securityContext": SOLVER_POD_SECURITY}},
    }}}


def acme_spec(cfg: SharedConfig) -> dict[str, Any]:
    """ACME ClusterIssuer: one HTTP-01 solver for the platform hosts on the shared Gateway's ``http`` listener."""
    platform = solver({"kind": "Gateway", "name": names.GATEWAY_NAME, "namespace": names.NS_GATEWAY,
                       "sectionName": names.HTTP_LISTENER}, {"dnsNames": platform_hosts(cfg)})
    return {"acme": {
        "email": str(cfg.adminEmail),
        "server": str(cfg.tls.acmeServer),
        "privateKeySecretRef": {"name": ACME_ACCOUNT_KEY},
        "solvers": [platform],
    }}


class Certificates(pulumi.ComponentResource):
    """The platform's ClusterIssuer (ACME or internal CA)."""

    def __init__(self, name: str, cfg: SharedConfig, namespace: pulumi.Resource, operators: Operators,
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
