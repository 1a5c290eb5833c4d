"""Platform subdomains on the shared Gateway: one wildcard listener, one wildcard certificate, for every municipality
without a domain of its own (tenant file ``platformSubdomain: true``, shared config ``tls.platformSubdomains``).

* :func:`platform_subdomain_listener`: HTTPS listener ``https-subdomains`` on ``*.<baseDomain>``, TLS from Secret
  ``platform-subdomains-tls`` (in ``urban-gateway``, next to the Gateway: no ReferenceGrant), admitting HTTPRoutes
  only from namespaces labelled ``urban-stack/platform-subdomain: "true"`` (:data:`NAMESPACE_LABELS`). The
  municipality's own stack puts that label on its Namespace (``components/tenant/tenancy.py``), so a join edits no
  shared object. Gateway API listener precedence (the most specific hostname wins) keeps ``id.<baseDomain>`` and
  ``id-admin.<baseDomain>`` on their own listeners.
* :class:`WildcardCertificate`: the one Certificate ``*.<baseDomain>`` from ``urban-issuer`` (ACME: the DNS-01 solver
  of ``components/shared/certificates.py``, selected for this name only; internal CA: signed directly). Requested
  once for the whole platform: Let's Encrypt allows 50 new certificates per registered domain and week, one per
  municipality would not scale to hundreds.
* :func:`platform_subdomain_route_parent`: the ``parentRef`` of every HTTPRoute of such a municipality.

A route on the wildcard listener could name any host below ``baseDomain``; the tenant schema gives every
municipality hosts of its own (``catalogue/subdomains.py``, collisions refused), and the check
``urbanstack/checks/subdomains.py`` holds every route on the listener to its municipality's hosts. Municipality
groups cannot create HTTPRoutes or label Namespaces (``components/tenant/tenancy.py``): only the platform's stacks
write both.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from catalogue.shared_config import SharedConfig
from components.k8s import child, meta
from components.shared.certificates import wildcard_host

NAMESPACE_LABELS = dict(names.PLATFORM_SUBDOMAIN_NAMESPACE_LABELS)
"""Labels of the Namespace of a municipality on a platform subdomain: the wildcard listener admits its routes."""


def offers_platform_subdomains(cfg: SharedConfig) -> bool:
    """Whether the shared stack has the wildcard listener and certificate (``tls.platformSubdomains``)."""
    return cfg.tls.platformSubdomains


def platform_subdomain_listener(cfg: SharedConfig) -> dict[str, Any]:
    """The shared Gateway's one HTTPS listener of every municipality on a platform subdomain."""
    return {
        "name": names.PLATFORM_SUBDOMAINS_LISTENER,
        "protocol": "HTTPS",
        "port": 443,
        "hostname": wildcard_host(cfg),
        "tls": {"mode": "Terminate", "certificateRefs": [
            {"group": "", "kind": "Secret", "name": names.PLATFORM_SUBDOMAINS_TLS_SECRET}]},
        "allowedRoutes": {
            "namespaces": {"from": "Selector", "selector": {"matchLabels": dict(NAMESPACE_LABELS)}},
            "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
        },
    }


def platform_subdomain_route_parent() -> dict[str, str]:
    """``parentRefs`` entry of an HTTPRoute of a municipality on a platform subdomain."""
    return {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": names.GATEWAY_NAME,
            "namespace": names.NS_GATEWAY, "sectionName": names.PLATFORM_SUBDOMAINS_LISTENER}


def wildcard_certificate_spec(cfg: SharedConfig) -> dict[str, Any]:
    """The one wildcard Certificate ``*.<baseDomain>`` (Secret ``platform-subdomains-tls``)."""
    return {
        "secretName": names.PLATFORM_SUBDOMAINS_TLS_SECRET,
        "dnsNames": [wildcard_host(cfg)],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": names.CLUSTER_ISSUER},
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
    }


class WildcardCertificate(pulumi.ComponentResource):
    """The wildcard certificate of platform subdomains, in ``urban-gateway`` (created only when offered)."""

    def __init__(self, name: str, cfg: SharedConfig, namespace: pulumi.Resource, depends_on: list[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:certificates", name, None, opts)
        self.certificate = k8s.apiextensions.CustomResource(
            names.PLATFORM_SUBDOMAINS_TLS_SECRET, api_version="cert-manager.io/v1", kind="Certificate",
            metadata=meta(names.PLATFORM_SUBDOMAINS_TLS_SECRET, names.NS_GATEWAY),
            spec=wildcard_certificate_spec(cfg),
            opts=child(self, pulumi.ResourceOptions(depends_on=[namespace, *depends_on])))
        self.register_outputs({"host": wildcard_host(cfg)})
