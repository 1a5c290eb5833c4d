"""Each municipality's listeners in a ListenerSet in its own namespace, made by its own stack (issue 21): a join
touches no object of the shared stack's gateway, certificates or platform policies, and no listener limit of the
shared Gateway bounds the number of municipalities."""

from __future__ import annotations

import dataclasses
import json

from catalogue import names
from catalogue.shared_config import Tls, load_file
from catalogue.tenants import load_all
from components.base import SharedRefs
from components.shared import gateway as shared_gateway
from components.tenant import gateway
from urbanstack.checks import gateway_api
from urbanstack.engine.plan import plan_shared

SHARED_COMPONENTS = ("urbanstack:shared:gateway", "urbanstack:shared:certificates", "urbanstack:shared:platform")
"""The parts of the shared stack this change owns (identity still lists the municipalities' realm-job clients)."""


def one(plan, kind: str, name: str, namespace: str | None = None) -> dict:
    (found,) = plan.find(kind, name, namespace)
    return found.inputs


def test_a_municipalitys_listeners_live_in_its_own_namespace(plan_stack):
    verl = plan_stack("verl")
    ls = one(verl, "ListenerSet", names.LISTENER_SET, "verl")
    assert ls["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert ls["spec"]["parentRef"] == {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                       "name": names.GATEWAY_NAME, "namespace": names.NS_GATEWAY}
    by_name = {lst["name"]: lst for lst in ls["spec"]["listeners"]}
    assert set(by_name) == {"http", "https", "backchannel"}
    assert (by_name["http"]["port"], by_name["http"]["hostname"]) == (80, "*.urbanstack.verl.example")
    assert (by_name["https"]["port"], by_name["https"]["hostname"]) == (443, "*.urbanstack.verl.example")
    # Its certificate lives next to it: no namespace in the reference, so no ReferenceGrant is needed.
    assert by_name["https"]["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret", "name": "verl-tls"}]
    assert one(verl, "Certificate", "verl-tls", "verl")["spec"]["secretName"] == "verl-tls"
    assert not verl.find("ReferenceGrant")
    for section in ("http", "https"):
        assert by_name[section]["allowedRoutes"]["namespaces"] == {"from": "Same"}
    # Every module route attaches there.
    routes = [r.inputs for r in verl.find("HTTPRoute") if r.inputs["metadata"]["namespace"] == "verl"
              and r.inputs["metadata"]["name"] != "https-redirect"]
    assert routes and all(r["spec"]["parentRefs"] == [gateway.listener_set_ref("verl", "https")] for r in routes)
    # The shared Gateway keeps the platform's listeners only (the wildcard of platform subdomains among them, when
    # the shared config offers them: one for every such municipality, never one per municipality).
    gw = one(plan_stack("shared"), "Gateway", names.GATEWAY_NAME, names.NS_GATEWAY)["spec"]
    assert [lst["name"] for lst in gw["listeners"]] == ["http", "https-platform", "https-admin",
                                                          *([names.PLATFORM_SUBDOMAINS_LISTENER]
                                                            if load_file().tls.platformSubdomains else [])]


def test_the_shared_gateway_admits_listenersets_only_from_municipality_namespaces(plan_stack):
    shared = plan_stack("shared")
    gw = one(shared, "Gateway", names.GATEWAY_NAME, names.NS_GATEWAY)["spec"]
    assert gw["allowedListeners"]["namespaces"]["from"] == "Selector"
    selector = gw["allowedListeners"]["namespaces"]["selector"]
    for slug in load_all():
        namespace = one(plan_stack(slug), "Namespace", slug)
        assert gateway_api.selector_matches(selector, namespace["metadata"]["labels"]), slug
    platform = [r.inputs for r in shared.find("Namespace")]
    assert {ns["metadata"]["name"] for ns in platform} == set(names.PLATFORM_NAMESPACES)
    assert not any(gateway_api.selector_matches(selector, ns["metadata"]["labels"]) for ns in platform)
    assert not gateway_api.selector_matches(selector, {}), "an unlabelled namespace is no municipality"


def test_a_municipalitys_http01_solver_can_only_answer_on_its_own_listenerset(plan_stack):
    verl = plan_stack("verl")
    issuer = one(verl, "Issuer", names.TENANT_ISSUER, "verl")["spec"]["acme"]
    assert issuer["privateKeySecretRef"] == {"name": names.TENANT_ACME_ACCOUNT}
    (solver,) = issuer["solvers"]
    assert solver["selector"] == {"dnsZones": ["urbanstack.verl.example"]}
    assert solver["http01"]["gatewayHTTPRoute"]["parentRefs"] == [gateway.listener_set_ref("verl", "http")]
    assert one(verl, "Certificate", "verl-tls", "verl")["spec"]["issuerRef"] == {
        "group": "cert-manager.io", "kind": "Issuer", "name": names.TENANT_ISSUER}
    # The listener it names serves only the municipality's domain and admits only routes of its namespace.
    listener = next(lst for lst in one(verl, "ListenerSet", names.LISTENER_SET, "verl")["spec"]["listeners"]
                    if lst["name"] == "http")
    assert listener["hostname"] == "*.urbanstack.verl.example"
    assert listener["allowedRoutes"]["namespaces"] == {"from": "Same"}
    # The shared ClusterIssuer answers for the platform's hosts only, on the Gateway's own listener.
    cluster = one(plan_stack("shared"), "ClusterIssuer", names.CLUSTER_ISSUER)["spec"]["acme"]
    (platform,) = [s for s in cluster["solvers"] if "http01" in s]
    assert set(platform["selector"]) == {"dnsNames"}
    assert all(s["selector"]["dnsNames"][0].startswith("*.") for s in cluster["solvers"] if "dns01" in s)
    assert platform["http01"]["gatewayHTTPRoute"]["parentRefs"][0]["kind"] == "Gateway"


def test_with_an_internal_ca_the_municipality_uses_the_shared_ca_issuer_which_needs_no_solver():
    refs = SharedRefs(gateway_name=names.GATEWAY_NAME, gateway_namespace=names.NS_GATEWAY,
                      cluster_issuer=names.CLUSTER_ISSUER, keycloak_url="", s3_endpoint="", s3_mode="external",
                      storage_class="", tls=Tls(issuer="internal-ca"))
    assert not gateway.own_acme_issuer(refs)
    assert gateway.issuer_ref(refs) == {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                        "name": names.CLUSTER_ISSUER}
    assert gateway.own_acme_issuer(dataclasses.replace(refs, tls=Tls(issuer="acme")))


def test_every_http_host_of_a_municipality_is_redirected_on_its_own_listenerset(plan_stack):
    verl = plan_stack("verl")
    route = one(verl, "HTTPRoute", "https-redirect", "verl")["spec"]
    assert route["parentRefs"] == [gateway.listener_set_ref("verl", "http")]
    (rule,) = route["rules"]
    assert rule["filters"] == [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]
    shared = one(plan_stack("shared"), "HTTPRoute", "https-redirect", names.NS_GATEWAY)["spec"]
    assert [ref["sectionName"] for ref in shared["parentRefs"]] == [names.HTTP_LISTENER]


def _owned_parts(plan) -> list[tuple[str, str]]:
    return sorted((r.urn, json.dumps(r.inputs, sort_keys=True)) for r in plan.resources
                  if any(f"{component}$" in r.urn or r.urn.endswith(f"{component}::{r.name}")
                         for component in SHARED_COMPONENTS))


def test_the_shared_stacks_objects_are_identical_with_3_and_with_4_municipalities():
    tenants = load_all()
    four = dict(sorted(tenants.items()))
    three = {slug: t for slug, t in four.items() if slug != "verl"}
    with_three, with_four = _owned_parts(plan_shared(tenants=three)), _owned_parts(plan_shared(tenants=four))
    assert len(with_four) > 50, "the gateway, certificates and platform components are compared"
    assert with_three == with_four


def test_the_number_of_municipalities_is_not_bounded_by_the_shared_gateway():
    """The Gateway's listeners depend on the shared config only; a municipality's ListenerSet holds at most 3 of the
    64 listeners a ListenerSet may have, whatever the number of municipalities."""
    assert len(shared_gateway.listeners(load_file())) == 3 + load_file().tls.platformSubdomains
    spec = gateway.listener_set_spec("verl", "urbanstack.verl.example", names.GATEWAY_NAME, names.NS_GATEWAY, True)
    assert len(spec["listeners"]) == 3 <= shared_gateway.MAX_LISTENERS
    assert [lst["name"] for lst in gateway.listener_set_spec("verl", "urbanstack.verl.example", names.GATEWAY_NAME,
                                                              names.NS_GATEWAY, False)["listeners"]] == ["backchannel"]
