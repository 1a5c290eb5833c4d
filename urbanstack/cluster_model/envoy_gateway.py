"""What Envoy Gateway makes from a ``Gateway``: the Envoy proxy's Deployment, Service and ServiceAccount."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from typing import Any

from urbanstack.cluster_model.objects import Obj, _md

# --------------------------------------------------------------------------------------------------------------
# Envoy Gateway v1.9.0 (envoyproxy/gateway tag v1.9.0, 39763b1c07ec30a5526fe70434a2cfe4181de642)
# --------------------------------------------------------------------------------------------------------------

ENVOY_APP_LABELS = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
                    "app.kubernetes.io/managed-by": "envoy-gateway"}
ENVOY_DEFAULT_IMAGE = "docker.io/envoyproxy/envoy:distroless-v1.39.0"
"""The Envoy Proxy image the controller gives the data plane when the EnvoyProxy names none: v1.9.0
api/v1alpha1/shared_types.go ``DefaultEnvoyProxyImage`` (the compatibility matrix: v1.9 runs distroless-v1.39.0)."""


def envoy_resource_name(gateway_ns: str, gateway_name: str) -> str:
    """``ExpectedResourceHashedName(<ns>/<name>)``: ``envoy-<ns>-<name>-<sha256[:8]>`` (``internal/utils/misc.go``)."""
    ns_name = f"{gateway_ns}/{gateway_name}"
    digest = hashlib.sha256(ns_name.encode()).hexdigest()
    resource = ns_name.replace("/", "-")
    if len(resource) > 48:
        resource = resource[:48].rstrip("-")
    return f"envoy-{resource}-{digest[:8]}"


def _http_probe(path: str, port: int, period: int, failures: int) -> Obj:
    return {"httpGet": {"path": path, "port": port, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": period,
            "successThreshold": 1, "failureThreshold": failures}


_NAMED_LISTS = {"containers", "initContainers", "volumes"}
"""Lists a strategic merge patch merges by ``name`` (their ``patchMergeKey`` in k8s.io/api core/v1 types.go)."""


def strategic_merge(original: Any, patch: Any) -> Any:
    """A Kubernetes strategic merge patch, as far as the modelled objects need it: maps merge key by key (``null``
    deletes), the lists in :data:`_NAMED_LISTS` merge item by item on ``name`` (new names are appended), every
    other value is replaced (k8s.io/apimachinery ``strategicpatch.StrategicMergePatch``)."""
    if not (isinstance(original, dict) and isinstance(patch, dict)):
        return copy.deepcopy(patch)
    out = copy.deepcopy(original)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif key in _NAMED_LISTS and isinstance(value, list) and isinstance(out.get(key), list):
            merged = list(out[key])
            for item in value:
                at = next((i for i, old in enumerate(merged) if isinstance(old, dict) and isinstance(item, dict)
                           and old.get("name") == item.get("name")), None)
                if at is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[at] = strategic_merge(merged[at], item)
            out[key] = merged
        else:
            out[key] = strategic_merge(out.get(key), value)
    return out


def _selects(sel: Obj | None, found: dict[str, str]) -> bool:
    sel = sel or {}
    if any(found.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if not {"In": key in found and found[key] in values, "NotIn": key not in found or found[key] not in values,
                "Exists": key in found, "DoesNotExist": key not in found}.get(str(op), False):
            return False
    return True


def attached_listener_sets(gateway: Obj, objs: list[Obj]) -> list[Obj]:
    """The ListenerSets among ``objs`` whose ``parentRef`` names ``gateway`` and that its ``spec.allowedListeners``
    admits, ordered by namespace/name (Envoy Gateway v1.9.0 internal/gatewayapi/listenerset.go ``processListenerSet``,
    ``isListenerSetAllowed``: default ``None``; ``Selector`` matches the ListenerSet's Namespace labels, here those
    of the Namespace objects among ``objs`` plus ``kubernetes.io/metadata.name``)."""
    gw_md = _md(gateway)
    allowed = ((gateway.get("spec") or {}).get("allowedListeners") or {}).get("namespaces") or {}
    source = allowed.get("from") or "None"
    ns_labels = {_md(o)["name"]: dict(_md(o).get("labels") or {}) for o in objs
                 if o.get("kind") == "Namespace" and _md(o).get("name")}
    out = []
    for ls in objs:
        if ls.get("kind") != "ListenerSet" or not str(ls.get("apiVersion", "")).startswith("gateway.networking.k8s.io/"):
            continue
        ls_ns = _md(ls).get("namespace")
        ref = (ls.get("spec") or {}).get("parentRef") or {}
        if (ref.get("kind") or "Gateway") != "Gateway" or ref.get("name") != gw_md.get("name") \
                or (ref.get("namespace") or ls_ns) != gw_md.get("namespace"):
            continue
        labels = {**ns_labels.get(ls_ns, {}), "kubernetes.io/metadata.name": ls_ns}
        if source == "All" or (source == "Same" and ls_ns == gw_md.get("namespace")) or (
                source == "Selector" and _selects(allowed.get("selector"), labels)):
            out.append(ls)
    return sorted(out, key=lambda o: (_md(o).get("namespace") or "", _md(o).get("name") or ""))


def envoy_infra(gateway: Obj, proxy: Obj | None, controller_ns: str, shutdown_image: str,
                listener_sets: Sequence[Obj] = ()) -> list[Obj]:
    """The Envoy Deployment and Service that Envoy Gateway runs for one ``Gateway``.

    ``listener_sets``: the ListenerSets attached to it and admitted (:func:`attached_listener_sets`). Envoy Gateway
    v1.9.0 appends their listeners to the Gateway's (internal/gatewayapi/listenerset.go ``processListenerSet``) and
    builds the proxy's listeners and Service ports from that merged list (internal/gatewayapi/listener.go, the loop
    over ``gateway.listeners`` with ``servicePortToContainerPort``), so each becomes a port of the same Service and
    Envoy pods. A plan of the shared stack alone has none: each municipality's join adds its ports at run time,
    without a change to the shared stack's objects. Listener ports are Service ports and ``targetPort``s only: the
    proxy container declares no port for them (v1.9.0 internal/infrastructure/kubernetes/proxy/resource.go
    ``expectedProxyContainers`` lists only the stats and readiness ports).

    Follows Envoy Gateway v1.9.0 ``internal/infrastructure/kubernetes/proxy/resource_provider.go`` (``Deployment``,
    ``Service``, ``getPodLabels``), ``.../proxy/resource.go`` (``expectedProxyContainers``,
    ``expectedEnvoySecurityContext``: the EnvoyProxy's ``container.securityContext`` replaces the default for both
    containers), ``internal/infrastructure/kubernetes/resource/resource.go`` (``ExpectedServiceSpec``) and
    ``internal/gatewayapi/translator.go``/``listener.go`` (owner labels, port names ``<proto>-<port>``, container port
    = listener port + 10000 below 1024; probes: envoy ``/ready`` on 19003, shutdown-manager ``/healthz`` on 19002,
    from ``internal/xds/bootstrap/bootstrap.go`` and ``internal/cmd/envoy/shutdown_manager.go``). Objects live in the controller's namespace (no gateway-namespace mode).
    Deployment and Service labels are the app labels, the owning-gateway labels and the Gateway's
    ``spec.infrastructure.labels`` (``translator.go`` ``infrastructureLabels``), copied over the app labels
    (``envoyLabels``); only the pods also get ``envoyDeployment.pod.labels`` of the EnvoyProxy (``getPodLabels``,
    also over the app labels), and only the Service ``envoyService.labels``. Since v1.8 the pod template takes the
    EnvoyProxy's ``pod.priorityClassName`` (v1.9.0 ``Deployment``: ``PriorityClassName: ptr.Deref(
    deploymentConfig.Pod.PriorityClassName, "")``; v1.5.4's ``KubernetesPodSpec`` had no such field and the API
    server pruned it), the service account is ``envoyServiceAccount.name`` when set (``serviceAccountName``), and
    ``spec.replicas`` is left out when ``envoyHpa`` is set (the HPA owns it). A ``NodePort`` Service also gets the
    ``externalTrafficPolicy`` (internal/infrastructure/kubernetes/resource/resource.go ``ExpectedServiceSpec``).
    The EnvoyProxy's ``envoyDeployment.patch`` and ``envoyService.patch``
    (``StrategicMerge``, the default, or ``JSONMerge``) are applied last (``internal/utils/merge.go``
    ``MergeWithPatch``).
    """
    gw_md = _md(gateway)
    gw_ns, gw_name = gw_md.get("namespace"), gw_md["name"]
    kube = ((((proxy or {}).get("spec") or {}).get("provider") or {}).get("kubernetes")) or {}
    deploy_cfg = kube.get("envoyDeployment") or {}
    pod_cfg = deploy_cfg.get("pod") or {}
    container_cfg = deploy_cfg.get("container") or {}
    service_cfg = kube.get("envoyService") or {}
    infra_labels = dict(((gateway.get("spec") or {}).get("infrastructure") or {}).get("labels") or {})
    owner = {"gateway.envoyproxy.io/owning-gateway-name": gw_name,
             "gateway.envoyproxy.io/owning-gateway-namespace": gw_ns}
    # envoyLabels: the app labels first, the proxy metadata (infrastructure labels + owner labels) copied OVER them;
    # getPodLabels adds the EnvoyProxy's pod labels to the metadata before that. The selector is the app labels
    # plus the owner labels only (stableSelector), so labels that replace an app label unselect the pods.
    resource_labels = {**ENVOY_APP_LABELS, **infra_labels, **owner}
    pod_labels = {**ENVOY_APP_LABELS, **infra_labels, **owner, **(pod_cfg.get("labels") or {})}
    name = envoy_resource_name(gw_ns, gw_name)
    default_sc = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                  "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                  "seccompProfile": {"type": "RuntimeDefault"}}
    security = container_cfg.get("securityContext") or default_sc
    ports: list[Obj] = []
    seen = set()
    merged = [*((gateway.get("spec") or {}).get("listeners") or []),
              *(lst for ls in listener_sets for lst in (ls.get("spec") or {}).get("listeners") or [])]
    for listener in merged:
        proto, port = str(listener.get("protocol", "HTTP")), int(listener["port"])
        if (proto, port) in seen:
            continue
        seen.add((proto, port))
        container_port = port + 10000 if port < 1024 else port
        ports.append({"name": f"{proto.lower()}-{port}", "protocol": "UDP" if proto == "UDP" else "TCP",
                      "port": port, "targetPort": container_port})
    pod: Obj = {
        "automountServiceAccountToken": False,
        "serviceAccountName": (kube.get("envoyServiceAccount") or {}).get("name") or name,
        "terminationGracePeriodSeconds": 360, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "containers": [
            {"name": "envoy", "image": container_cfg.get("image") or ENVOY_DEFAULT_IMAGE,
             "imagePullPolicy": "IfNotPresent", "command": ["envoy"], "securityContext": security,
             "ports": [{"name": "metrics", "containerPort": 19001, "protocol": "TCP"},
                       {"name": "readiness", "containerPort": 19003, "protocol": "TCP"}],
             "startupProbe": _http_probe("/ready", 19003, 10, 30),
             "readinessProbe": _http_probe("/ready", 19003, 5, 1),
             "livenessProbe": _http_probe("/ready", 19003, 10, 3),
             "volumeMounts": [{"name": "certs", "mountPath": "/certs", "readOnly": True},
                              {"name": "sds", "mountPath": "/sds"}],
             **({"resources": container_cfg["resources"]} if container_cfg.get("resources") else {})},
            {"name": "shutdown-manager", "image": shutdown_image, "imagePullPolicy": "IfNotPresent",
             "command": ["envoy-gateway"], "args": ["envoy", "shutdown-manager"], "securityContext": security,
             # api/v1alpha1 DefaultShutdownManagerContainerResourceRequirements: requests only, no limits
             "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
             "startupProbe": _http_probe("/healthz", 19002, 10, 30),
             "readinessProbe": _http_probe("/healthz", 19002, 10, 3),
             "livenessProbe": _http_probe("/healthz", 19002, 10, 3)},
        ],
        "volumes": [{"name": "certs", "secret": {"secretName": "envoy", "defaultMode": 420}},
                    {"name": "sds", "configMap": {"name": name, "defaultMode": 420}}],
    }
    for key in ("securityContext", "affinity", "tolerations", "imagePullSecrets", "nodeSelector",
                "topologySpreadConstraints", "priorityClassName"):
        if pod_cfg.get(key) is not None:
            pod[key] = pod_cfg[key]
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": deploy_cfg.get("name") or name, "namespace": controller_ns, "labels": resource_labels},
        "spec": {**({} if kube.get("envoyHpa") else {"replicas": deploy_cfg.get("replicas", 1)}),
                 "selector": {"matchLabels": {**ENVOY_APP_LABELS, **owner}},
                 "template": {"metadata": {"labels": pod_labels}, "spec": pod},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
    }
    service_spec: Obj = {"type": service_cfg.get("type", "LoadBalancer"), "sessionAffinity": "None",
                         "selector": {**ENVOY_APP_LABELS, **owner}, "ports": ports}
    if service_spec["type"] in ("LoadBalancer", "NodePort"):
        service_spec["externalTrafficPolicy"] = service_cfg.get("externalTrafficPolicy", "Local")
    service_md: Obj = {"name": service_cfg.get("name") or name, "namespace": controller_ns,
                       "labels": {**resource_labels, **(service_cfg.get("labels") or {})}}
    if service_cfg.get("annotations"):
        service_md["annotations"] = dict(service_cfg["annotations"])
    service: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": service_md, "spec": service_spec}
    return [_patched(deployment, deploy_cfg.get("patch")), _patched(service, service_cfg.get("patch"))]


def _patched(obj: Obj, patch: Obj | None) -> Obj:
    """``MergeWithPatch``: a strategic merge patch unless ``type`` is ``JSONMerge`` (RFC 7386: lists replaced)."""
    if not patch or patch.get("value") is None:
        return obj
    if patch.get("type") == "JSONMerge":
        def merge(a: Any, b: Any) -> Any:
            if not (isinstance(a, dict) and isinstance(b, dict)):
                return copy.deepcopy(b)
            out = dict(a)
            for k, v in b.items():
                if v is None:
                    out.pop(k, None)
                else:
                    out[k] = merge(a.get(k), v)
            return out
        return merge(obj, patch["value"])
    return strategic_merge(obj, patch["value"])
