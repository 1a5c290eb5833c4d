"""Every module in the catalogue honours the same contract (tests/module_contract.py).

Each module is booked alone by a synthetic municipality (plan `medium`, so scalable workloads run more
than one replica) and its plan is checked. A throw-away module added to the catalogue in the test shows
that the contract catches a module that lacks labels or a security context.
"""

from __future__ import annotations

import sys
import types

import pulumi
import pulumi_kubernetes as k8s
import pytest

from catalogue.modules import CATALOGUE, FILES
from catalogue.sizing import Size, Workload
from catalogue.spec import ModuleOptions, ModuleSpec
from catalogue.tenants import load_all
from components import k8s as kb
from components.module import ModuleComponent
from components.modules import component
from tests.module_contract import check_module
from tests.plan_files import plan_booking


def plan_alone(plan_stack, tmp_path, key, plan_name="medium"):
    return plan_booking(plan_stack, tmp_path / "tenants", {key: {}}, plan_name)


@pytest.mark.parametrize("key", list(CATALOGUE))
def test_every_catalogue_module_honours_the_contract(plan_stack, tmp_path, key):
    plan, tenant = plan_alone(plan_stack, tmp_path, key)
    assert check_module(plan, CATALOGUE[key], tenant) == []


@pytest.mark.parametrize("key", list(CATALOGUE))
def test_a_municipality_that_books_a_module_gets_its_objects_and_one_that_does_not_gets_none(plan_stack, key):
    spec = CATALOGUE[key]
    for slug, tenant in load_all().items():
        objs = [r for r in plan_stack(slug).kube_objects()
                if (r.inputs.get("metadata") or {}).get("labels", {}).get("urban-stack/module") == spec.name]
        if key in tenant.booked():
            kinds = {r.inputs["kind"] for r in objs}
            assert {"HTTPRoute", "NetworkPolicy", "Service"} <= kinds, (slug, key, kinds)
        else:
            assert objs == [], (slug, key)


def test_every_catalogue_module_has_its_component_file_of_the_same_name():
    """Adding a module = its catalogue file (Options, SPEC), one line in the catalogue, its component file."""
    for key, spec in CATALOGUE.items():
        cls = component(key)
        assert cls.SPEC is spec, key
        assert cls.__module__ == f"components.modules.{FILES[key]}", key


def test_module_names_are_unique_and_dns_safe():
    names = [spec.name for spec in CATALOGUE.values()]
    assert len(set(names)) == len(names)
    assert all(n.isalnum() and n.islower() for n in names)


# -- a throw-away module, added to the catalogue only inside these tests ------------------------------------

class SloppyOptions(ModuleOptions):
    """Options of the throw-away module."""


SLOPPY = ModuleSpec(
    key="sloppy", name="sloppy", title="Throw-away module", description="Exists only in a test.",
    options=SloppyOptions, workloads={"web": Workload(Size(100, 128))}, oidc=False,
)


class SloppyComponent(ModuleComponent):
    """Creates one object outside its component (no module label) and a container without securityContext."""

    SPEC = SLOPPY

    def build(self) -> None:
        sel = self.selector("web")
        k8s.apps.v1.Deployment(
            "sloppy-web",
            metadata={"name": "sloppy-web", "namespace": self.ns, "labels": sel},
            spec={"replicas": 1, "selector": {"matchLabels": sel}, "template": {
                "metadata": {"labels": sel},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                         "resources": Size(100, 128).resources()}]}}},
            opts=pulumi.ResourceOptions(parent=self.ctx.namespace_resource, depends_on=[self.ctx.namespace_resource]),
        )
        self.service("web", {"http": 8080})
        self.route("web", 8080)


@pytest.fixture
def sloppy_in_catalogue(monkeypatch):
    """The two parts of a module: its catalogue entry (spec and options) and its component file."""
    component_file = types.ModuleType("components.modules.sloppy")
    component_file.Component = SloppyComponent
    monkeypatch.setitem(sys.modules, "components.modules.sloppy", component_file)
    monkeypatch.setitem(CATALOGUE, "sloppy", SLOPPY)
    monkeypatch.setitem(FILES, "sloppy", "sloppy")
    return SLOPPY


def test_a_throwaway_module_added_to_the_catalogue_is_bookable(plan_stack, tmp_path, sloppy_in_catalogue):
    plan, tenant = plan_alone(plan_stack, tmp_path, "sloppy")
    assert "sloppy" in tenant.booked()
    assert plan.find("Deployment", "sloppy-web")


def test_the_contract_catches_a_module_without_labels_and_security_context(plan_stack, tmp_path, sloppy_in_catalogue):
    plan, tenant = plan_alone(plan_stack, tmp_path, "sloppy")
    problems = check_module(plan, SLOPPY, tenant)
    assert any("sloppy-web: label urban-stack/module is 'tenancy', not 'sloppy'" in p for p in problems), problems
    assert any("container web: no securityContext" in p for p in problems), problems
    assert any("no NetworkPolicy of the module selects its pods" in p for p in problems), problems
    assert any("is not pinned in catalogue/versions.py" in p for p in problems), problems


def test_the_contract_accepts_the_same_module_once_it_uses_the_builders(plan_stack, tmp_path, sloppy_in_catalogue,
                                                                         monkeypatch):
    from components.tenant import netpol

    def build(self):
        self.workload("web", [kb.Container(
            name="web", image="oauth2-proxy", size=self.size("web"), ports={"http": 8080},
            liveness=kb.Probe(port="http", path="/ping"), readiness=kb.Probe(port="http", path="/ready"))])
        self.service("web", {"http": 8080})
        self.route("web", 8080)
        self.policy("web", ingress=[netpol.from_gateway(8080)], egress=[])

    monkeypatch.setattr(SloppyComponent, "build", build)
    plan, tenant = plan_alone(plan_stack, tmp_path, "sloppy")
    assert check_module(plan, SLOPPY, tenant) == []


def test_the_contract_holds_every_module_to_its_data_store_declaration(plan_stack, tmp_path):
    """Offboarding exports what SPEC.data_stores declares: a store left out, or declared wrongly, is caught."""
    import dataclasses

    from catalogue.spec import DataStore

    plan, tenant = plan_alone(plan_stack, tmp_path, "openData")
    spec = CATALOGUE["openData"]
    undeclared = dataclasses.replace(spec, data_stores=())
    problems = check_module(plan, undeclared, tenant)
    assert "module opendata: database ckan is not declared in SPEC.data_stores" in problems
    assert "module opendata: volume storage of workload web is not declared in SPEC.data_stores" in problems
    wrong_path = dataclasses.replace(spec, data_stores=tuple(
        DataStore(d.kind, d.name, d.description, d.workload, d.container, "/elsewhere") if d.kind == "volume" else d
        for d in spec.data_stores))
    assert any("is not mounted at /elsewhere" in p for p in check_module(plan, wrong_path, tenant))


def test_the_contract_holds_the_back_channel_declaration_to_the_pods_and_their_policies(plan_stack, tmp_path):
    """A pod that calls the back channel without the declared label, or a policy towards Keycloak's pods, is a
    violation (issue 23 item 2: only the declared pods, through the Gateway, never to Keycloak directly)."""
    from components.tenant import netpol

    plan, tenant = plan_alone(plan_stack, tmp_path, "dashboards")
    spec = CATALOGUE["dashboards"]
    (web,) = plan.find("Deployment", "dashboards-web")
    del web.inputs["spec"]["template"]["metadata"]["labels"]["urban-stack/oidc-backchannel"]
    (policy,) = plan.find("NetworkPolicy", "dashboards-worker")
    policy.inputs["spec"]["egress"].append({"to": [kb.peer("urban-identity", {"app": "keycloak"})],
                                            "ports": kb.tcp(8080)})
    policy.inputs["spec"]["egress"].append(netpol.to_keycloak(tenant.slug))
    problems = check_module(plan, spec, tenant)
    assert "module dashboards: workload web has pod label urban-stack/oidc-backchannel=None, the catalogue " \
           "declares 'internal'" in problems
    assert any("dashboards-worker has an egress rule towards urban-identity" in p for p in problems)
    assert any(p.startswith("module dashboards: workload worker reaches the Envoy pods on [") for p in problems)


def test_a_back_channel_declaration_names_a_workload_of_the_module_and_a_known_kind():
    base = CATALOGUE["dashboards"]
    kwargs = dict(key="x", name="x", title="x", description="x", options=ModuleOptions, workloads=base.workloads)
    with pytest.raises(ValueError, match="backchannel names 'api', which is not one of its workloads"):
        ModuleSpec(**kwargs, backchannel={"api": "internal"})
    with pytest.raises(ValueError, match="backchannel of 'web' is 'direct', not one of internal, public"):
        ModuleSpec(**kwargs, backchannel={"web": "direct"})
    with pytest.raises(ValueError, match="a back channel needs an OIDC client"):
        ModuleSpec(**kwargs, oidc=False, backchannel={"web": "internal"})
