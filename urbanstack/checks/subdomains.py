"""Check: every HTTPRoute on the wildcard listener of platform subdomains claims only its own municipality's hosts.

The shared Gateway's listener ``https-subdomains`` (``*.<baseDomain>``, ``components/shared/subdomains.py``) admits
routes from every namespace labelled ``urban-stack/platform-subdomain: "true"``. Unlike a municipality's own listener
(``*.<domain>``), its hostname does not keep one municipality's routes off another's hosts: this check does, over the
rendered plan. A route attached to it must lie in a namespace that carries the label, and each of its hostnames must
be ``<namespace>-<module>.<baseDomain>`` for a module of the catalogue (``catalogue/subdomains.py``, ``route_claims``).
``baseDomain`` is read from the listener's hostname (or the wildcard Certificate) in the plan.
"""

from __future__ import annotations

from catalogue import names, subdomains
from urbanstack.checks.base import CheckResult, Failure, Plan, count_origins, per_cell

NAME = "platform subdomains"
RULE = "subdomain-hosts"


def base_domain(plan: Plan) -> str | None:
    """``baseDomain`` as the plan's wildcard listener (or wildcard Certificate) names it."""
    for po in plan.objects:
        spec = po.obj.get("spec") or {}
        if po.kind == "Gateway":
            for listener in spec.get("listeners") or []:
                if listener.get("name") == names.PLATFORM_SUBDOMAINS_LISTENER and str(
                        listener.get("hostname", "")).startswith("*."):
                    return str(listener["hostname"])[2:]
        if po.kind == "Certificate" and po.name == names.PLATFORM_SUBDOMAINS_TLS_SECRET:
            wildcard = [d for d in spec.get("dnsNames") or [] if str(d).startswith("*.")]
            if wildcard:
                return str(wildcard[0])[2:]
    return None


@per_cell
def run(plan: Plan) -> CheckResult:
    routes = [po for po in plan.objects if po.kind == "HTTPRoute"]
    slugs = {po.name for po in plan.objects if po.kind == "Namespace"
             and po.labels.get(names.PLATFORM_SUBDOMAIN_LABEL) == "true"}
    base = base_domain(plan)
    failures = []
    for po in routes:
        for message in subdomains.route_claims([po.obj], slugs, base or "<baseDomain>"):
            if base is None:
                message += " (and the plan has no wildcard listener or certificate of platform subdomains)"
            failures.append(Failure(plan.rel(po.path), RULE, message))
    return CheckResult(NAME, len(routes), "HTTPRoutes", failures, origins=count_origins(routes))
