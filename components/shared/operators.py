"""The operators of the shared platform, each a pinned Helm chart (versions in ``components/versions.py``).

=====================  =================  ==========================================================
operator               namespace          why
=====================  =================  ==========================================================
CloudNativePG          urban-operators    PostgreSQL clusters (Keycloak's, every municipality's)
Barman Cloud plugin    urban-operators    backups of those clusters to S3 (CNPG-I plugin; it must
                                          run in the CloudNativePG operator's namespace)
cert-manager           urban-cert-manager certificates (ACME or internal CA), Gateway API aware
Envoy Gateway          urban-gateway      the Gateway API implementation (see docs/shared-stack.md)
Keycloak operator      urban-identity     the shared Keycloak; upstream publishes no maintained Helm
                                          chart, so its release manifests are applied (ConfigGroup);
                                          it watches only its own namespace, hence urban-identity
Rook-Ceph operator     urban-storage      Ceph RGW object storage (storage mode ``rook-ceph`` only)
=====================  =================  ==========================================================

Every chart gets the cost labels in its pod-label values (the stack's transform labels the rendered objects
under the real engine as well), non-root/read-only settings where the chart exposes them, the platform
priority class, and — in profile ``production`` — two replicas with anti-affinity and a PodDisruptionBudget
for every controller that supports leader election.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import labels, names
from components.k8s import DEFAULT_UID, child, pdb
from components.labels import kind_of
from components.shared.profile import Profile, spread
from components.versions import CHARTS, MANIFESTS

MODULE = "operators"

CNPG_POD_LABELS = {"app.kubernetes.io/name": "cloudnative-pg"}
CERT_MANAGER_POD_LABELS = {
    "controller": {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"},
    "webhook": {"app.kubernetes.io/name": "webhook", "app.kubernetes.io/component": "webhook"},
    "cainjector": {"app.kubernetes.io/name": "cainjector", "app.kubernetes.io/component": "cainjector"},
}
ENVOY_GATEWAY_POD_LABELS = {"control-plane": "envoy-gateway"}
ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"

RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Container security context of every chart that lets us set it (Pod Security ``restricted``)."""


def helm_chart(parent: pulumi.Resource, key: str, namespace: str, values: dict[str, Any],
               opts: pulumi.ResourceOptions | None = None) -> k8s.helm.v4.Chart:
    """The chart ``CHARTS[key]`` as release ``key`` in ``namespace``, pinned to its version."""
    spec = CHARTS[key]
    return k8s.helm.v4.Chart(
        key,
        chart=spec.chart,
        version=spec.version,
        name=key,
        namespace=namespace,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=spec.repo) if spec.repo else None,
        values=values,
        opts=child(parent, opts),
    )


def pod_labels(module: str = MODULE) -> dict[str, str]:
    """The cost labels for chart values (charts render inside the provider, out of a transform's reach)."""
    return labels.cost_labels(labels.active_scope(), module)


def cnpg_values(profile: Profile) -> dict[str, Any]:
    values: dict[str, Any] = {
        "replicaCount": profile.controller_replicas,
        "podLabels": pod_labels(),
        "priorityClassName": names.PRIORITY_PLATFORM,
        "containerSecurityContext": {**RESTRICTED_CONTAINER, "runAsUser": DEFAULT_UID, "runAsGroup": DEFAULT_UID},
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "monitoring": {"podMonitorEnabled": True},
        # Tenant clusters and Keycloak's carry the cost labels; CloudNativePG copies them to pods and PVCs.
        "config": {"data": {"INHERITED_LABELS": ",".join(labels.COST_LABEL_KEYS)}},
    }
    if profile.controller_replicas > 1:
        values["affinity"] = spread(CNPG_POD_LABELS)
    return values


def barman_values() -> dict[str, Any]:
    # One replica: the plugin only supports the Recreate strategy (values.yaml of the chart).
    return {
        "replicaCount": 1,
        "podLabels": pod_labels(),
        "priorityClassName": names.PRIORITY_PLATFORM,
        "containerSecurityContext": {**RESTRICTED_CONTAINER, "runAsUser": DEFAULT_UID, "runAsGroup": DEFAULT_UID},
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    }


CERT_MANAGER_RESOURCES: dict[str, dict[str, Any]] = {
    "controller": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    "webhook": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
    "cainjector": {"requests": {"cpu": "20m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "512Mi"}},
}
"""cert-manager v1.19.1 values.yaml leaves ``resources``, ``webhook.resources`` and ``cainjector.resources`` empty."""


def cert_manager_values(profile: Profile) -> dict[str, Any]:
    ha = profile.controller_replicas > 1
    values: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        # No aggregation of cert-manager-edit/-view into admin/edit/view (default true, vendored chart
        # cert-manager-v1.19.1 values.yaml global.rbac.aggregateClusterRoles, templates/rbac.yaml): only the
        # platform requests certificates (components/shared/certificates.py).
        "global": {"priorityClassName": names.PRIORITY_PLATFORM, "commonLabels": pod_labels(),
                   "rbac": {"aggregateClusterRoles": False}},
        # cert-manager ≥ 1.15: solve HTTP-01 with HTTPRoutes on the shared Gateway.
        "config": {
            "apiVersion": "controller.config.cert-manager.io/v1alpha1",
            "kind": "ControllerConfiguration",
            "enableGatewayAPI": True,
        },
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": True}},
    }
    for part, key in (("controller", None), ("webhook", "webhook"), ("cainjector", "cainjector")):
        section: dict[str, Any] = {
            "replicaCount": profile.controller_replicas,
            "podLabels": pod_labels(),
            # The images are a static Go binary on distroless static with USER 1000 (cert-manager v1.19.1
            # hack/containers/Containerfile.*, make/base_images.mk): it reads no file of its own, so any UID runs it.
            "containerSecurityContext": {**RESTRICTED_CONTAINER, "runAsUser": DEFAULT_UID, "runAsGroup": DEFAULT_UID},
            "resources": CERT_MANAGER_RESOURCES[part],
            "podDisruptionBudget": {"enabled": ha, **({"maxUnavailable": 1} if ha else {})},
        }
        if ha:
            section["affinity"] = spread(CERT_MANAGER_POD_LABELS[part])
        if key is None:
            values.update(section)
        else:
            values[key] = section
    values["startupapicheck"] = {"podLabels": pod_labels(), "containerSecurityContext": RESTRICTED_CONTAINER}
    return values


def envoy_gateway_values(profile: Profile) -> dict[str, Any]:
    ha = profile.controller_replicas > 1
    pod: dict[str, Any] = {"labels": pod_labels()}
    if ha:
        pod["affinity"] = spread(ENVOY_GATEWAY_POD_LABELS)
    return {
        "deployment": {
            "replicas": profile.controller_replicas,
            "pod": pod,
            "envoyGateway": {
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "1024Mi"}},
                # Merged over the chart's own securityContext (gateway-helm v1.5.4 values.yaml, the one its
                # certgen Job uses read-only too): in Kubernetes mode the controller writes no file (v1.5.4 writes
                # only in certgen, the host provider and the Wasm cache, which is used for Wasm extensions only).
                "securityContext": {"readOnlyRootFilesystem": True},
            },
        },
        "podDisruptionBudget": {"minAvailable": 1 if ha else 0},
        "config": {"envoyGateway": {
            "gateway": {"controllerName": ENVOY_GATEWAY_CONTROLLER},
            "provider": {"type": "Kubernetes"},
            "logging": {"level": {"default": "info"}},
        }},
    }


ROOK_UID = 2016
"""The Rook operator's UID, the chart's default (rook-ceph v1.18.6 values.yaml ``containerSecurityContext``)."""
CSI_OPERATOR_UID = 65532


def rook_values() -> dict[str, Any]:
    # The Rook operator is a single instance; the Ceph daemons it runs are sized in storage.py.
    return {
        "crds": {"enabled": True},
        "currentNamespaceOnly": True,
        "priorityClassName": names.PRIORITY_PLATFORM,
        "enableDiscoveryDaemon": False,
        "monitoring": {"enabled": True},
        "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        # rook-ceph v1.18.6 values.yaml containerSecurityContext (UID/GID 2016, drop ALL) plus no escalation:
        # a list value replaces the chart's, so it is written out in full.
        "containerSecurityContext": {"runAsNonRoot": True, "runAsUser": ROOK_UID, "runAsGroup": ROOK_UID,
                                     "capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
        # ceph-csi-operator subchart: its image is a static Go binary on distroless with USER 65532:65532
        # (ceph/ceph-csi-operator Dockerfile); the chart's podSecurityContext sets only runAsNonRoot.
        "ceph-csi-operator": {"controllerManager": {"podSecurityContext": {
            "runAsNonRoot": True, "runAsUser": CSI_OPERATOR_UID, "runAsGroup": CSI_OPERATOR_UID,
            "seccompProfile": {"type": "RuntimeDefault"}}}},
    }


_NAMESPACED_KINDS = {"ServiceAccount", "Role", "RoleBinding", "Service", "Deployment"}


def place_keycloak_operator(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    """Adapt one object of the upstream Keycloak operator manifests to this platform.

    The manifests carry no namespace (and the ClusterRoleBinding names ``keycloak``): namespaced objects
    go to ``urban-identity`` and every ServiceAccount subject points there. The operator Deployment gets
    the platform priority class and a restricted, read-only container (its /tmp on an emptyDir).
    """
    import copy

    out = copy.deepcopy(props)
    md = out.setdefault("metadata", {})
    if kind in _NAMESPACED_KINDS:
        md["namespace"] = names.NS_IDENTITY
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        for subject in out.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = names.NS_IDENTITY
    if kind == "Deployment":
        pod = out.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
        pod["priorityClassName"] = names.PRIORITY_PLATFORM
        pod["securityContext"] = {"runAsNonRoot": True, "runAsUser": DEFAULT_UID, "runAsGroup": DEFAULT_UID,
                                  "seccompProfile": {"type": "RuntimeDefault"}}
        pod["volumes"] = [*(pod.get("volumes") or []), {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
        for container in pod.get("containers") or []:
            container["securityContext"] = dict(RESTRICTED_CONTAINER)
            container["volumeMounts"] = [*(container.get("volumeMounts") or []), {"name": "tmp", "mountPath": "/tmp"}]
    return out


def keycloak_operator_transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Resource transform for the children of the Keycloak operator's ConfigGroup."""
    if not args.type_.startswith("kubernetes:") or args.type_.startswith("kubernetes:yaml/"):
        return None
    return pulumi.ResourceTransformResult(props=place_keycloak_operator(kind_of(args.type_), dict(args.props)),
                                          opts=args.opts)


class Operators(pulumi.ComponentResource):
    """Every operator of the platform (see the module docstring)."""

    def __init__(self, name: str, cfg, profile: Profile, namespaces: dict[str, pulumi.Resource],
                 monitoring_crds: pulumi.Resource, opts: pulumi.ResourceOptions | None = None):
        """``monitoring_crds``: the chart that installs the ServiceMonitor/PodMonitor CRDs (kube-prometheus-stack);
        the charts that create monitors, and the operators whose clusters do, are installed after it."""
        super().__init__("urbanstack:shared:operators", name, None, opts)

        def in_ns(ns: str, *extra: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(depends_on=[namespaces[ns], *extra])

        # Its chart installs the Gateway API CRDs (gateway-helm v1.5.4 crds/).
        self.envoy_gateway = helm_chart(self, "envoy-gateway", names.NS_GATEWAY, envoy_gateway_values(profile),
                                        in_ns(names.NS_GATEWAY))
        # enableGatewayAPI: the controller watches Gateway API kinds and exits when their CRDs are missing.
        self.cert_manager = helm_chart(self, "cert-manager", names.NS_CERT_MANAGER, cert_manager_values(profile),
                                       in_ns(names.NS_CERT_MANAGER, self.envoy_gateway, monitoring_crds))
        self.cnpg = helm_chart(self, "cloudnative-pg", names.NS_OPERATORS, cnpg_values(profile),
                               in_ns(names.NS_OPERATORS, monitoring_crds))
        # The plugin's chart asks cert-manager for its certificates.
        self.barman = helm_chart(self, "plugin-barman-cloud", names.NS_OPERATORS, barman_values(),
                                 in_ns(names.NS_OPERATORS, self.cnpg, self.cert_manager))
        manifests = MANIFESTS["keycloak-operator"]
        self.keycloak = k8s.yaml.v2.ConfigGroup(
            "keycloak-operator",
            files=manifests.urls,
            opts=child(self, pulumi.ResourceOptions(depends_on=[namespaces[names.NS_IDENTITY]],
                                                    transforms=[keycloak_operator_transform])),
        )
        self.rook = None
        if cfg.storage.mode == "rook-ceph":
            self.rook = helm_chart(self, "rook-ceph", names.NS_STORAGE, rook_values(),
                                   in_ns(names.NS_STORAGE, monitoring_crds))
        self.pdbs = []
        if profile.controller_replicas > 1:
            # The CloudNativePG chart has no PodDisruptionBudget of its own.
            self.pdbs.append(pdb(self, "cnpg-operator", names.NS_OPERATORS, CNPG_POD_LABELS,
                                 opts=pulumi.ResourceOptions(depends_on=[namespaces[names.NS_OPERATORS]])))
        self.register_outputs({})
