"""The shared Gateway (Gateway API v1, implemented by Envoy Gateway).

One GatewayClass ``urban-envoy`` (its data plane configured by an ``EnvoyProxy``) and one Gateway
``urban-gateway`` in ``urban-gateway`` with these listeners:

==================  =====  =========================  ===================================================
listener            port   hostname                   routes from / certificate
==================  =====  =========================  ===================================================
``http``            80     (any)                      ``urban-gateway`` only: the HTTPS redirect and the
                                                      HTTP-01 solvers of the platform certificate
``http-<slug>``     80     ``*.<tenant domain>``      namespace ``<slug>`` (its HTTP-01 solvers) and
                                                      ``urban-gateway`` (the HTTPS redirect)
``https-platform``  443    ``id.<baseDomain>``        ``urban-identity``; Secret ``platform-tls`` here
``https-admin``     443    ``id-admin.<baseDomain>``  ``urban-identity`` (Keycloak's admin console, open
                                                      only to ``keycloakAdmin.allowedSourceRanges``)
``https-<slug>``    443    ``*.<tenant domain>``      namespace ``<slug>`` only; Secret ``<slug>-tls`` in
                                                      ``<slug>`` (its Certificate and the ReferenceGrant
                                                      that lets the Gateway read it come from the
                                                      municipality's stack)
``backchannel-      20000- (any)                      ``urban-identity`` only: the municipality's internal
<slug>``            29999                             OIDC back channel (below)
==================  =====  =========================  ===================================================

**The internal back channel.** Module pods never reach Keycloak's pods (``components/shared/platform.py``, flow
``keycloak``): the workloads a module declares in its catalogue entry (``ModuleSpec.backchannel``, pod label
``urban-stack/oidc-backchannel: internal``) call ``http://keycloak-backchannel.urban-gateway.svc:<port>``, a
ClusterIP Service in front of the Envoy pods, on their municipality's own listener ``backchannel-<slug>``
(port ``names.backchannel_port(slug)``, a pure function of the slug). That listener carries one HTTPRoute
``backchannel-<slug>`` (in ``urban-identity``) with exact path matches for the realm's discovery, token, userinfo
and keys endpoints (``names.BACKCHANNEL_ENDPOINTS``) and nothing else: Envoy answers 404 to ``/admin/``,
``/realms/master/`` or another realm's paths. Envoy normalises paths before matching (Envoy Gateway v1.5.4
internal/xds/translator/listener.go sets ``NormalizePath: true``), so ``/realms/<slug>/../master/`` is
``/realms/master/``. What binds a listener to its municipality is the network policy of the Envoy pods: port
``backchannel_port(slug)`` admits only pods of namespace ``<slug>`` with that label, and no address outside the
cluster (the LoadBalancer Service Envoy Gateway makes lists every listener port; the policy drops those
connections). Envoy Gateway keeps listener ports from 1024 up as container ports (internal/gatewayapi/listener.go,
``servicePortToContainerPort``, v1.5.4) and, without a ClientTrafficPolicy, appends the pod's address to
``X-Forwarded-For`` (internal/xds/translator/listener.go, ``useRemoteAddress := true``), which Keycloak
(``proxy-headers: xforwarded``) takes as the client address for the realms' ``sslRequired: external``.

A route attaches only to a listener whose hostname matches its own, and a municipality's namespace is admitted
only by its own listeners: an HTTP-01 solver created in one municipality's namespace can never answer for
another municipality's or the platform's hosts (see ``components/shared/certificates.py``).

Why Envoy Gateway (maintained, Gateway API natively and conformant, unprivileged data plane; ingress-nginx is
retired): ``docs/decisions/0001-envoy-gateway.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import labels, names
from catalogue.schema import Tenant
from catalogue.shared_config import SharedConfig
from components.k8s import child, meta
from components.shared.certificates import platform_hosts
from components.shared.operators import ENVOY_GATEWAY_CONTROLLER, Operators
from components.shared.profile import Profile, spread

MODULE = "gateway"
ENVOY_PROXY = "urban-envoy"
GATEWAY_API = "gateway.networking.k8s.io/v1"
MAX_LISTENERS = 64
"""Gateway API v1 ``Gateway.spec.listeners`` maxItems (the CRD the plan installs:
vendor/charts/gateway-helm-v1.9.0/charts/crds/crds/gatewayapi-crds.yaml): three per municipality (HTTP, HTTPS and
the internal back channel) plus the platform's three, so at most 20 municipalities share one Gateway."""
ENVOY_POD_SELECTOR = {
    "gateway.envoyproxy.io/owning-gateway-name": names.GATEWAY_NAME,
    "gateway.envoyproxy.io/owning-gateway-namespace": names.NS_GATEWAY,
}


def routes_from(namespace: str, *more: str) -> dict[str, Any]:
    """``allowedRoutes`` admitting HTTPRoutes of the given namespaces only."""
    if not more:
        return {"namespaces": {"from": "Selector",
                               "selector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}
    return {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [namespace, *more]}]}}}


def tenant_http_listener(slug: str, domain: str) -> dict[str, Any]:
    """A municipality's HTTP listener: ``*.<domain>``; its own solvers and the platform's HTTPS redirect."""
    return {"name": names.http_listener(slug), "protocol": "HTTP", "port": 80, "hostname": f"*.{domain}",
            "allowedRoutes": routes_from(slug, names.NS_GATEWAY)}


def http_listener_names(tenants: Mapping[str, Tenant]) -> list[str]:
    """Every HTTP listener: the HTTPS redirect attaches to all of them."""
    return [names.HTTP_LISTENER, *(names.http_listener(slug) for slug in sorted(tenants))]


def tenant_listener(slug: str, domain: str) -> dict[str, Any]:
    """A municipality's HTTPS listener: ``*.<domain>``, its own certificate, its own routes only."""
    return {
        "name": names.https_listener(slug),
        "protocol": "HTTPS",
        "port": 443,
        "hostname": f"*.{domain}",
        "tls": {"mode": "Terminate", "certificateRefs": [
            {"group": "", "kind": "Secret", "name": names.tenant_tls_secret(slug), "namespace": slug}]},
        "allowedRoutes": routes_from(slug),
    }


def platform_listener(name: str, hostname: str) -> dict[str, Any]:
    """An HTTPS listener of a platform host: TLS from the platform certificate, routes only from urban-identity."""
    return {"name": name, "protocol": "HTTPS", "port": 443, "hostname": hostname,
            "tls": {"mode": "Terminate", "certificateRefs": [
                {"group": "", "kind": "Secret", "name": names.PLATFORM_TLS_SECRET}]},
            "allowedRoutes": routes_from(names.NS_IDENTITY)}


def backchannel_ports(tenants: Mapping[str, Tenant]) -> dict[str, int]:
    """Port of every municipality's back-channel listener; two municipalities on one port are refused."""
    seen: dict[int, str] = {}
    for slug in sorted(tenants):
        port = names.backchannel_port(slug)
        if port in seen:
            raise ValueError(f"tenants/{slug}.yaml: slug: its back-channel port {port} (names.backchannel_port) is "
                             f"already that of tenants/{seen[port]}.yaml; one of the two needs another slug")
        seen[port] = slug
    return {slug: port for port, slug in seen.items()}


def backchannel_listener(slug: str) -> dict[str, Any]:
    """A municipality's internal back-channel listener: plain HTTP (TLS would end at Envoy either way, and the
    path is inside the cluster), routes only from urban-identity (the back-channel HTTPRoute)."""
    return {"name": names.backchannel_listener(slug), "protocol": "HTTP", "port": names.backchannel_port(slug),
            "allowedRoutes": routes_from(names.NS_IDENTITY)}


def backchannel_route_spec(slug: str) -> dict[str, Any]:
    """The only route on ``backchannel-<slug>``: exact paths of realm ``slug``'s discovery, token, userinfo and
    keys endpoints to Keycloak's Service; every other path (admin API, master realm, other realms) gets 404."""
    return {
        "parentRefs": [{"name": names.GATEWAY_NAME, "namespace": names.NS_GATEWAY,
                        "sectionName": names.backchannel_listener(slug)}],
        "rules": [{"matches": [{"path": {"type": "Exact", "value": f"/realms/{slug}/{endpoint}"}}
                               for endpoint in names.BACKCHANNEL_ENDPOINTS],
                   "backendRefs": [{"name": names.KEYCLOAK_SERVICE, "port": names.KEYCLOAK_HTTP_PORT}]}],
    }


def backchannel_service_spec(tenants: Mapping[str, Tenant]) -> dict[str, Any]:
    """ClusterIP Service ``keycloak-backchannel`` in front of the Envoy pods: one port per municipality."""
    return {"type": "ClusterIP", "selector": dict(names.GATEWAY_POD_LABELS),
            "ports": [{"name": f"bc-{port}", "port": port, "targetPort": port, "protocol": "TCP"}
                      for slug, port in sorted(backchannel_ports(tenants).items())]}


def listeners(cfg: SharedConfig, tenants: Mapping[str, Tenant]) -> list[dict[str, Any]]:
    """Every listener of the shared Gateway (see the module docstring)."""
    out = [
        {"name": names.HTTP_LISTENER, "protocol": "HTTP", "port": 80, "allowedRoutes": routes_from(names.NS_GATEWAY)},
        platform_listener(names.HTTPS_LISTENER_PLATFORM, f"{names.KEYCLOAK_HOST_PREFIX}.{cfg.baseDomain}"),
        # Keycloak's admin console and master realm; its route admits only keycloakAdmin.allowedSourceRanges.
        platform_listener(names.HTTPS_LISTENER_ADMIN, f"{names.KEYCLOAK_ADMIN_HOST_PREFIX}.{cfg.baseDomain}"),
    ]
    out += [tenant_http_listener(slug, tenant.domain) for slug, tenant in sorted(tenants.items())]
    out += [tenant_listener(slug, tenant.domain) for slug, tenant in sorted(tenants.items())]
    backchannel_ports(tenants)
    out += [backchannel_listener(slug) for slug in sorted(tenants)]
    if len(out) > MAX_LISTENERS:
        raise ValueError(f"tenants/: {len(tenants)} municipalities need {len(out)} listeners on the shared Gateway, "
                         f"the Gateway API allows at most {MAX_LISTENERS}")
    return out


ENVOY_UID = 65532
ENVOY_CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "runAsNonRoot": True,
    "runAsUser": ENVOY_UID,
    "runAsGroup": ENVOY_UID,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Container security context of the data plane: Envoy Gateway v1.9.0's own default, written out
(internal/infrastructure/kubernetes/proxy/resource.go, ``expectedEnvoySecurityContext``:
``resource.DefaultSecurityContext()`` with UID/GID 65532 and ``ReadOnlyRootFilesystem = nil``).

The root filesystem is deliberately NOT read-only, as upstream leaves it: a securityContext set in the
EnvoyProxy replaces the default of *both* containers, ``envoy`` and ``shutdown-manager``
(``expectedShutdownManagerSecurityContext`` takes the same container spec), and the shutdown manager creates
``/tmp/shutdown-ready`` (internal/cmd/envoy/shutdown_manager.go) to end the connection drain, yet gets no volume
mounts from the EnvoyProxy (only the ``envoy`` container does). A read-only root would break every graceful
shutdown; Envoy itself writes its log file and UDS socket there too (upstream's comment). Everything Pod
Security ``restricted`` requires is set."""


SHUTDOWN_MANAGER_RESOURCES: dict[str, Any] = {"requests": {"cpu": "10m", "memory": "32Mi"},
                                              "limits": {"cpu": "100m", "memory": "64Mi"}}
"""Resources of the data plane's ``shutdown-manager`` container. Envoy Gateway v1.9.0 gives it requests only
(internal/infrastructure/kubernetes/proxy/resource.go: ``DefaultShutdownManagerContainerResourceRequirements``,
10m/32Mi) and has no field for them (api/v1alpha1 ``ShutdownManager`` holds only ``image``); the EnvoyProxy's
``envoyDeployment.patch`` (a strategic merge patch over the rendered Deployment, internal/utils/merge.go
``MergeWithPatch``, applied last in resource_provider.go ``Deployment``) adds the limits, keeping the requests."""


def envoy_proxy_spec(profile: Profile) -> dict[str, Any]:
    """The data plane: replicas, cost labels on its pods, spread over nodes, a PodDisruptionBudget."""
    replicas = profile.gateway_replicas
    pod: dict[str, Any] = {
        "priorityClassName": names.PRIORITY_PLATFORM,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if replicas > 1:
        pod["affinity"] = spread(ENVOY_POD_SELECTOR)
    kubernetes: dict[str, Any] = {
        "envoyDeployment": {
            "replicas": replicas,
            "pod": pod,
            "container": {
                "securityContext": ENVOY_CONTAINER_SECURITY,
                "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
            },
            "patch": {"type": "StrategicMerge", "value": {"spec": {"template": {"spec": {"containers": [
                {"name": "shutdown-manager", "resources": SHUTDOWN_MANAGER_RESOURCES}]}}}}},
        },
    }
    if replicas > 1:
        kubernetes["envoyPDB"] = {"maxUnavailable": 1}
    return {"provider": {"type": "Kubernetes", "kubernetes": kubernetes}}


def gateway_infrastructure(scope: labels.LabelScope) -> dict[str, Any]:
    """``spec.infrastructure`` of the shared Gateway: the four cost labels for everything Envoy Gateway makes for it.

    Envoy Gateway v1.9.0 copies the Gateway's ``spec.infrastructure.labels`` into the proxy metadata
    (internal/gatewayapi/translator.go ``infrastructureLabels``) and from there onto the Deployment, its pod
    template, the Service, ServiceAccount and ConfigMap (internal/infrastructure/kubernetes/proxy/
    resource_provider.go ``envoyLabels``, ``getLabels``, ``getPodLabels``, ``Service``). The EnvoyProxy's
    ``envoyDeployment.pod.labels`` reach only the pods and ``envoyService.labels`` only the Service, so this is the
    one place that labels all of them. ``envoyLabels`` copies these labels OVER its app labels
    (``app.kubernetes.io/name``/``component``/``managed-by``) while the Deployment's selector keeps
    ``managed-by: envoy-gateway``: so only the four cost labels, never our ``app.kubernetes.io/managed-by: pulumi``
    (the pod template would no longer match the selector and the API server would refuse the Deployment).
    At most 8 labels (Gateway API v1 ``infrastructure.labels`` maxProperties, vendor/charts/gateway-helm-v1.9.0/charts/crds/crds/gatewayapi-crds.yaml).
    """
    return {"labels": labels.cost_labels_for_operator(scope, MODULE)}


class Gateway(pulumi.ComponentResource):
    """GatewayClass, EnvoyProxy, the shared Gateway, its platform certificate and the HTTPS redirect."""

    def __init__(self, name: str, cfg: SharedConfig, profile: Profile, tenants: Mapping[str, Tenant],
                 namespace: pulumi.Resource,
                 operators: Operators, issuer: pulumi.Resource, opts: pulumi.ResourceOptions | None = None,
                 identity_namespace: pulumi.Resource | None = None):
        super().__init__("urbanstack:shared:gateway", name, None, opts)
        scope = labels.shared_scope(cfg.operatorCostCenter)
        ns = names.NS_GATEWAY
        after_operator = pulumi.ResourceOptions(depends_on=[namespace, operators.envoy_gateway])
        self.envoy_proxy = k8s.apiextensions.CustomResource(
            ENVOY_PROXY, api_version="gateway.envoyproxy.io/v1alpha1", kind="EnvoyProxy",
            metadata=meta(ENVOY_PROXY, ns), spec=envoy_proxy_spec(profile), opts=child(self, after_operator))
        self.gateway_class = k8s.apiextensions.CustomResource(
            names.GATEWAY_CLASS, api_version=GATEWAY_API, kind="GatewayClass",
            metadata=meta(names.GATEWAY_CLASS, None),
            spec={
                "controllerName": ENVOY_GATEWAY_CONTROLLER,
                "description": "Envoy Gateway data plane of the Urban Stack",
                "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": ENVOY_PROXY,
                                  "namespace": ns},
            },
            opts=child(self, pulumi.ResourceOptions(depends_on=[operators.envoy_gateway, self.envoy_proxy])))
        self.certificate = k8s.apiextensions.CustomResource(
            names.PLATFORM_TLS_SECRET, api_version="cert-manager.io/v1", kind="Certificate",
            metadata=meta(names.PLATFORM_TLS_SECRET, ns),
            spec={
                "secretName": names.PLATFORM_TLS_SECRET,
                "dnsNames": platform_hosts(cfg),
                "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": names.CLUSTER_ISSUER},
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            },
            opts=child(self, pulumi.ResourceOptions(depends_on=[namespace, operators.cert_manager, issuer])))
        self.gateway = k8s.apiextensions.CustomResource(
            names.GATEWAY_NAME, api_version=GATEWAY_API, kind="Gateway",
            metadata=meta(names.GATEWAY_NAME, ns),
            spec={"gatewayClassName": names.GATEWAY_CLASS, "infrastructure": gateway_infrastructure(scope),
                  "listeners": listeners(cfg, tenants)},
            opts=child(self, pulumi.ResourceOptions(depends_on=[namespace, self.gateway_class])))
        self.redirect = k8s.apiextensions.CustomResource(
            "https-redirect", api_version=GATEWAY_API, kind="HTTPRoute",
            metadata=meta("https-redirect", ns),
            spec={
                "parentRefs": [{"name": names.GATEWAY_NAME, "namespace": ns, "sectionName": section}
                               for section in http_listener_names(tenants)],
                "rules": [{"filters": [{"type": "RequestRedirect",
                                        "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
            },
            opts=child(self, pulumi.ResourceOptions(depends_on=[self.gateway])))
        # The internal back channel (module docstring): a ClusterIP Service in front of the Envoy pods, and per
        # municipality one route with the realm's exact back-channel paths, in urban-identity next to Keycloak's
        # Service (no cross-namespace reference).
        self.backchannel_service = k8s.core.v1.Service(
            names.BACKCHANNEL_SERVICE, metadata=meta(names.BACKCHANNEL_SERVICE, ns),
            spec=backchannel_service_spec(tenants), opts=child(self, pulumi.ResourceOptions(depends_on=[namespace])))
        after_identity_ns = [identity_namespace] if identity_namespace is not None else []
        self.backchannel_routes = [
            k8s.apiextensions.CustomResource(
                names.backchannel_listener(slug), api_version=GATEWAY_API, kind="HTTPRoute",
                metadata=meta(names.backchannel_listener(slug), names.NS_IDENTITY),
                spec=backchannel_route_spec(slug),
                opts=child(self, pulumi.ResourceOptions(depends_on=[self.gateway, *after_identity_ns])))
            for slug in sorted(tenants)]
        self.register_outputs({})
