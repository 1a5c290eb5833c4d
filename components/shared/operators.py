"""The operators of the shared platform, each a pinned Helm chart (versions in ``catalogue/versions.py``).

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

import copy
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from catalogue import labels, names
from catalogue.labels import kind_of
from catalogue.paths import ROOT
from catalogue.shared_config import SharedConfig
from catalogue.versions import CHARTS, MANIFESTS
from components.k8s import DEFAULT_UID, PULL_POLICY, child, pdb
from components.shared.profile import Profile, spread

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


def pod_labels(scope: labels.LabelScope, module: str = MODULE) -> dict[str, str]:
    """The cost labels for chart values (charts render inside the provider, out of a transform's reach)."""
    return labels.cost_labels(scope, module)


def cnpg_values(profile: Profile, scope: labels.LabelScope) -> dict[str, Any]:
    values: dict[str, Any] = {
        "replicaCount": profile.controller_replicas,
        "podLabels": pod_labels(scope),
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


def barman_values(scope: labels.LabelScope) -> dict[str, Any]:
    # One replica: the plugin only supports the Recreate strategy (values.yaml of the chart).
    return {
        "replicaCount": 1,
        "podLabels": pod_labels(scope),
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
"""cert-manager v1.21.1 values.yaml leaves ``resources``, ``webhook.resources`` and ``cainjector.resources`` empty."""


def cert_manager_values(profile: Profile, scope: labels.LabelScope) -> dict[str, Any]:
    ha = profile.controller_replicas > 1
    values: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        # No aggregation of cert-manager-edit/-view into admin/edit/view (default true, vendored chart
        # cert-manager-v1.21.1 values.yaml global.rbac.aggregateClusterRoles, templates/rbac.yaml): only the
        # platform requests certificates (components/shared/certificates.py).
        "global": {"priorityClassName": names.PRIORITY_PLATFORM, "commonLabels": pod_labels(scope),
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
            "podLabels": pod_labels(scope),
            # The images are a static Go binary on distroless static-debian13 (cert-manager v1.21.1
            # hack/containers/Containerfile.*, make/base_images.mk; since v1.20 without a USER line, v1.19 had USER
            # 1000): it reads no file of its own, so any UID runs it, and the UID is set here.
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
    values["startupapicheck"] = {"podLabels": pod_labels(scope), "containerSecurityContext": RESTRICTED_CONTAINER}
    return values


def envoy_gateway_values(profile: Profile, scope: labels.LabelScope) -> dict[str, Any]:
    ha = profile.controller_replicas > 1
    pod: dict[str, Any] = {"labels": pod_labels(scope)}
    if ha:
        pod["affinity"] = spread(ENVOY_GATEWAY_POD_LABELS)
    return {
        "deployment": {
            "replicas": profile.controller_replicas,
            "pod": pod,
            "envoyGateway": {
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "1024Mi"}},
                # Merged over the chart's own securityContext. gateway-helm v1.9.0 values.yaml sets a read-only
                # root itself ("Hardened the gateway-helm chart", release notes v1.9.0); kept explicit because the
                # platform relies on it: in Kubernetes mode the controller writes no file (only certgen, the host
                # provider and the Wasm cache, which is used for Wasm extensions only, write files).
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


ENVOY_GATEWAY_FULLNAME = "envoy-gateway-gateway-helm"
"""``eg.fullname`` of release ``envoy-gateway`` (gateway-helm v1.9.0 templates/_helpers.tpl: release name + chart name)."""
ENVOY_GATEWAY_CERTGEN = f"{ENVOY_GATEWAY_FULLNAME}-certgen"
ENVOY_GATEWAY_IMAGE = f"docker.io/envoyproxy/gateway:{CHARTS['envoy-gateway'].version}"
"""The chart's controller image, which also runs ``certgen``: values.yaml ``global.images.envoyGateway.image``
(``docker.io/envoyproxy/gateway:<appVersion>``; appVersion is the chart version, Chart.yaml of gateway-helm v1.9.0,
written by the release's ``helm package --app-version``, tools/make/helm.mk)."""
ENVOY_GATEWAY_SECRETS = ("envoy-gateway", "envoy", "envoy-rate-limit", "envoy-oidc-hmac")
"""The Secrets ``envoy-gateway certgen`` writes into its namespace (envoyproxy/gateway v1.5.4 and v1.9.0
internal/provider/kubernetes/secrets.go ``CertsToSecret``; ``CreateOrUpdateSecrets`` reads each by name first)."""
ENVOY_TOPOLOGY_WEBHOOK = f"envoy-gateway-topology-injector.{names.NS_GATEWAY}"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def api_token_volume(name: str = "kube-api-access") -> dict[str, Any]:
    """The projected volume the kubelet mounts for ``automountServiceAccountToken: true`` (token, the cluster CA
    from ConfigMap ``kube-root-ca.crt``, the namespace), written out so that only the pod that talks to the API
    server gets it (Kubernetes docs "Configure Service Accounts for Pods", "Launch a Pod using service account
    token projection"; in-cluster clients read these three files from :data:`SERVICE_ACCOUNT_DIR`)."""
    return {"name": name, "projected": {"defaultMode": 0o444, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def envoy_gateway_certgen(parent: pulumi.Resource, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    """The chart's ``certgen`` pre-install hook, as regular objects created before the chart.

    gateway-helm v1.9.0 (as v1.5.4) creates the control-plane certificates only in a Helm hook (templates/certgen.yaml,
    certgen-rbac.yaml and the topology injector's MutatingWebhookConfiguration in
    envoy-proxy-topology-injector-webhook.yaml, all ``helm.sh/hook: pre-install, pre-upgrade``), and
    ``helm.v4.Chart`` never applies hooks (pulumi-kubernetes 4.34.2 ``Chart`` docs: "By default, Helm hook
    resources are omitted"). Without them the controller Deployment waits forever for Secret ``envoy-gateway``
    (volume ``certs``), the Envoy proxies for Secret ``envoy``, and the topology injector (on by default) has no
    webhook configuration. ``envoy-gateway certgen`` (envoyproxy/gateway v1.9.0 internal/cmd/certgen.go) writes the
    :data:`ENVOY_GATEWAY_SECRETS` (keeping existing ones: no ``--overwrite``), then sets the CA bundle of the
    webhook configuration, which must therefore exist first (it fails otherwise). Same names, image, command, env,
    ClusterRole, binding subjects and webhook as the chart renders them (tests/test_chart_hooks.py compares them);
    Pulumi waits for the Job to complete, so the chart (``depends_on`` these objects) starts its controller with
    the Secrets in place. The CA bundle certgen writes is not part of our inputs: server-side apply leaves the
    field to certgen's field manager. checkov's CKV_K8S_155 reports the ClusterRole (it ignores ``resourceNames``):
    certgen may update exactly this one webhook configuration, which upstream's topology injector needs.

    Deliberate differences from the chart's hook: the Role may read and update only those four Secrets (the chart
    grants get/update on every Secret of the namespace; ``create`` cannot be limited by name), the API token is
    mounted explicitly (:func:`api_token_volume`; v1.9.0's hook sets ``automountServiceAccountToken: true`` on the
    pod, its ServiceAccount ``false``), the pod has resources and the platform priority class, and there is no
    ``ttlSecondsAfterFinished: 30``: the Job is a Pulumi resource and must not vanish. The pod security context is
    the chart's own since v1.9.0 (values.yaml ``certgen.job.pod.securityContext``).
    """
    ns = names.NS_GATEWAY
    meta = {"name": ENVOY_GATEWAY_CERTGEN, "namespace": ns}
    sa = k8s.core.v1.ServiceAccount("envoy-gateway-certgen", metadata=meta, automount_service_account_token=False,
                                    opts=child(parent, opts))
    role = k8s.rbac.v1.Role("envoy-gateway-certgen", metadata=meta, rules=[
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": list(ENVOY_GATEWAY_SECRETS),
         "verbs": ["get", "update"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    ], opts=child(parent, opts))
    subjects = [{"kind": "ServiceAccount", "name": ENVOY_GATEWAY_CERTGEN, "namespace": ns}]
    binding = k8s.rbac.v1.RoleBinding(
        "envoy-gateway-certgen", metadata=meta, subjects=subjects,
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ENVOY_GATEWAY_CERTGEN},
        opts=child(parent, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[sa, role]))))
    cluster_name = f"{ENVOY_GATEWAY_CERTGEN}:{ns}"
    cluster_role = k8s.rbac.v1.ClusterRole(
        "envoy-gateway-certgen", metadata={"name": cluster_name},
        rules=[{"apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"],
                "verbs": ["get", "list", "watch"]},
               {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"],
                "resourceNames": [ENVOY_TOPOLOGY_WEBHOOK], "verbs": ["update", "patch"]}],
        opts=child(parent, opts))
    cluster_binding = k8s.rbac.v1.ClusterRoleBinding(
        "envoy-gateway-certgen", metadata={"name": cluster_name}, subjects=subjects,
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
        opts=child(parent, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[sa, cluster_role]))))
    # failurePolicy Ignore: until the controller serves it with the CA certgen sets, pod bindings go through.
    webhook = k8s.admissionregistration.v1.MutatingWebhookConfiguration(
        "envoy-gateway-topology-injector",
        metadata={"name": ENVOY_TOPOLOGY_WEBHOOK, "labels": {"app.kubernetes.io/component": "topology-injector"}},
        webhooks=[{
            "name": "topology.webhook.gateway.envoyproxy.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {"service": {"name": "envoy-gateway", "namespace": ns,
                                         "path": "/inject-pod-topology", "port": 9443}},
            "failurePolicy": "Ignore",
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["pods/binding"]}],
            "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                        "values": [ns]}]},
        }],
        opts=child(parent, opts))
    # The chart's certgen.job.securityContext (values.yaml), unchanged.
    security = {**RESTRICTED_CONTAINER, "privileged": False, "runAsUser": 65532, "runAsGroup": 65532}
    job = k8s.batch.v1.Job(
        "envoy-gateway-certgen", metadata=meta,
        spec={
            "backoffLimit": 1, "completions": 1, "parallelism": 1,
            "template": {
                "metadata": {"labels": {"app": "certgen"}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "containers": [{
                        "name": "envoy-gateway-certgen",
                        "image": ENVOY_GATEWAY_IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["envoy-gateway", "certgen"],
                        "env": [{"name": "ENVOY_GATEWAY_NAMESPACE",
                                 "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
                                {"name": "KUBERNETES_CLUSTER_DOMAIN", "value": "cluster.local"}],
                        "securityContext": security,
                        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                      "limits": {"cpu": "100m", "memory": "64Mi"}},
                        "volumeMounts": [{"name": "kube-api-access", "mountPath": SERVICE_ACCOUNT_DIR,
                                          "readOnly": True}],
                    }],
                    "priorityClassName": names.PRIORITY_PLATFORM,
                    "restartPolicy": "Never",
                    # the chart's certgen.job.pod.securityContext (gateway-helm v1.9.0 values.yaml), unchanged
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                        "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                    "serviceAccountName": ENVOY_GATEWAY_CERTGEN,
                    "volumes": [api_token_volume()],
                },
            },
        },
        opts=child(parent, pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[binding, cluster_binding, webhook]))))
    return [sa, role, binding, cluster_role, cluster_binding, webhook, job]
ROOK_UID = 2016
"""The Rook operator's UID, the chart's default (rook-ceph v1.19.10 values.yaml ``containerSecurityContext``)."""
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
        # rook-ceph v1.19.10 values.yaml containerSecurityContext (UID/GID 2016, drop ALL) plus no escalation:
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


def keycloak_operator_folder(version: str) -> Path:
    """``vendor/keycloak-operator-<version>/``: the pinned release's OLM bundle files (PROVENANCE.md there)."""
    return ROOT / "vendor" / f"keycloak-operator-{version}"


def keycloak_operator_csv(version: str) -> dict[str, Any]:
    """The vendored ClusterServiceVersion (verbatim excerpt) of the pinned Keycloak operator release."""
    path = keycloak_operator_folder(version) / f"olm-csv-{version}.excerpt.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no vendored ClusterServiceVersion of Keycloak operator {version} "
                                "(catalogue/versions.py MANIFESTS['keycloak-operator']); see vendor/README.md")
    csv = yaml.safe_load(path.read_text(encoding="utf-8"))
    if str((csv.get("spec") or {}).get("version")) != version:
        raise ValueError(f"{path}: spec.version is {csv['spec'].get('version')!r}, not the pinned {version}")
    return csv


KEYCLOAK_OPERATOR_LABELS = {"app.kubernetes.io/name": "keycloak-operator"}


def keycloak_operator_objects(version: str, namespace: str) -> list[dict[str, Any]]:
    """The operator's ServiceAccount, RBAC and Deployment, derived from its release's ClusterServiceVersion the way
    OLM installs a bundle for an ``OwnNamespace`` OperatorGroup in ``namespace`` (``install.spec``):

    * one ServiceAccount per ``serviceAccountName`` named by ``permissions``, ``clusterPermissions`` or a deployment;
    * ``permissions[i]`` -> a Role with exactly those rules and a RoleBinding to its ServiceAccount (OLM names both
      after the CSV with a hash; here ``keycloak-operator-role`` and ``-role-binding``, as the release's
      ``kubernetes.yml`` names them);
    * ``clusterPermissions[i]`` -> a ClusterRole and ClusterRoleBinding (``keycloak-operator-clusterrole`` and
      ``-clusterrole-binding``);
    * ``deployments[i]`` -> a Deployment of that name with the CSV's ``spec`` verbatim; as OLM does, its pod template
      is annotated ``olm.targetNamespaces: <namespace>``, the annotation the controllers' ``*_NAMESPACES`` variables
      read (``fieldRef``), so the operator watches its own namespace only. The label
      ``app.kubernetes.io/name: keycloak-operator`` is added to the pod template (the network policy's peer).

    The CSV's ``imagePullPolicy: Always`` and the platform's hardening are changed later by
    :func:`place_keycloak_operator`, the ConfigGroup's transform, like every other upstream object."""
    install = keycloak_operator_csv(version)["spec"]["install"]["spec"]
    objs: list[dict[str, Any]] = []
    accounts = sorted({p["serviceAccountName"] for key in ("permissions", "clusterPermissions")
                       for p in install.get(key) or []}
                      | {d["spec"]["template"]["spec"]["serviceAccountName"] for d in install.get("deployments") or []})
    md = {"labels": dict(KEYCLOAK_OPERATOR_LABELS)}
    objs += [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, **md}} for sa in accounts]
    for key, role_kind, suffix in (("clusterPermissions", "ClusterRole", "clusterrole"),
                                   ("permissions", "Role", "role")):
        for i, grant in enumerate(install.get(key) or []):
            name = f"keycloak-operator-{suffix}" + (f"-{i}" if i else "")
            objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role_kind,
                         "metadata": {"name": name, **md}, "rules": grant["rules"]})
            objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{role_kind}Binding",
                         "metadata": {"name": f"{name}-binding", **md},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
                         "subjects": [{"kind": "ServiceAccount", "name": grant["serviceAccountName"],
                                       "namespace": namespace}]})
    for deployment in install.get("deployments") or []:
        spec = copy.deepcopy(deployment["spec"])
        tmd = spec["template"].setdefault("metadata", {})
        tmd["labels"] = {**(tmd.get("labels") or {}), **KEYCLOAK_OPERATOR_LABELS}
        tmd["annotations"] = {**(tmd.get("annotations") or {}), "olm.targetNamespaces": namespace}
        objs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": deployment["name"], **md}, "spec": spec})
    return objs


_NAMESPACED_KINDS = {"ServiceAccount", "Role", "RoleBinding", "Service", "Deployment"}


def place_keycloak_operator(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    """Adapt one object of the Keycloak operator's release (:func:`keycloak_operator_objects`, its CRDs) to this
    platform.

    The objects carry no namespace: namespaced ones go to ``urban-identity`` and every ServiceAccount subject
    points there (CRDs are cluster-scoped and stay as the release ships them). The operator Deployment gets
    the platform priority class, a restricted, read-only container (its /tmp on an emptyDir) and pull policy
    ``IfNotPresent``.
    """
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
            # The release's CSV pulls Always; the tag is pinned, so the project rule holds: IfNotPresent.
            container["imagePullPolicy"] = PULL_POLICY
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

    def __init__(self, name: str, cfg: SharedConfig, profile: Profile, namespaces: dict[str, pulumi.Resource],
                 monitoring_crds: pulumi.Resource, opts: pulumi.ResourceOptions | None = None):
        """``monitoring_crds``: the chart that installs the ServiceMonitor/PodMonitor CRDs (kube-prometheus-stack);
        the charts that create monitors, and the operators whose clusters do, are installed after it."""
        super().__init__("urbanstack:shared:operators", name, None, opts)
        scope = labels.shared_scope(cfg.operatorCostCenter)

        def in_ns(ns: str, *extra: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(depends_on=[namespaces[ns], *extra])

        # Its chart installs the Gateway API CRDs (gateway-helm v1.9.0 charts/crds/crds/); its certgen hook runs
        # first, as our Job.
        self.envoy_gateway_certgen = envoy_gateway_certgen(self, in_ns(names.NS_GATEWAY))
        self.envoy_gateway = helm_chart(self, "envoy-gateway", names.NS_GATEWAY, envoy_gateway_values(profile, scope),
                                        in_ns(names.NS_GATEWAY, *self.envoy_gateway_certgen))
        # enableGatewayAPI: the controller watches Gateway API kinds and exits when their CRDs are missing.
        self.cert_manager = helm_chart(self, "cert-manager", names.NS_CERT_MANAGER, cert_manager_values(profile, scope),
                                       in_ns(names.NS_CERT_MANAGER, self.envoy_gateway, monitoring_crds))
        self.cnpg = helm_chart(self, "cloudnative-pg", names.NS_OPERATORS, cnpg_values(profile, scope),
                               in_ns(names.NS_OPERATORS, monitoring_crds))
        # The plugin's chart asks cert-manager for its certificates.
        self.barman = helm_chart(self, "plugin-barman-cloud", names.NS_OPERATORS, barman_values(scope),
                                 in_ns(names.NS_OPERATORS, self.cnpg, self.cert_manager))
        manifests = MANIFESTS["keycloak-operator"]
        # The release's CRD files from its OLM bundle (pinned by commit), and its install objects derived from the
        # vendored ClusterServiceVersion: urbanstack/engine/render.py renders exactly these for the plan.
        self.keycloak = k8s.yaml.v2.ConfigGroup(
            "keycloak-operator",
            files=manifests.urls,
            objs=keycloak_operator_objects(manifests.version, names.NS_IDENTITY),
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
