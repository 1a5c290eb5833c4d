"""``urbanstack plan --compare OLD_PLAN``: what applying the new plan over the old one would break.

Two written plans (``build/plan``-style folders) are compared object by object. An object is the same object
in both when its Pulumi URN is the same (``<stack>/resources.json``), or, for objects Pulumi does not register
one by one (chart-rendered, operator-made), when stack, API group, kind, namespace and name are the same.
Reported, each with the rule it follows:

* **refused**: the API server refuses the update in place, and Pulumi does not replace the object, so
  ``pulumi up`` fails;
* **replaced**: Pulumi deletes and re-creates the object because a field changed that the Kubernetes provider
  treats as "force new" (``provider/pkg/provider/diff.go`` ``forceNew`` of pulumi/pulumi-kubernetes, read at commit 00302beb; it lists
  exactly the fields the API server would refuse, and some more), or because its name or namespace changed;
  a replaced StatefulSet keeps its PVCs, a replaced PVC loses its data;
* **protected**: such a replacement, or a removal, of a resource created with ``protect`` or
  ``retainOnDelete`` (``resources.json`` options): Pulumi refuses to replace or delete a protected resource,
  and one kept on delete is left behind while its successor is created under the same name.

The immutable fields follow the API server's update validation (kubernetes/kubernetes ``pkg/apis/*/validation``,
named per rule below) and, for custom resources, the transition rules of their CRDs (``x-kubernetes-validations``
``self == oldSelf`` of the CRD the new plan installs, :mod:`urbanstack.engine.crds`: a CloudNativePG Database's
``spec.name``, for instance).

What is **not** a change (pulumi-kubernetes ``provider/pkg/provider/provider.go`` ``Diff``, read at v4.32.0, the
newest tag of the stored snapshot; the pinned 4.34.2 is to be confirmed): a field a resource lists in ``ignoreChanges`` (``resources.json`` options; the provider deletes every
diff path an ignore path contains), and any field of a ``...Patch`` resource but its name and namespace ("Patch
resources can be updated in place for all other properties"): a PersistentVolumeClaimPatch that asks for more
storage grows the claim in place. Objects an operator makes (``operator-<kind>/``) are not Pulumi's: they follow
their custom resource, compared in its place; CloudNativePG resizes its volumes in place when a Cluster's
``spec.storage.size`` grows and its webhook refuses a smaller one (``can't shrink existing storage``,
cloudnative-pg ``internal/webhook/v1/cluster_webhook.go`` ``validateStorageChange`` and
``validateWalStorageChange``, read at v1.27.1, the operator of chart 0.26.1: also "walStorage cannot be disabled
once configured").

Only the stacks of the new plan are compared when :func:`compare` is given ``stacks`` (``plan --stack verl``
plans shared and verl: the other municipalities are not removed, only not planned). A folder that is not a
written plan is refused (:class:`NotAPlan`): a gate on a wrong path must not pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from urbanstack.engine import crds as crd_index
from urbanstack.engine.planfiles import read_objects

REFUSED, REPLACED, PROTECTED = "refused", "replaced", "protected"


class NotAPlan(Exception):
    """The folder given as a plan is none (no ``<stack>/resources.json``), or holds other stacks than asked."""


@dataclass(frozen=True)
class Entry:
    stack: str
    key: str
    obj: dict[str, Any]
    file: str
    protected: tuple[str, ...]
    """``protect`` and/or ``retainOnDelete`` where set."""
    ignore: tuple[str, ...] = ()
    """``ignoreChanges`` of the resource (paths like ``spec.volumeClaimTemplates``)."""
    type: str = ""
    """The Pulumi type (``kubernetes:core/v1:PersistentVolumeClaimPatch``); empty for objects Pulumi does not
    register one by one."""
    origin: str = "ours"
    """``ours`` (the program's), ``chart`` (a chart's or release manifests'), ``operator`` (an operator makes it)."""

    @property
    def patch(self) -> bool:
        return self.type.endswith("Patch")

    @property
    def ref(self) -> str:
        md = self.obj.get("metadata") or {}
        ns = f"{md['namespace']}/" if md.get("namespace") else ""
        return f"{self.obj.get('kind')} {ns}{md.get('name', '')} (stack {self.stack})"


@dataclass(frozen=True)
class Change:
    verdict: str
    file: str
    ref: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: [{self.verdict}] {self.ref}: {self.message}"


def _identity(stack: str, obj: Mapping[str, Any]) -> str:
    md = obj.get("metadata") or {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return f"{stack}|{group}|{obj.get('kind')}|{md.get('namespace', '')}|{md.get('name', '')}"


def plan_stacks(directory: Path) -> list[str]:
    """The stacks of a written plan (folders with a ``resources.json``); :class:`NotAPlan` when there are none."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no plan here to compare with")
    stacks = sorted(p.name for p in directory.iterdir() if p.is_dir() and (p / "resources.json").is_file())
    if not stacks:
        raise NotAPlan(f"{directory}: not a plan (no <stack>/resources.json); compare with a folder that "
                       f"`urbanstack plan --out DIR` wrote")
    return stacks


def _origin(plan_dir: Path, file: Path) -> str:
    parts = file.relative_to(plan_dir).parts
    if len(parts) < 3:
        return "ours"
    return "operator" if parts[1].startswith("operator-") else "chart"


def snapshot(directory: Path, stacks: set[str] | None = None) -> dict[str, Entry]:
    """Every object of a written plan, read at once (so the plan may be rewritten in place afterwards);
    ``stacks``: only these stacks' objects. Refuses a folder that is not a plan (:class:`NotAPlan`)."""
    plan_stacks(directory)
    out: dict[str, Entry] = {}
    for stack, objects in read_objects(directory).items():
        if stacks is not None and stack not in stacks:
            continue
        folder = directory / stack
        registered: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {}
        doc = folder / "resources.json"
        if doc.is_file():
            for r in json.loads(doc.read_text(encoding="utf-8"))["resources"]:
                inputs = r.get("inputs") or {}
                if r.get("custom") and "kind" in inputs and str(r.get("type", "")).startswith("kubernetes:"):
                    opts = r.get("options") or {}
                    flags = tuple(k for k in ("protect", "retainOnDelete") if opts.get(k))
                    registered[_identity(folder.name, inputs)] = (
                        r["urn"], flags, tuple(opts.get("ignoreChanges") or ()), str(r["type"]))
        for f, obj in objects:
            if not isinstance(obj, dict):
                continue
            ident = _identity(folder.name, obj)
            urn, flags, ignore, rtype = registered.get(ident, (ident, (), (), ""))
            out[urn] = Entry(folder.name, urn, obj, str(f), flags, ignore, rtype, _origin(directory, f))
    return out


def _get(obj: Mapping[str, Any], path: str) -> Any:
    node: Any = obj
    for key in path.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _quantity(value: Any) -> float | None:
    """A storage quantity in bytes (binary and decimal suffixes), None when unparsable."""
    if value is None:
        return None
    text = str(value)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "k": 1e3, "M": 1e6, "G": 1e9,
             "T": 1e12, "P": 1e15}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * factor
            except ValueError:
                return None
    try:
        return float(text)
    except ValueError:
        return None


# (kind, field path, verdict, why). Pulumi replaces: the provider's forceNew list names the field; refused:
# it does not, so the update goes to the API server, which refuses it.
Rule = tuple[str, str, str, str]
STATEFULSET_MUTABLE = {"replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}
"""pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate: "updates to statefulset spec for fields other
than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit',
'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"."""
STATEFULSET_FORCE_NEW = {"podManagementPolicy", "revisionHistoryLimit", "selector", "serviceName",
                         "volumeClaimTemplates"}
RULES: list[Rule] = [
    ("Deployment", "spec.selector", REPLACED, "pkg/apis/apps/validation ValidateDeploymentUpdate: selector is immutable"),
    ("DaemonSet", "spec.selector", REFUSED, "pkg/apis/apps/validation ValidateDaemonSetUpdate: selector is immutable"),
    ("ReplicaSet", "spec.selector", REFUSED, "pkg/apis/apps/validation ValidateReplicaSetUpdate: selector is immutable"),
    ("Job", "spec.selector", REPLACED, "pkg/apis/batch/validation ValidateJobUpdate: selector is immutable"),
    ("Job", "spec.template", REPLACED, "pkg/apis/batch/validation ValidateJobUpdate: template is immutable"),
    ("Job", "spec.completions", REPLACED, "pkg/apis/batch/validation ValidateJobUpdate: completions is immutable"),
    ("Service", "spec.clusterIP", REPLACED,
     "pkg/apis/core/validation ValidateServiceUpdate: clusterIP is immutable (unset and 'None' differ: a "
     "headless Service cannot become one with an address or back)"),
    ("PersistentVolumeClaim", "spec.storageClassName", REPLACED,
     "pkg/apis/core/validation ValidatePersistentVolumeClaimUpdate: spec is immutable after creation except "
     "resources.requests and volumeAttributesClassName"),
    ("PersistentVolumeClaim", "spec.accessModes", REPLACED,
     "pkg/apis/core/validation ValidatePersistentVolumeClaimUpdate: spec is immutable after creation"),
    ("RoleBinding", "roleRef", REPLACED, "pkg/apis/rbac/validation ValidateRoleBindingUpdate: roleRef is immutable"),
    ("ClusterRoleBinding", "roleRef", REPLACED,
     "pkg/apis/rbac/validation ValidateClusterRoleBindingUpdate: roleRef is immutable"),
    ("StorageClass", "provisioner", REPLACED, "pkg/apis/storage/validation ValidateStorageClassUpdate: immutable"),
    ("StorageClass", "parameters", REPLACED, "pkg/apis/storage/validation ValidateStorageClassUpdate: immutable"),
    ("StorageClass", "reclaimPolicy", REFUSED, "pkg/apis/storage/validation ValidateStorageClassUpdate: immutable"),
    ("StorageClass", "volumeBindingMode", REFUSED,
     "pkg/apis/storage/validation ValidateStorageClassUpdate: immutable"),
    ("Secret", "type", REPLACED, "pkg/apis/core/validation ValidateSecretUpdate: type is immutable"),
    ("Secret", "data", REPLACED, "pulumi-kubernetes replaces a Secret whose data changes"),
    ("Secret", "stringData", REPLACED, "pulumi-kubernetes replaces a Secret whose data changes"),
    ("ConfigMap", "data", REPLACED, "pulumi-kubernetes replaces a ConfigMap whose data changes"),
]


def _immutable_in_crd(api_version: str, kind: str, crds: Mapping[tuple[str, str], Any]) -> list[tuple[str, str]]:
    """``(field path, message)`` of every ``self == oldSelf`` transition rule in the schema of ``api_version`` of
    the CRD the new plan installs for ``kind`` (none when the plan installs no such CRD)."""
    group, _, version = api_version.rpartition("/")
    installed = crds.get((group, kind))
    schema = installed.schema(version) if installed is not None else None
    if not group or schema is None:
        return []
    return _crd_rules(json.dumps(schema, sort_keys=True))


@cache
def _crd_rules(schema_text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(node: Any, at: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        for rule in node.get("x-kubernetes-validations") or ():
            if str(rule.get("rule", "")).replace(" ", "") == "self==oldSelf" and at:
                found.append((".".join(at), str(rule.get("message") or f"{at[-1]} is immutable")))
        for key, child in (node.get("properties") or {}).items():
            walk(child, (*at, key))

    walk(json.loads(schema_text), ())
    return found


def _ignored(path: str, ignore: tuple[str, ...]) -> bool:
    """pulumi-kubernetes drops a diff path that an ignoreChanges path contains (``resource.PropertyPath.Contains``)."""
    return any(path == i or path.startswith(f"{i}.") or path.startswith(f"{i}[") for i in ignore)


def _field_changes(old: Mapping[str, Any], new: Mapping[str, Any], *, patch: bool = False,
                   crds: Mapping[tuple[str, str], Any] | None = None) -> list[tuple[str, str, str]]:
    """``(field, verdict, why)`` for every immutable or force-new field that differs; ``crds``: the CRDs the new
    plan installs (their transition rules)."""
    kind = str(new.get("kind", ""))
    out = [(path, verdict, why) for path, why in _immutable_in_crd(str(new.get("apiVersion", "")), kind, crds or {})
           if _get(old, path) != _get(new, path)
           for verdict, why in [(REFUSED, f"CRD transition rule self == oldSelf ({why}): the API server refuses "
                                          f"the update")]]
    if kind == "Cluster" and str(new.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
        for fld in ("spec.storage.size", "spec.walStorage.size"):
            before, after = _quantity(_get(old, fld)), _quantity(_get(new, fld))
            if before is not None and after is not None and after < before:
                out.append((fld, REFUSED, "CloudNativePG's webhook refuses it (\"can't shrink existing storage\", "
                                          "internal/webhook/v1/cluster_webhook.go validateStorageChange, v1.27.1); "
                                          "a larger size is resized in place by the operator"))
        if _get(old, "spec.walStorage") is not None and _get(new, "spec.walStorage") is None:
            out.append(("spec.walStorage", REFUSED, "CloudNativePG's webhook refuses it (\"walStorage cannot be "
                                                    "disabled once configured\", validateWalStorageChange, v1.27.1)"))
    if patch:
        # A Patch resource is updated in place for every field but name and namespace (provider.go Diff); only the
        # API server may still refuse a claim that shrinks.
        if kind == "PersistentVolumeClaim":
            out += [c for c in _pvc_changes(old, new) if c[1] == REFUSED]
        return out
    out += [(path, verdict, why) for k, path, verdict, why in RULES
            if k == kind and _get(old, path) != _get(new, path)]
    if kind == "StatefulSet":
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        for key in sorted(set(old_spec) | set(new_spec)):
            if old_spec.get(key) == new_spec.get(key) or (key in STATEFULSET_MUTABLE and key != "revisionHistoryLimit"):
                continue
            verdict = REPLACED if key in STATEFULSET_FORCE_NEW else REFUSED
            why = ("pulumi-kubernetes replaces a StatefulSet whose revisionHistoryLimit changes"
                   if key == "revisionHistoryLimit" else
                   "pkg/apis/apps/validation ValidateStatefulSetUpdate: only replicas, ordinals, template, "
                   "updateStrategy, revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and minReadySeconds "
                   "may change")
            out.append((f"spec.{key}", verdict, why))
    if kind == "PersistentVolumeClaim":
        out += _pvc_changes(old, new)
    return out


def _pvc_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    before = _quantity(_get(old, "spec.resources.requests.storage"))
    after = _quantity(_get(new, "spec.resources.requests.storage"))
    if before is not None and after is not None and after < before:
        return [("spec.resources.requests.storage", REFUSED,
                 "pkg/apis/core/validation ValidatePersistentVolumeClaimUpdate: a claim can not shrink "
                 "(\"field can not be less than previous value\")")]
    if before != after:
        return [("spec.resources.requests.storage", REPLACED,
                 "pulumi-kubernetes treats every PVC spec change as force-new: a resize through Pulumi "
                 "replaces the claim and its data (a PersistentVolumeClaimPatch grows it in place)")]
    return []


def _describe(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def compare(old: Mapping[str, Entry], new: Mapping[str, Entry], stacks: set[str] | None = None) -> list[Change]:
    """Every change between two plan snapshots the API server refuses or that replaces an object; ``stacks``:
    compare only these (the stacks that were planned), the others' objects are neither changed nor removed."""
    changes: list[Change] = []
    installed, _ = crd_index.index_crds((e.obj, e.file) for e in new.values())
    if stacks is not None:
        old = {k: e for k, e in old.items() if e.stack in stacks}
        new = {k: e for k, e in new.items() if e.stack in stacks}

    def add(verdict: str, entry: Entry, message: str) -> None:
        changes.append(Change(verdict, entry.file, entry.ref, message))

    for key, after in new.items():
        before = old.get(key)
        if before is None or after.origin == "operator":
            # New, or made by an operator from a custom resource that is compared in its place.
            continue
        protected = before.protected or after.protected
        md_old, md_new = before.obj.get("metadata") or {}, after.obj.get("metadata") or {}
        found: list[tuple[str, str, str]] = []
        for fld in ("name", "namespace"):
            if md_old.get(fld) != md_new.get(fld):
                found.append((f"metadata.{fld}", REPLACED, "a new name or namespace is a new object"))
        found += [c for c in _field_changes(before.obj, after.obj, patch=after.patch, crds=installed)
                  if not _ignored(c[0], after.ignore)]
        for path, verdict, why in found:
            text = f"{path} {_describe(_get(before.obj, path))} -> {_describe(_get(after.obj, path))}: {why}"
            if verdict == REPLACED and protected:
                add(PROTECTED, after, f"replacement of a resource with {' and '.join(protected)}: {text}")
            else:
                add(verdict, after, text)
    for key, before in old.items():
        if key not in new and before.protected:
            add(PROTECTED, before, f"removed from the plan although it has {' and '.join(before.protected)}: "
                                   f"Pulumi refuses to delete it (protect) or leaves it behind (retainOnDelete)")
    return changes
