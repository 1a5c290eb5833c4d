"""Publishing the municipality's modules through the shared Gateway: its own listeners, certificate and back channel.

A join touches no object of the shared stack (``docs/decisions/0012-join-touches-no-shared-object.md``). This
component creates, all of it from the municipality's stack:

In the municipality's namespace ``<slug>``:

* ``ListenerSet`` ``urban-listeners`` (Gateway API v1), attached to the shared Gateway, which admits ListenerSets
  from municipality namespaces only (``components/shared/gateway.py``, ``allowedListeners``):

  ===============  =====  =================  =====================================================================
  listener         port   hostname           routes from / certificate
  ===============  =====  =================  =====================================================================
  ``http``         80     ``*.<domain>``     ``<slug>`` only: its HTTP-01 solver and its HTTPS redirect
  ``https``        443    ``*.<domain>``     ``<slug>`` only; Secret ``<slug>-tls`` in ``<slug>``
  ``backchannel``  20000- (any)              ``urban-identity`` only: the realm's internal OIDC back channel
                   29999
  ===============  =====  =================  =====================================================================

  The certificate Secret lives in the ListenerSet's own namespace, so no ReferenceGrant is needed: Envoy Gateway
  v1.9.0 (internal/gatewayapi/validate.go, ``validateTLSConfiguration``) asks for one only when a certificateRef
  names another namespace than the listener's, and a ListenerSet listener's namespace is the ListenerSet's
  (internal/gatewayapi/contexts.go ``ListenerContext.GetNamespace``).
* the ``Certificate`` ``<slug>-tls`` for every booked module's host. With TLS issuer ``acme`` its issuer is the
  municipality's own ACME ``Issuer`` ``urban-acme`` (account key Secret ``urban-acme-account`` here), whose only
  solver answers HTTP-01 challenges for ``<domain>`` with an HTTPRoute on the ``http`` listener of this ListenerSet
  (cert-manager v1.21.1 copies the solver's ``parentRefs`` into the challenge route unchanged and creates it in the
  Certificate's namespace, pkg/issuer/acme/http/httproute.go ``generateHTTPRouteSpec``; a ``ListenerSet`` parent is
  matched by Envoy Gateway v1.9.0 internal/gatewayapi/helpers.go ``GetReferencedListeners``). With ``internal-ca``
  it is the shared CA ClusterIssuer, which needs no solver;
* the HTTP → HTTPS redirect route on the ``http`` listener, and the policy that lets the Envoy pods reach
  cert-manager's solver pods (the namespace's default deny would otherwise isolate them).

In shared namespaces, new objects named after the municipality, never a change to an object of the shared stack:

* ``HTTPRoute`` ``<slug>-backchannel`` in ``urban-identity`` next to Keycloak's Service (so its backendRef stays in
  its own namespace and no ReferenceGrant opens Keycloak's Service to a municipality's namespace) on the
  ``backchannel`` listener: exact paths of realm ``<slug>``'s discovery, token, userinfo and keys endpoints;
* ``Service`` ``backchannel-<slug>`` in ``urban-gateway`` in front of the Envoy pods, with this municipality's port;
* ``NetworkPolicy`` ``backchannel-<slug>`` in ``urban-gateway`` on the Envoy pods: that port only from this
  municipality's pods labelled ``urban-stack/oidc-backchannel: internal``. NetworkPolicies are additive, so it opens
  nothing for anyone else; the shared stack's policies of the Envoy pods never name a municipality.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import labels, names
from catalogue.spec import BACKCHANNEL_INTERNAL
from components import k8s as kb
from components.base import SharedRefs, TenantContext
from components.shared.certificates import solver
from components.shared.subdomains import platform_subdomain_route_parent
from components.tenant import netpol

GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"


def route_parent(ctx: TenantContext) -> dict[str, str]:
    """The ``parentRef`` of every module's HTTPRoute: the ``https`` listener of the municipality's ListenerSet.

    The one place that decides where a municipality's hosts are served: a municipality on a platform subdomain
    (``platformSubdomain: true``) is served by the shared Gateway's wildcard listener ``https-subdomains``
    (``components/shared/subdomains.py``; it admits HTTPRoutes only from namespaces labelled as such, and the
    ``subdomains`` check holds every route there to its own municipality's hosts)."""
    if ctx.on_platform_subdomain:
        return platform_subdomain_route_parent()
    return {"group": GATEWAY_GROUP, "kind": "ListenerSet", "name": names.LISTENER_SET, "namespace": ctx.namespace,
            "sectionName": names.LS_HTTPS}


def listener_set_ref(slug: str, section: str) -> dict[str, str]:
    """``parentRef`` to a listener of municipality ``slug``'s ListenerSet."""
    return {"group": GATEWAY_GROUP, "kind": "ListenerSet", "name": names.LISTENER_SET, "namespace": slug,
            "sectionName": section}


def routes_from_own_namespace() -> dict[str, Any]:
    """``allowedRoutes`` of the municipality's HTTP and HTTPS listeners: HTTPRoutes of the ListenerSet's namespace."""
    return {"namespaces": {"from": "Same"}, "kinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]}


def http_listener(domain: str) -> dict[str, Any]:
    """The municipality's HTTP listener: ``*.<domain>``, its own solver and redirect routes only."""
    return {"name": names.LS_HTTP, "protocol": "HTTP", "port": 80, "hostname": f"*.{domain}",
            "allowedRoutes": routes_from_own_namespace()}


def https_listener(slug: str, domain: str) -> dict[str, Any]:
    """The municipality's HTTPS listener: ``*.<domain>``, its certificate in its own namespace, its own routes."""
    return {"name": names.LS_HTTPS, "protocol": "HTTPS", "port": 443, "hostname": f"*.{domain}",
            "tls": {"mode": "Terminate", "certificateRefs": [
                {"group": "", "kind": "Secret", "name": names.tenant_tls_secret(slug)}]},
            "allowedRoutes": routes_from_own_namespace()}


def backchannel_listener(slug: str, port: int | None = None) -> dict[str, Any]:
    """The internal back-channel listener: plain HTTP (the path is inside the cluster), routes only from
    urban-identity (the back-channel HTTPRoute next to Keycloak's Service)."""
    return {"name": names.LS_BACKCHANNEL, "protocol": "HTTP", "port": names.backchannel_port(slug, port),
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {
                "matchLabels": {"kubernetes.io/metadata.name": names.NS_IDENTITY}}},
                "kinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]}}


def listener_set_spec(slug: str, domain: str, gateway_name: Any, gateway_namespace: str,
                      publish: bool, port: int | None = None) -> dict[str, Any]:
    """The ListenerSet: HTTP and HTTPS listeners when the municipality publishes hosts, the back channel always."""
    listeners = [http_listener(domain), https_listener(slug, domain)] if publish else []
    return {"parentRef": {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway_name,
                          "namespace": gateway_namespace},
            "listeners": [*listeners, backchannel_listener(slug, port)]}


def own_acme_issuer(shared: SharedRefs) -> bool:
    """Whether the municipality requests its certificate from an ACME Issuer of its own (TLS issuer ``acme``)."""
    return shared.tls is not None and shared.tls.issuer == "acme"


def issuer_spec(slug: str, domain: str, shared: SharedRefs) -> dict[str, Any]:
    """The municipality's ACME Issuer: one HTTP-01 solver for names in ``<domain>``, on its own ListenerSet."""
    assert shared.tls is not None
    return {"acme": {
        "email": shared.admin_email,
        "server": str(shared.tls.acmeServer),
        "privateKeySecretRef": {"name": names.TENANT_ACME_ACCOUNT},
        "solvers": [solver(listener_set_ref(slug, names.LS_HTTP), {"dnsZones": [domain]})],
    }}


def issuer_ref(shared: SharedRefs) -> dict[str, Any]:
    """``issuerRef`` of the municipality's Certificate: its own ACME Issuer, or the shared CA ClusterIssuer."""
    if own_acme_issuer(shared):
        return {"group": "cert-manager.io", "kind": "Issuer", "name": names.TENANT_ISSUER}
    return {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": shared.cluster_issuer}


def redirect_spec(slug: str) -> dict[str, Any]:
    """Every HTTP request to the municipality's hosts is sent to HTTPS (the solver's exact-path route wins)."""
    return {"parentRefs": [listener_set_ref(slug, names.LS_HTTP)],
            "rules": [{"filters": [{"type": "RequestRedirect",
                                    "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]}


def backchannel_route_spec(slug: str) -> dict[str, Any]:
    """The only route on the back-channel listener: exact paths of realm ``slug``'s discovery, token, userinfo and
    keys endpoints to Keycloak's Service; every other path (admin API, master realm, other realms) gets 404."""
    return {
        "parentRefs": [listener_set_ref(slug, names.LS_BACKCHANNEL)],
        "rules": [{"matches": [{"path": {"type": "Exact", "value": f"/realms/{slug}/{endpoint}"}}
                               for endpoint in names.BACKCHANNEL_ENDPOINTS],
                   "backendRefs": [{"name": names.KEYCLOAK_SERVICE, "port": names.KEYCLOAK_HTTP_PORT}]}],
    }


def backchannel_service_spec(slug: str, port: int | None = None) -> dict[str, Any]:
    """ClusterIP Service ``backchannel-<slug>`` in front of the Envoy pods: the municipality's port only."""
    port = names.backchannel_port(slug, port)
    return {"type": "ClusterIP", "selector": dict(names.GATEWAY_POD_LABELS),
            "ports": [{"name": "backchannel", "port": port, "targetPort": port, "protocol": "TCP"}]}


def backchannel_clients(slug: str) -> dict[str, Any]:
    """Peer: the pods of municipality ``slug`` that declare the internal back channel (catalogue ``backchannel:
    internal``); admitted on that municipality's back-channel port only."""
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": slug}},
            "podSelector": {"matchLabels": {labels.OIDC_BACKCHANNEL: BACKCHANNEL_INTERNAL}}}


def backchannel_ingress(slug: str, port: int | None = None) -> list[dict[str, Any]]:
    """Ingress of the municipality's policy on the Envoy pods: its port, from its declared pods only."""
    return [{"from": [backchannel_clients(slug)], "ports": kb.tcp(names.backchannel_port(slug, port))}]


class Gateway(pulumi.ComponentResource):
    """The municipality's ListenerSet, certificate (and ACME Issuer), redirect and internal back channel."""

    def __init__(self, name: str, ctx: TenantContext, hosts: list[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:tenant:gateway", name, None, opts)
        ns, slug, secret = ctx.namespace, ctx.slug, names.tenant_tls_secret(ctx.slug)
        # On a platform subdomain the shared wildcard listener and certificate serve the hosts: the ListenerSet holds
        # only the back channel, and there is no certificate, Issuer or redirect of the municipality's own (the
        # shared ``http`` listener, which has no hostname, redirects every host to HTTPS).
        publish = bool(hosts) and not ctx.on_platform_subdomain
        domain = str(ctx.tenant.domain)
        self.listener_set = k8s.apiextensions.CustomResource(
            names.LISTENER_SET, api_version=GATEWAY_API, kind="ListenerSet",
            metadata=kb.meta(names.LISTENER_SET, ns),
            spec=listener_set_spec(slug, domain, ctx.shared.gateway_name, ctx.shared.gateway_namespace,
                                   publish=publish, port=ctx.tenant.backchannel_port),
            opts=kb.child(self, ctx.in_namespace))
        after_listeners = pulumi.ResourceOptions.merge(ctx.in_namespace, pulumi.ResourceOptions(
            depends_on=[self.listener_set]))
        self.certificate = None
        self.issuer = None
        if publish:
            if own_acme_issuer(ctx.shared):
                self.issuer = k8s.apiextensions.CustomResource(
                    names.TENANT_ISSUER, api_version="cert-manager.io/v1", kind="Issuer",
                    metadata=kb.meta(names.TENANT_ISSUER, ns), spec=issuer_spec(slug, domain, ctx.shared),
                    opts=kb.child(self, after_listeners))
            self.certificate = k8s.apiextensions.CustomResource(
                "tls", api_version="cert-manager.io/v1", kind="Certificate",
                metadata=kb.meta(secret, ns),
                spec={
                    "secretName": secret,
                    "dnsNames": sorted(hosts),
                    "issuerRef": issuer_ref(ctx.shared),
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "duration": "2160h",
                    "renewBefore": "720h",
                },
                opts=kb.child(self, pulumi.ResourceOptions.merge(after_listeners, pulumi.ResourceOptions(
                    depends_on=[self.issuer] if self.issuer is not None else []))),
            )
            # Solver pods exist only while a challenge is open; the policy selects them by cert-manager's label.
            kb.network_policy(self, "acme-http01-solver", ns, netpol.ACME_SOLVER_LABELS,
                              ingress=[netpol.acme_solver_ingress()], opts=ctx.in_namespace)
            k8s.apiextensions.CustomResource(
                "https-redirect", api_version=GATEWAY_API, kind="HTTPRoute",
                metadata=kb.meta("https-redirect", ns), spec=redirect_spec(slug),
                opts=kb.child(self, after_listeners))
        # The internal back channel: new objects in urban-identity and urban-gateway, named after the municipality.
        route = names.backchannel_route(slug)
        self.backchannel_route = k8s.apiextensions.CustomResource(
            f"{route}-route", api_version=GATEWAY_API, kind="HTTPRoute",
            metadata=kb.meta(route, names.NS_IDENTITY), spec=backchannel_route_spec(slug),
            opts=kb.child(self, pulumi.ResourceOptions(depends_on=[self.listener_set])))
        service = names.backchannel_service(slug)
        self.backchannel_service = k8s.core.v1.Service(
            f"{service}-service", metadata=kb.meta(service, names.NS_GATEWAY), spec=backchannel_service_spec(slug, ctx.tenant.backchannel_port),
            opts=kb.child(self))
        self.backchannel_policy = k8s.networking.v1.NetworkPolicy(
            f"{service}-policy", metadata=kb.meta(service, names.NS_GATEWAY),
            spec={"podSelector": {"matchLabels": dict(names.GATEWAY_POD_LABELS)},
                  "ingress": backchannel_ingress(slug, ctx.tenant.backchannel_port), "policyTypes": ["Ingress"]},
            opts=kb.child(self))
        self.register_outputs({"hosts": sorted(hosts)})
