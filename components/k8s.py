"""Small builders for hardened Kubernetes objects, shared by every component.

Each builder creates exactly one object as a child of ``parent`` (so the label transform can tell the
module from the parent) with an explicit, deterministic ``metadata.name``. Security defaults follow the
Pod Security Standard ``restricted`` and the checkov Kubernetes checks: non-root with a high UID,
read-only root filesystem, no privilege escalation, all capabilities dropped, seccomp ``RuntimeDefault``,
no service-account token unless asked for, requests and limits on every container, probes on every
long-running container.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue.sizing import Size
from catalogue.versions import IMAGES

PULL_POLICY = "IfNotPresent"
"""Pull policy of every container and database cluster: images are exact release tags, with digests where
``catalogue/versions.py`` records them. ``Always`` re-resolved the tag at every pod start (a re-pushed tag
silently changed the software) and made every restart depend on the registry being reachable."""

DEFAULT_UID = 10001
"""UID/GID for containers whose image does not need a specific one (checkov CKV_K8S_40 wants ≥ 10000)."""

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"


def dns_egress() -> dict:
    """Egress rule: cluster DNS (kube-dns / CoreDNS in kube-system)."""
    return {
        "to": [peer("kube-system", {"k8s-app": "kube-dns"})],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def child(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """Options of an object created by a component: parented to it, merged with ``opts`` (e.g. depends_on)."""
    return pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), opts)


def meta(name: str, namespace: str | None, labels: Mapping[str, str] | None = None,
         annotations: Mapping[str, str] | None = None) -> dict:
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if labels:
        out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def selector_labels(app: str, instance: str, component: str) -> dict[str, str]:
    """Labels that identify one workload's pods (used as selector, so they never change)."""
    return {NAME: app, INSTANCE: instance, COMPONENT: component}


@dataclass
class Probe:
    """A liveness/readiness probe: HTTP GET ``path`` on ``port``, or a TCP check when ``path`` is None."""

    port: int | str
    path: str | None = None
    scheme: str = "HTTP"
    command: Sequence[str] | None = None
    initial_delay: int = 10
    period: int = 10
    failure_threshold: int = 6
    timeout: int = 5

    def render(self) -> dict:
        if self.command:
            action: dict[str, Any] = {"exec": {"command": list(self.command)}}
        elif self.path is None:
            action = {"tcpSocket": {"port": self.port}}
        else:
            action = {"httpGet": {"path": self.path, "port": self.port, "scheme": self.scheme}}
        return {**action, "initialDelaySeconds": self.initial_delay, "periodSeconds": self.period,
                "timeoutSeconds": self.timeout, "failureThreshold": self.failure_threshold}


@dataclass
class Container:
    """One container. ``image`` is a key of ``catalogue.versions.IMAGES``.

    ``writable`` lists paths that get an ``emptyDir`` (the root filesystem stays read-only);
    ``mounts`` maps volume names to ``(path, read_only, sub_path)``; ``secret_env`` maps env names to
    ``(secret name, key)``.
    """

    name: str
    image: str
    size: Size
    ports: Mapping[str, int] = field(default_factory=dict)
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    env: Mapping[str, Any] = field(default_factory=dict)
    secret_env: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    liveness: Probe | None = None
    readiness: Probe | None = None
    writable: Sequence[str] = ()
    mounts: Mapping[str, tuple[str, bool, str | None]] = field(default_factory=dict)
    run_as_user: int = DEFAULT_UID
    read_only_root: bool = True

    def render(self, registry: str | None = None) -> dict:
        """The container; ``registry`` (shared config ``imageRegistry``) holds the images built here."""
        c: dict[str, Any] = {
            "name": self.name,
            "image": IMAGES[self.image].ref_from(registry),
            "imagePullPolicy": PULL_POLICY,
            "resources": self.size.resources(),
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": self.run_as_user,
                "runAsGroup": self.run_as_user,
                "allowPrivilegeEscalation": False,
                "privileged": False,
                "readOnlyRootFilesystem": self.read_only_root,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        }
        if self.command:
            c["command"] = list(self.command)
        if self.args:
            c["args"] = list(self.args)
        if self.ports:
            c["ports"] = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in self.ports.items()]
        env = [{"name": k, "value": str(v) if not isinstance(v, pulumi.Output) else v} for k, v in self.env.items()]
        env += [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": s, "key": key}}}
            for k, (s, key) in self.secret_env.items()
        ]
        if env:
            c["env"] = env
        mounts = [{"name": _vol_name(p), "mountPath": p} for p in self.writable]
        for vol, (path, ro, sub) in self.mounts.items():
            m: dict[str, Any] = {"name": vol, "mountPath": path, "readOnly": ro}
            if sub:
                m["subPath"] = sub
            mounts.append(m)
        if mounts:
            c["volumeMounts"] = mounts
        if self.liveness:
            c["livenessProbe"] = self.liveness.render()
        if self.readiness:
            c["readinessProbe"] = self.readiness.render()
        return c


def _vol_name(path: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in path.strip("/").lower()) or "root"
    return f"tmp-{cleaned}"[:63].rstrip("-")


def pod_spec(containers: Sequence[Container], volumes: Sequence[dict] = (), init: Sequence[Container] = (),
             fs_group: int = DEFAULT_UID, service_account: str | None = None,
             anti_affinity: Mapping[str, str] | None = None, priority_class: str | None = None,
             registry: str | None = None) -> dict:
    """A hardened pod spec; ``anti_affinity`` spreads replicas with these labels across nodes; ``registry`` holds
    the images built here (:meth:`Container.render`)."""
    vols = list(volumes)
    seen = {v["name"] for v in vols}
    for c in (*init, *containers):
        for p in c.writable:
            n = _vol_name(p)
            if n not in seen:
                vols.append({"name": n, "emptyDir": {"sizeLimit": "1Gi"}})
                seen.add(n)
    spec: dict[str, Any] = {
        "automountServiceAccountToken": service_account is not None,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": containers[0].run_as_user,
            "runAsGroup": containers[0].run_as_user,
            "fsGroup": fs_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [c.render(registry) for c in containers],
    }
    if service_account:
        spec["serviceAccountName"] = service_account
    if init:
        spec["initContainers"] = [c.render(registry) for c in init]
    if vols:
        spec["volumes"] = vols
    if priority_class:
        spec["priorityClassName"] = priority_class
    if anti_affinity:
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": dict(anti_affinity)},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        }
    return spec


def workload(parent: pulumi.Resource, *, kind: str, name: str, namespace: str, selector: Mapping[str, str],
             replicas: int, containers: Sequence[Container], volumes: Sequence[dict] = (),
             init: Sequence[Container] = (), claims: Sequence[tuple[str, int, str]] = (),
             annotations: Mapping[str, str] | None = None, fs_group: int = DEFAULT_UID,
             storage_class: Any = None, priority_class: str | None = None, registry: str | None = None,
             pod_labels: Mapping[str, str] | None = None,
             opts: pulumi.ResourceOptions | None = None) -> pulumi.CustomResource:
    """A Deployment or StatefulSet. ``claims`` are ``(name, GiB, mountPath)`` PVC templates (StatefulSet);
    ``pod_labels`` are added to the pod template's labels only (not to the selector)."""
    spec_pod = pod_spec(containers, volumes, init, fs_group=fs_group,
                        anti_affinity=selector if replicas > 1 else None, priority_class=priority_class,
                        registry=registry)
    template = {"metadata": {"labels": {**selector, **(pod_labels or {})}, "annotations": dict(annotations or {})},
                "spec": spec_pod}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(selector)},
        "template": template,
        "revisionHistoryLimit": 3,
    }
    wopts = child(parent, opts)
    if kind == "StatefulSet":
        spec["serviceName"] = name
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": claim, "labels": dict(selector)},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{gi}Gi"}},
                    **({"storageClassName": storage_class} if storage_class else {}),
                },
            }
            for claim, gi, _ in claims
        ]
        return k8s.apps.v1.StatefulSet(name, metadata=meta(name, namespace, selector), spec=spec, opts=wopts)
    if claims:
        raise ValueError("PVC templates need kind=StatefulSet")
    spec["strategy"] = {"type": "RollingUpdate"}
    return k8s.apps.v1.Deployment(name, metadata=meta(name, namespace, selector), spec=spec, opts=wopts)


def service(parent: pulumi.Resource, name: str, namespace: str, selector: Mapping[str, str],
            ports: Mapping[str, int], headless: bool = False,
            opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Service:
    spec: dict[str, Any] = {
        "selector": dict(selector),
        "ports": [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"} for n, p in ports.items()],
    }
    if headless:
        spec["clusterIP"] = "None"
    return k8s.core.v1.Service(name, metadata=meta(name, namespace, selector), spec=spec, opts=child(parent, opts))


def pdb(parent: pulumi.Resource, name: str, namespace: str, selector: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None):
    """Keep at least one replica during voluntary disruptions (only for workloads with replicas > 1)."""
    return k8s.policy.v1.PodDisruptionBudget(
        name, metadata=meta(name, namespace, selector),
        spec={"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}},
        opts=child(parent, opts),
    )


def secret(parent: pulumi.Resource, name: str, namespace: str, data: Mapping[str, Any],
           opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Secret:
    """An Opaque Secret from ``string_data`` (values may be secret Outputs)."""
    return k8s.core.v1.Secret(
        name, metadata=meta(name, namespace), type="Opaque", string_data=dict(data),
        opts=child(parent, opts),
    )


def config_map(parent: pulumi.Resource, name: str, namespace: str, data: Mapping[str, Any],
               opts: pulumi.ResourceOptions | None = None):
    return k8s.core.v1.ConfigMap(name, metadata=meta(name, namespace), data=dict(data), opts=child(parent, opts))


def network_policy(parent: pulumi.Resource, name: str, namespace: str, pod_selector: Mapping[str, str],
                   ingress: Sequence[dict] | None = None, egress: Sequence[dict] | None = None,
                   opts: pulumi.ResourceOptions | None = None):
    """A NetworkPolicy; ``None`` for a direction leaves it out of ``policyTypes`` (unrestricted by this policy)."""
    types = []
    spec: dict[str, Any] = {"podSelector": {"matchLabels": dict(pod_selector)} if pod_selector else {}}
    if ingress is not None:
        types.append("Ingress")
        spec["ingress"] = list(ingress)
    if egress is not None:
        types.append("Egress")
        spec["egress"] = list(egress)
    spec["policyTypes"] = types
    return k8s.networking.v1.NetworkPolicy(name, metadata=meta(name, namespace), spec=spec, opts=child(parent, opts))


def peer(namespace: str | None = None, pods: Mapping[str, str] | None = None) -> dict:
    """A NetworkPolicy peer: pods with ``pods`` labels in ``namespace`` (None = the policy's own namespace)."""
    out: dict[str, Any] = {}
    if namespace is not None:
        out["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    if pods is not None:
        out["podSelector"] = {"matchLabels": dict(pods)}
    return out


def tcp(*ports: int) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def http_route(parent: pulumi.Resource, name: str, namespace: str, hostname: str, service_name: str,
               port: int, parent_ref: Mapping[str, Any],
               paths: Mapping[str, tuple[str, int]] | None = None,
               opts: pulumi.ResourceOptions | None = None):
    """An HTTPRoute on ``hostname`` attached to ``parent_ref`` (a module's: ``components.tenant.gateway.route_parent``).

    ``/`` goes to ``service_name:port``; ``paths`` maps further path prefixes to ``(service, port)``
    (the longest matching prefix wins, e.g. ``/mqtt`` to a WebSocket service).
    """
    rules = [{"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
              "backendRefs": [{"name": svc, "port": svc_port}]}
             for prefix, (svc, svc_port) in (paths or {}).items()]
    return k8s.apiextensions.CustomResource(
        name,
        api_version="gateway.networking.k8s.io/v1",
        kind="HTTPRoute",
        metadata=meta(name, namespace),
        spec={
            "parentRefs": [dict(parent_ref)],
            "hostnames": [hostname],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": [{"name": service_name, "port": port}]}, *rules],
        },
        opts=child(parent, opts),
    )
