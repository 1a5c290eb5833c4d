"""What CloudNativePG (and the Barman Cloud plugin) makes from a ``Cluster``: instance pods and Services."""

from __future__ import annotations

import re
from collections.abc import Iterable

from catalogue import names
from urbanstack.cluster_model.objects import Obj, _labels, _md

# --------------------------------------------------------------------------------------------------------------
# CloudNativePG 1.30.0 (cloudnative-pg/cloudnative-pg tag v1.30.0) + Barman Cloud plugin v0.13.0
# --------------------------------------------------------------------------------------------------------------

CNPG_POSTGRES_UID = 26


def cnpg_major_version(cluster: Obj) -> int | None:
    """``Cluster.GetPostgresqlMajorVersion`` (v1.30.0 ``api/v1/cluster_funcs.go``): the catalog reference's
    ``major``, else the major of the ``imageName`` tag (``version.FromTag``: ``18.4-3.6.4-…`` -> 18)."""
    spec = cluster.get("spec") or {}
    if (spec.get("imageCatalogRef") or {}).get("major") is not None:
        return int(spec["imageCatalogRef"]["major"])
    image = str(spec.get("imageName") or "")
    tag = image.rsplit("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    match = re.match(r"(\d+)", tag)
    return int(match.group(1)) if match else None


def cnpg_app_labels(cluster: Obj) -> dict[str, str]:
    """The ``app.kubernetes.io`` labels CloudNativePG 1.30 gives instance pods (``pkg/specs/pods.go``
    ``buildInstance``) and the ``-rw``/``-ro``/``-r`` Services (``pkg/specs/services.go``): name ``postgresql``,
    instance the cluster, version the PostgreSQL major, component ``database``, managed-by ``cloudnative-pg``
    (``pkg/utils/labels_annotations.go``). New in 1.28-1.30: 1.27 set none of them."""
    major = cnpg_major_version(cluster)
    return {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": _md(cluster)["name"],
            "app.kubernetes.io/version": str(major if major is not None else 0),
            "app.kubernetes.io/component": "database", "app.kubernetes.io/managed-by": "cloudnative-pg"}


def _cnpg_inherited(cluster: Obj, inherited_keys: Iterable[str]) -> dict[str, str]:
    """``utils.InheritLabels``: ``spec.inheritedMetadata.labels`` plus the CR's labels named in ``INHERITED_LABELS``."""
    out = dict(((cluster.get("spec") or {}).get("inheritedMetadata") or {}).get("labels") or {})
    for key, value in _labels(cluster).items():
        if key in inherited_keys:
            out[key] = value
    return out


def cnpg_instance_pods(cluster: Obj, operator_image: str, inherited_keys: Iterable[str],
                       barman_sidecar_image: str | None, sidecar_resources: Obj | None = None) -> list[Obj]:
    """The instance pods of a CloudNativePG ``Cluster``.

    Follows cloudnative-pg v1.30.0 ``pkg/specs/pods.go`` (``buildInstance``, ``createClusterPodSpec``,
    ``createPostgresContainers``, ``CreatePodSecurityContext``), ``pkg/specs/containers.go``
    (``createBootstrapContainer``: the cluster's resources and volume mounts, ``CreateContainerSecurityContext``),
    ``pkg/specs/volumes.go`` and
    ``internal/controller/cluster_create.go`` (``InheritLabels`` with the fixed ``inheritedMetadata`` and the
    operator's ``INHERITED_LABELS``; ``SetInstanceRole``): pods ``<cluster>-1..N`` with labels ``cnpg.io/cluster``,
    ``cnpg.io/instanceName``, ``cnpg.io/podRole: instance``, ``role``/``cnpg.io/instanceRole`` (the first is
    modelled as primary) and the ``app.kubernetes.io`` labels of :func:`cnpg_app_labels` (inherited labels are
    applied after them: ``utils.InheritLabels`` overwrites), service account ``<cluster>``, pod security context runAsNonRoot/UID 26/GID 26/fsGroup 26/
    RuntimeDefault, init container ``bootstrap-controller`` (the operator image) and container ``postgres``
    (ports postgresql 5432, metrics 9187, status 8000), both restricted. A cluster that names the Barman Cloud plugin
    with a ``barmanObjectName`` gets the plugin's sidecar as a restartable init container ``plugin-barman-cloud``
    (cloudnative-pg/plugin-barman-cloud v0.13.0 ``internal/cnpgi/operator/lifecycle.go``, unchanged since v0.10.0, ``reconcilePodSpec`` and
    ``InjectPluginVolumePodSpec``: fixed restricted security context, ``restartPolicy: Always``, the image from
    the plugin's ``SIDECAR_IMAGE``, resources from the ObjectStore's ``instanceSidecarConfiguration.resources``
    (``sidecar_resources``; none when it sets none), an emptyDir ``plugins`` volume).
    """
    spec = cluster.get("spec") or {}
    name, ns = _md(cluster)["name"], _md(cluster).get("namespace")
    inherited = _cnpg_inherited(cluster, inherited_keys)
    seccomp = spec.get("seccompProfile") or {"type": "RuntimeDefault"}
    restricted = {"capabilities": {"drop": ["ALL"]}, "privileged": False, "runAsNonRoot": True,
                  "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "seccompProfile": seccomp}
    pull = spec.get("imagePullPolicy", "IfNotPresent")
    uid = int(spec.get("postgresUID", CNPG_POSTGRES_UID))
    gid = int(spec.get("postgresGID", CNPG_POSTGRES_UID))
    barman = next((p for p in spec.get("plugins") or [] if p.get("name") == names.BARMAN_PLUGIN
                   and (p.get("parameters") or {}).get("barmanObjectName")), None)
    pods = []
    for serial in range(1, int(spec.get("instances", 1)) + 1):
        pod_name = f"{name}-{serial}"
        role = "primary" if serial == 1 else "replica"
        volumes: list[Obj] = [
            {"name": "pgdata", "persistentVolumeClaim": {"claimName": pod_name}},
            {"name": "scratch-data", "emptyDir": {}},
            {"name": "shm", "emptyDir": {"medium": "Memory"}},
        ]
        if spec.get("walStorage"):
            volumes.append({"name": "pg-wal", "persistentVolumeClaim": {"claimName": f"{pod_name}-wal"}})
        mounts = [{"name": "pgdata", "mountPath": "/var/lib/postgresql/data"},
                  {"name": "scratch-data", "mountPath": "/run"}, {"name": "scratch-data", "mountPath": "/controller"},
                  {"name": "shm", "mountPath": "/dev/shm"}]
        if spec.get("walStorage"):
            mounts.append({"name": "pg-wal", "mountPath": "/var/lib/postgresql/wal"})
        init: list[Obj] = [{"name": "bootstrap-controller", "image": operator_image, "imagePullPolicy": pull,
                            "command": ["/manager", "bootstrap", "/controller/manager"],
                            "securityContext": dict(restricted), "volumeMounts": [dict(m) for m in mounts],
                            **({"resources": spec["resources"]} if spec.get("resources") else {})}]
        postgres: Obj = {
            "name": "postgres", "image": spec.get("imageName", ""), "imagePullPolicy": pull,
            "command": ["/controller/manager", "instance", "run"],
            # url.go: /startupz, /readyz, /healthz on the status port 8000; pods.go: period 10 s, timeout 5 s
            **{probe: {"periodSeconds": 10, "timeoutSeconds": 5, "httpGet": {"path": path, "port": 8000}}
               for probe, path in (("startupProbe", "/startupz"), ("readinessProbe", "/readyz"),
                                   ("livenessProbe", "/healthz"))},
            "ports": [{"name": "postgresql", "containerPort": 5432, "protocol": "TCP"},
                      {"name": "metrics", "containerPort": 9187, "protocol": "TCP"},
                      {"name": "status", "containerPort": 8000, "protocol": "TCP"}],
            "securityContext": dict(restricted), "volumeMounts": mounts,
        }
        if spec.get("resources"):
            postgres["resources"] = spec["resources"]
        if barman and barman_sidecar_image:
            volumes.append({"name": "plugins", "emptyDir": {}})
            postgres["volumeMounts"].append({"name": "plugins", "mountPath": "/plugins"})
            init.append({
                "name": "plugin-barman-cloud", "image": barman_sidecar_image, "imagePullPolicy": pull,
                "args": ["instance"], "restartPolicy": "Always",
                "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "privileged": False,
                                    "readOnlyRootFilesystem": True, "seccompProfile": {"type": "RuntimeDefault"},
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [m for m in mounts if m["name"] != "shm"] + [{"name": "plugins",
                                                                              "mountPath": "/plugins"}],
                **({"resources": sidecar_resources} if sidecar_resources else {}),
            })
        pod_spec: Obj = {
            "hostname": pod_name, "initContainers": init, "containers": [postgres], "volumes": volumes,
            "serviceAccountName": name,
            # CreatePodSecurityContext(seccomp, GetPostgresUID(), GetPostgresGID()): user, group and fsGroup from the
            # Cluster's postgresUID/postgresGID, which the CRD defaults to 26 (read through as_stored).
            "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
                                "seccompProfile": seccomp},
        }
        if spec.get("priorityClassName"):
            pod_spec["priorityClassName"] = spec["priorityClassName"]
        labels = {**cnpg_app_labels(cluster), **inherited, "cnpg.io/cluster": name, "cnpg.io/instanceName": pod_name,
                  "cnpg.io/podRole": "instance", "role": role, "cnpg.io/instanceRole": role}
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": pod_name, "namespace": ns, "labels": labels,
                                  "annotations": {"cnpg.io/nodeSerial": str(serial)}},
                     "spec": pod_spec})
    return pods


def cnpg_services(cluster: Obj, inherited_keys: Iterable[str]) -> list[Obj]:
    """The Services ``<cluster>-rw``, ``-ro`` and ``-r`` of a CloudNativePG ``Cluster``.

    cloudnative-pg v1.30.0 ``pkg/specs/services.go`` (``CreateClusterReadWriteService`` and siblings: ClusterIP,
    port ``postgres`` 5432; selectors ``cnpg.io/cluster`` plus ``cnpg.io/instanceRole: primary`` (rw), ``replica``
    (ro), ``cnpg.io/podRole: instance`` (r); since 1.30 labels ``cnpg.io/cluster`` and :func:`cnpg_app_labels`);
    ``internal/controller/cluster_create.go`` gives each the inherited labels (``SetInheritedDataAndOwnership``). Services listed in ``spec.managed.services.disabledDefaultServices``
    are not created (``-rw`` cannot be disabled).
    """
    spec = cluster.get("spec") or {}
    name, ns = _md(cluster)["name"], _md(cluster).get("namespace")
    disabled = set(((spec.get("managed") or {}).get("services") or {}).get("disabledDefaultServices") or [])
    inherited = _cnpg_inherited(cluster, inherited_keys)
    selectors = {
        "rw": {"cnpg.io/cluster": name, "cnpg.io/instanceRole": "primary"},
        "ro": {"cnpg.io/cluster": name, "cnpg.io/instanceRole": "replica"},
        "r": {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"},
    }
    out = []
    for suffix, selector in selectors.items():
        if suffix in disabled:
            continue
        out.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": f"{name}-{suffix}", "namespace": ns,
                                 "labels": {"cnpg.io/cluster": name, **cnpg_app_labels(cluster), **inherited}},
                    "spec": {"type": "ClusterIP", "selector": selector,
                             "ports": [{"name": "postgres", "port": 5432, "targetPort": 5432, "protocol": "TCP"}]}})
    return out
