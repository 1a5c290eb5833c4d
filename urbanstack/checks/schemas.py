"""Check: every object validates against the official Kubernetes schema (strict), every custom resource
against the CustomResourceDefinition the plan installs.

* Built-in kinds: the JSON schemas bundled with ``kubernetes-validate`` for :data:`KUBERNETES_VERSION`, in
  **strict** mode (unknown fields are errors, which is what catches typos in field names).
* Custom resources: the CRD of their group and kind that the plan itself installs (a chart's ``crds/`` or CRD
  templates, release manifests: whatever ``CustomResourceDefinition`` objects the plan holds), or, for a kind the
  platform documents as a cluster prerequisite, the CRD file in ``<crd_dir>`` (default ``vendor/crds``, its README
  names each with its version). Judged by that CRD's own ``versions[]`` entry as the API server would
  (``urbanstack/engine/crds.py``): version served (rule ``crd-version``), no field the API server would prune
  (``crd-pruned``), the OpenAPI schema after defaulting (``crd-schema``), every CEL rule (``crd-cel``; a rule that
  cannot be evaluated offline is a failure of its own, ``crd-cel-not-evaluated``, naming CRD, field path and rule);
  ``metadata`` as a strict ``ObjectMeta``. A CR without an installed CRD fails (``crd-installed``).
  The result lists one line per custom resource (:attr:`CheckResult.report`).

Loaded schemas and validators are cached: ``kubernetes-validate`` itself reloads the schema files on every
call (about 15 ms per manifest); cached it is about 1 ms. CEL programs are compiled once per rule text.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from urbanstack.checks.base import CheckResult, Failure, Plan, PlanObject, per_cell
from urbanstack.engine import crds
from urbanstack.engine.planfiles import FAST_LOADER

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


def _where(error: jsonschema.ValidationError, prefix: str = "") -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return (prefix + path).lstrip(".") or "(top level)"


def _errors(validator, obj: Any, prefix: str = "") -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_where(e, prefix)}: {e.message}" for e in errors]


def _may_be_builtin(api_version: str) -> bool:
    """Built-in groups have no dot (``apps``, core ``v1``) or end in ``.k8s.io``; CRD groups such as
    ``gateway.networking.k8s.io`` end in ``.k8s.io`` too, and fall through to their CRD."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _where_installed(po: PlanObject, plan: Plan) -> str:
    """``shared/chart-envoy-gateway (vendor/charts/gateway-helm-v1.9.0 ...)``: the plan folder and what it renders."""
    folder = po.path.parent
    where = f"{po.stack}/{folder.name}" if folder.name != po.stack else f"{po.stack} (this project's code)"
    source = _render_source(folder / "render.json")
    return f"{where} ({source})" if source else where


@cache
def _render_source(path: Path) -> str:
    if not path.is_file():
        return ""
    return str(json.loads(path.read_text(encoding="utf-8")).get("source", ""))


def prerequisite_crds(crd_dir: Path) -> list[tuple[dict[str, Any], str]]:
    """The CRDs of documented cluster prerequisites (``<crd_dir>/*.yaml``, named with their version in its README)."""
    out = []
    for path in sorted(crd_dir.glob("*.yaml")) if crd_dir.is_dir() else []:
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=FAST_LOADER):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                out.append((doc, f"documented cluster prerequisite {path.name}"))
    return out


def installed_crds(plan: Plan) -> tuple[dict[tuple[str, str], crds.InstalledCrd], list[str]]:
    """Every CRD the plan installs, by ``(group, kind)``, then the documented prerequisites'; and conflicts."""
    found = [(po.obj, _where_installed(po, plan)) for po in plan.objects if po.kind == "CustomResourceDefinition"]
    return crds.index_crds([*found, *prerequisite_crds(plan.crd_dir)])


def _metadata_problems(po: PlanObject, version: str) -> list[str]:
    meta = builtin_validator("ConfigMap", "v1", version)
    wrapped = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": po.obj.get("metadata") or {}}
    return [p for p in _errors(meta, wrapped) if p.startswith("metadata")]


def validate_builtin(po: PlanObject, version: str = KUBERNETES_VERSION) -> list[str] | None:
    """Strict schema problems of a built-in object, or ``None`` when its kind is no built-in one."""
    if not _may_be_builtin(po.api_version):
        return None
    builtin = builtin_validator(po.kind, po.api_version, version)
    return None if builtin is None else _errors(builtin, po.obj)


def judge_custom(po: PlanObject, installed: dict[tuple[str, str], crds.InstalledCrd],
                 version: str = KUBERNETES_VERSION) -> tuple[crds.Judgement, list[tuple[str, str]]]:
    """The judgement of one custom resource and its failures ``(rule, message)``, strict ``metadata`` included."""
    judgement = crds.judge(po.obj, installed)
    failures = judgement.failures
    failures += [("crd-schema", p) for p in _metadata_problems(po, version)]
    return judgement, failures


def report_line(po: PlanObject, judgement: crds.Judgement, failures: int) -> str:
    """One custom resource in the check's report: CRD and where the plan installs it, version, schema, CEL rules."""
    a = judgement.admitted
    head = f"{po.ref()} ({po.api_version}, {po.stack})"
    if a.crd is None:
        return f"{head}: no CRD installed"
    if a.problems:
        return f"{head}: CRD {a.crd.name} from {a.crd.source}; version {a.version} NOT served"
    transition = judgement.count("transition")
    return (f"{head}: CRD {a.crd.name} from {a.crd.source}; version {a.version} served; schema: {len(a.pruned)} "
            f"pruned fields, {len(judgement.schema_errors)} errors; CEL rules: {judgement.count('passed')} passed, "
            f"{judgement.count('failed')} failed, {judgement.count('not-evaluated')} not evaluated"
            + (f", {transition} transition rules (update only)" if transition else "")
            + (f"; {failures} failures" if failures else ""))


@per_cell
def run(plan: Plan, version: str = KUBERNETES_VERSION) -> CheckResult:
    failures: list[Failure] = []
    builtin = 0
    installed, conflicts = installed_crds(plan)
    totals: Counter[str] = Counter()
    report: list[str] = []
    failures += [Failure(str(plan.crd_dir), "crd-installed", c) for c in conflicts]
    for po in plan.objects:
        if not po.kind or not po.api_version:
            failures.append(Failure(plan.rel(po.path), "k8s-schema", f"{po.ref()}: apiVersion and kind are required"))
            continue
        problems = validate_builtin(po, version)
        if problems is not None:
            builtin += 1
            found = [("k8s-schema", f"{po.ref()} does not validate against Kubernetes {version} (strict): {p}")
                     for p in problems]
        else:
            judgement, judged = judge_custom(po, installed, version)
            totals["custom"] += 1
            totals["served"] += not judgement.admitted.problems
            totals["pruned"] += len(judgement.admitted.pruned)
            for status in ("passed", "failed", "not-evaluated", "transition"):
                totals[status] += judgement.count(status)
            report.append(report_line(po, judgement, len(judged)))
            found = [(rule, f"{po.ref()} ({po.api_version}): {message}") for rule, message in judged]
        shown = found[:MAX_ERRORS_PER_OBJECT]
        if len(found) > len(shown):
            shown.append((shown[-1][0], f"{po.ref()}: ... and {len(found) - len(shown)} more"))
        failures += [Failure(plan.rel(po.path), rule, message) for rule, message in shown]
    evaluated = totals["passed"] + totals["failed"]
    return CheckResult(NAME, len(plan.objects), "objects", failures, origins=plan.origins,
                       detail=f"{builtin} against Kubernetes {version} strict, {totals['custom']} custom resources "
                              f"against the CRDs the plan installs ({len(installed)} CRDs): {totals['served']} "
                              f"versions served, {totals['pruned']} pruned fields, CEL rules {evaluated} evaluated "
                              f"({totals['failed']} failed), {totals['not-evaluated']} not evaluated, "
                              f"{totals['transition']} transition rules (update only)",
                       report=report)
