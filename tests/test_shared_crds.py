"""Every custom resource the shared stack plans is admitted by the CRD the same plan installs (a chart's ``crds/`` or
CRD templates, the Keycloak operator's release files), in every profile: the CRD is installed, serves the CR's
version, prunes no field of it, and its schema and CEL rules pass (``urbanstack/engine/crds.py``, the schemas check's own
implementation)."""

from __future__ import annotations

import pytest

from catalogue.shared_config import SHARED_CONFIG, stack_config
from urbanstack.engine import crds, render
from urbanstack.engine.plan import manifest, plan_shared


def planned(config: dict | None) -> tuple[list[dict], dict]:
    """The shared stack's own objects and the CRDs its plan installs."""
    plan = plan_shared(config=config)
    ours = [manifest(r.inputs) for r in plan.kube_objects()]
    rendered = [(o, pkg.folder) for pkg in render.render_stack(plan) for o in pkg.objects]
    installed, problems = crds.index_crds([*((o, "shared") for o in ours), *rendered])
    assert problems == []
    return ours, installed


def variant(**keys) -> dict:
    cfg = dict(stack_config(SHARED_CONFIG))
    cfg.update({f"urban-stack:{k}": v for k, v in keys.items()})
    return cfg


VARIANTS = {
    "production-acme-rook": None,
    "dev-internal-ca-rook": variant(profile="dev", tls={"issuer": "internal-ca"}),
    "dev-external-s3": variant(profile="dev", storage={"mode": "external", "blockStorageClass": "standard",
                                                      "external": {"endpoint": "https://s3.example.de"}}),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_every_custom_resource_of_the_shared_plan_is_admitted_by_the_crd_the_plan_installs(name):
    ours, installed = planned(VARIANTS[name])
    custom = [o for o in ours if crds.is_custom(o)]
    assert {"Keycloak", "Cluster", "Gateway", "GatewayClass", "HTTPRoute", "ClusterIssuer", "EnvoyProxy"} <= {
        o["kind"] for o in custom}
    problems = [f"{o['kind']} {o['metadata'].get('name')}: [{rule}] {message}"
                for o in custom for rule, message in crds.judge(o, installed).failures]
    assert problems == []


def test_the_validation_catches_an_unknown_field_the_api_server_would_prune():
    _, installed = planned(None)
    gateway_class = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "g"},
                     "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller", "paramRef": {}}}
    assert crds.judge(gateway_class, installed).admitted.pruned == ["spec.paramRef"]
