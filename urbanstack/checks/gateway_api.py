"""Gateway API references of the plan: what attaches to what, as Envoy Gateway v1.9.0 resolves it.

Part of the ``references`` check (:func:`urbanstack.checks.references.run`). Over every object of the plan (ours,
chart-rendered and operator-made, e.g. cert-manager's HTTP-01 solver routes):

* a ``ListenerSet``'s ``parentRef`` names a Gateway of the plan, and that Gateway's ``spec.allowedListeners``
  admits the ListenerSet's namespace (the CRD's default is ``None``: no ListenerSet at all; Envoy Gateway v1.9.0
  internal/gatewayapi/listenerset.go ``isListenerSetAllowed`` matches the selector against the Namespace's labels);
* an ``HTTPRoute``'s every ``parentRef`` (kind ``Gateway`` or ``ListenerSet``, ``sectionName`` optional) names
  listeners that exist, whose ``allowedRoutes`` admit the route's namespace (``Same`` is the namespace of the
  Gateway or ListenerSet that holds the listener: internal/gatewayapi/contexts.go ``ListenerContext.GetNamespace``)
  and whose hostname intersects the route's hostnames;
* every listener's ``tls.certificateRefs`` names a Secret the plan creates (or a Certificate's ``secretName``), in
  the listener's own namespace or, across namespaces, with a ``ReferenceGrant`` from that Gateway or ListenerSet
  (internal/gatewayapi/validate.go ``validateTLSConfiguration``);
* the merged listeners of a Gateway (its own, then those of its admitted ListenerSets) are unique by port,
  protocol and hostname, and one port carries one protocol (internal/gatewayapi/validate.go
  ``validateConflictedMergedListeners``, ``validateConflictedProtocolsListeners``): Envoy Gateway marks the later
  listener ``Conflicted`` and drops it, so two municipalities on one back-channel port would leave one without it.

A namespace carries the labels its ``Namespace`` object has in the plan plus ``kubernetes.io/metadata.name``;
a namespace the plan does not create matches a selector only by that name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from urbanstack.checks.base import Failure, Plan, PlanObject

RULE = "references"
GROUP = "gateway.networking.k8s.io"
TLS_FAMILY = {"HTTPS": "HTTPS", "TLS": "HTTPS"}
"""Protocols Envoy Gateway treats as one on a port (internal/gatewayapi/validate.go ``getProtocolForListener``)."""


@dataclass(frozen=True)
class Listener:
    """One listener of a Gateway or a ListenerSet, with the object that holds it."""

    owner: PlanObject
    body: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.body.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.owner.namespace or "")

    @property
    def hostname(self) -> str:
        return str(self.body.get("hostname") or "")

    def display(self) -> str:
        return f"{self.owner.kind} {self.namespace}/{self.owner.name} listener {self.name!r}"


def selector_matches(sel: Mapping[str, Any] | None, found: Mapping[str, str]) -> bool:
    """A label selector (``matchLabels``, ``matchExpressions``) against known labels; empty selects everything."""
    sel = sel or {}
    if any(found.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        ok = {"In": key in found and found[key] in values, "NotIn": key not in found or found[key] not in values,
              "Exists": key in found, "DoesNotExist": key not in found}.get(str(op), False)
        if not ok:
            return False
    return True


def _spec(po: PlanObject) -> dict[str, Any]:
    return po.obj.get("spec") or {}


def _is(po: PlanObject, kind: str) -> bool:
    return po.kind == kind and po.api_version.startswith(f"{GROUP}/")


def hostnames_intersect(listener_host: str, route_hosts: Iterable[str]) -> bool:
    """Gateway API hostname matching: no hostname on either side matches all; ``*.d`` matches names below ``d``."""
    hosts = [str(h) for h in route_hosts]
    if not listener_host or not hosts:
        return True

    def covers(pattern: str, name: str) -> bool:
        return name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:]) and name != pattern[2:])

    return any(covers(listener_host, h) or covers(h, listener_host) for h in hosts)


class GatewayView:
    """The Gateways, ListenerSets, Namespaces and ReferenceGrants of a plan, indexed once."""

    def __init__(self, plan: Plan):
        self.gateways: dict[tuple[str, str], PlanObject] = {}
        self.listener_sets: dict[tuple[str, str], PlanObject] = {}
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.grants: list[PlanObject] = []
        self.routes: list[PlanObject] = []
        for po in plan.objects:
            if _is(po, "Gateway"):
                self.gateways[(str(po.namespace or ""), po.name)] = po
            elif _is(po, "ListenerSet"):
                self.listener_sets[(str(po.namespace or ""), po.name)] = po
            elif _is(po, "HTTPRoute"):
                self.routes.append(po)
            elif po.kind == "ReferenceGrant" and po.api_version.startswith(f"{GROUP}/"):
                self.grants.append(po)
            elif po.kind == "Namespace" and po.api_version == "v1":
                self.namespace_labels[po.name] = dict(po.labels)

    def labels_of(self, namespace: str) -> dict[str, str]:
        return {**self.namespace_labels.get(namespace, {}), "kubernetes.io/metadata.name": namespace}

    def parent_of(self, ls: PlanObject) -> PlanObject | None:
        ref = _spec(ls).get("parentRef") or {}
        if (ref.get("group") or GROUP) != GROUP or (ref.get("kind") or "Gateway") != "Gateway":
            return None
        return self.gateways.get((str(ref.get("namespace") or ls.namespace or ""), str(ref.get("name") or "")))

    def admits(self, gateway: PlanObject, ls: PlanObject) -> bool:
        """``spec.allowedListeners`` of ``gateway`` admits ListenerSet ``ls`` (default ``from: None``)."""
        namespaces = (_spec(gateway).get("allowedListeners") or {}).get("namespaces") or {}
        source = namespaces.get("from") or "None"
        if source == "All":
            return True
        if source == "Same":
            return gateway.namespace == ls.namespace
        if source == "Selector":
            return selector_matches(namespaces.get("selector"), self.labels_of(str(ls.namespace or "")))
        return False

    def attached(self, gateway: PlanObject) -> list[PlanObject]:
        """The ListenerSets of the plan that name ``gateway`` and that it admits, oldest rule aside by name."""
        return sorted((ls for ls in self.listener_sets.values()
                       if self.parent_of(ls) is gateway and self.admits(gateway, ls)),
                      key=lambda ls: (str(ls.namespace or ""), ls.name))

    def listeners_of(self, owner: PlanObject) -> list[Listener]:
        return [Listener(owner, lst) for lst in _spec(owner).get("listeners") or [] if isinstance(lst, dict)]

    def merged(self, gateway: PlanObject) -> list[Listener]:
        """The Gateway's listeners, then those of every admitted ListenerSet (Gateway API precedence)."""
        out = self.listeners_of(gateway)
        for ls in self.attached(gateway):
            out += self.listeners_of(ls)
        return out

    def route_admitted(self, listener: Listener, route: PlanObject) -> bool:
        """``allowedRoutes`` of ``listener`` admits ``route``'s namespace and kind (default ``from: Same``)."""
        allowed = listener.body.get("allowedRoutes") or {}
        kinds = allowed.get("kinds") or []
        if kinds and not any((k.get("group") or GROUP) == GROUP and k.get("kind") == route.kind for k in kinds):
            return False
        namespaces = allowed.get("namespaces") or {}
        source = namespaces.get("from") or "Same"
        route_ns = str(route.namespace or "")
        if source == "All":
            return True
        if source == "Selector":
            return selector_matches(namespaces.get("selector"), self.labels_of(route_ns))
        return route_ns == listener.namespace

    def granted(self, from_kind: str, from_ns: str, to_ns: str, secret: str) -> bool:
        for grant in self.grants:
            if grant.namespace != to_ns:
                continue
            spec = _spec(grant)
            if not any(f.get("group") == GROUP and f.get("kind") == from_kind and f.get("namespace") == from_ns
                       for f in spec.get("from") or []):
                continue
            if any((t.get("group") or "") == "" and t.get("kind") == "Secret" and t.get("name") in (None, secret)
                   for t in spec.get("to") or []):
                return True
        return False


def _route_failures(plan: Plan, view: GatewayView) -> Iterable[Failure]:
    for route in view.routes:
        route_ns = str(route.namespace or "")
        hosts = _spec(route).get("hostnames") or []
        for i, ref in enumerate(_spec(route).get("parentRefs") or []):
            where = f"{route.ref()} parentRefs[{i}]"
            kind, section = ref.get("kind") or "Gateway", ref.get("sectionName")
            key = (str(ref.get("namespace") or route_ns), str(ref.get("name") or ""))
            if (ref.get("group") or GROUP) != GROUP or kind not in ("Gateway", "ListenerSet"):
                yield Failure(plan.rel(route.path), RULE, f"{where}: parent {ref.get('group')}/{kind} is neither a "
                                                          "Gateway nor a ListenerSet")
                continue
            owner = (view.gateways if kind == "Gateway" else view.listener_sets).get(key)
            if owner is None:
                yield Failure(plan.rel(route.path), RULE, f"{where}: {kind} {key[0]}/{key[1]} is created by no "
                                                          "stack of the plan")
                continue
            candidates = [lst for lst in view.listeners_of(owner) if section in (None, lst.name)]
            if not candidates:
                yield Failure(plan.rel(route.path), RULE, f"{where}: {kind} {key[0]}/{key[1]} has no listener "
                                                          f"{section!r}")
                continue
            if not any(view.route_admitted(lst, route) for lst in candidates):
                yield Failure(plan.rel(route.path), RULE,
                              f"{where}: {candidates[0].display()} does not admit HTTPRoutes of namespace "
                              f"{route_ns!r} (allowedRoutes); the route would never attach")
                continue
            if not any(view.route_admitted(lst, route) and hostnames_intersect(lst.hostname, hosts)
                       for lst in candidates):
                yield Failure(plan.rel(route.path), RULE,
                              f"{where}: hostnames {list(hosts)} do not intersect {candidates[0].display()}'s "
                              f"hostname {candidates[0].hostname!r}")


def _listener_set_failures(plan: Plan, view: GatewayView) -> Iterable[Failure]:
    for ls in view.listener_sets.values():
        ref = _spec(ls).get("parentRef") or {}
        gateway = view.parent_of(ls)
        if gateway is None:
            yield Failure(plan.rel(ls.path), RULE, f"{ls.ref()} parentRef: Gateway "
                                                   f"{ref.get('namespace') or ls.namespace}/{ref.get('name')} is "
                                                   "created by no stack of the plan")
        elif not view.admits(gateway, ls):
            yield Failure(plan.rel(ls.path), RULE,
                          f"{ls.ref()}: Gateway {gateway.namespace}/{gateway.name} does not admit ListenerSets from "
                          f"namespace {ls.namespace!r} (spec.allowedListeners); its listeners would never be served")


def _certificate_failures(plan: Plan, view: GatewayView, secrets: set[tuple[str, str, str]]) -> Iterable[Failure]:
    owners = [*view.gateways.values(), *view.listener_sets.values()]
    for owner in owners:
        for lst in view.listeners_of(owner):
            for i, cref in enumerate((lst.body.get("tls") or {}).get("certificateRefs") or []):
                ns = str(cref.get("namespace") or lst.namespace)
                name = str(cref.get("name") or "")
                where = f"{lst.display()} certificateRefs[{i}]"
                if ns != lst.namespace and not view.granted(owner.kind, lst.namespace, ns, name):
                    yield Failure(plan.rel(owner.path), RULE, f"{where}: Secret {ns}/{name} in another namespace "
                                                              f"and no ReferenceGrant there from {owner.kind}s of "
                                                              f"{lst.namespace!r}")
                elif ("Secret", ns, name) not in secrets:
                    yield Failure(plan.rel(owner.path), RULE, f"{where}: Secret {ns}/{name} is created by no object "
                                                              "of the plan (nor a Certificate's secretName)")


def _conflict_failures(plan: Plan, view: GatewayView) -> Iterable[Failure]:
    for gateway in view.gateways.values():
        seen: dict[tuple[int, str, str], Listener] = {}
        protocol_on_port: dict[int, Listener] = {}
        for lst in view.merged(gateway):
            try:
                port = int(lst.body.get("port"))
            except (TypeError, ValueError):
                continue
            protocol = str(lst.body.get("protocol") or "")
            family = TLS_FAMILY.get(protocol, protocol)
            first = protocol_on_port.setdefault(port, lst)
            first_family = TLS_FAMILY.get(str(first.body.get("protocol")), str(first.body.get("protocol")))
            if protocol != "UDP" and first_family != family:
                yield Failure(plan.rel(lst.owner.path), RULE,
                              f"{lst.display()}: port {port} is {first_family} for {first.display()}; one port "
                              "carries one protocol, so Envoy Gateway marks this listener Conflicted")
                continue
            key = (port, protocol, lst.hostname)
            if key in seen:
                yield Failure(plan.rel(lst.owner.path), RULE,
                              f"{lst.display()}: port {port}, protocol {protocol} and hostname "
                              f"{lst.hostname or '(any)'} are those of {seen[key].display()}; Envoy Gateway marks "
                              "the later one Conflicted and serves only the first")
                continue
            seen[key] = lst


def failures(plan: Plan, secrets: set[tuple[str, str, str]]) -> tuple[list[Failure], str]:
    """Every Gateway API reference problem of the plan, and a line of what was looked at."""
    view = GatewayView(plan)
    out = [*_listener_set_failures(plan, view), *_route_failures(plan, view),
           *_certificate_failures(plan, view, secrets), *_conflict_failures(plan, view)]
    listeners = sum(len(view.merged(g)) for g in view.gateways.values())
    detail = (f"{len(view.routes)} HTTPRoutes attached to {len(view.gateways)} Gateway(s) and "
              f"{len(view.listener_sets)} ListenerSet(s), {listeners} merged listeners without conflict")
    return out, detail
