"""Flows that cross into or out of municipality namespaces and that the platform itself needs, proven with the
NetworkPolicy reachability model (urbanstack/checks/reachability.py) over the real offline plan:

* ACME HTTP-01: the Gateway's Envoy pods reach cert-manager's solver pods in every municipality namespace;
* cert-manager's HTTP-01 self check reaches Envoy whichever way the Gateway's public address is published
  (kube-proxy rewriting an IP LoadBalancer to the Envoy pods, or a hostname / proxy-mode LoadBalancer outside);
* the modules' OIDC back channel reaches Keycloak through their municipality's internal listener of the Gateway,
  so it does not depend on that; no module pod reaches Keycloak's pods, and no municipality another's listener;
* modules that take one base URL (CKAN, REI3) reach the public address both ways, the hairpin through kube-proxy
  admitted by a pod/namespace peer.

Every test runs on both CNI models of the reachability check (``kubernetes`` and ``ipblock_blind``, CNIs such as
Cilium that never match pod addresses by ``ipBlock``): every in-cluster flow holds on both.
"""

from __future__ import annotations

import pytest

from catalogue import labels, names
from components.shared.operators import CERT_MANAGER_POD_LABELS
from components.tenant import netpol
from urbanstack.checks import reachability as r
from urbanstack.checks.base import load_plan

ENVOY_LABELS = {**names.GATEWAY_POD_LABELS, "app.kubernetes.io/component": "proxy"}
"""Labels Envoy Gateway v1.9.0 puts on the proxy pods of a Gateway (internal/infrastructure/kubernetes/proxy/
resource.go ``EnvoyAppLabel`` plus the owning-gateway labels; testdata/deployments/default.yaml), in the
controller's namespace."""
SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true", "acme.cert-manager.io/http-domain": "1234567",
                 "acme.cert-manager.io/http-token": "7654321"}
"""Labels cert-manager v1.21.1 puts on a solver pod (pkg/issuer/acme/http/pod.go ``podLabels``)."""


def envoy() -> r.Pod:
    return r.Pod(names.NS_GATEWAY, dict(ENVOY_LABELS), "an Envoy pod of the shared Gateway", None,
                 {"http": 10080, "https": 10443})


def solver(namespace: str) -> r.Pod:
    return r.Pod(namespace, dict(SOLVER_LABELS), f"an HTTP-01 solver pod in {namespace}", None, {"http": 8089})


def cert_manager() -> r.Pod:
    return r.Pod(names.NS_CERT_MANAGER, {**CERT_MANAGER_POD_LABELS["controller"], labels.TENANT: labels.SHARED_TENANT},
                 "cert-manager's controller", None, {})


def outside() -> r.Pod:
    return r.Pod(r.OUTSIDE_CLUSTER, {}, "a load balancer outside the cluster", None, None, open_labels=True)


def ports(src: r.Pod, dst: r.Pod, model: r.Model) -> set[int]:
    allowed, _ = r.connection(src, dst, model)
    if allowed is r.ALL_PORTS:
        return set(range(1, 65536))
    return {p for rng in allowed if len(rng) == 3 for p in range(rng[1], rng[2] + 1)}


@pytest.fixture(scope="module", params=["kreis", "stadt-guetersloh"])
def planned(request, real_plan_dir) -> r.Model:
    """The model of each cell of the example (each cell is a cluster of its own)."""
    (cell,) = [view for view in load_plan(real_plan_dir).cells() if view.cell == request.param]
    return r.build_model(cell)


@pytest.fixture(scope="module", params=r.CNI_MODELS)
def model(request, planned) -> r.Model:
    """The real plan's pods and policies as each CNI model sees them."""
    return r.with_cni(planned, request.param)


@pytest.fixture(scope="module")
def municipalities(model) -> list[str]:
    assert model.municipality_namespaces
    return sorted(model.municipality_namespaces)


def keycloak(model: r.Model) -> r.Pod:
    (pod,) = [p for p in model.pods if p.namespace == names.NS_IDENTITY and not p.open_labels
              and p.labels.get("app") == "keycloak"]
    return pod


def module_pods(model: r.Model, module: str) -> list[r.Pod]:
    found = [p for p in model.pods if p.namespace in model.municipality_namespaces and not p.open_labels
             and p.labels.get(labels.MODULE) == module and "job-name" not in p.labels
             and not p.description.startswith("pods of Job")]
    return found


# -- ACME HTTP-01 ------------------------------------------------------------------------------------------

def test_envoy_reaches_the_acme_solver_pods_in_every_municipality_namespace(model, municipalities):
    for ns in municipalities:
        assert netpol.ACME_SOLVER_PORT in ports(envoy(), solver(ns), model), ns


def test_only_the_gateway_reaches_the_solver_pods(model, municipalities):
    ns = municipalities[0]
    for src in (cert_manager(), outside(), r.Pod(municipalities[-1], {}, "another municipality's pod", None, None,
                                                    open_labels=True)):
        assert ports(src, solver(ns), model) == set(), src.description


# -- cert-manager's HTTP-01 self check --------------------------------------------------------------------

def test_the_self_check_reaches_envoy_when_kube_proxy_rewrites_the_load_balancer_ip(model):
    """kube-proxy turns <LoadBalancer IP>:80 into <Envoy pod>:10080 before policies are evaluated."""
    assert 10080 in ports(cert_manager(), envoy(), model), "admitted by pod peers, not ipBlock only"


def test_the_self_check_reaches_envoy_through_a_hostname_or_proxy_mode_load_balancer(model):
    """The check leaves the cluster for the load balancer on 80, which forwards to Envoy's 10080."""
    assert 80 in ports(cert_manager(), outside(), model)
    assert 10080 in ports(outside(), envoy(), model)


# -- the modules' back channel to Keycloak -----------------------------------------------------------------------

BACKCHANNEL = labels.OIDC_BACKCHANNEL


def declared(model: r.Model, kind: str) -> list[r.Pod]:
    """The plan's module pods that carry the back-channel label with value ``kind``."""
    return [p for p in model.pods if p.namespace in model.municipality_namespaces and not p.open_labels
            and p.labels.get(BACKCHANNEL) == kind]


def every_municipality_pod(model: r.Model, ns: str) -> list[r.Pod]:
    """Every pod of the plan in ``ns`` plus the symbolic one with arbitrary labels."""
    return [p for p in model.pods if p.namespace == ns]


def test_the_declared_pods_reach_their_own_municipalitys_back_channel_listener_and_no_other(model, municipalities):
    pods = declared(model, "internal")
    assert {p.namespace for p in pods} == {ns for ns in municipalities if any(
        p.labels.get(labels.MODULE) in ("dashboards", "lowcode", "urbandata") for p in model.pods
        if p.namespace == ns and not p.open_labels)}, "every municipality booking such a module has them"
    for pod in pods:
        reach = ports(pod, envoy(), model)
        assert names.backchannel_port(pod.namespace) in reach, pod.description
        others = {names.backchannel_port(ns) for ns in municipalities if ns != pod.namespace}
        assert not reach & others, f"{pod.description} reaches another municipality's listener"


def test_no_pod_of_a_municipality_reaches_keycloaks_pods(model, municipalities):
    """Issue 23 item 2: module pods (Node-RED runs the editors' code) had 8080 on Keycloak, admin API included."""
    kc = keycloak(model)
    for ns in municipalities:
        for pod in every_municipality_pod(model, ns):
            assert ports(pod, kc, model) == set(), pod.description


def test_keycloak_is_reached_by_the_envoy_pods_and_the_realm_jobs_only(model):
    kc = keycloak(model)
    assert names.KEYCLOAK_HTTP_PORT in ports(envoy(), kc, model)
    jobs = [p for p in model.pods if p.namespace == names.NS_IDENTITY and not p.open_labels
            and all(p.labels.get(k) == v for k, v in names.REALM_JOB_LABELS.items())]
    assert jobs and all(names.KEYCLOAK_HTTP_PORT in ports(job, kc, model) for job in jobs)
    stranger = r.Pod(r.OTHER_NAMESPACE, {}, "a pod of any other namespace", None, None, open_labels=True)
    assert ports(stranger, kc, model) == set()


def test_a_municipality_pod_without_the_declaration_gets_no_back_channel(model, municipalities):
    ns = municipalities[0]
    stranger = r.Pod(ns, {labels.TENANT: ns, labels.MODULE: "lowcode"}, "a module pod without the label", None, {})
    assert names.backchannel_port(ns) not in ports(stranger, envoy(), model)


def test_nothing_outside_the_cluster_reaches_a_back_channel_listener(model, municipalities):
    """The LoadBalancer Service Envoy Gateway makes lists every listener port; the policy drops these."""
    reach = ports(outside(), envoy(), model)
    assert not reach & {names.backchannel_port(ns) for ns in municipalities}
    assert {10080, 10443} <= reach


def test_the_internal_route_of_each_municipality_serves_only_its_realms_back_channel_paths(real_plan_dir,
                                                                                            municipalities):
    plan = load_plan(real_plan_dir)
    listener_sets = {po.namespace: po.obj for po in plan.objects if po.kind == "ListenerSet"}
    routes = [po.obj for po in plan.objects if po.kind == "HTTPRoute"]
    allowed = {"discovery": ".well-known/openid-configuration", "token": "protocol/openid-connect/token",
               "userinfo": "protocol/openid-connect/userinfo", "keys": "protocol/openid-connect/certs"}
    for ns in municipalities:
        listener = next(lst for lst in listener_sets[ns]["spec"]["listeners"] if lst["name"] == names.LS_BACKCHANNEL)
        assert (listener["protocol"], listener["port"]) == ("HTTP", names.backchannel_port(ns))
        # A parentRef without sectionName (and port) attaches to every listener that admits the route's namespace.
        attached = [route for route in routes if any(
            p.get("kind") == "ListenerSet" and p.get("namespace") == ns and p.get("name") == names.LISTENER_SET
            and p.get("sectionName", listener["name"]) == listener["name"]
            and p.get("port", listener["port"]) == listener["port"] for p in route["spec"]["parentRefs"])
            and route["metadata"]["namespace"] == names.NS_IDENTITY]
        assert len(attached) == 1, f"only the back-channel route on {ns}'s {listener['name']}"
        (rule,) = attached[0]["spec"]["rules"]
        assert rule["backendRefs"] == [{"name": names.KEYCLOAK_SERVICE, "port": names.KEYCLOAK_HTTP_PORT}]
        paths = [(m["path"]["type"], m["path"]["value"]) for m in rule["matches"]]
        assert sorted(paths) == sorted(("Exact", f"/realms/{ns}/{p}") for p in allowed.values())
        assert not any("/admin" in v or "/realms/master" in v for _, v in paths)


def test_tenant_as_pods_cannot_reach_tenant_bs_back_channel_port(model, municipalities):
    """Any pod of municipality A, with any labels (the back-channel label included), reaches no other
    municipality's back-channel port: each municipality's policy on the Envoy pods admits only its own namespace."""
    for a in municipalities:
        anyone = r.Pod(a, {}, f"any pod of {a}", None, None, open_labels=True, tenant=a)
        reach = ports(anyone, envoy(), model)
        assert names.backchannel_port(a) in reach
        assert not reach & {names.backchannel_port(b) for b in municipalities if b != a}, a


@pytest.mark.parametrize("module", ["opendata", "rei3"])
def test_modules_with_one_base_url_reach_keycloaks_public_address_both_ways(model, module):
    """Issue 20: with kube-proxy and an IP LoadBalancer the call to https://id.<baseDomain> becomes one to an Envoy
    pod on 10443 (a hairpin), which only an ipBlock admitted: never on Cilium."""
    pods = [p for p in module_pods(model, module) if p.labels.get(BACKCHANNEL) == "public"]
    assert pods, f"no example municipality books {module}"
    for pod in pods:
        assert netpol.ENVOY_HTTPS_PORT in ports(pod, envoy(), model), f"{pod.description}: kube-proxy mode"
        assert 443 in ports(pod, outside(), model), f"{pod.description}: hostname / proxy-mode load balancer"
