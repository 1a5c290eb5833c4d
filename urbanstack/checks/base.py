"""What every outside check shares: the rendered plan as files, the facts to check against, and the result.

A check reads the written offline plan (``build/plan/<stack>/<kind>-<namespace>-<name>.yaml``, see
``urbanstack/engine/plan.py``), never the Python objects that produced it: it sees exactly what would be applied. That
includes the subfolders of each stack: ``chart-<release>/`` and ``manifests-<name>/`` (rendered from an upstream
Helm chart or release manifests) and ``operator-<kind>/`` (what an operator makes from our custom resources); every
object knows its :attr:`PlanObject.origin`.
Each check returns a :class:`CheckResult` whose :meth:`CheckResult.figure` is the one line the run prints
(what was checked, how many failures), and whose failures each name the file and the rule.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from catalogue import labels, manifests
from catalogue.paths import ROOT
from urbanstack.engine.planfiles import read_objects

DEFAULT_CRD_DIR = Path(os.environ.get("URBANSTACK_CRD_DIR", ROOT / "vendor" / "crds"))
"""CRDs (``*.yaml``) of documented cluster prerequisites that the plan does not install, each named with its version
in ``vendor/crds/README.md`` (``$URBANSTACK_CRD_DIR`` overrides). Every other custom resource is judged by the CRD the
plan installs."""
DEFAULT_CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
"""checkov in its own virtualenv (``make checkov-venv``): it cannot share one with pulumi."""


ORIGINS = ("ours", "chart", "operator")
"""Where an object of the plan comes from: this project's code, an upstream chart or release manifests, an operator."""


CHART_FOLDERS = ("chart-", "manifests-")
OPERATOR_FOLDERS = ("operator-",)
UPSTREAM_FOLDERS = (*CHART_FOLDERS, *OPERATOR_FOLDERS)
"""Plan subfolders of chart-rendered (and release-manifest) and operator-made objects: upstream's, not ours."""


def origin_of_folder(folder: str) -> str:
    """``chart-*``/``manifests-*`` -> ``chart``, ``operator-*`` -> ``operator``; a stack's own folder -> ``ours``."""
    if folder.startswith(CHART_FOLDERS):
        return "chart"
    if folder.startswith(OPERATOR_FOLDERS):
        return "operator"
    return "ours"


@dataclass(frozen=True)
class PlanObject:
    """One rendered Kubernetes object of the plan, the file it was read from and where it comes from."""

    stack: str
    path: Path
    obj: dict[str, Any]
    origin: str = "ours"

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        md = self.obj.get("metadata")
        return md if isinstance(md, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        return self.metadata.get("namespace")

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.metadata.get("labels") or {})

    def ref(self) -> str:
        """``Kind namespace/name`` for messages."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


def list_entries(path: Path, what: str, section: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The entries of a list in one of the checks' files (``checks/*.yaml``), each with where it stands
    (``FILE: entry N``, or ``FILE: section[i]`` for the list under a top-level key). A missing file has no entries
    unless a section is asked for; a list that is not one, or an entry that is not a mapping, is refused."""
    if section is None:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else []
    else:
        data = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(section) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: {section + ': ' if section else ''}must be a list of {what}")
    out = []
    for i, entry in enumerate(data):
        where = f"{path}: {section}[{i}]" if section else f"{path}: entry {i + 1}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping")
        out.append((where, entry))
    return out


@dataclass(frozen=True)
class Failure:
    """One broken rule: the file of the object, the rule, what is wrong."""

    file: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: [{self.rule}] {self.message}"


@dataclass
class CheckResult:
    """Outcome of one check: what it looked at, and every failure."""

    name: str
    checked: int
    unit: str
    failures: list[Failure] = field(default_factory=list)
    detail: str = ""
    origins: dict[str, int] = field(default_factory=dict)
    """Objects looked at per origin (``ours``/``chart``/``operator``), for the figure."""
    origin_unit: str = "objects"
    report: list[str] = field(default_factory=list)
    """One line per item the check judged, where it says more than the figure (``schemas``: per custom resource,
    its CRD and where the plan installs it, version served, pruned fields, CEL rules evaluated / not evaluated)."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def figure(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        split = ""
        if self.origins:
            split = " [" + ", ".join(f"{o} {self.origins.get(o, 0)}" for o in ORIGINS) + f" {self.origin_unit}]"
        return f"{self.name}: {self.checked} {self.unit} checked{split}, {len(self.failures)} failures{extra}"


def count_origins(objects: list[PlanObject]) -> dict[str, int]:
    """Objects per origin, every origin present (0 where none)."""
    out = dict.fromkeys(ORIGINS, 0)
    for po in objects:
        out[po.origin] = out.get(po.origin, 0) + 1
    return out


@dataclass
class Plan:
    """The written offline plan plus the facts the checks compare it with.

    ``tenants`` maps each municipality's slug to its cost centre (``tenants/<slug>.yaml``);
    ``operator_cost_center`` is the shared stack's ``urban-stack:operatorCostCenter``.
    """

    directory: Path
    tenants: dict[str, str]
    operator_cost_center: str
    crd_dir: Path = DEFAULT_CRD_DIR
    cell: str | None = None
    """The cell this plan is the view of (:meth:`cells`); None for the whole plan."""
    stack_filter: frozenset[str] | None = None
    """The stacks of this view; None: every stack folder."""
    members: dict[str, str] | None = None
    """Municipality stack -> slug; None: every tenant's stack is named like its slug (a plan without cells)."""
    parent: Plan | None = None

    @cached_property
    def slug_of(self) -> dict[str, str]:
        """Municipality stack name (``<slug>``, ``<slug>.<cell>``) -> slug, for the stacks of this plan."""
        return dict(self.members) if self.members is not None else {slug: slug for slug in self.tenants}

    def cells(self) -> list[Plan]:
        """One view per cell of the plan (``cells.json``, ``urbanstack/engine/plan.py``), each the cluster it is:
        its platform stack and its members only. A plan without cells is one view, itself."""
        doc = self.directory / "cells.json"
        if self.stack_filter is not None or not doc.is_file():
            return [self]
        views = []
        for entry in json.loads(doc.read_text(encoding="utf-8"))["cells"]:
            stacks = frozenset([*entry["stacks"], entry["platform"]])
            members = {st: (st.split(".", 1)[0]) for st in stacks if st != entry["platform"]}
            views.append(Plan(self.directory, {slug: cc for slug, cc in self.tenants.items()
                                               if slug in members.values()},
                              self.operator_cost_center, self.crd_dir, entry["cell"], stacks, members, self))
        return views

    @cached_property
    def objects(self) -> list[PlanObject]:
        """Every object of every stack, the chart, manifests and operator subfolders included."""
        if self.parent is not None:
            return [po for po in self.parent.objects if po.stack in self.stack_filter]
        out = []
        for stack, objects in read_objects(self.directory).items():
            for f, obj in objects:
                if isinstance(obj, dict):
                    origin = "ours" if f.parent.name == stack else origin_of_folder(f.parent.name)
                    out.append(PlanObject(stack, f, obj, origin))
        return out

    @cached_property
    def origins(self) -> dict[str, int]:
        """Objects per origin over the whole plan (every check's figure shows it)."""
        return count_origins(self.objects)

    @cached_property
    def resources(self) -> dict[str, list[dict[str, Any]]]:
        """``resources.json`` of every stack: stack -> registered resources (type, name, urn, inputs, ...)."""
        if self.parent is not None:
            return {k: v for k, v in self.parent.resources.items() if k in self.stack_filter}
        out = {}
        for doc in sorted(self.directory.glob("*/resources.json")):
            out[doc.parent.name] = json.loads(doc.read_text(encoding="utf-8"))["resources"]
        return out

    @property
    def stacks(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir()
                      and (self.stack_filter is None or p.name in self.stack_filter))

    def rel(self, path: Path) -> str:
        """A plan file as the messages name it: relative to the working directory when possible."""
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def workload_pods(self) -> list[tuple[PlanObject, Any]]:
        """Every object of the plan that makes pods (ours, chart-rendered, operator-made), with its pod template
        (:func:`catalogue.manifests.workload_pod`)."""
        return [(po, template) for po in self.objects
                if (template := manifests.workload_pod(po.obj)) is not None]

    def valid_tenants(self) -> set[str]:
        return {*self.tenants, labels.SHARED_TENANT}

    def cost_center_of(self, tenant: str) -> str | None:
        return self.operator_cost_center if tenant == labels.SHARED_TENANT else self.tenants.get(tenant)


def valid_modules() -> set[str]:
    """Every valid ``urban-stack/module`` value (``catalogue.modules.module_label_values``)."""
    from catalogue.modules import module_label_values

    return module_label_values()


def load_plan(directory: Path, tenants_dir: Path | None = None, crd_dir: Path | None = None,
              shared_config: Mapping[str, Any] | None = None) -> Plan:
    """The plan in ``directory`` with the municipalities of ``tenants_dir`` (default ``tenants/``)."""
    from catalogue.shared_config import SHARED_CONFIG, stack_config
    from catalogue.tenants import load_all

    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no plan here; run `urbanstack plan --out {directory}` first")
    tenants = load_all([tenants_dir] if tenants_dir else None)
    cfg = dict(shared_config) if shared_config is not None else stack_config(SHARED_CONFIG)
    return Plan(
        directory=directory,
        tenants={slug: t.costCenter for slug, t in tenants.items()},
        operator_cost_center=str(cfg.get("urban-stack:operatorCostCenter", "")),
        crd_dir=crd_dir or DEFAULT_CRD_DIR,
    )


def merge(name: str, results: list[tuple[str | None, CheckResult]]) -> CheckResult:
    """One check's results over the cells of a plan as one result: counts added, failures and report lines in cell
    order, each cell's detail named by its cell (one detail when every cell's is the same)."""
    if len(results) == 1:
        return results[0][1]
    first = results[0][1]
    origins: dict[str, int] = {}
    for _, r in results:
        for k, v in r.origins.items():
            origins[k] = origins.get(k, 0) + v
    same = len({r.detail for _, r in results}) == 1 and first.detail
    detail = first.detail if same else "; ".join(
        f"cell {cell}: {r.detail}" if r.detail else f"cell {cell}: {r.checked} {r.unit}" for cell, r in results)
    return CheckResult(name=first.name, checked=sum(r.checked for _, r in results), unit=first.unit,
                       failures=[f for _, r in results for f in r.failures], detail=detail, origins=origins,
                       origin_unit=first.origin_unit, report=[line for _, r in results for line in r.report])


def per_cell(run: Callable[[Plan], CheckResult]) -> Callable[[Plan], CheckResult]:
    """A check that judges a cluster (what reaches what, which Secret exists, who may do what), run once per cell of
    the plan on that cell's platform stack and members only (:meth:`Plan.cells`), so that no object of one cell can
    satisfy, or clash with, another cell's. Checks that judge each object or pin on their own (checkov, support) run
    once over the whole plan and are not wrapped."""

    def judged(plan: Plan, *args: Any, **kwargs: Any) -> CheckResult:
        views = plan.cells()
        if len(views) == 1:
            return run(views[0], *args, **kwargs)
        return merge(run.__module__, [(view.cell, run(view, *args, **kwargs)) for view in views])

    judged.__doc__, judged.__name__, judged.__wrapped__ = run.__doc__, run.__name__, run
    return judged
