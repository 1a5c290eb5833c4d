"""Check: every Secret, ConfigMap and ServiceAccount a pod template names exists in the plan, in the pod's namespace.

A pod whose volume, ``env``/``envFrom``, ``imagePullSecrets`` or ``serviceAccountName`` names an object nobody
creates never starts (the kubelet waits for the volume; the API server refuses a pod of a missing ServiceAccount):
a real ``pulumi up`` then hangs until the workload times out. This is what happens when a Helm chart leaves the
creation of such an object to a hook, which ``helm.v4.Chart`` never runs (``urbanstack/engine/render.py``). Every pod
template of the plan is looked at, this project's own, chart-rendered and operator-made alike
(:func:`catalogue.manifests.workload_pod`).

An object counts as created when the plan holds it in that namespace, when a cert-manager ``Certificate`` of the plan
names it as ``spec.secretName``, or when a controller creates it at run time from an object of the plan: those are
listed with their reason in ONE file, ``checks/runtime-objects.yaml`` (an entry that no reference uses fails the
check, so the list cannot go stale). References marked ``optional: true`` are not required.

Gateway API references are followed too (:mod:`urbanstack.checks.gateway_api`): routes to Gateways and ListenerSets
(``parentRefs``, ``allowedRoutes``, hostnames), ListenerSets to their Gateway (``allowedListeners``), listeners to
their certificate Secrets (``certificateRefs``, ReferenceGrants), and no two merged listeners in conflict.

And every object is named once: the same (kind, namespace, name) in two stacks means two Pulumi stacks each own one
object, and the cluster refuses the second (or, with server-side apply, the two fight over it). Names derived from
a municipality's slug can collide this way (slug ``job-verl``: its realm Secret ``realm-job-verl`` is verl's Secret
of its realm-job client); the tenant schema refuses the known cases, this check finds any.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalogue import manifests
from catalogue.paths import ROOT
from urbanstack.checks import gateway_api
from urbanstack.checks.base import CheckResult, Failure, Plan, PlanObject, count_origins, list_entries, merge

NAME = "references"
RULE = "references"
RUNTIME_FILE = ROOT / "checks" / "runtime-objects.yaml"
KINDS = ("Secret", "ConfigMap", "ServiceAccount")


@dataclass(frozen=True)
class Reference:
    """One object a pod template needs: its kind and name, and where in the template it is named."""

    kind: str
    name: str
    where: str


def _named(items: Any) -> Iterator[dict[str, Any]]:
    return (i for i in items or [] if isinstance(i, dict))


def references(spec: dict[str, Any]) -> Iterator[Reference]:
    """The required (not ``optional``) Secrets, ConfigMaps and ServiceAccount of one pod spec."""
    yield Reference("ServiceAccount", str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"),
                    "serviceAccountName")
    for i, ref in enumerate(_named(spec.get("imagePullSecrets"))):
        if ref.get("name"):
            yield Reference("Secret", str(ref["name"]), f"imagePullSecrets[{i}]")
    for _, vol in manifests.spec_volumes(spec):
        where = f"volumes[{vol.get('name')}]"
        sec, cm = vol.get("secret"), vol.get("configMap")
        if isinstance(sec, dict) and sec.get("secretName") and not sec.get("optional"):
            yield Reference("Secret", str(sec["secretName"]), where)
        if isinstance(cm, dict) and cm.get("name") and not cm.get("optional"):
            yield Reference("ConfigMap", str(cm["name"]), where)
        for src in _named((vol.get("projected") or {}).get("sources")):
            for key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                ref = src.get(key)
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    yield Reference(kind, str(ref["name"]), f"{where}.projected")
    for container in manifests.spec_containers(spec):
        c = container.body
        prefix = f"{container.group}[{container.name}]"
        for env in _named(c.get("env")):
            value_from = env.get("valueFrom") or {}
            for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = value_from.get(key)
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    yield Reference(kind, str(ref["name"]), f"{prefix}.env[{env.get('name')}]")
        for i, env_from in enumerate(_named(c.get("envFrom"))):
            for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = env_from.get(key)
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    yield Reference(kind, str(ref["name"]), f"{prefix}.envFrom[{i}]")


@dataclass(frozen=True)
class RuntimeObject:
    """Objects a controller creates at run time for each object of the plan that ``createdBy`` matches.

    ``name`` is a pattern (``fnmatch``) in which ``{name}`` and ``{namespace}`` stand for the creating object's name
    and namespace. The created object lives in the creator's namespace; for a creator of kind ``Namespace``, in that
    namespace.
    """

    kind: str
    name: str
    created_by: str
    creator_api: str
    creator_name: str
    reason: str

    def creates_for(self, creator: PlanObject) -> bool:
        return (creator.kind == self.created_by and fnmatch.fnmatchcase(creator.name, self.creator_name)
                and (not self.creator_api or creator.api_version.startswith(self.creator_api)))

    def pattern(self, creator: PlanObject) -> tuple[str, str]:
        """``(namespace, name pattern)`` of what this entry makes for ``creator``."""
        namespace = creator.name if creator.kind == "Namespace" else str(creator.namespace or "")
        return namespace, self.name.replace("{name}", creator.name).replace("{namespace}", namespace)


def load_runtime_objects(path: Path = RUNTIME_FILE) -> list[RuntimeObject]:
    """The list of run-time objects; every entry needs a kind, a name, what it is made for, and a reason."""
    out = []
    for where, entry in list_entries(path, "run-time objects"):
        kind = str(entry.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"{where}: kind {kind!r} must be one of {', '.join(KINDS)}")
        creator = entry.get("createdBy")
        if not isinstance(creator, dict) or not creator.get("kind"):
            raise ValueError(f"{where}: createdBy must name the kind of the plan object it is made for "
                             "(createdBy: {kind: Cluster, apiVersion: postgresql.cnpg.io/})")
        if not entry.get("name"):
            raise ValueError(f"{where}: name is missing")
        reason = str(entry.get("reason") or "").strip()
        if len(reason) < 40:
            raise ValueError(f"{where}: needs a reason naming the controller (and its source) that creates it")
        out.append(RuntimeObject(kind, str(entry["name"]), str(creator["kind"]), str(creator.get("apiVersion") or ""),
                                 str(creator.get("name") or "*"), reason))
    return out


def _api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def owned_twice(plan: Plan) -> list[Failure]:
    """Objects (API group, kind, namespace, name) that two stacks of the plan both create."""
    owners: dict[tuple[str, str, str, str], dict[str, PlanObject]] = {}
    for po in plan.objects:
        if not po.kind or not po.name:
            continue
        key = (_api_group(po.api_version), po.kind, str(po.namespace or ""), po.name)
        owners.setdefault(key, {}).setdefault(po.stack, po)
    failures = []
    for (_, kind, namespace, name), by_stack in sorted(owners.items()):
        if len(by_stack) < 2:
            continue
        first, *others = sorted(by_stack.values(), key=lambda o: o.stack)
        where = ", ".join(f"stack {o.stack} ({plan.rel(o.path)})" for o in [first, *others])
        for po in others:
            failures.append(Failure(plan.rel(po.path), RULE,
                                    f"{kind} {namespace + '/' if namespace else ''}{name} is created by more than "
                                    f"one stack: {where}; the cluster keeps one object per name, so the second "
                                    "deployment fails or takes the other's object (a slug whose derived names "
                                    "are another's? catalogue/schema.py reserved slugs)"))
    return failures


def run(plan: Plan, runtime_file: Path = RUNTIME_FILE) -> CheckResult:
    """Every cell judged as its own cluster (:func:`~urbanstack.checks.base.per_cell`); a run-time entry fails only
    when no cell uses it (a cell whose members book no module that needs it is no reason to remove it)."""
    runtime = load_runtime_objects(runtime_file)
    used: set[RuntimeObject] = set()
    results = []
    for view in plan.cells():
        result, used_here = _judge(view, runtime, runtime_file)
        used |= used_here
        results.append((view.cell, result))
    merged = merge(NAME, results)
    rel = runtime_file.relative_to(ROOT) if runtime_file.is_relative_to(ROOT) else runtime_file
    for entry in runtime:
        if entry not in used:
            merged.failures.append(Failure(str(rel), RULE, f"run-time {entry.kind} {entry.name!r} (made for each "
                                                            f"{entry.created_by}) matches no reference of the plan "
                                                            "(its creator is missing or no pod uses it): remove it"))
    return merged


def _judge(plan: Plan, runtime: list[RuntimeObject], runtime_file: Path) -> tuple[CheckResult, set[RuntimeObject]]:
    """One cell: every reference of its pods resolved within the cell; the run-time entries it used."""
    existing: set[tuple[str, str, str]] = set()
    for po in plan.objects:
        if po.kind in KINDS:
            existing.add((po.kind, str(po.namespace or ""), po.name))
        if po.kind == "Certificate" and po.api_version.startswith("cert-manager.io/"):
            secret_name = (po.obj.get("spec") or {}).get("secretName")
            if secret_name:
                existing.add(("Secret", str(po.namespace or ""), str(secret_name)))
    made_at_runtime: list[tuple[str, str, str, RuntimeObject]] = []
    for po in plan.objects:
        for entry in runtime:
            if entry.creates_for(po):
                made_at_runtime.append((entry.kind, *entry.pattern(po), entry))
    used: set[RuntimeObject] = set()
    failures: list[Failure] = []
    pods: list[PlanObject] = []
    count = 0
    for po, template in plan.workload_pods():
        pods.append(po)
        namespace = str(po.namespace or "")
        for ref in references(template.spec):
            count += 1
            key = (ref.kind, namespace, ref.name)
            if key in existing:
                continue
            entry = next((e for kind, ns, pattern, e in made_at_runtime
                          if kind == ref.kind and ns == namespace and fnmatch.fnmatchcase(ref.name, pattern)), None)
            if entry is not None:
                used.add(entry)
                continue
            failures.append(Failure(plan.rel(po.path), RULE,
                                    f"{po.ref()} {ref.where}: {ref.kind} {namespace}/{ref.name} is created by no "
                                    "object of the plan (a Helm hook the chart relies on? see "
                                    "urbanstack/engine/render.py); create it, or list the controller that makes it at "
                                    f"run time in {RUNTIME_FILE.relative_to(ROOT)}"))
    twice = owned_twice(plan)
    failures.extend(twice)
    gateway_failures, gateway_detail = gateway_api.failures(plan, existing)
    failures.extend(gateway_failures)
    rel = runtime_file.relative_to(ROOT) if runtime_file.is_relative_to(ROOT) else runtime_file
    return CheckResult(NAME, len(pods), "pod templates", failures, origins=count_origins(pods),
                       origin_unit="pod templates",
                       detail=f"{count} references to Secrets, ConfigMaps and ServiceAccounts, "
                              f"{len(used)} run-time entries used from {rel}; "
                              f"{len(plan.objects)} objects, each created by one stack only; {gateway_detail}"), used
