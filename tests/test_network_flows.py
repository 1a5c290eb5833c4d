"""Flows that cross into or out of municipality namespaces and that the platform itself needs, proven with the
NetworkPolicy reachability model (urbanstack/checks/reachability.py) over the real offline plan:

* ACME HTTP-01: the Gateway's Envoy pods reach cert-manager's solver pods in every municipality namespace;
* cert-manager's HTTP-01 self check reaches Envoy whichever way the Gateway's public address is published
  (kube-proxy rewriting an IP LoadBalancer to the Envoy pods, or a hostname / proxy-mode LoadBalancer outside);
* the modules' OIDC back channel reaches Keycloak through its in-cluster Service, so it does not depend on that;
* on CNIs that never match pod addresses by ``ipBlock`` (Cilium), every one of these in-cluster flows still holds.
"""

from __future__ import annotations

import copy

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


def ipblock_blind(model: r.Model) -> r.Model:
    """The same policies as a CNI sees them that never matches pod addresses by ipBlock (Cilium): ipBlock
    peers stay for addresses outside the cluster only, so for pods they are dropped (a rule left without
    peers is dropped too, it would otherwise admit everyone)."""
    blind = copy.deepcopy(model)
    for pols in blind.policies.values():
        for pol in pols:
            for direction, key in (("ingress", "from"), ("egress", "to")):
                rules = getattr(pol, direction)
                if rules is None:
                    continue
                kept = []
                for rule in rules:
                    peers = rule.get(key)
                    if peers is None:
                        kept.append(rule)
                        continue
                    pod_peers = [p for p in peers if "ipBlock" not in p]
                    if pod_peers:
                        kept.append({**rule, key: pod_peers})
                setattr(pol, direction, kept)
    return blind


@pytest.fixture(scope="module")
def model(real_plan_dir) -> r.Model:
    return r.build_model(load_plan(real_plan_dir))


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
        assert netpol.ACME_SOLVER_PORT in ports(envoy(), solver(ns), ipblock_blind(model)), ns


def test_only_the_gateway_reaches_the_solver_pods(model, municipalities):
    ns = municipalities[0]
    for src in (cert_manager(), outside(), r.Pod(municipalities[-1], {}, "another municipality's pod", None, None,
                                                    open_labels=True)):
        assert ports(src, solver(ns), model) == set(), src.description


# -- cert-manager's HTTP-01 self check --------------------------------------------------------------------

def test_the_self_check_reaches_envoy_when_kube_proxy_rewrites_the_load_balancer_ip(model):
    """kube-proxy turns <LoadBalancer IP>:80 into <Envoy pod>:10080 before policies are evaluated."""
    assert 10080 in ports(cert_manager(), envoy(), model)
    assert 10080 in ports(cert_manager(), envoy(), ipblock_blind(model)), "admitted by pod peers, not ipBlock only"


def test_the_self_check_reaches_envoy_through_a_hostname_or_proxy_mode_load_balancer(model):
    """The check leaves the cluster for the load balancer on 80, which forwards to Envoy's 10080."""
    assert 80 in ports(cert_manager(), outside(), model)
    assert 10080 in ports(outside(), envoy(), model)


# -- the modules' back channel to Keycloak -----------------------------------------------------------------------

@pytest.mark.parametrize("module", ["dashboards", "lowcode", "urbandata"])
def test_modules_reach_keycloak_through_its_in_cluster_service(model, module):
    pods = module_pods(model, module)
    assert pods, f"no example municipality books {module}"
    kc = keycloak(model)
    for pod in pods:
        if netpol.to_keycloak() not in [rule for pol in model.policies[pod.namespace] if r.pod_matches(
                pol.pod_selector, pod) for rule in (pol.egress or [])]:
            continue  # a workload of the module without login (worker, cache, bus)
        assert names.KEYCLOAK_HTTP_PORT in ports(pod, kc, model), pod.description
        assert names.KEYCLOAK_HTTP_PORT in ports(pod, kc, ipblock_blind(model)), pod.description


def test_keycloak_admits_no_pod_of_a_municipality_without_a_module_label(model, municipalities):
    stranger = r.Pod(municipalities[0], {labels.TENANT: municipalities[0]}, "a pod without module label", None, {})
    assert ports(stranger, keycloak(model), model) == set()


@pytest.mark.parametrize("module", ["opendata", "rei3"])
def test_modules_with_one_base_url_reach_keycloaks_public_address_both_ways(model, module):
    pods = [p for p in module_pods(model, module) if p.labels.get("app.kubernetes.io/component") in ("web", "app")]
    assert pods, f"no example municipality books {module}"
    for pod in pods:
        assert netpol.ENVOY_HTTPS_PORT in ports(pod, envoy(), model), f"{pod.description}: kube-proxy mode"
        assert 443 in ports(pod, outside(), model), f"{pod.description}: hostname / proxy-mode load balancer"
