"""Check: every object validates against the official Kubernetes schema (strict), every custom resource
against its CRD's schema.

* Built-in kinds: the JSON schemas bundled with ``kubernetes-validate`` for :data:`KUBERNETES_VERSION`, in
  **strict** mode (unknown fields are errors, which is what catches typos in field names).
* Custom resources: the operator's CRD schema from ``<crd_dir>/<group>/<kind>_<version>.json``
  (default ``vendor/crds``, vendored with provenance). Their schemas allow anything at the top level and in ``metadata``, so
  unknown top-level fields are rejected here and ``metadata`` is validated as a strict ``ObjectMeta``.
  A custom resource whose CRD schema is not vendored is validated against the CRD the plan installs (a chart's
  ``crds/``, converted the same strict way); one whose CRD schema is missing altogether is a failure, never a
  silent pass.

Loaded schemas and validators are cached: ``kubernetes-validate`` itself reloads the schema files on every
call (about 15 ms per manifest); cached it is about 1 ms.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from urbanstack.checks.base import CheckResult, Failure, Plan, PlanObject

NAME = "schemas"
KUBERNETES_VERSION = "1.34"
"""The Kubernetes minor version the platform targets (the one place it is pinned for the checks)."""
MAX_ERRORS_PER_OBJECT = 5


def _schema_dir(version: str) -> str:
    chosen = [v for v in kv.all_versions() if _key(kv.major_minor(v)) <= _key(kv.major_minor(version))]
    if not chosen:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    return f"kubernetes-json-schema/v{chosen[-1]}-local-strict"


def _key(minor: str) -> tuple[int, ...]:
    return tuple(int(p) for p in minor.split("."))


@lru_cache(maxsize=1)
def _definitions(version: str) -> Any:
    return kv.schema_contents(f"{_schema_dir(version)}/_definitions.json", version)


@cache
def builtin_validator(kind: str, api_version: str, version: str = KUBERNETES_VERSION):
    """Strict validator of a built-in kind, or ``None`` when Kubernetes has no such kind/apiVersion."""
    group_version = kv.re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{_schema_dir(version)}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(_definitions(version)) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def crd_schema_path(crd_dir: Path, api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return crd_dir / group / f"{kind.lower()}_{version}.json"


@cache
def crd_validator(path: Path):
    """Validator of one CRD schema file, or ``None`` when the file does not exist."""
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    return cls(schema)


def _where(error: jsonschema.ValidationError, prefix: str = "") -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return (prefix + path).lstrip(".") or "(top level)"


def _errors(validator, obj: Any, prefix: str = "") -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_where(e, prefix)}: {e.message}" for e in errors]


def _may_be_builtin(api_version: str) -> bool:
    """Built-in groups have no dot (``apps``, core ``v1``) or end in ``.k8s.io``; CRD groups such as
    ``gateway.networking.k8s.io`` end in ``.k8s.io`` too, and fall through to their CRD schema."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def strict_crd_schema(schema: Any) -> Any:
    """A CRD's ``openAPIV3Schema`` as a strict JSON schema, the way the vendored catalogue converts them.

    The API server prunes fields a structural schema does not name; strict validation reports them instead:
    every object schema with ``properties`` and without ``x-kubernetes-preserve-unknown-fields`` or an
    ``additionalProperties`` of its own gets ``additionalProperties: false``. ``nullable: true`` admits ``null``.
    """
    if isinstance(schema, list):
        return [strict_crd_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_crd_schema(v) if k in ("properties", "items", "additionalProperties", "anyOf", "allOf",
                                           "oneOf", "not") else v for k, v in schema.items()}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: strict_crd_schema(v) for k, v in schema["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def plan_crd_schemas(objects: list[PlanObject]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``(group, kind, version)`` -> strict schema, from the CustomResourceDefinitions the plan installs."""
    out = {}
    for po in objects:
        if po.kind != "CustomResourceDefinition":
            continue
        spec = po.obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        for v in spec.get("versions") or []:
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if kind and schema:
                out[(spec.get("group", ""), kind, v.get("name", ""))] = strict_crd_schema(schema)
    return out


@cache
def _plan_crd_validator(key: tuple[str, str, str], schema_json: str):
    return jsonschema.Draft4Validator(json.loads(schema_json))


def validate_object(po: PlanObject, crd_dir: Path, version: str = KUBERNETES_VERSION,
                    plan_crds: dict[tuple[str, str, str], dict[str, Any]] | None = None) -> tuple[str, list[str]]:
    """``(rule, problems)`` for one object: rule ``k8s-schema`` or ``crd-schema``.

    A custom resource is validated against the vendored schema of its CRD, or, where none is vendored, against
    the CRD that the plan itself installs (``plan_crds``: a chart's own CRDs, e.g. kube-prometheus-stack's).
    """
    if not po.kind or not po.api_version:
        return "k8s-schema", ["apiVersion and kind are required"]
    builtin = builtin_validator(po.kind, po.api_version, version) if _may_be_builtin(po.api_version) else None
    if builtin is not None:
        return "k8s-schema", _errors(builtin, po.obj)
    path = crd_schema_path(crd_dir, po.api_version, po.kind)
    validator = crd_validator(path)
    group, _, crd_version = po.api_version.rpartition("/")
    if validator is None and plan_crds and (group, po.kind, crd_version) in plan_crds:
        key = (group, po.kind, crd_version)
        validator = _plan_crd_validator(key, json.dumps(plan_crds[key], sort_keys=True))
    if validator is None:
        return "crd-schema", [f"no schema for {po.api_version} {po.kind}: {path} does not exist (a custom resource "
                              f"without its CRD schema cannot be checked, so it fails)"]
    problems = _errors(validator, po.obj)
    known = {"apiVersion", "kind", "metadata", *validator.schema.get("properties", {})}
    problems += [f"{key}: unknown top-level field of {po.kind}" for key in po.obj if key not in known]
    meta = builtin_validator("ConfigMap", "v1", version)
    wrapped = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": po.obj.get("metadata") or {}}
    problems += [p for p in _errors(meta, wrapped) if p.startswith("metadata")]
    return "crd-schema", problems


def run(plan: Plan, version: str = KUBERNETES_VERSION) -> CheckResult:
    failures: list[Failure] = []
    builtin = custom = 0
    plan_crds = plan_crd_schemas(plan.objects)
    for po in plan.objects:
        rule, problems = validate_object(po, plan.crd_dir, version, plan_crds)
        if rule == "crd-schema":
            custom += 1
        else:
            builtin += 1
        shown = problems[:MAX_ERRORS_PER_OBJECT]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        schema = f"Kubernetes {version} (strict)" if rule == "k8s-schema" else "its CRD schema"
        for p in shown:
            failures.append(Failure(plan.rel(po.path), rule, f"{po.ref()} does not validate against {schema}: {p}"))
    return CheckResult(NAME, len(plan.objects), "objects", failures, origins=plan.origins,
                       detail=f"{builtin} against Kubernetes {version} strict, {custom} custom resources against "
                              f"CRD schemas")
