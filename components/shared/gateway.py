"""The shared Gateway (Gateway API v1, implemented by Envoy Gateway).

One GatewayClass ``urban-envoy`` (its data plane configured by an ``EnvoyProxy``) and one Gateway
``urban-gateway`` in ``urban-gateway`` with the platform's listeners only:

====================  =====  =========================  ===================================================
listener              port   hostname                   routes from / certificate
====================  =====  =========================  ===================================================
``http``              80     (any)                      ``urban-gateway`` only: the HTTPS redirect and the
                                                        HTTP-01 solvers of the platform certificate
``https-platform``    443    ``id.<baseDomain>``        ``urban-identity``; Secret ``platform-tls`` here
``https-admin``       443    ``id-admin.<baseDomain>``  ``urban-identity`` (Keycloak's admin console, open
                                                        only to ``keycloakAdmin.allowedSourceRanges``)
``https-subdomains``  443    ``*.<baseDomain>``         only with ``tls.platformSubdomains``: namespaces
                                                        labelled ``urban-stack/platform-subdomain``; Secret
                                                        ``platform-subdomains-tls`` (one DNS-01 wildcard)
====================  =====  =========================  ===================================================

**Municipalities bring their own listeners.** Each municipality's stack creates a ``ListenerSet`` in its own
namespace (``components/tenant/gateway.py``) with its HTTP (``*.<domain>``), HTTPS (``*.<domain>``, its Secret
``<slug>-tls`` in its namespace) and internal back-channel listeners. The Gateway admits ListenerSets only from
municipality namespaces (``spec.allowedListeners``, :data:`MUNICIPALITY_NAMESPACES`: namespaces labelled
``urban-stack/tenant`` with a value other than ``shared``; the label transform gives every municipality's
Namespace its slug there, ``components/labels.py``, and every platform namespace ``shared``). A join therefore
changes no field of this Gateway: Envoy Gateway v1.9.0 merges the listeners of every allowed ListenerSet into the
Gateway's (internal/gatewayapi/listenerset.go ``processListenerSet`` appends them to the GatewayContext's
listeners; ``isListenerSetAllowed`` evaluates the selector against the ListenerSet's Namespace labels), so they
become listeners and ports of the same Envoy proxy (internal/gatewayapi/listener.go, ``servicePortToContainerPort``).
The Gateway API caps ``listeners`` at 64 per Gateway and per ListenerSet (:data:`MAX_LISTENERS`), so the number
of municipalities is no longer bounded by the Gateway.

The internal back channel (``docs/decisions/0010-oidc-back-channel-through-the-gateway.md``): module pods never
reach Keycloak's pods; the workloads that declare it call ``http://backchannel-<slug>.urban-gateway.svc:<port>``,
a Service in front of the Envoy pods on their municipality's back-channel listener. All of it is created by the
municipality's stack (``components/tenant/gateway.py``); what binds a port to its municipality is that stack's
NetworkPolicy on the Envoy pods (NetworkPolicies are additive). Envoy normalises paths before matching (Envoy
Gateway internal/xds/translator/listener.go sets ``NormalizePath: true``) and, without a ClientTrafficPolicy,
appends the pod's address to ``X-Forwarded-For`` (``useRemoteAddress := true``), which Keycloak (``proxy-headers:
xforwarded``) takes as the client address for the realms' ``sslRequired: external``.

Why Envoy Gateway (maintained, Gateway API natively and conformant, unprivileged data plane; ingress-nginx is
retired): ``docs/decisions/0001-envoy-gateway.md``.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import labels, names
from catalogue.shared_config import SharedConfig
from components.k8s import child, meta
from components.shared.certificates import platform_hosts
from components.shared.operators import ENVOY_GATEWAY_CONTROLLER, Operators
from components.shared.profile import Profile, spread
from components.shared.subdomains import offers_platform_subdomains, platform_subdomain_listener

MODULE = "gateway"
ENVOY_PROXY = "urban-envoy"
GATEWAY_API = "gateway.networking.k8s.io/v1"
MAX_LISTENERS = 64
"""Gateway API v1 ``Gateway.spec.listeners`` and ``ListenerSet.spec.listeners`` maxItems (the CRDs the plan installs:
vendor/charts/gateway-helm-v1.9.0/charts/crds/crds/gatewayapi-crds.yaml): the platform's Gateway uses 3, a
municipality's ListenerSet at most 3."""
ENVOY_POD_SELECTOR = {
    "gateway.envoyproxy.io/owning-gateway-name": names.GATEWAY_NAME,
    "gateway.envoyproxy.io/owning-gateway-namespace": names.NS_GATEWAY,
}
MUNICIPALITY_NAMESPACES = {"matchExpressions": [
    {"key": labels.TENANT, "operator": "Exists"},
    {"key": labels.TENANT, "operator": "NotIn", "values": [labels.SHARED_TENANT]}]}
"""Namespaces labelled with a municipality (the label transform sets ``urban-stack/tenant: <slug>`` on a
municipality's Namespace and ``shared`` on every platform namespace)."""


def routes_from(namespace: str, *more: str) -> dict[str, Any]:
    """``allowedRoutes`` admitting HTTPRoutes of the given namespaces only."""
    if not more:
        return {"namespaces": {"from": "Selector",
                               "selector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}
    return {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [namespace, *more]}]}}}


def platform_listener(name: str, hostname: str) -> dict[str, Any]:
    """An HTTPS listener of a platform host: TLS from the platform certificate, routes only from urban-identity."""
    return {"name": name, "protocol": "HTTPS", "port": 443, "hostname": hostname,
            "tls": {"mode": "Terminate", "certificateRefs": [
                {"group": "", "kind": "Secret", "name": names.PLATFORM_TLS_SECRET}]},
            "allowedRoutes": routes_from(names.NS_IDENTITY)}


def listeners(cfg: SharedConfig) -> list[dict[str, Any]]:
    """The listeners of the shared Gateway: the platform's only (see the module docstring)."""
    return [
        {"name": names.HTTP_LISTENER, "protocol": "HTTP", "port": 80, "allowedRoutes": routes_from(names.NS_GATEWAY)},
        platform_listener(names.HTTPS_LISTENER_PLATFORM, f"{names.KEYCLOAK_HOST_PREFIX}.{cfg.baseDomain}"),
        # Keycloak's admin console and master realm; its route admits only keycloakAdmin.allowedSourceRanges.
        platform_listener(names.HTTPS_LISTENER_ADMIN, f"{names.KEYCLOAK_ADMIN_HOST_PREFIX}.{cfg.baseDomain}"),
        # Every municipality on a platform subdomain (tls.platformSubdomains): one wildcard listener and certificate,
        # routes from namespaces labelled urban-stack/platform-subdomain only (components/shared/subdomains.py).
        *([platform_subdomain_listener(cfg)] if offers_platform_subdomains(cfg) else []),
    ]


def allowed_listeners() -> dict[str, Any]:
    """``spec.allowedListeners``: ListenerSets from municipality namespaces only (the CRD's default is ``None``)."""
    return {"namespaces": {"from": "Selector", "selector": MUNICIPALITY_NAMESPACES}}


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
    """GatewayClass, EnvoyProxy, the shared Gateway (platform listeners, ListenerSets admitted from municipality
    namespaces), its platform certificate and the platform's HTTPS redirect."""

    def __init__(self, name: str, cfg: SharedConfig, profile: Profile, namespace: pulumi.Resource,
                 operators: Operators, issuer: pulumi.Resource, opts: pulumi.ResourceOptions | None = None):
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
                  "listeners": listeners(cfg), "allowedListeners": allowed_listeners()},
            opts=child(self, pulumi.ResourceOptions(depends_on=[namespace, self.gateway_class])))
        self.redirect = k8s.apiextensions.CustomResource(
            "https-redirect", api_version=GATEWAY_API, kind="HTTPRoute",
            metadata=meta("https-redirect", ns),
            spec={
                # The platform's own HTTP listener; each municipality redirects on its ListenerSet.
                "parentRefs": [{"name": names.GATEWAY_NAME, "namespace": ns, "sectionName": names.HTTP_LISTENER}],
                "rules": [{"filters": [{"type": "RequestRedirect",
                                        "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
            },
            opts=child(self, pulumi.ResourceOptions(depends_on=[self.gateway])))
        self.register_outputs({})
