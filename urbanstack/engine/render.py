"""The upstream packages of a stack, rendered offline as the Kubernetes provider would apply them.

A stack installs Helm charts (``helm.v4.Chart``) and the Keycloak operator's release manifests
(``yaml.v2.ConfigGroup``). Under Pulumi's mocks both register once with no children (a fact of the Pulumi SDK mocks),
so the plan would not show a single object of theirs. This module renders them from the vendored copies
(``vendor/charts/<chart>-<version>/``, ``vendor/keycloak-operator-<version>/``: its OLM bundle) with exactly the inputs the program
registered (release name, namespace, values: read from the recorded ``helm.v4.Chart`` resource), and applies what
the provider and the engine do to a chart's children:

* **Helm's template engine** itself: ``helm-python-sdk`` 0.2.2 bundles Helm v4 as a library (offline; ``lookup``
  returns nothing). ``NOTES.txt`` and empty documents are skipped; manifests are split as Helm splits them.
* **CRDs** of the chart's ``crds/`` folders are included unless the chart sets ``skipCrds``, as Helm's
  ``IncludeCRDs`` does (pulumi-kubernetes ``provider/pkg/provider/helm/v4/chart.go``: ``cmd.IncludeCRDs =
  !chartArgs.SkipCrds``).
* **Hooks** (``helm.sh/hook`` annotation) are left out: the same file sets ``cmd.DisableHooks = true`` and
  registers only ``release.Manifest``, which holds no hooks; pulumi-kubernetes 4.34.2's ``Chart`` docs say "By
  default, Helm hook resources are omitted" (``includeHooks`` only works in render-to-directory mode). The
  renderer reports the hooks it left out, because a chart that relies on one (e.g. a certificate generator) then
  misses it on a real cluster too.
* **Default namespace**: ``provideryamlv2.Normalize`` puts namespaced objects without a namespace into the chart's
  namespace.
* **Transforms**: the chart's children are registered with the chart as parent, so the stack's resource
  transforms (the cost labels, ``components/labels.py``) run on them with the chart's URN as parent URN, and so do
  transforms given to the chart component itself (the ConfigGroup's ``keycloak_operator_transform``), first.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from catalogue.paths import ROOT
from catalogue.versions import CHARTS, MANIFESTS, Chart
from urbanstack.engine.offline import RecordedResource, StackPlan, apply_transforms, integral_numbers
from urbanstack.engine.planfiles import CHART_TYPE, CONFIG_GROUP_TYPE, type_token

VENDOR = ROOT / "vendor"
CHARTS_DIR = VENDOR / "charts"
HOOK_ANNOTATION = "helm.sh/hook"

REFRESH_CHART = (
    "Refresh the copy: `urbanstack vendor refresh <chart key>` (network) unpacks the published chart package of that "
    "version into vendor/charts/<chart>-<version>/ after checking its digest against the repository index, and appends "
    "its provenance to vendor/charts/PROVENANCE.md (offline: rebuild it from the upstream tag as PROVENANCE.md "
    "describes); add its LICENSE if the package ships none, run `python3 vendor/charts/render_check.py`, and delete "
    "the old version's folder."
)
"""How to refresh a chart copy after a version bump (the test message and docs/versions.md say it)."""

REFRESH_MANIFESTS = (
    "Refresh the copy: from the release's OLM bundle in k8s-operatorhub/community-operators "
    "(operators/keycloak-operator/<version>/ at a commit that holds it) put the CRD files of manifests/ verbatim and "
    "the ClusterServiceVersion's apiVersion, kind, metadata.name, spec.customresourcedefinitions, spec.install, "
    "spec.replaces and spec.version (olm-csv-<version>.excerpt.yaml) into vendor/keycloak-operator-<version>/, set "
    "pinned/upstream_commit in its release.yaml, point MANIFESTS['keycloak-operator'] at that commit and update its "
    "PROVENANCE.md."
)

# Kinds the API server serves cluster-scoped (built-in), plus those of the CRDs a stack installs (added per render).
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "APIService", "CSIDriver", "CSINode", "VolumeAttachment", "IngressClass",
    "RuntimeClass", "PodSecurityPolicy", "CertificateSigningRequest", "FlowSchema", "PriorityLevelConfiguration",
    "VolumeAttributesClass", "DeviceClass", "ClusterTrustBundle",
})


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader (libyaml's when present: the CRDs are large) without YAML 1.1's ``=`` (value) tag: Kubernetes
    reads a bare ``=`` as a string."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:value"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SEPARATOR = re.compile(r"(?:^|\n)---[\t\n\f\r ]*")
_GO_SPACE = "\t\n\f\r "  # RE2's \s


def split_manifests(text: str) -> list[str]:
    """The parts Helm's ``releaseutil.SplitManifests`` gives: it splits at ``(?:^|\\s*\\n)---\\s*`` (RE2, where
    ``\\s`` is ``[\\t\\n\\f\\r ]``). Its leading ``\\s*`` takes the whitespace that ends the part before a
    separator, which matters for a block scalar at the end of a document; here that is an ``rstrip``, because
    Python's engine backtracks that pattern over every indented line (most of the time of rendering a chart)."""
    parts = _SEPARATOR.split(text)
    return [part.rstrip(_GO_SPACE) for part in parts[:-1]] + parts[-1:]


def documents(text: str) -> Iterator[dict[str, Any]]:
    """The non-empty YAML documents of a manifest stream, split the way Helm splits them."""
    for part in split_manifests(text):
        if part.strip():
            doc = yaml.load(part, Loader=_Loader)
            if isinstance(doc, dict) and doc:
                if doc.get("kind") == "List" or (str(doc.get("kind", "")).endswith("List") and "items" in doc):
                    yield from (i for i in doc.get("items") or [] if isinstance(i, dict))
                else:
                    yield doc


def chart_folder(chart: Chart) -> Path:
    """``vendor/charts/<chart>-<version>`` for a pinned chart (``oci://…/gateway-helm`` -> ``gateway-helm``)."""
    return CHARTS_DIR / f"{chart.chart.rstrip('/').rsplit('/', 1)[-1]}-{chart.version}"


def manifests_folder(version: str) -> Path:
    return VENDOR / f"keycloak-operator-{version}"


def missing_copies() -> list[str]:
    """One message per version pinned in ``catalogue/versions.py`` that has no vendored copy."""
    problems = []
    for key, chart in CHARTS.items():
        folder = chart_folder(chart)
        if not (folder / "Chart.yaml").is_file():
            problems.append(f"catalogue/versions.py pins chart {key!r} {chart.version}, but "
                            f"{folder.relative_to(ROOT)}/ does not exist. {REFRESH_CHART}")
    pinned = MANIFESTS["keycloak-operator"].version
    release = manifests_release(pinned)
    if release is None:
        problems.append(f"catalogue/versions.py pins keycloak-operator {pinned}, but no vendored copy of that "
                        f"release exists ({manifests_folder(pinned).relative_to(ROOT)}/release.yaml). {REFRESH_MANIFESTS}")
    return problems


def manifests_release(version: str) -> dict[str, Any] | None:
    """``release.yaml`` of the Keycloak operator copy for ``version``, if it is of exactly that release."""
    path = manifests_folder(version) / "release.yaml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data if str(data.get("pinned")) == version else None


@dataclass
class Rendered:
    """The objects one upstream package puts into a stack, and the hook objects that are never applied."""

    folder: str
    source: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    skipped_hooks: list[str] = field(default_factory=list)
    not_rendered: list[str] = field(default_factory=list)
    """Files the program applies that have no vendored copy (so the plan cannot show their objects)."""


def _cluster_scoped(objs: list[dict[str, Any]]) -> set[str]:
    kinds = set(CLUSTER_SCOPED_KINDS)
    for obj in objs:
        if obj.get("kind") == "CustomResourceDefinition" and (obj.get("spec") or {}).get("scope") == "Cluster":
            kinds.add(str(((obj.get("spec") or {}).get("names") or {}).get("kind", "")))
    return kinds


def normalize(objs: list[dict[str, Any]], namespace: str, cluster_kinds: set[str]) -> list[dict[str, Any]]:
    """Default namespace for namespaced objects without one (``provideryamlv2.Normalize``)."""
    for obj in objs:
        if obj.get("kind") in cluster_kinds:
            continue
        md = obj.setdefault("metadata", {})
        if not md.get("namespace"):
            md["namespace"] = namespace
    return objs


def _children(objs: list[dict[str, Any]], parent: RecordedResource, prefix: str,
              transforms: list[Callable]) -> list[dict[str, Any]]:
    out = []
    for obj in objs:
        md = obj.get("metadata") or {}
        name = f"{prefix}:{md.get('namespace') + '/' if md.get('namespace') else ''}{md.get('name', '')}"
        out.append(apply_transforms(transforms, type_token(obj), name, obj, parent.urn, True))
    return out


def render_chart(resource: RecordedResource, transforms: list[Callable], extra_cluster_kinds: set[str] = frozenset()
                 ) -> Rendered:
    """The objects ``helm.v4.Chart`` registers for one recorded chart resource, transforms applied."""
    inputs = integral_numbers(resource.inputs)
    key = resource.name
    spec = CHARTS.get(key)
    if spec is None or spec.version != inputs.get("version"):
        raise RuntimeError(f"chart {key!r} {inputs.get('version')}: not pinned in catalogue/versions.py")
    folder = chart_folder(spec)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no vendored copy of chart {key!r} {spec.version}. {REFRESH_CHART}")
    release = inputs.get("name") or key
    namespace = inputs.get("namespace") or "default"
    result = Rendered(folder=f"chart-{release}", source=f"{folder.relative_to(ROOT)} (release {release!r} in "
                                                         f"namespace {namespace!r})")
    objs, result.skipped_hooks = _helm_template(folder, inputs, release, namespace)
    objs = normalize(objs, namespace, _cluster_scoped(objs) | set(extra_cluster_kinds))
    result.objects = _children(objs, resource, key, transforms)
    return result


_TEMPLATED: dict[tuple[str, str, str, str], bytes] = {}
"""Helm's output per (chart copy, values, release, namespace), parsed and pickled: within one process the same
inputs are rendered once (a test session plans ``shared`` many times)."""
_CRDS: dict[str, bytes] = {}
"""The parsed ``crds/`` documents per chart copy (they do not depend on values; parsing them is most of the cost)."""


def _chart_crds(chart) -> list[dict[str, Any]]:
    return [doc for crd in chart.crds for doc in documents(crd["data"])]


def _chart_manifests(chart, values: dict[str, Any], release: str, namespace: str
                     ) -> tuple[list[dict[str, Any]], list[str]]:
    """The rendered templates (``NOTES.txt`` and hooks left out) and a description of each hook left out."""
    rendered = chart.render(values=values, name=release, namespace=namespace)
    objs: list[dict[str, Any]] = []
    hooks: list[str] = []
    for path in sorted(p for p in rendered if not p.endswith("NOTES.txt")):
        for doc in documents(rendered[path]):
            md = doc.get("metadata") or {}
            if HOOK_ANNOTATION in (md.get("annotations") or {}):
                hooks.append(f"{doc.get('kind')} {md.get('name')} ({path})")
            else:
                objs.append(doc)
    return objs, hooks


def _helm_template(folder: Path, inputs: dict[str, Any], release: str, namespace: str
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    """The documents ``helm template`` gives for the chart copy in ``folder`` (CRDs first, unless ``skipCrds``)
    and the hooks left out. A fresh copy on every call: the caller's transforms change the objects."""
    from helm_python import Chart as HelmChart

    values = inputs.get("values") or {}
    key = (str(folder), json.dumps(values, sort_keys=True, default=str), release, namespace)
    if key not in _TEMPLATED or str(folder) not in _CRDS:
        with HelmChart.load(folder) as chart:
            if str(folder) not in _CRDS:
                _CRDS[str(folder)] = pickle.dumps(_chart_crds(chart), protocol=pickle.HIGHEST_PROTOCOL)
            if key not in _TEMPLATED:
                _TEMPLATED[key] = pickle.dumps(_chart_manifests(chart, values, release, namespace),
                                               protocol=pickle.HIGHEST_PROTOCOL)
    objs, hooks = pickle.loads(_TEMPLATED[key])
    crds = [] if inputs.get("skipCrds") else pickle.loads(_CRDS[str(folder)])
    return [*crds, *objs], hooks


def render_keycloak_operator(resource: RecordedResource, transforms: list[Callable]) -> Rendered:
    """The Keycloak operator's release as the ConfigGroup applies it: the CRD files of its OLM bundle
    (``MANIFESTS['keycloak-operator'].files``, rendered from their vendored copies) and the install objects derived
    from the vendored ClusterServiceVersion (``components.shared.operators.keycloak_operator_objects``, the same
    function the program passes as ``objs``).

    The ConfigGroup's own transform (``components.shared.operators.keycloak_operator_transform``: namespace, priority
    class, restricted container) runs first, then the stack's transforms. A CRD file without a vendored copy is
    named in ``not_rendered`` (``render.json``): the cluster gets it, the plan cannot show it.
    """
    from components.shared.operators import keycloak_operator_objects, keycloak_operator_transform

    manifests = MANIFESTS["keycloak-operator"]
    pinned = manifests.version
    if manifests_release(pinned) is None:
        raise FileNotFoundError(f"no vendored Keycloak operator release files for {pinned}. {REFRESH_MANIFESTS}")
    folder = manifests_folder(pinned)
    shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    objs: list[dict[str, Any]] = []
    result = Rendered(folder="manifests-keycloak-operator",
                      source=f"{shown} (OLM bundle of {pinned}: CRD files, install objects derived "
                             "from its ClusterServiceVersion)")
    for name in manifests.files:
        copy_path = folder / Path(name).name
        if copy_path.is_file():
            objs += list(documents(copy_path.read_text(encoding="utf-8")))
        else:
            result.not_rendered.append(f"{manifests.base}/{pinned}/{name} (no copy at {shown}/{copy_path.name})")
    from catalogue import names
    objs += keycloak_operator_objects(pinned, names.NS_IDENTITY)
    result.objects = _children(objs, resource, resource.name, [keycloak_operator_transform, *transforms])
    return result


_RENDERED: dict[int, tuple[StackPlan, list[Rendered]]] = {}


def render_stack(plan: StackPlan) -> list[Rendered]:
    """Every upstream package the stack installs, rendered (an empty list for stacks that install none).

    Rendered once per plan object (a municipality's operator expansions read ``shared``'s rendered charts).
    """
    cached = _RENDERED.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    out = []
    for res in plan.resources:
        if res.type == CHART_TYPE:
            out.append(render_chart(res, plan.transforms))
        elif res.type == CONFIG_GROUP_TYPE and res.name == "keycloak-operator":
            out.append(render_keycloak_operator(res, plan.transforms))
        elif res.type.startswith(("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")):
            raise RuntimeError(f"stack {plan.stack}: {res.type} {res.name!r} has no offline renderer "
                               "(urbanstack/engine/render.py)")
    _RENDERED[id(plan)] = (plan, out)
    return out
