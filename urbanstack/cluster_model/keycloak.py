"""What the Keycloak operator makes from a ``Keycloak`` CR: the StatefulSet (env, volumes) and its Services."""

from __future__ import annotations

import copy
import re
from typing import Any

from catalogue import manifests
from catalogue.versions import MANIFESTS
from urbanstack.cluster_model.objects import Obj, _md

# --------------------------------------------------------------------------------------------------------------
# Keycloak operator 26.x (keycloak/keycloak, operator/src/main/java/org/keycloak/operator/...)
# Read in the code index's stored copies of ``controllers/KeycloakDeploymentDependentResource.java`` (commit
# 0064e060fc5d: the code before 26.5, KC_TRUSTSTORE_PATHS always set, no automountServiceAccountToken; commit
# ee99112b114f, the newest stored copy, re-read 2026-12-06: the 26.5 code, see below),
# ``controllers/KeycloakDistConfigurator.java`` (commit 0c8d71d12866) and ``Constants.java``: the 26.x code that
# builds the StatefulSet. The index holds no copy at the pinned tag 26.8.0 and keycloak/keycloak (871 MB) is over
# the fetch limit here, so what changed after ee99112b is taken from the upgrade notes:
# * ee99112b (``createBaseDeployment``, ``addEnvVars``; it has keycloak/keycloak#40605's field and still sets
#   KC_TRUSTSTORE_PATHS, so it is the code of the 26.5 line): ``automount = !Boolean.FALSE.equals(
#   spec.automountServiceAccountToken); specBuilder.withAutomountServiceAccountToken(automount)``: the pod's
#   ``automountServiceAccountToken`` is always set, true unless the CR says false; the podTemplate's own value is
#   overwritten. ``KC_TRUSTSTORE_PATHS`` (the service-account ``ca.crt``; ``putIfAbsent``) only when the CR's field
#   is not false;
# * "Truststore initialization moved to the server" (docs/documentation/upgrading/topics/changes/changes-26_6_0.adoc,
#   keycloak/keycloak commit 027c5f2; pull request #44506, merged for 26.6.0): the operator no longer sets
#   KC_TRUSTSTORE_PATHS; the server adds /var/run/secrets/kubernetes.io/serviceaccount/ca.crt (and service-ca.crt)
#   "if present in the container filesystem" (``truststore-kubernetes-enabled``, default true): a missing file is no
#   error. Nothing in the 26.6 to 26.8 upgrade notes changes the automount handling, so the model keeps ee99112b's
#   from 26.5 on (not read at the 26.8.0 tag: to be confirmed there, docs/decisions/0011).
# KEYCLOAK_OPERATOR is the release the model follows; 26.4 behaviour stays selectable for the tests of issue 20.
# --------------------------------------------------------------------------------------------------------------

KEYCLOAK_OPERATOR = MANIFESTS["keycloak-operator"].version
"""The Keycloak operator release the plan pins (``catalogue/versions.py``); the model follows it."""


def _line(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def operator_sets_truststore_paths(operator: str) -> bool:
    """Before 26.6 the operator put ``KC_TRUSTSTORE_PATHS`` = the service-account ``ca.crt`` into the Keycloak pod
    (always before 26.5; in 26.5 unless the CR's ``automountServiceAccountToken`` is false). From 26.6 on the server
    reads that file itself, only when it exists (changes-26_6_0.adoc, keycloak/keycloak#44506)."""
    return _line(operator) < (26, 6)


def operator_sets_automount(operator: str) -> bool:
    """From 26.5 on the operator sets the pod's ``automountServiceAccountToken`` from the CR (true unless the CR's
    field is false), overriding the podTemplate (``createBaseDeployment`` at ee99112b); before, it never set it."""
    return _line(operator) >= (26, 5)

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
    only for an ``operator`` before 26.6 (:func:`operator_sets_truststore_paths`), ``KC_TRUSTSTORE_PATHS`` = the
    service-account ``ca.crt`` (``putIfAbsent``; before 26.5 whether or not the pod mounts a token, in 26.5 only when
    the CR's ``automountServiceAccountToken`` is not false; plus ``service-ca.crt`` on OpenShift only, where the
    operator's own pod has that file), and the tracing variables ``KC_TRACING_SERVICE_NAME`` (the CR's name) and
    ``KC_TRACING_RESOURCE_ATTRIBUTES``.
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
    token_off = operator_sets_automount(operator) and spec.get("automountServiceAccountToken") is False
    if operator_sets_truststore_paths(operator) and not token_off:
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
    volumes and mounts of :func:`keycloak_volumes`. ``automountServiceAccountToken``: from 26.5 on always set by
    the operator, ``false`` only when the CR's ``spec.automountServiceAccountToken`` is false, whatever the
    template says (:func:`operator_sets_automount`); before 26.5 the operator never set it (the template's value,
    or the ServiceAccount's, or on). ``operator`` is the operator release followed. The StatefulSet's own labels and selector are
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
    if operator_sets_automount(operator):
        pod["automountServiceAccountToken"] = spec.get("automountServiceAccountToken") is not False
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
