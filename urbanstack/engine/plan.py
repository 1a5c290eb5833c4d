"""The offline plan: every stack's program run under Pulumi's mocks, written as one file per object.

``urbanstack plan --out DIR`` writes, per stack, ``DIR/<stack>/<kind>-<namespace>-<name>.yaml`` (one
Kubernetes object per file; cluster-scoped objects use ``cluster`` as namespace) and
``DIR/<stack>/resources.json`` (every registered resource with its inputs and options). No cluster, no
Pulumi CLI and no engine are involved.

Below each stack's folder, one subfolder per origin that is not this project's own code
(:func:`write_cluster_model`): ``chart-<release>/`` (a Helm chart rendered by Helm, ``urbanstack/engine/render.py``),
``manifests-keycloak-operator/`` (the operator's release manifests) and ``operator-<kind>/`` (what an operator makes
from our custom resources, ``urbanstack/cluster_model/``). The file names follow the same rule.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from catalogue.names import CONFIG_NS, PROJECT
from catalogue.shared_config import ENCRYPTED, OFFSITE_CREDENTIALS, SECRET_ONLY, SHARED_CONFIG, stack_config
from catalogue.tenants import load_all
from clikit.outdir import replace_owned
from components.tenant.identity import federation_secret_ref
from urbanstack.engine.offline import StackPlan, integral_numbers, run_stack
from urbanstack.engine.program import SHARED, build

SHARED_REF = f"organization/{PROJECT}/{SHARED}"
REDACTED = "(secret: not written to the plan)"


def _offline_secrets(cfg: dict[str, Any], refs: list[str]) -> dict[str, Any]:
    """Config secrets live only in the real stack's encrypted config; the offline plan stands in a placeholder
    for each one not given (secret values never reach the plan files)."""
    return {**{f"{CONFIG_NS}:{ref}": ENCRYPTED for ref in refs}, **cfg}


def plan_shared(tenants_dir: Path | None = None, config: dict[str, Any] | None = None,
                tenants: Mapping[str, Any] | None = None, stack: str = SHARED) -> StackPlan:
    """A cell's platform stack: ``shared`` with its own config (``config``, default the shared config file), or
    ``shared.<cell>`` with ``stacks/Pulumi.shared.<cell>.yaml`` (its secrets) over the shared config file."""
    if config is None:
        config = stack_config(SHARED_CONFIG.parent / f"Pulumi.{stack}.yaml")
    cfg = _offline_secrets(config, [*OFFSITE_CREDENTIALS.values(), *SECRET_ONLY])
    plan = run_stack(stack, lambda: build(stack, tenants_dir, tenants), project=PROJECT, config=cfg)
    plan.platform = stack
    plan.cell = _cell_of_stack(stack)
    return plan


def _cell_of_stack(stack: str) -> str:
    from catalogue.shared_config import load_file

    return stack.split(".", 1)[1] if "." in stack else load_file().default_cell


def plan_tenant(slug: str, shared_outputs: dict[str, Any], tenants_dir: Path | None = None,
                config: dict[str, Any] | None = None, tenants: Mapping[str, Any] | None = None,
                stack: str | None = None, platform: str = SHARED) -> StackPlan:
    """A municipality's stack (``stack``: ``<slug>``, or ``<slug>.<cell>`` outside the default cell), reading the
    outputs of its cell's platform stack ``platform``."""
    if tenants is None:
        tenants = load_all([tenants_dir] if tenants_dir else None)
    if stack is None and slug in tenants:  # the municipality's stack in its own cell
        where = resolve(slug, tenants)
        stack, platform = where.stack, where.platform
    stack = stack or slug
    cfg = stack_config(SHARED_CONFIG.parent / f"Pulumi.{stack}.yaml") if config is None else dict(config)
    # Secrets a tenant file refers to (federation credentials) live only in the real stack's encrypted
    # config; the offline plan stands in a placeholder (secret values never reach the plan files).
    tenant = tenants.get(slug)
    ref = federation_secret_ref(tenant) if tenant else None
    cfg = _offline_secrets(cfg, [*([ref] if ref else []), *OFFSITE_CREDENTIALS.values()])
    plan = run_stack(stack, lambda: build(stack, tenants_dir, tenants), project=PROJECT, config=cfg,
                     stack_outputs={f"organization/{PROJECT}/{platform}": shared_outputs})
    plan.platform = platform
    plan.cell = _cell_of_stack(platform)
    return plan


class UnknownStack(ValueError):
    """``--stack`` names neither a cell's platform stack nor a municipality's stack."""


@dataclass(frozen=True)
class Resolved:
    """A stack of the plan: its name, its cell, the cell's platform stack and (a municipality's) slug."""

    stack: str
    cell: str
    platform: str
    slug: str | None


def resolve(name: str, tenants: Mapping[str, Any]) -> Resolved:
    """``name`` as a stack of the plan: a stack name (``shared``, ``shared.<cell>``, ``<slug>``, ``<slug>.<cell>``),
    or a slug, which stands for the municipality's stack in the cell its tenant file names."""
    from catalogue import cells
    from catalogue.shared_config import load_file

    cfg = load_file()
    if name in tenants:
        tenant = tenants[name]
        cell = cells.cell_of(cfg, tenant)
        return Resolved(cells.municipality_stack(cfg, tenant), cell, cells.platform_stack(cfg, cell), name)
    try:
        role = cells.role(name, cfg, tenants)
    except cells.UnknownStack as exc:
        raise UnknownStack(str(exc)) from None
    return Resolved(name, role.cell, cells.platform_stack(cfg, role.cell), role.slug)


def plan_all(tenants_dir: Path | None = None, only: str | None = None,
             step: Callable[[str, int], None] = lambda name, total: None) -> list[StackPlan]:
    """Plan every cell: its platform stack, then each of its members (or only ``only``: a platform stack, or a
    municipality's stack after its cell's platform stack, whose outputs it reads).

    The tenant files are validated once, up front; ``step(name, total)`` is called as each stack starts.
    """
    from catalogue import cells
    from catalogue.shared_config import load_file

    tenants = load_all([tenants_dir] if tenants_dir else None)
    layout = cells.layout(load_file(), tenants)
    if only is not None:
        names = [n for cs in layout for n in (cs.platform, *cs.members.values())]
        if only not in names:
            raise UnknownStack(f"unknown stack '{only}': valid stacks are {', '.join(names)}")
        layout = [cells.CellStacks(cs.cell, cs.platform,
                                   {} if only == cs.platform else {k: v for k, v in cs.members.items() if v == only})
                  for cs in layout if only == cs.platform or only in cs.members.values()]
    total = sum(1 + len(cs.members) for cs in layout)
    plans = []
    for cs in layout:
        step(cs.platform, total)
        platform = plan_shared(tenants_dir, tenants=tenants, stack=cs.platform)
        plans.append(platform)
        for slug, stack in cs.members.items():
            step(stack, total)
            member = plan_tenant(slug, platform.outputs, tenants_dir, tenants=tenants, stack=stack,
                                 platform=cs.platform)
            plans.append(member)
    return plans


def _redact(obj: Any, path: tuple) -> None:
    node = obj
    for key in path[:-1]:
        node = node[key] if isinstance(node, dict | list) else None
        if node is None:
            return
    if not path or not isinstance(node, dict | list):
        return
    value = node[path[-1]]
    # A whole map that is secret keeps its keys (the object stays schema-valid), never its values.
    node[path[-1]] = {k: REDACTED for k in value} if isinstance(value, dict) else REDACTED


def manifest(inputs: dict[str, Any], secret_paths: list[tuple] = ()) -> dict[str, Any]:
    """The Kubernetes object as it would be applied; Secret data and every secret value are redacted."""
    cleaned = integral_numbers(inputs)
    for path in secret_paths:
        _redact(cleaned, path)
    head = {k: cleaned[k] for k in ("apiVersion", "kind", "metadata") if k in cleaned}
    obj = {**head, **{k: v for k, v in cleaned.items() if k not in head}}
    if obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = {k: REDACTED for k in obj[key]}
    return obj


def object_filename(obj: dict[str, Any]) -> str:
    md = obj.get("metadata") or {}
    parts = [obj.get("kind", "Unknown"), md.get("namespace") or "cluster", md.get("name") or "unnamed"]
    return "-".join(str(p).lower() for p in parts) + ".yaml"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


def _str_presenter(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)

_DUMPED: dict[bytes, str] = {}
"""Pickled CustomResourceDefinition digest -> its YAML text: a CRD written before in this process is not serialised
again (the charts' CRDs are most of a plan's bytes, and the tests write the shared stack many times)."""


def to_yaml(obj: dict[str, Any]) -> str:
    """One plan file's text: block style, keys in the object's order, multi-line strings as ``|`` blocks."""
    if obj.get("kind") != "CustomResourceDefinition":
        return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    key = hashlib.blake2b(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), digest_size=20).digest()
    if key not in _DUMPED:
        _DUMPED[key] = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return _DUMPED[key]


@dataclass
class WrittenStack:
    stack: str
    resources: int
    objects: int
    kinds: dict[str, int]


PLAN_KIND = "plan"
"""The owner name in ``out``'s marker file (clikit/outdir.py): a plan replaces only an earlier plan."""


def write_plan(plans: list[StackPlan], out: Path) -> list[WrittenStack]:
    """Write every stack's objects and resources.json below ``out``.

    ``out`` may be new, empty, or an earlier plan (its marker names the stack folders it wrote): only those are
    replaced, and only once every stack is written. Any other content: :class:`OutputRefused`, nothing written.
    """
    with replace_owned(out, PLAN_KIND) as staging:
        return _write_stacks(plans, staging)


CELLS_FILE = "cells.json"
"""In a plan folder: every cell planned, its platform stack and its members' stacks (the checks judge each cell as
the cluster it is, ``urbanstack/checks/base.py``)."""


def _write_stacks(plans: list[StackPlan], out: Path) -> list[WrittenStack]:
    written = []
    if plans:
        cells: dict[str, dict[str, Any]] = {}
        for p in plans:
            entry = cells.setdefault(p.cell or "", {"cell": p.cell, "platform": p.platform or SHARED, "stacks": []})
            entry["stacks"].append(p.stack)
        out.mkdir(parents=True, exist_ok=True)
        (out / CELLS_FILE).write_text(json.dumps({"cells": list(cells.values())}, indent=1), encoding="utf-8")
    for plan in plans:
        folder = out / plan.stack
        folder.mkdir(parents=True)
        kinds: dict[str, int] = {}
        names: set[str] = set()
        for res in plan.kube_objects():
            obj = manifest(res.inputs, res.secret_paths)
            fname = object_filename(obj)
            if fname in names:
                raise RuntimeError(f"stack {plan.stack}: two objects would be written as {fname}")
            names.add(fname)
            (folder / fname).write_text(to_yaml(obj), encoding="utf-8")
            kinds[obj.get("kind", "?")] = kinds.get(obj.get("kind", "?"), 0) + 1
        doc = {
            "stack": plan.stack,
            "outputs": {k: (REDACTED if k in plan.secret_outputs else integral_numbers(v)) for k, v in plan.outputs.items()},
            "resources": [integral_numbers(r.to_json()) for r in plan.resources],
        }
        for r, res in zip(doc["resources"], plan.resources, strict=True):
            r["inputs"] = manifest(r["inputs"], res.secret_paths) if res.custom else r["inputs"]
            if r["type"].startswith("random:"):
                r.setdefault("outputs", REDACTED)
        # By URN, not in registration order: components register concurrently, so two runs of one program may
        # register in different orders, and two plans must differ only where the stacks differ.
        doc["resources"].sort(key=lambda r: r["urn"])
        (folder / "resources.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str),
                                               encoding="utf-8")
        write_cluster_model(plan, folder, plans)
        written.append(WrittenStack(plan.stack, len(plan.resources), len(names), dict(sorted(kinds.items()))))
    return written


def _write_object(folder: Path, obj: dict[str, Any], names: set[str], where: str) -> None:
    fname = object_filename(obj)
    if fname in names:
        raise RuntimeError(f"{where}: two objects would be written as {fname}")
    names.add(fname)
    (folder / fname).write_text(to_yaml(obj), encoding="utf-8")


def write_cluster_model(plan: StackPlan, folder: Path, plans: list[StackPlan]) -> dict[str, int]:
    """Write what the stack's Helm charts, release manifests and operators add, one subfolder per origin.

    ``plans`` are the stacks planned together: a municipality's operator-made objects depend on ``shared``'s
    (its ClusterIssuer, GatewayClass, the operators' configuration). Returns objects per subfolder. Secret values
    are redacted as for our own objects; ``render.json`` in a chart's folder names the vendored copy and the Helm
    hooks that ``helm.v4.Chart`` leaves out.
    """
    from urbanstack import cluster_model
    from urbanstack.engine import render

    counts: dict[str, int] = {}
    rendered = render.render_stack(plan)
    for pkg in rendered:
        sub = folder / pkg.folder
        sub.mkdir(parents=True, exist_ok=False)
        names: set[str] = set()
        for obj in pkg.objects:
            _write_object(sub, manifest(obj), names, f"stack {plan.stack}, {pkg.folder}")
        info = {"source": pkg.source, "skippedHooks": pkg.skipped_hooks, "notRendered": pkg.not_rendered}
        (sub / "render.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
        counts[pkg.folder] = len(names)
    # The operators' configuration lives in shared (and the stack itself): never every other municipality's objects,
    # which would make planning N municipalities quadratic.
    near = [p for p in plans if p.stack in (plan.platform or SHARED, plan.stack)]
    context = [manifest(r.inputs) for p in near for r in p.kube_objects()]
    context += [o for p in near for pkg in render.render_stack(p) for o in pkg.objects]
    # An operator acts on a CR whoever wrote it: ours, or a chart's (kube-prometheus-stack's Prometheus).
    ours = [manifest(r.inputs) for r in plan.kube_objects()] + [o for pkg in rendered for o in pkg.objects]
    for sub_name, objs in cluster_model.expand(ours, context).items():
        sub = folder / sub_name
        sub.mkdir(parents=True, exist_ok=False)
        names = set()
        for obj in objs:
            _write_object(sub, manifest(obj), names, f"stack {plan.stack}, {sub_name}")
        counts[sub_name] = len(names)
    return counts




def crd_summary(plans: list[StackPlan]) -> str:
    """One line for ``urbanstack plan``: the custom resources of the planned stacks (this project's and the charts'),
    admitted by the CRDs the same plan installs (``urbanstack/engine/crds.py``: version served, pruned fields). The
    schema and every CEL rule are the ``schemas`` check's (with the per-resource report): judging them here as well
    cost the plan as much time again (about 0.4 s per municipality, 2026-12-06)."""
    from urbanstack.engine import crds, render

    objects = [(manifest(r.inputs), p.stack) for p in plans for r in p.kube_objects()]
    objects += [(o, f"{p.stack}/{pkg.folder}") for p in plans for pkg in render.render_stack(p) for o in pkg.objects]
    installed, conflicts = crds.index_crds(objects)
    admitted = [crds.admit(o, installed) for o, _ in objects
                if o.get("kind") != "CustomResourceDefinition" and crds.is_custom(o)]
    refused = sum(1 for a in admitted if a.problems)
    pruned = sum(1 for a in admitted if a.pruned)
    return (f"{len(admitted)} custom resources, judged by the {len(installed)} CRDs this plan installs: "
            f"{len(admitted) - refused} of a served version, {refused} without an installed CRD of their version, "
            f"{pruned} with fields the API server would prune"
            + (f", {len(conflicts)} CRDs installed twice differently" if conflicts else "")
            + "; schema, CEL rules and the per-resource report: `urbanstack check PLAN --only schemas`")
