"""What the operators make from this project's custom resources, as far as admission, network and cost labels go.

A custom resource in the plan is only half of what runs: the operator turns it into pods, Services and Secrets
that the Kubernetes admission, the NetworkPolicies and the cost report see. Each function below builds those
objects from the CR the way the operator's code at our pinned version does (its docstring names the upstream file
and release it follows). What is modelled: names, namespaces, labels and the annotations the operator really sets,
pod and container security contexts, ports, service accounts, volumes of the pod, Service selectors and ports,
the labels an operator copies from the CR. What is not: owner references (they need the CR's uid, which only the
API server assigns), status, environment variables (except the Keycloak operator's, which :func:`.keycloak.keycloak_env` models in full, and those that change a port), and values only a live
cluster knows (an ACME challenge token, generated name suffixes): where the operator uses such a value the model
uses a stand-in and says so.

:func:`expand` maps every CR of one stack to ``{"operator-<kind>": [objects]}``; ``context`` holds the objects of
the other stacks (``shared``'s ClusterIssuer, GatewayClass, StorageClass and chart objects for a municipality).
"""

from __future__ import annotations

from catalogue import names
from urbanstack.cluster_model.cert_manager import _issuer_of, _solver_for, acme_http01_solver
from urbanstack.cluster_model.cloudnative_pg import cnpg_app_labels, cnpg_instance_pods, cnpg_services
from urbanstack.cluster_model.envoy_gateway import (
    ENVOY_DEFAULT_IMAGE,
    attached_listener_sets,
    envoy_infra,
    envoy_resource_name,
)
from urbanstack.cluster_model.keycloak import KEYCLOAK_OPERATOR, keycloak_services, keycloak_statefulset
from urbanstack.cluster_model.objects import Obj, _container_env, _containers, _find, _labels, _md
from urbanstack.cluster_model.prometheus import ReloaderConfig, prometheus_statefulsets
from urbanstack.cluster_model.rook import obc_outputs
from urbanstack.engine import crds

__all__ = ["ENVOY_DEFAULT_IMAGE", "EXPANDED_WITH_PODS", "KEYCLOAK_OPERATOR", "ReloaderConfig", "as_stored",
           "attached_listener_sets",
           "cnpg_app_labels", "cnpg_instance_pods", "cnpg_services", "envoy_infra", "envoy_resource_name", "expand",
           "keycloak_services", "keycloak_statefulset", "prometheus_statefulsets"]
"""What the callers use: :func:`expand` and :func:`as_stored` (the plan), :data:`EXPANDED_WITH_PODS` (the checks), and
the operator models the tests hold to upstream (one module per operator: ``keycloak``, ``cloudnative_pg``,
``prometheus``, ``envoy_gateway``, ``cert_manager``, ``rook``)."""

EXPANDED_WITH_PODS: frozenset[tuple[str, str]] = frozenset({("k8s.keycloak.org", "Keycloak"),
                                                           ("postgresql.cnpg.io", "Cluster"),
                                                           ("monitoring.coreos.com", "Prometheus")})
"""``(API group, kind)`` of the custom resources whose pods :func:`expand` models (folder ``operator-<kind>``):
the checks take those pods from there, never from the CR itself."""


def _chart_config(context: list[Obj], kind: str, labels: dict[str, str]) -> list[Obj]:
    return [o for o in context if o.get("kind") == kind and all(_labels(o).get(k) == v for k, v in labels.items())]


def as_stored(stack_objects: list[Obj], context: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """The one place the model reads custom resources: each as the API server stores it, pruned and defaulted by the
    CRD that ``shared`` (``context``) or the stack installs (``urbanstack.engine.crds.defaulted``). A CR without an installed
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
            add("gateway", envoy_infra(cr, proxy, eg_ns, eg_image,
                                       attached_listener_sets(cr, [*stack_objects, *context])))
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
