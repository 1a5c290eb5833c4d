"""What cert-manager makes for a ``Certificate`` with an ACME HTTP-01 solver: the solver pod, Service and
HTTPRoute, and which issuer and solver it picks."""

from __future__ import annotations

import zlib

from urbanstack.cluster_model.objects import Obj, _find, _md

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
