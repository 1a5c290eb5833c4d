"""What the Prometheus operator makes from a ``Prometheus`` CR: the StatefulSets with the config reloader."""

from __future__ import annotations

import copy
import math
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from urbanstack.cluster_model.objects import Obj, _labels, _md

# --------------------------------------------------------------------------------------------------------------
# Prometheus operator v0.93.1 (kube-prometheus-stack 88.5.3), read at prometheus-operator/prometheus-operator tag
# v0.93.0: the v0.93.1 tag is in no snapshot that could be read here, and its release notes (CHANGELOG "0.93.1 /
# 2026-08-10") list one change, kubelet Endpoints restricted to one address family (#8739), which this model does
# not touch. From v0.86.2 to v0.93.0 the modelled parts changed only in the rule ConfigMaps: their volumes are
# `optional` and Prometheus mounts them read-only (pkg/prometheus/server/statefulset.go appendServerVolumes). New
# fields that keep the former result unless the CR sets them: `spec.updateStrategy` (default RollingUpdate,
# pkg/operator/statefulset.go), `spec.schedulerName`, zone node selectors and env only with topology sharding.
# --------------------------------------------------------------------------------------------------------------

PROMETHEUS_CONFIG_RELOADER_IMAGE = "quay.io/prometheus-operator/prometheus-config-reloader"
PROMETHEUS_PROBE_TIMEOUT_S = 3  # pkg/prometheus/common.go ProbeTimeoutSeconds
CONFIG_RELOADER_PORT = 8080  # pkg/operator/config_reloader.go configReloaderPort


@dataclass(frozen=True)
class ReloaderConfig:
    """What the operator's flags say about the config-reloader containers it adds (``cmd/operator``
    ``--prometheus-config-reloader``, ``--config-reloader-{cpu,memory}-{request,limit}``,
    ``--enable-config-reloader-probes``; kube-prometheus-stack 88.5.3 templates/prometheus-operator/deployment.yaml
    renders them from ``prometheusOperator.prometheusConfigReloader``)."""

    image: str = PROMETHEUS_CONFIG_RELOADER_IMAGE
    cpu_request: str = "0"
    cpu_limit: str = "0"
    memory_request: str = "0"
    memory_limit: str = "0"
    probes: bool = False

    @classmethod
    def from_args(cls, args: list[str]) -> ReloaderConfig:
        flags = {"--prometheus-config-reloader": "image", "--config-reloader-cpu-request": "cpu_request",
                 "--config-reloader-cpu-limit": "cpu_limit", "--config-reloader-memory-request": "memory_request",
                 "--config-reloader-memory-limit": "memory_limit", "--enable-config-reloader-probes": "probes"}
        found: dict[str, Any] = {}
        for arg in map(str, args):
            flag, _, value = arg.partition("=")
            if flag in flags:
                found[flags[flag]] = value.lower() == "true" if flag == "--enable-config-reloader-probes" else value
        return cls(**found)

    def resources(self) -> Obj:
        """``ContainerConfig.ResourceRequirements`` (pkg/operator/config.go): a quantity of "0" is left out."""
        requests = {k: v for k, v in (("cpu", self.cpu_request), ("memory", self.memory_request)) if v != "0"}
        limits = {k: v for k, v in (("cpu", self.cpu_limit), ("memory", self.memory_limit)) if v != "0"}
        return {**({"limits": limits} if limits else {}), **({"requests": requests} if requests else {})}
_PROM_RESTRICTED = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]}}


def prometheus_selector_labels(cr: Obj, shard: int) -> dict[str, str]:
    """``makeSelectorLabels`` (``pkg/prometheus/server/operator.go``) plus the shard label."""
    name = _md(cr)["name"]
    return {"app.kubernetes.io/managed-by": "prometheus-operator", "app.kubernetes.io/name": "prometheus",
            "app.kubernetes.io/instance": name, "operator.prometheus.io/name": name, "prometheus": name,
            "operator.prometheus.io/shard": str(shard)}


def prometheus_statefulsets(cr: Obj, reloader: ReloaderConfig) -> list[Obj]:
    """The StatefulSets of a ``Prometheus`` CR, one per shard.

    Follows prometheus-operator v0.93.0 ``pkg/prometheus/server/statefulset.go`` (``makeStatefulSet``,
    ``makeStatefulSetSpec``) and ``pkg/prometheus/common.go`` (``ExpectedStatefulSetShardNames``: ``prometheus-<name>``,
    ``-shard-<i>`` from the second shard; ``BuildCommonVolumes``, ``BuildConfigReloader``, ``MakeContainerPorts``):
    the StatefulSet carries the CR's labels, ``operator.prometheus.io/mode: server`` and the selector labels
    (``app.kubernetes.io/name: prometheus``, ``managed-by: prometheus-operator``, ``instance``/``prometheus``/
    ``operator.prometheus.io/name: <name>``, ``operator.prometheus.io/shard``); the pod template has
    ``app.kubernetes.io/version``, ``spec.podMetadata`` and the selector labels (``promcfg.go``
    ``BuildPodMetadata``), container ``prometheus`` (port ``spec.portName`` 9090, read-only root, no privilege
    escalation, all capabilities dropped), container ``config-reloader`` (port ``reloader-web`` 8080) and init
    container ``init-config-reloader`` (``reloader-init`` 8081) with the same security context
    (``pkg/operator/config_reloader.go``), the pod security context, service account, priority class, affinity,
    tolerations and node selector of the CR, ``serviceName: prometheus-operated``, Parallel pod management,
    volumes ``config``, ``tls-assets``, ``config-out``, ``web-config`` and the storage claim template
    ``prometheus-<name>-db``; the rule ConfigMap volumes are ``optional`` and mounted read-only into ``prometheus``
    (``appendServerVolumes``; the reloaders mount them writable, ``makeStatefulSetSpec``). Probes: ``promcfg.go`` ``BuildProbes`` (startup and readiness on ``/-/ready``,
    liveness on ``/-/healthy``, under ``spec.routePrefix``, on the port ``spec.portName``; HTTPS with
    ``spec.web.tlsConfig``); the reloader containers get the resources of the operator's flags and, with
    ``--enable-config-reloader-probes``, probes on ``/healthz`` (the init container none; ``config_reloader.go``).
    Not modelled: arguments; ``spec.listenLocal`` (exec probes); the rule ConfigMaps (``prometheus-<name>-
    rulefiles-<n>``, as many as the PrometheusRules in the cluster need; one stands in) and the governing Service.
    """
    spec = cr.get("spec") or {}
    md = _md(cr)
    name, ns = md["name"], md.get("namespace")
    prefixed = f"prometheus-{name}"
    port_name = spec.get("portName") or "web"
    version = str(spec.get("version") or "").lstrip("v")
    pull = spec.get("imagePullPolicy")
    rules = f"{prefixed}-rulefiles-0"
    storage = spec.get("storage") or {}
    claim = dict(storage.get("volumeClaimTemplate") or {})
    claim_name = (claim.get("metadata") or {}).get("name") or f"{prefixed}-db"
    reloader_mounts = [{"name": "config", "mountPath": "/etc/prometheus/config"},
                       {"name": "config-out", "mountPath": "/etc/prometheus/config_out"},
                       {"name": rules, "mountPath": f"/etc/prometheus/rules/{rules}"}]

    def reloader_container(container: str, port_name_: str, port: int) -> Obj:
        out: Obj = {"name": container, "image": reloader.image,
                    "ports": [{"name": port_name_, "containerPort": port, "protocol": "TCP"}],
                    "resources": reloader.resources(),
                    "securityContext": dict(_PROM_RESTRICTED), "volumeMounts": [dict(m) for m in reloader_mounts],
                    "terminationMessagePolicy": "FallbackToLogsOnError"}
        if reloader.probes and container == "config-reloader":
            handler = {"httpGet": {"path": "/healthz", "port": CONFIG_RELOADER_PORT}}
            out |= {"livenessProbe": dict(handler), "readinessProbe": dict(handler), "startupProbe": dict(handler)}
        if pull:
            out["imagePullPolicy"] = pull
        return out

    def probe_handler(probe_path: str) -> Obj:
        prefix = str(spec.get("routePrefix") or "/")
        # Go's path.Clean(prefix + path); posixpath keeps a leading "//", Go does not
        get: Obj = {"path": re.sub("/+", "/", posixpath.normpath(prefix + probe_path)), "port": port_name}
        if ((spec.get("web") or {}).get("tlsConfig")) is not None:
            get["scheme"] = "HTTPS"
        return {"httpGet": get}

    max_startup = int(spec.get("maximumStartupDurationSeconds") or 0)
    startup_failures = math.ceil(max_startup / 60) if max_startup >= 60 else 60
    startup_period = math.ceil(max_startup / startup_failures) if max_startup >= 60 else 15
    probes: Obj = {} if spec.get("listenLocal") else {
        "startupProbe": {**probe_handler("/-/ready"), "timeoutSeconds": PROMETHEUS_PROBE_TIMEOUT_S,
                         "periodSeconds": startup_period, "failureThreshold": startup_failures},
        "readinessProbe": {**probe_handler("/-/ready"), "timeoutSeconds": PROMETHEUS_PROBE_TIMEOUT_S,
                           "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe_handler("/-/healthy"), "timeoutSeconds": PROMETHEUS_PROBE_TIMEOUT_S,
                          "periodSeconds": 5, "failureThreshold": 6},
    }

    prometheus: Obj = {
        "name": "prometheus", "image": spec.get("image") or f"quay.io/prometheus/prometheus:v{version}",
        "ports": [{"name": port_name, "containerPort": 9090, "protocol": "TCP"}],
        "securityContext": dict(_PROM_RESTRICTED), "terminationMessagePolicy": "FallbackToLogsOnError", **probes,
        "volumeMounts": [{"name": "config-out", "readOnly": True, "mountPath": "/etc/prometheus/config_out"},
                         {"name": "tls-assets", "readOnly": True, "mountPath": "/etc/prometheus/certs"},
                         {"name": claim_name, "mountPath": "/prometheus",
                          **({"subPath": "prometheus-db"} if storage else {})},
                         {"name": rules, "mountPath": f"/etc/prometheus/rules/{rules}", "readOnly": True},
                         {"name": "web-config", "subPath": "web-config.yaml", "readOnly": True,
                          "mountPath": "/etc/prometheus/web_config/web-config.yaml"}],
    }
    if pull:
        prometheus["imagePullPolicy"] = pull
    if spec.get("resources"):
        prometheus["resources"] = spec["resources"]
    volumes: list[Obj] = [
        {"name": "config", "secret": {"secretName": prefixed}},
        {"name": "tls-assets", "projected": {"sources": [{"secret": {"name": f"{prefixed}-tls-assets-0"}}]}},
        {"name": "config-out", "emptyDir": {"medium": "Memory"}},
        {"name": rules, "configMap": {"name": rules, "optional": True}},
        {"name": "web-config", "secret": {"secretName": f"{prefixed}-web-config"}},
    ]
    if not claim:
        volumes.append({"name": claim_name, "emptyDir": dict(storage.get("emptyDir") or {})})
    shards = max(int(spec.get("shards") or 1), 1)
    replicas = int(spec["replicas"]) if spec.get("replicas") is not None and int(spec["replicas"]) >= 0 else 1
    out = []
    for shard in range(shards):
        selector = prometheus_selector_labels(cr, shard)
        pod_md = spec.get("podMetadata") or {}
        pod: Obj = {
            "shareProcessNamespace": False,
            "initContainers": [reloader_container("init-config-reloader", "reloader-init", 8081)],
            "containers": [prometheus, reloader_container("config-reloader", "reloader-web", CONFIG_RELOADER_PORT)],
            "automountServiceAccountToken": spec.get("automountServiceAccountToken", True),
            "terminationGracePeriodSeconds": spec.get("terminationGracePeriodSeconds", 600),
            "volumes": copy.deepcopy(volumes),
        }
        for key in ("securityContext", "serviceAccountName", "priorityClassName", "affinity", "tolerations",
                    "nodeSelector", "hostNetwork"):
            if spec.get(key) is not None:
                pod[key] = copy.deepcopy(spec[key])
        sset: Obj = {
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": prefixed if shard == 0 else f"{prefixed}-shard-{shard}", "namespace": ns,
                         "labels": {**_labels(cr), "operator.prometheus.io/mode": "server", **selector}},
            "spec": {
                "serviceName": spec.get("serviceName") or "prometheus-operated", "replicas": replicas,
                "podManagementPolicy": "Parallel", "updateStrategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": dict(selector)},
                "template": {"metadata": {"labels": {**({"app.kubernetes.io/version": version} if version else {}),
                                                     **(pod_md.get("labels") or {}), **selector},
                                          "annotations": {"kubectl.kubernetes.io/default-container": "prometheus",
                                                          **(pod_md.get("annotations") or {})}},
                             "spec": pod},
            },
        }
        if claim:
            sset["spec"]["volumeClaimTemplates"] = [{
                "metadata": {**copy.deepcopy(claim.get("metadata") or {}), "name": claim_name},
                "spec": {**copy.deepcopy(claim.get("spec") or {}),
                         "accessModes": (claim.get("spec") or {}).get("accessModes") or ["ReadWriteOnce"]}}]
        out.append(sset)
    return out
