"""Check: a NetworkPolicy reachability analysis over the whole plan proves municipality isolation.

Two properties are proven over every pod the plan can produce:

* **no cross-municipality traffic** (rule ``isolation-between-municipalities``): no pod of one municipality
  can open a connection to a pod of another;
* **only the gateway enters** (rule ``entry-only-through-gateway``): a pod in a municipality's namespace is
  reached from outside that namespace only by the shared Gateway (namespace ``urban-gateway``) or by a
  platform flow listed, with its reason, in ``checks/platform-flows.yaml``.

The model follows Kubernetes NetworkPolicy semantics: a pod that no policy of a direction selects is open
in that direction; policies are additive; a connection needs the source's egress AND the destination's
ingress to allow it, on a common port. Peers are ``podSelector`` (same namespace), ``namespaceSelector``,
both together, or ``ipBlock``; selectors support ``matchLabels`` and ``matchExpressions``; named ports are
resolved against the destination pod's container ports.

Two CNI models: ``kubernetes`` (the NetworkPolicy API as written: an ``ipBlock`` may match pod addresses that lie
in its range) and ``ipblock_blind`` (CNIs such as Cilium, which never match a pod's address by ``ipBlock``: there
an ``ipBlock`` peer matches only addresses outside the cluster). Isolation is proven on ``kubernetes``, the more
permissive of the two (the blind model only removes matches); every required flow must hold on both, so an
in-cluster flow admitted only by an ``ipBlock`` fails on ``ipblock_blind``.

A third property is positive (rule ``required-platform-flow``): the connections the platform needs are
open. ``checks/platform-flows.yaml`` lists them under ``required`` (ACME HTTP-01 solver pods reached from the
Envoy pods, admission webhooks reached from the API server, operators reaching their instances, Prometheus
scraping, Keycloak cluster members among themselves); for every pod of the plan that matches a flow's source
and destination (ours, chart-rendered, operator-made), the connection must be allowed on every listed port. The
API server is modelled as an address outside the pod network (it calls webhooks from the control plane's host
addresses), so only an ``ipBlock`` admits it. A required flow whose pods the plan does not contain (e.g. no
ACME solver in internal-CA mode) is named in the check's line, not failed.

A fourth property is negative (rule ``forbidden-platform-flow``): ``checks/platform-flows.yaml`` lists under
``forbidden`` connections that must not exist at all, e.g. from any pod of any municipality (``from:
municipalities``, the symbolic "any other pod" with arbitrary labels included) to Keycloak's pods, which are
reached only through the Gateway.

Pods come from workload pod templates (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod),
whoever made them: this project, a chart, or an operator. What the operators make from a Keycloak, CloudNativePG
``Cluster`` or Prometheus CR is in the plan itself (``operator-<kind>/``, built by ``urbanstack/cluster_model/``, the one
model of what the operators create), so those pods are counted once, from there; a CR of those kinds whose
operator-made objects are missing from the plan fails the check (rule ``operator-made-pods-in-plan``) rather than
being left out silently. A CloudNativePG ``Pooler``, which the cluster model does not cover, gets its pod from
the CR here. Because operators, Helm charts and people create pods the plan does not show, every
namespace also gets a symbolic **"any other pod"** with arbitrary labels, there is one for "a namespace
outside the plan", and one for "outside the cluster" (reached only through ``ipBlock``). Where the model
cannot know (arbitrary labels, unresolvable named ports, ``ipBlock`` ranges that overlap the pod network)
it assumes the connection is possible: a pass is a proof, a failure may be conservative.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalogue import labels, manifests, names
from catalogue.paths import ROOT
from urbanstack.checks.base import CheckResult, Failure, Plan, PlanObject, list_entries, per_cell
from urbanstack.cluster_model import EXPANDED_WITH_PODS

NAME = "network reachability"
RULE_CROSS = "isolation-between-municipalities"
RULE_ENTRY = "entry-only-through-gateway"
RULE_REQUIRED = "required-platform-flow"
RULE_OPERATOR = "operator-made-pods-in-plan"
RULE_FORBIDDEN = "forbidden-platform-flow"
MUNICIPALITIES = "municipalities"
"""``from: municipalities`` in a forbidden flow: every pod of every municipality namespace, symbolic ones included."""
API_SERVER = "apiserver"
"""``from: apiserver`` in a required flow: the Kubernetes API server calling in (admission webhooks)."""
FLOWS_FILE = ROOT / "checks" / "platform-flows.yaml"
NS_NAME_LABEL = "kubernetes.io/metadata.name"
POD_NETWORK = tuple(ipaddress.ip_network(n) for n in
                    ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
"""Address ranges pod IPs may come from (private and CGNAT ranges, IPv6 ULA): an ``ipBlock`` overlapping
them may match pods, one outside them only addresses outside the cluster."""
CNI_KUBERNETES = "kubernetes"
CNI_IPBLOCK_BLIND = "ipblock_blind"
CNI_MODELS = (CNI_KUBERNETES, CNI_IPBLOCK_BLIND)
"""How a CNI matches ``ipBlock`` peers (module docstring)."""
OUTSIDE_CLUSTER = "(outside the cluster)"
OTHER_NAMESPACE = "(a namespace outside the plan)"

CNPG_POOLER_PORTS = {"pgbouncer": 5432, "metrics": 9127}


# -- the model ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Namespace:
    name: str
    labels: Mapping[str, str]
    open_labels: bool
    """True when labels other than ``labels`` are unknown (namespace not created by the plan)."""


@dataclass
class Pod:
    namespace: str
    labels: dict[str, str]
    description: str
    file: str | None = None
    ports: dict[str, int] | None = None
    """Named container ports; ``None`` when unknown (symbolic pods)."""
    open_labels: bool = False
    tenant: str | None = None
    """The municipality the pod belongs to (its label or its namespace), or None."""

    @property
    def external(self) -> bool:
        return self.namespace == OUTSIDE_CLUSTER


@dataclass
class Policy:
    namespace: str
    name: str
    file: str
    pod_selector: Mapping[str, Any]
    ingress: list[dict] | None
    egress: list[dict] | None


@dataclass
class Flow:
    """A platform flow into municipality namespaces, allowed besides the gateway."""

    source_namespace: str
    to: Mapping[str, Any]
    ports: list[int]
    reason: str


@dataclass
class RequiredFlow:
    """A connection the platform needs: from pods (or the API server) to pods, on every listed port."""

    name: str
    source_namespace: str | None
    """``None``: the API server."""
    source: Mapping[str, Any]
    namespace: str | None
    """Destination namespace; ``None``: any namespace."""
    to: Mapping[str, Any]
    ports: list[int]
    reason: str


@dataclass
class Model:
    namespaces: dict[str, Namespace]
    pods: list[Pod]
    policies: dict[str, list[Policy]] = field(default_factory=dict)
    municipality_namespaces: dict[str, str] = field(default_factory=dict)
    """Namespace -> municipality slug."""
    namespace_files: dict[str, str] = field(default_factory=dict)
    sources: list[PlanObject] = field(default_factory=list)
    """The plan objects the concrete pods come from."""
    cni: str = CNI_KUBERNETES
    """How ``ipBlock`` peers match (:data:`CNI_MODELS`)."""
    memo: dict = field(default_factory=dict, repr=False, compare=False)
    """Derived facts (:func:`_namespaces_matching`, :func:`_peer_namespaces`), computed once per model; shared by the
    models :func:`with_cni` derives (entries that depend on the CNI model name it in their key)."""


def with_cni(model: Model, cni: str) -> Model:
    """The same pods and policies as a CNI of model ``cni`` sees them (:data:`CNI_MODELS`)."""
    if cni not in CNI_MODELS:
        raise ValueError(f"unknown CNI model {cni!r}: one of {', '.join(CNI_MODELS)}")
    return dataclasses.replace(model, cni=cni)


# -- selectors ------------------------------------------------------------------------------------------

def selector_matches(sel: Mapping[str, Any] | None, fixed: Mapping[str, str], open_labels: bool,
                     forbidden: Mapping[str, set[str]] | None = None) -> bool:
    """Whether a label selector matches (or, for open label sets, could match) a label set.

    ``fixed`` are labels known to be there; with ``open_labels`` any further label may be there too.
    ``forbidden`` maps a key to values it cannot take (a namespace outside the plan cannot be named like one
    inside it). A missing or empty selector matches everything.
    """
    sel = sel or {}
    forbidden = forbidden or {}
    wanted = dict(sel.get("matchLabels") or {})
    for key, value in wanted.items():
        if key in fixed:
            if fixed[key] != value:
                return False
        elif not open_labels or value in forbidden.get(key, set()):
            return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if key in fixed:
            present, value = True, fixed[key]
            ok = {"In": value in values, "NotIn": value not in values, "Exists": True,
                  "DoesNotExist": False}.get(op, False)
            if not (present and ok):
                return False
        elif key in wanted:
            continue_ok = {"In": wanted[key] in values, "NotIn": wanted[key] not in values, "Exists": True,
                           "DoesNotExist": False}.get(op, False)
            if not continue_ok:
                return False
        elif not open_labels:
            if op in ("In", "Exists"):
                return False
        elif op == "In" and not (values - forbidden.get(key, set())):
            return False
    return True


def selects_every_pod(sel: Mapping[str, Any] | None) -> bool:
    """An empty selector selects every pod, whatever its labels."""
    sel = sel or {}
    return not sel.get("matchLabels") and not sel.get("matchExpressions")


def namespace_matches(sel: Mapping[str, Any], ns: Namespace, model: Model) -> bool:
    forbidden = {NS_NAME_LABEL: set(model.namespaces)} if ns.name == OTHER_NAMESPACE else None
    return selector_matches(sel, ns.labels, ns.open_labels, forbidden)


def pod_matches(sel: Mapping[str, Any] | None, pod: Pod) -> bool:
    return selector_matches(sel, pod.labels, pod.open_labels)


# -- ports ------------------------------------------------------------------------------------------------

ALL_PORTS = None
"""A port set of ``None`` means every port."""


def _rule_ports(rule: Mapping[str, Any], dest: Pod) -> frozenset | None:
    """Ports a rule opens towards ``dest``: ``None`` for all, else ``(proto, lo, hi)`` or ``(proto, name)``."""
    ports = rule.get("ports") or []
    if not ports:
        return ALL_PORTS
    out = set()
    for p in ports:
        proto = p.get("protocol", "TCP")
        port = p.get("port")
        if port is None:
            out.add((proto, 1, 65535))
        elif isinstance(port, str) and not port.isdigit():
            if dest.ports is None:
                out.add((proto, port))
            elif port in dest.ports:
                out.add((proto, dest.ports[port], dest.ports[port]))
        else:
            lo = int(port)
            out.add((proto, lo, int(p.get("endPort", lo))))
    return frozenset(out)


def _union(a: frozenset | None, b: frozenset | None) -> frozenset | None:
    if a is ALL_PORTS or b is ALL_PORTS:
        return ALL_PORTS
    return a | b


def _intersect(a: frozenset | None, b: frozenset | None) -> frozenset | None:
    if a is ALL_PORTS:
        return b
    if b is ALL_PORTS:
        return a
    out = set()
    for x in a:
        for y in b:
            if x[0] != y[0]:
                continue
            if len(x) == 3 and len(y) == 3:
                lo, hi = max(x[1], y[1]), min(x[2], y[2])
                if lo <= hi:
                    out.add((x[0], lo, hi))
            elif len(x) == 2 and len(y) == 2:
                if x[1] == y[1]:
                    out.add(x)
            else:  # a named port of a pod whose ports are unknown may be any number
                out.add(x if len(x) == 3 else y)
    return frozenset(out)


def describe_ports(ports: frozenset | None) -> str:
    if ports is ALL_PORTS:
        return "every port"
    parts = []
    for p in sorted(ports, key=str):
        parts.append(f"{p[1]}/{p[0]}" if len(p) == 2 else
                     (f"{p[1]}/{p[0]}" if p[1] == p[2] else f"{p[1]}-{p[2]}/{p[0]}"))
    return ", ".join(parts)


# -- peers ------------------------------------------------------------------------------------------------

def _ip_block_scope(block: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(may match pods, may match addresses outside the cluster)`` of an ``ipBlock``."""
    return _cidr_scope(str(block["cidr"]), tuple(str(e) for e in block.get("except") or []))


@lru_cache(maxsize=4096)
def _cidr_scope(cidr: str, except_: tuple[str, ...]) -> tuple[bool, bool]:
    """:func:`_ip_block_scope` of one CIDR and its exceptions (cached: parsing the addresses was most of the check's
    time, the same few blocks being judged for every pod pair)."""
    net = ipaddress.ip_network(cidr, strict=False)
    excepts = [ipaddress.ip_network(e, strict=False) for e in except_]
    pods = False
    for pod_net in POD_NETWORK:
        if pod_net.version != net.version or not net.overlaps(pod_net):
            continue
        inner = pod_net if net.supernet_of(pod_net) else net
        if not any(e.version == inner.version and e.supernet_of(inner) for e in excepts):
            pods = True
    outside = not any(pod_net.version == net.version and pod_net.supernet_of(net) for pod_net in POD_NETWORK)
    if outside and any(e.version == net.version and e.supernet_of(net) for e in excepts):
        outside = False
    return pods, outside


def peer_matches(peer: Mapping[str, Any], policy_ns: str, other: Pod, model: Model) -> bool:
    """Whether a rule's peer (``from`` / ``to`` entry) of a policy in ``policy_ns`` matches pod ``other``."""
    if "ipBlock" in peer:
        may_pods, may_outside = _ip_block_scope(peer["ipBlock"])
        if model.cni == CNI_IPBLOCK_BLIND:
            may_pods = False  # Cilium: CIDR rules never select cluster endpoints
        return may_outside if other.external else may_pods
    if other.external:
        return False
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    if ns_sel is None:
        if other.namespace != policy_ns:
            return False
    elif not namespace_matches(ns_sel, model.namespaces[other.namespace], model):
        return False
    return pod_sel is None or pod_matches(pod_sel, other)


def _policies_for(pod: Pod, direction: str, model: Model) -> list[Policy] | None:
    """Policies that (may) select ``pod`` in ``direction``; ``None`` when the pod is open in it."""
    attr = direction.lower()
    candidates = [p for p in model.policies.get(pod.namespace, []) if getattr(p, attr) is not None]
    if pod.open_labels:
        if not any(selects_every_pod(p.pod_selector) for p in candidates):
            return None  # labels can be chosen so that no policy selects it
        return [p for p in candidates if pod_matches(p.pod_selector, pod)]
    chosen = [p for p in candidates if pod_matches(p.pod_selector, pod)]
    return chosen or None


def allowed_ports(pod: Pod, direction: str, other: Pod, dest: Pod, model: Model) -> tuple[frozenset | None, list[str]]:
    """Ports ``pod``'s policies of ``direction`` allow towards/from ``other`` (``dest`` names the ports)."""
    if pod.external:
        return ALL_PORTS, ["(nothing restricts traffic from outside the cluster)"]
    policies = _policies_for(pod, direction, model)
    if policies is None:
        return ALL_PORTS, [f"no {direction} NetworkPolicy selects {pod.description}"]
    ports: frozenset | None = frozenset()
    why = []
    for pol in policies:
        for rule in getattr(pol, direction.lower()):
            peers = rule.get("from" if direction == "Ingress" else "to") or []
            if peers and not any(peer_matches(peer, pol.namespace, other, model) for peer in peers):
                continue
            rule_ports = _rule_ports(rule, dest)
            if rule_ports is not ALL_PORTS and not rule_ports:
                continue
            ports = _union(ports, rule_ports)
            why.append(pol.file)
    return ports, sorted(set(why))


def connection(src: Pod, dst: Pod, model: Model) -> tuple[frozenset | None, list[str]]:
    """Ports on which ``src`` can open a connection to ``dst`` (empty frozenset: none), and why."""
    eg, eg_why = allowed_ports(src, "Egress", dst, dst, model)
    if eg is not ALL_PORTS and not eg:
        return frozenset(), []
    ing, ing_why = allowed_ports(dst, "Ingress", src, dst, model)
    ports = _intersect(eg, ing)
    return ports, [*(f"egress: {w}" for w in eg_why), *(f"ingress: {w}" for w in ing_why)]


# -- which pods can matter at all (keeps the analysis linear in the number of municipalities) ---------------------

def _namespaces_matching(sel: Mapping[str, Any], model: Model) -> frozenset[str]:
    """Every namespace of the model that ``sel`` matches (:func:`namespace_matches`), computed once per selector.

    Only namespaces that carry the selector's first ``matchLabels`` pair, or lack its key (open label sets such as
    :data:`OTHER_NAMESPACE`), are tried: a selector naming one municipality's namespace costs one test, not one per
    namespace."""
    key = ("namespaces", json.dumps(sel, sort_keys=True, default=str))
    found = model.memo.get(key)
    if found is None:
        tried: Iterable[Namespace] = model.namespaces.values()
        wanted = (sel or {}).get("matchLabels") or {}
        if wanted:
            label, value = next(iter(wanted.items()))
            index = model.memo.get(("label-index", label))
            if index is None:
                index = {}
                for ns in model.namespaces.values():  # None: namespaces without the label (open ones may match)
                    index.setdefault(ns.labels.get(label), []).append(ns)
                model.memo[("label-index", label)] = index
            if isinstance(value, str):
                tried = [*index.get(value, []), *index.get(None, [])]
        found = frozenset(ns.name for ns in tried if namespace_matches(sel, ns, model))
        model.memo[key] = found
    return found


ANY_NAMESPACE = None
""":func:`_peer_namespaces` of a pod whose policies (may) admit pods of every namespace."""


def _peer_namespaces(pod: Pod, direction: str, model: Model) -> frozenset[str] | None:
    """The namespaces (:data:`OUTSIDE_CLUSTER` included) of every pod that ``pod``'s policies of ``direction`` may
    admit as a peer: a superset, read from the peers' namespace parts alone (:func:`peer_matches` never matches a
    pod outside them). :data:`ANY_NAMESPACE` when the pod is open in that direction, a rule has no peers, or an
    ``ipBlock`` may match pod addresses. A pod outside these namespaces gets no port from :func:`allowed_ports`,
    so :func:`connection` finds none: the check need not ask."""
    key = ("peers", id(pod), direction, model.cni)
    cached = model.memo.get(key)
    if cached is not None and cached[0] is pod:
        return cached[1]
    out: set[str] | None = set()
    policies = None if pod.external else _policies_for(pod, direction, model)
    if policies is None:
        out = ANY_NAMESPACE
    for pol in policies or []:
        for rule in getattr(pol, direction.lower()):
            peers = rule.get("from" if direction == "Ingress" else "to") or []
            if not peers:
                out = ANY_NAMESPACE
            for peer in peers:
                if out is ANY_NAMESPACE:
                    break
                if "ipBlock" in peer:
                    may_pods, may_outside = _ip_block_scope(peer["ipBlock"])
                    if may_pods and model.cni != CNI_IPBLOCK_BLIND:
                        out = ANY_NAMESPACE
                    elif may_outside:
                        out.add(OUTSIDE_CLUSTER)
                elif peer.get("namespaceSelector") is None:
                    out.add(pol.namespace)
                else:
                    out |= _namespaces_matching(peer["namespaceSelector"], model)
            if out is ANY_NAMESPACE:
                break
        if out is ANY_NAMESPACE:
            break
    result = None if out is ANY_NAMESPACE else frozenset(out)
    model.memo[key] = (pod, result)
    return result


def _sources_that_may_reach(dst: Pod, model: Model) -> list[Pod]:
    """Every pod of ``model.pods`` (in that order) that may open a connection to ``dst``: in a namespace ``dst``'s
    ingress admits, with egress towards ``dst``'s namespace. For every other pod :func:`connection` finds no port."""
    memo = model.memo.get(("by-namespace",))
    if memo is None:
        by_ns: dict[str, list[tuple[int, Pod]]] = {}
        for i, pod in enumerate(model.pods):
            by_ns.setdefault(pod.namespace, []).append((i, pod))
        memo = model.memo[("by-namespace",)] = by_ns
    admitted = _peer_namespaces(dst, "Ingress", model)
    if admitted is ANY_NAMESPACE:
        candidates = list(enumerate(model.pods))
    else:
        candidates = sorted((entry for ns in admitted for entry in memo.get(ns, [])), key=lambda e: e[0])
    out = []
    for _, src in candidates:
        egress = _peer_namespaces(src, "Egress", model)
        if egress is ANY_NAMESPACE or dst.namespace in egress:
            out.append(src)
    return out


# -- building the model from the plan ------------------------------------------------------------------------

def _container_ports(template: manifests.PodTemplate) -> dict[str, int]:
    out = {}
    for container in template.containers(("containers", "initContainers")):
        for p in container.body.get("ports") or []:
            if p.get("name"):
                out[p["name"]] = int(p["containerPort"])
    return out


def pods_of(po: PlanObject, rel: str) -> list[Pod]:
    """The pods an object makes (none for objects that make no pods).

    A workload's or Pod's own template, whoever made it. The pods of the CRs in ``EXPANDED_WITH_PODS`` are the
    operator-made objects of the plan (``urbanstack/cluster_model/``), so this derives none from the CR: it
    would count them twice. Only a CloudNativePG ``Pooler``, which the cluster model does not expand, gets its
    pod here (labels ``cnpg.io/poolerName`` and ``cnpg.io/podRole: pooler``, cloudnative-pg ``pkg/specs/pgbouncer/deployments.go``, its test names both)."""
    ns = po.namespace or "default"
    obj = po.obj
    desc = f"pods of {po.ref()}"
    template = manifests.workload_pod(obj)
    if template is not None:
        return [Pod(ns, template.labels, po.ref() if po.kind == "Pod" else desc, rel, _container_ports(template))]
    group = po.api_version.split("/")[0]
    if group == "postgresql.cnpg.io" and po.kind == "Pooler":
        tmpl_labels = next((t.labels for t in manifests.pod_templates(obj)), {})
        return [Pod(ns, {**tmpl_labels, "cnpg.io/poolerName": po.name, "cnpg.io/podRole": "pooler"}, desc, rel,
                    dict(CNPG_POOLER_PORTS))]
    return []


def _policy(po: PlanObject, rel: str) -> Policy:
    spec = po.obj.get("spec") or {}
    types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
    return Policy(
        namespace=po.namespace or "default", name=po.name, file=rel,
        pod_selector=spec.get("podSelector") or {},
        ingress=list(spec.get("ingress") or []) if "Ingress" in types else None,
        egress=list(spec.get("egress") or []) if "Egress" in types else None,
    )


def _referenced_namespaces(policies: Iterable[Policy]) -> set[str]:
    out = set()
    for pol in policies:
        for rule in [*(pol.ingress or []), *(pol.egress or [])]:
            for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                name = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get(NS_NAME_LABEL)
                if name:
                    out.add(name)
    return out


def missing_operator_objects(plan: Plan) -> list[Failure]:
    """A CR whose pods only the operator-made objects of the plan show (``EXPANDED_WITH_PODS``), while its
    stack has none of them in that namespace (a plan written before the operator model, or a broken one)."""
    made = {(po.stack, po.path.parent.name, po.namespace) for po in plan.objects if po.origin == "operator"}
    return [Failure(plan.rel(po.path), RULE_OPERATOR,
                    f"{po.ref()}: the plan has no operator-made objects for it ({po.stack}/operator-{po.kind.lower()}/), "
                    f"so its pods are missing from the reachability model; write the plan again (urbanstack plan)")
            for po in plan.objects
            if po.origin != "operator" and (po.api_version.split("/")[0], po.kind) in EXPANDED_WITH_PODS
            and (po.stack, f"operator-{po.kind.lower()}", po.namespace) not in made]


def build_model(plan: Plan) -> Model:
    namespaces: dict[str, Namespace] = {}
    municipality_ns: dict[str, str] = {}
    ns_files: dict[str, str] = {}
    pods: list[Pod] = []
    policies: dict[str, list[Policy]] = {}
    sources: list[PlanObject] = []
    for po in plan.objects:
        rel = plan.rel(po.path)
        if po.kind == "Namespace" and po.api_version == "v1":
            namespaces[po.name] = Namespace(po.name, {**po.labels, NS_NAME_LABEL: po.name}, open_labels=False)
            ns_files[po.name] = rel
            if po.stack in plan.slug_of:
                municipality_ns[po.name] = plan.slug_of[po.stack]
        elif po.kind == "NetworkPolicy" and po.api_version.startswith("networking.k8s.io/"):
            pol = _policy(po, rel)
            policies.setdefault(pol.namespace, []).append(pol)
        else:
            made = pods_of(po, rel)
            if made:
                sources.append(po)
            pods += made
    for name in {*(p.namespace for p in pods), *policies, *_referenced_namespaces(
            p for pols in policies.values() for p in pols)}:
        namespaces.setdefault(name, Namespace(name, {NS_NAME_LABEL: name}, open_labels=True))
    for pod in pods:
        tenant = pod.labels.get(labels.TENANT)
        pod.tenant = tenant if tenant in plan.tenants else municipality_ns.get(pod.namespace)
    for name in sorted(namespaces):
        pods.append(Pod(name, {}, f"any other pod in namespace {name}", None, None, open_labels=True,
                        tenant=municipality_ns.get(name)))
    namespaces[OTHER_NAMESPACE] = Namespace(OTHER_NAMESPACE, {}, open_labels=True)
    pods.append(Pod(OTHER_NAMESPACE, {}, f"any pod in {OTHER_NAMESPACE}", None, None, open_labels=True))
    pods.append(Pod(OUTSIDE_CLUSTER, {}, f"a client {OUTSIDE_CLUSTER}", None, None, open_labels=True))
    return Model(namespaces, pods, policies, municipality_ns, ns_files, sources)


# -- platform flows ---------------------------------------------------------------------------------------------

def load_flows(path: Path = FLOWS_FILE) -> list[Flow]:
    flows = []
    for where, entry in list_entries(path, "flows", "flows"):
        missing = [k for k in ("from", "to", "ports", "reason") if not entry.get(k)]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        flows.append(Flow(entry["from"], entry["to"], [int(p) for p in entry["ports"]], entry["reason"]))
    return flows


def load_required(path: Path = FLOWS_FILE) -> list[RequiredFlow]:
    out = []
    for where, entry in list_entries(path, "required flows", "required"):
        missing = [k for k in ("name", "from", "to", "ports", "reason") if not entry.get(k)]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        src = entry["from"]
        if src != API_SERVER and not (isinstance(src, Mapping) and src.get("namespace")):
            raise ValueError(f"{where}.from: give '{API_SERVER}' or a namespace (and pods)")
        to = entry["to"]
        if not isinstance(to, Mapping) or "pods" not in to:
            raise ValueError(f"{where}.to: give pods (a label selector) and optionally a namespace")
        out.append(RequiredFlow(
            entry["name"], None if src == API_SERVER else src["namespace"],
            {} if src == API_SERVER else (src.get("pods") or {}), to.get("namespace"), to["pods"] or {},
            [int(p) for p in entry["ports"]], entry["reason"]))
    return out


@dataclass
class ForbiddenFlow:
    """A connection that must not exist: from pods (or every municipality's pods) to pods, on any port."""

    name: str
    source_namespace: str | None
    """``None``: every municipality namespace."""
    source: Mapping[str, Any]
    namespace: str | None
    to: Mapping[str, Any]
    reason: str


def load_forbidden(path: Path = FLOWS_FILE) -> list[ForbiddenFlow]:
    out = []
    for where, entry in list_entries(path, "forbidden flows", "forbidden"):
        missing = [k for k in ("name", "from", "to", "reason") if not entry.get(k)]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        src, to = entry["from"], entry["to"]
        if src != MUNICIPALITIES and not (isinstance(src, Mapping) and src.get("namespace")):
            raise ValueError(f"{where}.from: give '{MUNICIPALITIES}' or a namespace (and pods)")
        if not isinstance(to, Mapping) or "pods" not in to:
            raise ValueError(f"{where}.to: give pods (a label selector) and optionally a namespace")
        out.append(ForbiddenFlow(entry["name"], None if src == MUNICIPALITIES else src["namespace"],
                                 {} if src == MUNICIPALITIES else (src.get("pods") or {}), to.get("namespace"),
                                 to["pods"] or {}, entry["reason"]))
    return out


def check_forbidden(model: Model, flows: list[ForbiddenFlow]) -> tuple[list[Failure], int]:
    """Failures of the forbidden flows (every pod that matches the source, symbolic ones included, against every
    concrete destination) and the number of pod pairs looked at."""
    failures, pairs = [], 0
    for flow in flows:
        if flow.source_namespace is None:
            sources = [p for p in model.pods if p.namespace in model.municipality_namespaces]
        else:
            sources = [p for p in model.pods if p.namespace == flow.source_namespace
                       and (p.open_labels or pod_matches(flow.source, p))]
        dests = [p for p in model.pods if not p.open_labels and not p.external
                 and (flow.namespace is None or p.namespace == flow.namespace) and pod_matches(flow.to, p)]
        for src in sources:
            for dst in dests:
                pairs += 1
                ports, why = connection(src, dst, model)
                if ports is not ALL_PORTS and not ports:
                    continue
                failures.append(Failure(
                    dst.file or model.namespace_files.get(dst.namespace, dst.namespace), RULE_FORBIDDEN,
                    f"{src.description} can reach {dst.description} on {describe_ports(ports)} "
                    f"(allowed by {'; '.join(why)}), which {flow.name} forbids ({FLOWS_FILE.relative_to(ROOT)}): "
                    f"{' '.join(flow.reason.split())}"))
    return failures, pairs


def _port_open(ports: frozenset | None, port: int) -> bool:
    if ports is ALL_PORTS:
        return True
    return any(len(p) == 3 and p[0] == "TCP" and p[1] <= port <= p[2] for p in ports)


def check_required(model: Model, flows: list[RequiredFlow], failed: set | None = None
                   ) -> tuple[list[Failure], int, list[str]]:
    """Failures of the required flows, the number of pod pairs looked at, and the flows without pods.

    ``failed`` collects ``(flow, source, destination)`` of every failure; one already in it (found on another CNI
    model) is not reported again."""
    failed = set() if failed is None else failed
    api_server = Pod(OUTSIDE_CLUSTER, {}, "the API server", None, {}, open_labels=False)
    concrete = [p for p in model.pods if not p.open_labels and not p.external]
    failures, pairs, absent = [], 0, []
    for flow in flows:
        sources = [api_server] if flow.source_namespace is None else [
            p for p in concrete if p.namespace == flow.source_namespace and pod_matches(flow.source, p)]
        dests = [p for p in concrete if (flow.namespace is None or p.namespace == flow.namespace)
                 and pod_matches(flow.to, p)]
        if not sources or not dests:
            absent.append(flow.name)
            continue
        for src in sources:
            for dst in dests:  # a pod template stands for all its replicas: it may need to reach itself
                pairs += 1
                ports, _ = connection(src, dst, model)
                closed = [p for p in flow.ports if not _port_open(ports, p)]
                key = (flow.name, id(src) if src is not api_server else None, id(dst))
                if closed and key not in failed:
                    failed.add(key)
                    cni = "" if model.cni == CNI_KUBERNETES else \
                        f" (CNI model {model.cni}: an ipBlock never matches a pod address there)"
                    failures.append(Failure(
                        dst.file or model.namespace_files.get(dst.namespace, dst.namespace), RULE_REQUIRED,
                        f"{src.description} cannot reach {dst.description} on "
                        f"{', '.join(f'{p}/TCP' for p in closed)}{cni}, which {flow.name} needs "
                        f"({FLOWS_FILE.relative_to(ROOT)}): {' '.join(flow.reason.split())}"))
    return failures, pairs, absent


def _flow_allows(flow: Flow, src: Pod, dst: Pod, ports: frozenset | None) -> bool:
    if src.namespace != flow.source_namespace or not pod_matches(flow.to, dst):
        return False
    if ports is ALL_PORTS:
        return False
    allowed = set(flow.ports)
    for p in ports:
        if len(p) == 2:
            if dst.ports is not None:
                return False
            continue  # a named port of a pod whose ports are unknown: the numeric part decides
        if not set(range(p[1], p[2] + 1)) <= allowed:
            return False
    return True


# -- the check ---------------------------------------------------------------------------------------------------

def _pairs_judged(model: Model, targets: list[Pod]) -> int:
    """How many ``(source, municipality pod)`` pairs the isolation and entry rules judge: every other pod than the
    target whose municipality differs (``cross``) or that enters the target's municipality namespace from outside
    it (``entering``); counted from per-namespace and per-municipality totals instead of pair by pair."""
    tenanted = sum(1 for p in model.pods if p.tenant is not None)
    by_tenant = Counter(p.tenant for p in model.pods if p.tenant is not None)
    by_ns = Counter(p.namespace for p in model.pods)
    tenanted_by_ns = Counter(p.namespace for p in model.pods if p.tenant is not None)
    by_ns_tenant = Counter((p.namespace, p.tenant) for p in model.pods if p.tenant is not None)
    total = len(model.pods)
    pairs = 0
    for dst in targets:
        cross = tenanted - by_tenant[dst.tenant]  # dst itself has dst.tenant: not counted
        if dst.namespace not in model.municipality_namespaces:
            pairs += cross
            continue
        entering = total - by_ns[dst.namespace]  # dst itself is in its namespace: not counted
        cross_in_ns = tenanted_by_ns[dst.namespace] - by_ns_tenant[(dst.namespace, dst.tenant)]
        pairs += entering + cross_in_ns  # |cross ∪ entering| = |entering| + |cross within dst's namespace|
    return pairs


@per_cell
def run(plan: Plan, flows_file: Path = FLOWS_FILE, cnis: tuple[str, ...] = CNI_MODELS) -> CheckResult:
    """The check on the CNI models ``cnis`` (all by default): isolation on the most permissive of them (on
    ``kubernetes`` it implies isolation on ``ipblock_blind``, which only removes matches), required flows on each."""
    built = build_model(plan)
    model = with_cni(built, CNI_KUBERNETES if CNI_KUBERNETES in cnis else cnis[0])
    flows = load_flows(flows_file)
    required = load_required(flows_file)
    forbidden = load_forbidden(flows_file)
    failures: list[Failure] = missing_operator_objects(plan)
    targets = [p for p in model.pods if p.tenant is not None]
    pairs = _pairs_judged(model, targets)
    for dst in targets:
        dst_ns_tenant = model.municipality_namespaces.get(dst.namespace)
        # Only the pods that may reach dst at all (its ingress admits their namespace, their egress dst's): every
        # other pair has no port (counted in ``pairs`` all the same). Asking every pod about every municipality pod
        # grew with the square of the number of municipalities.
        for src in _sources_that_may_reach(dst, model):
            if src is dst:
                continue
            cross = src.tenant is not None and src.tenant != dst.tenant
            entering = dst_ns_tenant is not None and src.namespace != dst.namespace
            if not (cross or entering):
                continue
            ports, why = connection(src, dst, model)
            if ports is not ALL_PORTS and not ports:
                continue
            where = f"{describe_ports(ports)}; allowed by {'; '.join(why)}"
            file = dst.file or next((w.split(": ", 1)[1] for w in why if w.startswith("ingress: ")
                                     and w.endswith(".yaml")), model.namespace_files.get(dst.namespace, dst.namespace))
            if cross:
                failures.append(Failure(file, RULE_CROSS,
                                        f"{src.description} (municipality {src.tenant}) can reach {dst.description} "
                                        f"(municipality {dst.tenant}) on {where}"))
            elif src.namespace == names.NS_GATEWAY:
                continue
            elif not any(_flow_allows(f, src, dst, ports) for f in flows):
                failures.append(Failure(file, RULE_ENTRY,
                                        f"{src.description} can reach {dst.description} in municipality namespace "
                                        f"{dst.namespace} on {where}; only the gateway ({names.NS_GATEWAY}) and the "
                                        f"flows of {FLOWS_FILE.relative_to(ROOT)} may"))
    required_pairs = 0
    failed: set = set()
    for cni in cnis:
        required_failures, pairs_cni, absent = check_required(with_cni(built, cni), required, failed)
        failures += required_failures
        required_pairs += pairs_cni
    forbidden_failures, forbidden_pairs = check_forbidden(model, forbidden)
    failures += forbidden_failures
    required_pairs += forbidden_pairs
    n_policies = sum(len(v) for v in model.policies.values())
    concrete = sum(1 for p in model.pods if not p.open_labels)
    absent_text = f" ({len(absent)} without pods in the plan: {', '.join(absent)})" if absent else ""
    return CheckResult(NAME, pairs + required_pairs, "pod pairs", failures, origins=plan.origins,
                       detail=f"{concrete} pods from the plan + {len(model.pods) - concrete} symbolic, "
                              f"{n_policies} NetworkPolicies, {len(model.municipality_namespaces)} municipality "
                              f"namespaces, {len(flows)} listed platform flows, {len(required)} required flows "
                              f"on {len(cnis)} CNI model(s) ({', '.join(cnis)}), {len(forbidden)} forbidden "
                              f"flows{absent_text}")
