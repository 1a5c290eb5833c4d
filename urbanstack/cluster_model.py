"""What the operators make from this project's custom resources, as far as admission, network and cost labels go.

A custom resource in the plan is only half of what runs: the operator turns it into pods, Services and Secrets
that the Kubernetes admission, the NetworkPolicies and the cost report see. Each function below builds those
objects from the CR the way the operator's code at our pinned version does (its docstring names the upstream file
and release it follows). What is modelled: names, namespaces, labels and the annotations the operator really sets,
pod and container security contexts, ports, service accounts, volumes of the pod, Service selectors and ports,
the labels an operator copies from the CR. What is not: owner references (they need the CR's uid, which only the
API server assigns), status, environment variables (except the Keycloak operator's, which :func:`keycloak_env` models in full, and those that change a port), and values only a live
cluster knows (an ACME challenge token, generated name suffixes): where the operator uses such a value the model
uses a stand-in and says so.

:func:`expand` maps every CR of one stack to ``{"operator-<kind>": [objects]}``; ``context`` holds the objects of
the other stacks (``shared``'s ClusterIssuer, GatewayClass, StorageClass and chart objects for a municipality).
"""

from __future__ import annotations

import copy
import hashlib
import math
import posixpath
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from catalogue import manifests, names
from catalogue.versions import MANIFESTS
from urbanstack import crds

Obj = dict[str, Any]

EXPANDED_WITH_PODS: frozenset[tuple[str, str]] = frozenset({("k8s.keycloak.org", "Keycloak"),
                                                           ("postgresql.cnpg.io", "Cluster"),
                                                           ("monitoring.coreos.com", "Prometheus")})
"""``(API group, kind)`` of the custom resources whose pods :func:`expand` models (folder ``operator-<kind>``):
the checks take those pods from there, never from the CR itself."""


def _md(obj: Obj) -> Obj:
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def _labels(obj: Obj) -> dict[str, str]:
    return dict(_md(obj).get("labels") or {})


def _find(objs: Iterable[Obj], kind: str, name: str | None = None, namespace: str | None = None,
          api_group: str | None = None) -> list[Obj]:
    out = []
    for o in objs:
        if o.get("kind") != kind:
            continue
        if api_group is not None and not str(o.get("apiVersion", "")).startswith(api_group + "/"):
            continue
        if name is not None and _md(o).get("name") != name:
            continue
        if namespace is not None and _md(o).get("namespace") != namespace:
            continue
        out.append(o)
    return out


def _containers(obj: Obj) -> list[Obj]:
    """The regular containers of a workload's pod template (none for other objects)."""
    template = manifests.workload_pod(obj)
    return [dict(c.body) for c in template.containers(("containers",))] if template else []


def _container_env(obj: Obj, container: str, env: str) -> str | None:
    for c in _containers(obj):
        if c.get("name") == container:
            for e in c.get("env") or []:
                if e.get("name") == env and "value" in e:
                    return str(e["value"])
    return None


# --------------------------------------------------------------------------------------------------------------
# Keycloak operator 26.x (keycloak/keycloak, operator/src/main/java/org/keycloak/operator/...)
# Read in the code index's stored copies of ``controllers/KeycloakDeploymentDependentResource.java`` (commit
# 0064e060fc5d: still the code before 26.5, it sets KC_TRUSTSTORE_PATHS), ``controllers/KeycloakDistConfigurator.java``
# (commit 0c8d71d12866) and ``Constants.java``: the 26.x code that builds the StatefulSet. The index holds no copy at
# the pinned tag 26.8.0 (the repository is too large to fetch here); what changed by then is taken from the merged
# pull requests and 26.5.0 upgrade notes:
# * keycloak/keycloak#44506 ("Moved adding Kubernetes/OpenShift CAs to the server", upgrading/changes-26_5_0.adoc):
#   the operator no longer sets KC_TRUSTSTORE_PATHS; the server adds /var/run/secrets/kubernetes.io/serviceaccount/
#   ca.crt (and service-ca.crt) to its truststore "if present in the container filesystem"
#   (TruststoreOptions ``truststore-kubernetes-enabled``, default true): a missing file is no error;
# * keycloak/keycloak#38843 (pull request #40605, release 26.5.0): ``spec.automountServiceAccountToken`` (in the
#   26.8.0 CRD: "Set this to to false to disable automounting the default ServiceAccount Token and Service CA. This
#   is enabled by default.").
# KEYCLOAK_OPERATOR is the release the model follows; 26.4 behaviour stays selectable for the tests of issue 20.
# --------------------------------------------------------------------------------------------------------------

KEYCLOAK_OPERATOR = MANIFESTS["keycloak-operator"].version
"""The Keycloak operator release the plan pins (``catalogue/versions.py``); the model follows it."""


def _line(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def operator_sets_truststore_paths(operator: str) -> bool:
    """Before 26.5 the operator put ``KC_TRUSTSTORE_PATHS`` = the service-account ``ca.crt`` into every Keycloak pod
    (keycloak/keycloak#44506 moved that into the server, which reads the file only when it exists)."""
    return _line(operator) < (26, 5)

KEYCLOAK_DEFAULT_LABELS = {"app": "keycloak", "app.kubernetes.io/managed-by": "keycloak-operator"}
"""``Constants.DEFAULT_LABELS_AS_STRING`` (``app=keycloak,app.kubernetes.io/managed-by=keycloak-operator``)."""
KEYCLOAK_HTTP_PORT, KEYCLOAK_HTTPS_PORT, KEYCLOAK_MANAGEMENT_PORT, KEYCLOAK_DISCOVERY_PORT = 8080, 8443, 9000, 7800


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""``KeycloakDeploymentDependentResource.SERVICE_ACCOUNT_DIR``: where the kubelet mounts the service-account token,
``ca.crt`` and ``namespace`` when ``automountServiceAccountToken`` is on."""
KEYCLOAK_CERTIFICATES_FOLDER = "/mnt/certificates"
"""``Constants.CERTIFICATES_FOLDER``: the mount of ``spec.http.tlsSecret``."""
KEYCLOAK_TRUSTSTORES_FOLDER = "/opt/keycloak/conf/truststores"
"""``Constants.TRUSTSTORES_FOLDER``: ``spec.truststores`` are mounted below it (``secret-<name>``)."""
KEYCLOAK_DEFAULT_OPTIONS = (("health-enabled", "true"), ("cache", "ispn"))
"""``Constants.DEFAULT_DIST_CONFIG_LIST``: options every Keycloak gets unless ``spec.additionalOptions`` sets them."""


def keycloak_option_env(option: str) -> str:
    """``KeycloakDistConfigurator.getKeycloakOptionEnvVarName``: ``KC_`` + the option, non-alphanumerics as ``_``."""
    return "KC_" + re.sub(r"[^A-Za-z0-9]", "_", option).upper()


def _value_or_secret(option: str, value: Any) -> Obj:
    env: Obj = {"name": keycloak_option_env(option)}
    if isinstance(value, dict):
        env["valueFrom"] = {"secretKeyRef": dict(value)}
    else:
        env["value"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def keycloak_first_class_env(cr: Obj) -> list[Obj]:
    """``KeycloakDistConfigurator.configureDistOptions``: the options the operator derives from the CR's first-class
    fields, in the order its ``configure*`` methods register them (hostname, features, transactions, http,
    database, proxy, management, bootstrap admin); an empty or missing value sets nothing. Not modelled:
    ``spec.cache.configMapFile`` (``cache-config-file`` and its ConfigMap mount), which this platform does not use:
    :func:`keycloak_statefulset` refuses a CR that sets it."""
    spec = cr.get("spec") or {}
    hostname, http = spec.get("hostname") or {}, spec.get("http") or {}
    db, features = spec.get("db") or {}, spec.get("features") or {}
    boot = spec.get("bootstrapAdmin") or {}
    tls = http.get("tlsSecret")
    user_secret = ((boot.get("user") or {}).get("secret")) or f"{_md(cr)['name']}-initial-admin"
    service_secret = (boot.get("service") or {}).get("secret")
    options: list[tuple[str, Any]] = [
        ("hostname", hostname.get("hostname")), ("hostname-admin", hostname.get("admin")),
        ("hostname-strict", hostname.get("strict")), ("hostname-backchannel-dynamic", hostname.get("backchannelDynamic")),
        ("features", ",".join(features.get("enabled") or []) or None),
        ("features-disabled", ",".join(features.get("disabled") or []) or None),
        ("transaction-xa-enabled", (spec.get("transaction") or {}).get("xaEnabled")),
        ("http-enabled", http.get("httpEnabled")), ("http-port", http.get("httpPort")),
        ("https-port", http.get("httpsPort")),
        ("https-certificate-file", f"{KEYCLOAK_CERTIFICATES_FOLDER}/tls.crt" if tls else None),
        ("https-certificate-key-file", f"{KEYCLOAK_CERTIFICATES_FOLDER}/tls.key" if tls else None),
        ("db", db.get("vendor")), ("db-username", db.get("usernameSecret")), ("db-password", db.get("passwordSecret")),
        ("db-url-database", db.get("database")), ("db-url-host", db.get("host")), ("db-url-port", db.get("port")),
        ("db-schema", db.get("schema")), ("db-url", db.get("url")),
        ("db-pool-initial-size", db.get("poolInitialSize")), ("db-pool-min-size", db.get("poolMinSize")),
        ("db-pool-max-size", db.get("poolMaxSize")),
        ("proxy-headers", (spec.get("proxy") or {}).get("headers")),
        ("http-management-port", (spec.get("httpManagement") or {}).get("port")),
        ("bootstrap-admin-username", {"name": user_secret, "key": "username"}),
        ("bootstrap-admin-password", {"name": user_secret, "key": "password"}),
        ("bootstrap-admin-client-id", {"name": service_secret, "key": "client-id"} if service_secret else None),
        ("bootstrap-admin-client-secret",
         {"name": service_secret, "key": "client-secret"} if service_secret else None),
    ]
    return [_value_or_secret(option, value) for option, value in options
            if value is not None and str(value).strip() != ""]


def keycloak_env(cr: Obj, template_env: list[Obj], operator: str = KEYCLOAK_OPERATOR) -> list[Obj]:
    """``KeycloakDeploymentDependentResource.addEnvVars``: the container's environment as the operator sets it.

    In priority order (the first of a name wins): the podTemplate container's own ``env`` ("unsupported"), the
    first-class options (:func:`keycloak_first_class_env`), the default options merged with ``spec.additionalOptions``
    (each option not among the defaults also gets ``KCKEY_<NAME>`` with the option name), ``POD_IP`` and
    ``KC_SPI_CACHE_EMBEDDED_DEFAULT_MACHINE_NAME`` from the downward API, ``spec.env``. Then, unless already set and
    only for an ``operator`` before 26.5 (:func:`operator_sets_truststore_paths`), ``KC_TRUSTSTORE_PATHS`` = the
    service-account ``ca.crt`` (``putIfAbsent``: the operator adds it whether or not the pod mounts a token; plus
    ``service-ca.crt`` on OpenShift only, where the operator's own pod has that file), and the tracing variables ``KC_TRACING_SERVICE_NAME`` (the CR's name) and ``KC_TRACING_RESOURCE_ATTRIBUTES``.
    """
    spec = cr.get("spec") or {}
    additional = list(spec.get("additionalOptions") or [])
    in_cr = {o.get("name") for o in additional}
    defaults = [(k, v) for k, v in KEYCLOAK_DEFAULT_OPTIONS if k not in in_cr]
    default_keys = {k for k, _ in KEYCLOAK_DEFAULT_OPTIONS}
    merged: list[Obj] = [_value_or_secret(k, v) for k, v in defaults]
    for option in additional:
        env = _value_or_secret(option["name"], option.get("secret") or option.get("value", ""))
        merged.append(env)
        if option["name"] not in default_keys:
            merged.append({"name": "KCKEY_" + env["name"][len("KC_"):], "value": option["name"]})
    merged.append({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP", "apiVersion": "v1"}}})
    merged.append({"name": "KC_SPI_CACHE_EMBEDDED_DEFAULT_MACHINE_NAME",
                   "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}}})
    own = [{"name": e["name"], **({"valueFrom": {"secretKeyRef": e["secret"]}} if e.get("secret")
                                  else {"value": e.get("value", "")})} for e in spec.get("env") or []]
    out: dict[str, Obj] = {}
    for env in [*template_env, *keycloak_first_class_env(cr), *merged, *own]:
        out.setdefault(env["name"], env)
    if operator_sets_truststore_paths(operator):
        out.setdefault("KC_TRUSTSTORE_PATHS", {"name": "KC_TRUSTSTORE_PATHS", "value": f"{SERVICE_ACCOUNT_DIR}/ca.crt"})
    out.setdefault("KC_TRACING_SERVICE_NAME", {"name": "KC_TRACING_SERVICE_NAME", "value": _md(cr)["name"]})
    out["KC_TRACING_RESOURCE_ATTRIBUTES"] = out.get("KC_TRACING_RESOURCE_ATTRIBUTES") or {
        "name": "KC_TRACING_RESOURCE_ATTRIBUTES", "value": f"k8s.namespace.name={_md(cr).get('namespace')}"}
    return list(out.values())


def keycloak_volumes(cr: Obj) -> tuple[list[Obj], list[Obj]]:
    """``configureTLS`` and ``addTruststores``: the volumes (and the keycloak container's mounts) the operator puts
    in front of the template's own: the TLS Secret at ``/mnt/certificates``, each truststore Secret or ConfigMap
    below ``/opt/keycloak/conf/truststores``."""
    spec = cr.get("spec") or {}
    volumes: list[Obj] = []
    mounts: list[Obj] = []
    for store in (spec.get("truststores") or {}).values():
        source = store.get("secret") or store.get("configMap") or {}
        kind = "secret" if store.get("secret") else "configmap"
        vol_name = f"truststore-{kind}-{source.get('name')}"
        body = ({"secret": {"secretName": source.get("name")}} if kind == "secret"
                else {"configMap": {"name": source.get("name")}})
        if "optional" in source:
            next(iter(body.values()))["optional"] = source["optional"]
        volumes.insert(0, {"name": vol_name, **body})
        mounts.insert(0, {"name": vol_name, "mountPath": f"{KEYCLOAK_TRUSTSTORES_FOLDER}/{kind}-{source.get('name')}"})
    tls = (spec.get("http") or {}).get("tlsSecret")
    if tls:
        volumes.insert(0, {"name": "keycloak-tls-certificates", "secret": {"secretName": tls, "optional": False}})
        mounts.insert(0, {"name": "keycloak-tls-certificates", "mountPath": KEYCLOAK_CERTIFICATES_FOLDER})
    return volumes, mounts


def keycloak_instance_labels(cr: Obj) -> dict[str, str]:
    """``Utils.allInstanceLabels``: the default labels plus ``app.kubernetes.io/instance: <name>``."""
    return {**KEYCLOAK_DEFAULT_LABELS, "app.kubernetes.io/instance": _md(cr)["name"]}


def keycloak_statefulset(cr: Obj, operator: str = KEYCLOAK_OPERATOR) -> Obj:
    """The StatefulSet of a ``Keycloak`` CR.

    Follows ``KeycloakDeploymentDependentResource.createBaseDeployment`` of the Keycloak operator 26.x line
    (keycloak/keycloak ``operator/src/main/java/org/keycloak/operator/controllers/KeycloakDeploymentDependentResource.java``,
    ports and labels from ``operator/src/main/java/org/keycloak/operator/Constants.java``): the pod template is
    ``spec.unsupported.podTemplate`` (labels merged with the instance labels and ``app.kubernetes.io/component:
    server``); the operator adds no securityContext of its own, so the pod runs with whatever the template sets;
    priority class and affinity from ``spec.scheduling`` unless the template sets them; two default topology spread
    constraints; container ``keycloak`` (first container of the template) with the CR's image, arguments
    ``-Djgroups.bind.address=$(POD_IP) --verbose start`` plus ``--optimized`` when ``spec.image`` is set and
    ``spec.startOptimized`` is not false; ports https 8443, http 8080, management 9000; probes on the management
    port (``health-enabled``); resources from ``spec.resources``; the environment of :func:`keycloak_env` and the
    volumes and mounts of :func:`keycloak_volumes`. ``automountServiceAccountToken``: from 26.5 on the CR's
    ``spec.automountServiceAccountToken`` when it is set (which of it and the template wins when they differ could
    not be read at 26.8.0; this platform sets both to false), otherwise the template's value (or the
    ServiceAccount's, or on); before 26.5 the operator never set it. ``operator`` is the operator release followed. The StatefulSet's own labels and selector are
    the instance labels only; its ``serviceName`` is ``<name>-discovery``.
    """
    spec = cr.get("spec") or {}
    name, ns = _md(cr)["name"], _md(cr).get("namespace")
    instance = keycloak_instance_labels(cr)
    template = copy.deepcopy(manifests.at(cr, manifests.SHAPES["Keycloak"].pod_template) or {})
    tmd = template.setdefault("metadata", {})
    tmd["labels"] = {**(tmd.get("labels") or {}), **instance, "app.kubernetes.io/component": "server"}
    pod = template.setdefault("spec", {})
    if spec.get("imagePullSecrets"):
        pod["imagePullSecrets"] = spec["imagePullSecrets"]
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("dnsPolicy", "ClusterFirst")
    scheduling = spec.get("scheduling") or {}
    for key in ("priorityClassName", "affinity", "tolerations", "topologySpreadConstraints"):
        if key not in pod and scheduling.get(key) is not None:
            pod[key] = scheduling[key]
    if not pod.get("topologySpreadConstraints"):
        selector = {"matchLabels": {**instance, "app.kubernetes.io/component": "server"}}
        pod["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": selector}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]
    containers = pod.setdefault("containers", [])
    if not containers:
        containers.append({})
    kc = containers[0]
    kc["name"] = "keycloak"
    kc["image"] = spec.get("image") or "quay.io/keycloak/keycloak"
    # Config.keycloak().imagePullPolicy: the operator's default (Always) unless the template's container sets one.
    kc.setdefault("imagePullPolicy", "Always")
    args = list(kc.get("args") or ["--verbose", "start"])
    if spec.get("startOptimized") is True or (spec.get("startOptimized") is None and spec.get("image")):
        args.append("--optimized")
    kc["args"] = ["-Djgroups.bind.address=$(POD_IP)", *args]
    tls = bool((spec.get("http") or {}).get("tlsSecret"))
    probe_scheme = "HTTPS" if tls else "HTTP"
    for probe, path, period, failures in (("readinessProbe", "ready", 10, 3), ("livenessProbe", "live", 10, 3),
                                          ("startupProbe", "started", 1, 600)):
        kc.setdefault(probe, {"periodSeconds": period, "failureThreshold": failures, "httpGet": {
            "scheme": probe_scheme, "port": KEYCLOAK_MANAGEMENT_PORT, "path": f"/health/{path}"}})
    kc["ports"] = [*(kc.get("ports") or []),
                   {"name": "https", "containerPort": KEYCLOAK_HTTPS_PORT, "protocol": "TCP"},
                   {"name": "http", "containerPort": KEYCLOAK_HTTP_PORT, "protocol": "TCP"},
                   {"name": "management", "containerPort": KEYCLOAK_MANAGEMENT_PORT, "protocol": "TCP"}]
    if spec.get("resources"):
        kc["resources"] = spec["resources"]
    if (spec.get("cache") or {}).get("configMapFile"):
        raise ValueError(f"Keycloak {name}: spec.cache.configMapFile is not modelled (urbanstack/cluster_model.py)")
    volumes, mounts = keycloak_volumes(cr)
    if volumes:
        pod["volumes"] = [*volumes, *(pod.get("volumes") or [])]
        kc["volumeMounts"] = [*mounts, *(kc.get("volumeMounts") or [])]
    kc["env"] = keycloak_env(cr, list(kc.get("env") or []), operator)
    if not operator_sets_truststore_paths(operator) and spec.get("automountServiceAccountToken") is not None:
        pod["automountServiceAccountToken"] = bool(spec["automountServiceAccountToken"])
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns, "labels": dict(instance),
                     "annotations": {"operator.keycloak.org/migrating": "false"}},
        "spec": {"replicas": spec.get("instances", 1), "selector": {"matchLabels": dict(instance)},
                 "serviceName": f"{name}-discovery", "template": template},
    }


def keycloak_services(cr: Obj) -> list[Obj]:
    """The two Services of a ``Keycloak`` CR.

    ``KeycloakServiceDependentResource`` (26.x line): ``<name>-service`` (or ``spec.http.serviceName``), labels the
    instance labels plus ``spec.http.labels``, annotations ``spec.http.annotations``; port ``http`` when TLS is not
    configured or HTTP is enabled, ``https`` when ``spec.http.tlsSecret`` is set, always ``management`` (9000).
    ``KeycloakDiscoveryServiceDependentResource``: ``<name>-discovery``, headless, ``publishNotReadyAddresses``,
    port ``tcp`` 7800 (JGroups), labels the instance labels only.
    """
    spec = cr.get("spec") or {}
    http = spec.get("http") or {}
    name, ns = _md(cr)["name"], _md(cr).get("namespace")
    instance = keycloak_instance_labels(cr)
    tls = bool(http.get("tlsSecret"))
    ports = []
    if not tls or http.get("httpEnabled"):
        container = int(http.get("httpPort", KEYCLOAK_HTTP_PORT))
        ports.append({"port": int(http.get("serviceHttpPort", container)), "targetPort": container, "name": "http",
                      "protocol": "TCP"})
    if tls:
        container = int(http.get("httpsPort", KEYCLOAK_HTTPS_PORT))
        ports.append({"port": int(http.get("serviceHttpsPort", container)), "targetPort": container,
                      "name": "https", "protocol": "TCP"})
    management = int((spec.get("httpManagement") or {}).get("port", KEYCLOAK_MANAGEMENT_PORT))
    ports.append({"port": management, "name": "management", "protocol": "TCP"})
    service_md: Obj = {"name": http.get("serviceName") or f"{name}-service", "namespace": ns,
                       "labels": {**instance, **(http.get("labels") or {})}}
    if http.get("annotations"):
        service_md["annotations"] = dict(http["annotations"])
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": service_md,
         "spec": {"selector": dict(instance), "ports": ports}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": f"{name}-discovery", "namespace": ns, "labels": dict(instance)},
         "spec": {"ports": [{"name": "tcp", "protocol": "TCP", "port": KEYCLOAK_DISCOVERY_PORT}],
                  "selector": dict(instance), "clusterIP": "None", "publishNotReadyAddresses": True}},
    ]


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


def envoy_infra(gateway: Obj, proxy: Obj | None, controller_ns: str, shutdown_image: str) -> list[Obj]:
    """The Envoy Deployment and Service that Envoy Gateway runs for one ``Gateway``.

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
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
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


# --------------------------------------------------------------------------------------------------------------
# cert-manager v1.21.1 ACME HTTP-01 solver (tag v1.21.1, pkg/issuer/acme/http/; as in v1.19.1 but for the optional
# --acme-http01-solver-extra-labels and runtime class, which the platform does not set)
# --------------------------------------------------------------------------------------------------------------

ACME_SOLVER_PORT = 8089
ACME_STAND_IN_TOKEN = "offline-plan-stand-in-token"
"""The ACME server hands out the challenge token; the model uses this stand-in for the token-derived values."""


def acme_solver_labels(dns_name: str, token: str = ACME_STAND_IN_TOKEN) -> dict[str, str]:
    """``podLabels``: adler32 of domain and token, and ``acme.cert-manager.io/http01-solver: "true"``."""
    return {"acme.cert-manager.io/http-domain": str(zlib.adler32(dns_name.encode())),
            "acme.cert-manager.io/http-token": str(zlib.adler32(token.encode())),
            "acme.cert-manager.io/http01-solver": "true"}


def acme_http01_solver(cert: Obj, solver: Obj, solver_image: str) -> list[Obj]:
    """Solver Pod, Service and HTTPRoute per DNS name of a Certificate issued by ACME HTTP-01 (gatewayHTTPRoute).

    Follows cert-manager v1.21.1 ``pkg/issuer/acme/http/pod.go`` (``buildDefaultPod``,
    ``mergePodObjectMetaWithPodTemplate``), ``service.go`` (``buildService``: NodePort unless ``serviceType`` says
    otherwise) and ``httproute.go`` (``createGatewayHTTPRoute``, ``generateHTTPRouteSpec``), with the controller's
    defaults of ``internal/apis/config/controller/v1alpha1/defaults.go`` (solver image, 10m/64Mi requests,
    100m/64Mi limits, runAsNonRoot). Everything lives in the Certificate's namespace (the Challenge's). Real objects
    get ``generateName: cm-acme-http-solver-``; the model names them ``cm-acme-http-solver-<domain hash>``.
    """
    http01 = (solver.get("http01") or {}).get("gatewayHTTPRoute") or {}
    ns = _md(cert).get("namespace")
    tmpl = http01.get("podTemplate") or {}
    out: list[Obj] = []
    for dns in (cert.get("spec") or {}).get("dnsNames") or []:
        labels = acme_solver_labels(dns)
        name = f"cm-acme-http-solver-{labels['acme.cert-manager.io/http-domain']}"
        pod_labels = {**labels, **((tmpl.get("metadata") or {}).get("labels") or {})}
        pod_annotations = {"sidecar.istio.io/inject": "false", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
                           **((tmpl.get("metadata") or {}).get("annotations") or {})}
        pod_spec: Obj = {
            "automountServiceAccountToken": False, "nodeSelector": {"kubernetes.io/os": "linux"},
            "restartPolicy": "OnFailure", "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "acmesolver", "image": solver_image, "imagePullPolicy": "IfNotPresent",
                "args": [f"--listen-port={ACME_SOLVER_PORT}", f"--domain={dns}"],
                "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
                "ports": [{"name": "http", "containerPort": ACME_SOLVER_PORT}],
                "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
        }
        tspec = tmpl.get("spec") or {}
        for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName", "serviceAccountName"):
            if tspec.get(key):
                pod_spec[key] = tspec[key]
        if tspec.get("securityContext"):
            pod_spec["securityContext"] = dict(tspec["securityContext"])
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": ns, "labels": pod_labels, "annotations": pod_annotations},
                    "spec": pod_spec})
        out.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": name, "namespace": ns, "labels": dict(labels),
                                 "annotations": {"auth.istio.io/8089": "NONE"}},
                    "spec": {"type": http01.get("serviceType") or "NodePort", "selector": dict(labels),
                             "ports": [{"name": "http", "port": ACME_SOLVER_PORT, "targetPort": ACME_SOLVER_PORT}]}})
        out.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                    "metadata": {"name": name, "namespace": ns, "labels": {**labels, **(http01.get("labels") or {})}},
                    "spec": {"parentRefs": http01.get("parentRefs") or [], "hostnames": [dns],
                             "rules": [{"matches": [{"path": {
                                 "type": "Exact", "value": f"/.well-known/acme-challenge/{ACME_STAND_IN_TOKEN}"}}],
                                 "backendRefs": [{"group": "", "kind": "Service", "name": name, "namespace": ns,
                                                  "port": ACME_SOLVER_PORT, "weight": 1}]}]}})
    return out


# --------------------------------------------------------------------------------------------------------------
# Rook v1.19.10 ObjectBucketClaim (kube-object-storage/lib-bucket-provisioner, pkg/provisioner/resourcehandlers.go)
# --------------------------------------------------------------------------------------------------------------

def obc_outputs(obc: Obj) -> list[Obj]:
    """The Secret and ConfigMap the bucket provisioner library writes for an ``ObjectBucketClaim``.

    kube-object-storage/lib-bucket-provisioner ``pkg/provisioner/resourcehandlers.go`` (``newCredentialsSecret``,
    ``newBucketConfigMap``; rook v1.19.10's ``go.mod`` pins the library at ``d1a8c34382f1``): both named like the
    claim, in its namespace, finalizer ``objectbucket.io/finalizer``, owned by the claim, **no labels** (nothing is
    copied from the claim). Keys: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``; ``BUCKET_NAME``, ``BUCKET_HOST``,
    ``BUCKET_PORT``, ``BUCKET_SSL``, ``BUCKET_REGION``, ``BUCKET_SUBREGION`` (values only the provisioner knows).
    """
    md = {"name": _md(obc)["name"], "namespace": _md(obc).get("namespace"), "finalizers": ["objectbucket.io/finalizer"]}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": dict(md), "type": "Opaque",
         "data": {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(md),
         "data": {k: "" for k in ("BUCKET_NAME", "BUCKET_HOST", "BUCKET_PORT", "BUCKET_SSL", "BUCKET_REGION",
                                  "BUCKET_SUBREGION")}},
    ]


# --------------------------------------------------------------------------------------------------------------

def _issuer_of(cert: Obj, objs: list[Obj]) -> Obj | None:
    ref = (cert.get("spec") or {}).get("issuerRef") or {}
    kind = ref.get("kind") or "Issuer"
    ns = None if kind == "ClusterIssuer" else _md(cert).get("namespace")
    found = _find(objs, kind, ref.get("name"), ns, api_group="cert-manager.io")
    return found[0] if found else None


def _solver_for(issuer: Obj, cert: Obj, dns_name: str) -> Obj | None:
    """The ACME solver cert-manager picks for one DNS name of a Certificate, as the ClusterIssuer CRD documents it
    (cert-manager v1.21.1, ``spec.acme.solvers[].selector``): a solver listing the name in ``dnsNames`` wins; else
    the one with the most specific (longest) matching ``dnsZones`` entry; else one without a selector; on a tie
    the earlier one. A selector's ``matchLabels`` must match the Certificate's labels (the model gives matching
    labels no extra weight)."""
    cert_labels = _md(cert).get("labels") or {}
    best: tuple[int, int] | None = None
    chosen = None
    for index, solver in enumerate(((issuer.get("spec") or {}).get("acme") or {}).get("solvers") or []):
        selector = solver.get("selector")
        if selector is None:
            rank = 0
        else:
            if any(cert_labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
                continue
            names, zones = selector.get("dnsNames") or [], selector.get("dnsZones") or []
            if dns_name in names:
                rank = 10_000
            elif zones:
                matched = [z for z in zones if dns_name == z or dns_name.endswith(f".{z}")]
                if not matched:
                    continue
                rank = 1 + max(len(z.split(".")) for z in matched)
            elif names:
                continue
            else:
                rank = 0  # a selector with only matchLabels
        if best is None or (rank, -index) > best:
            best, chosen = (rank, -index), solver
    return chosen


def _chart_config(context: list[Obj], kind: str, labels: dict[str, str]) -> list[Obj]:
    return [o for o in context if o.get("kind") == kind and all(_labels(o).get(k) == v for k, v in labels.items())]


def as_stored(stack_objects: list[Obj], context: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """The one place the model reads custom resources: each as the API server stores it, pruned and defaulted by the
    CRD that ``shared`` (``context``) or the stack installs (``urbanstack.crds.defaulted``). A CR without an installed
    CRD of its version stays as written (the schemas check fails it)."""
    installed, _ = crds.index_crds((o, "plan") for o in [*context, *stack_objects])
    if not installed:
        return stack_objects, context
    stored: dict[int, Obj] = {}

    def read(obj: Obj) -> Obj:
        if id(obj) not in stored:
            stored[id(obj)] = crds.defaulted(obj, installed)
        return stored[id(obj)]

    return [read(o) for o in stack_objects], [read(o) for o in context]


def expand(stack_objects: list[Obj], context: list[Obj]) -> dict[str, list[Obj]]:
    """Every operator-made object of one stack: ``{"operator-<kind>": [objects]}``.

    ``stack_objects`` are this stack's own objects (the CRs); ``context`` every object of this stack and of ``shared``,
    chart-rendered ones included (the operators' configuration: the CloudNativePG operator's image and ``INHERITED_LABELS``, the
    plugin's sidecar image, cert-manager's issuers, Envoy Gateway's namespace and GatewayClass).
    """
    out: dict[str, list[Obj]] = {}
    stack_objects, context = as_stored(stack_objects, context)

    def add(kind: str, objs: list[Obj]) -> None:
        if objs:
            out.setdefault(f"operator-{kind.lower()}", []).extend(objs)

    cnpg_deploy = _chart_config(context, "Deployment", {"app.kubernetes.io/name": "cloudnative-pg"})
    cnpg_cm = [o for o in context if o.get("kind") == "ConfigMap" and _md(o).get("name") == "cnpg-controller-manager-config"]
    inherited_keys = [k.strip() for k in str(((cnpg_cm[0].get("data") or {}) if cnpg_cm else {})
                                             .get("INHERITED_LABELS", "")).split(",") if k.strip()]
    operator_image = (_container_env(cnpg_deploy[0], "manager", "OPERATOR_IMAGE_NAME") if cnpg_deploy else None) or ""
    barman_cm = [o for o in context if o.get("kind") == "ConfigMap" and "SIDECAR_IMAGE" in (o.get("data") or {})]
    sidecar_image = str(barman_cm[0]["data"]["SIDECAR_IMAGE"]) if barman_cm else None
    eg_deploy = _chart_config(context, "Deployment", {"control-plane": "envoy-gateway"})
    eg_ns = _md(eg_deploy[0]).get("namespace") if eg_deploy else None
    eg_image = (_containers(eg_deploy[0])[0].get("image", "")) if eg_deploy else ""
    cm_deploy = _chart_config(context, "Deployment", {"app.kubernetes.io/name": "cert-manager",
                                                      "app.kubernetes.io/component": "controller"})
    solver_image = "quay.io/jetstack/cert-manager-acmesolver"
    if cm_deploy:
        for arg in _containers(cm_deploy[0])[0].get("args") or []:
            if str(arg).startswith("--acme-http01-solver-image="):
                solver_image = str(arg).split("=", 1)[1]

    po_deploy = _chart_config(context, "Deployment", {"app.kubernetes.io/component": "prometheus-operator"})
    reloader = ReloaderConfig.from_args(_containers(po_deploy[0])[0].get("args") or []) if po_deploy \
        else ReloaderConfig()

    for cr in stack_objects:
        kind, api = cr.get("kind"), str(cr.get("apiVersion", ""))
        if kind == "Keycloak" and api.startswith("k8s.keycloak.org/"):
            add("keycloak", [keycloak_statefulset(cr), *keycloak_services(cr)])
        elif kind == "Cluster" and api.startswith("postgresql.cnpg.io/"):
            store_name = next(((p.get("parameters") or {}).get("barmanObjectName")
                               for p in (cr.get("spec") or {}).get("plugins") or [] if p.get("name") == names.BARMAN_PLUGIN),
                              None)
            stores = _find(context, "ObjectStore", store_name, _md(cr).get("namespace"), "barmancloud.cnpg.io")
            resources = (((stores[0].get("spec") or {}).get("instanceSidecarConfiguration") or {}).get("resources")
                         if stores else None)
            add("cluster", [*cnpg_instance_pods(cr, operator_image, inherited_keys, sidecar_image, resources),
                            *cnpg_services(cr, inherited_keys)])
        elif kind == "Gateway" and api.startswith("gateway.networking.k8s.io/") and eg_ns:
            gw_class = _find(context, "GatewayClass", (cr.get("spec") or {}).get("gatewayClassName"))
            ref = ((gw_class[0].get("spec") or {}).get("parametersRef") or {}) if gw_class else {}
            infra_ref = (((cr.get("spec") or {}).get("infrastructure") or {}).get("parametersRef")) or {}
            proxy = None
            if infra_ref.get("kind") == "EnvoyProxy":
                found = _find(context, "EnvoyProxy", infra_ref.get("name"), _md(cr).get("namespace"))
                proxy = found[0] if found else None
            elif ref.get("kind") == "EnvoyProxy":
                found = _find(context, "EnvoyProxy", ref.get("name"), ref.get("namespace"))
                proxy = found[0] if found else None
            add("gateway", envoy_infra(cr, proxy, eg_ns, eg_image))
        elif kind == "Certificate" and api.startswith("cert-manager.io/"):
            issuer = _issuer_of(cr, context)
            for dns in ((cr.get("spec") or {}).get("dnsNames") or []) if issuer else []:
                # cert-manager picks a solver per name (one Challenge per name).
                solver = _solver_for(issuer, cr, dns)
                if solver and (solver.get("http01") or {}).get("gatewayHTTPRoute") is not None:
                    one = {**cr, "spec": {**cr["spec"], "dnsNames": [dns]}}
                    add("certificate", acme_http01_solver(one, solver, solver_image))
        elif kind == "Prometheus" and api.startswith("monitoring.coreos.com/"):
            add("prometheus", prometheus_statefulsets(cr, reloader))
        elif kind == "ObjectBucketClaim" and api.startswith("objectbucket.io/"):
            add("objectbucketclaim", obc_outputs(cr))
    return out
