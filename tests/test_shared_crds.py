"""Every custom resource the shared stack plans is valid against its operator's CRD schema.

Schemas: ``vendor/crds/<group>/<kind>_<version>.json`` (``$URBANSTACK_CRD_DIR`` overrides, as for the checks), published
CRD schemas with ``additionalProperties: false``, so a misspelt or unknown field fails here.
"""

from __future__ import annotations

import pytest

from catalogue.shared_config import SHARED_CONFIG, stack_config
from urbanstack.checks.base import DEFAULT_CRD_DIR
from urbanstack.checks.schemas import crd_schema_path, crd_validator
from urbanstack.plan import manifest, plan_shared

SCHEMA_DIR = DEFAULT_CRD_DIR
BUILTIN_GROUPS = {"", "apps", "batch", "policy", "networking.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
                  "rbac.authorization.k8s.io", "admissionregistration.k8s.io"}


def validator(group: str, kind: str, version: str):
    """The manifest checks' own CRD validator (urbanstack/checks/schemas.py): one implementation."""
    path = crd_schema_path(SCHEMA_DIR, f"{group}/{version}", kind)
    found = crd_validator(path)
    if found is None:
        raise AssertionError(f"no CRD schema for {group}/{version} {kind} ({path}): ask for it, don't skip it")
    return found


def custom_resources(config: dict | None) -> list[dict]:
    plan = plan_shared(config=config)
    out = []
    for r in plan.kube_objects():
        obj = manifest(r.inputs)
        group, _, _ = obj["apiVersion"].rpartition("/")
        if group not in BUILTIN_GROUPS:
            out.append(obj)
    return out


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
def test_every_custom_resource_of_the_shared_plan_matches_its_crd_schema(name):
    objects = custom_resources(VARIANTS[name])
    kinds = {o["kind"] for o in objects}
    assert {"Keycloak", "Cluster", "Gateway", "GatewayClass", "HTTPRoute", "ClusterIssuer", "EnvoyProxy"} <= kinds
    problems = []
    for obj in objects:
        group, _, version = obj["apiVersion"].rpartition("/")
        for err in validator(group, obj["kind"], version).iter_errors(obj):
            path = ".".join(str(p) for p in err.absolute_path)
            problems.append(f"{obj['kind']} {obj['metadata'].get('name')}: {path}: {err.message}")
    assert problems == []


def test_the_validation_catches_an_unknown_field():
    keycloak = {"apiVersion": "k8s.keycloak.org/v2beta1", "kind": "Keycloak", "metadata": {"name": "k"},
                "spec": {"instances": 1, "replica": 2}}
    errors = list(validator("k8s.keycloak.org", "Keycloak", "v2beta1").iter_errors(keycloak))
    assert any("replica" in e.message for e in errors)
