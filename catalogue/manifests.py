"""Where a Kubernetes manifest keeps its pods: the one walker over every workload kind.

For a manifest dict (camelCase wire names, as the plan files, the policy engine and a resource transform see it)
this tells where the pods it makes are described: the pod template's metadata and spec, every container (init,
regular, ephemeral), every volume, the PVC templates, and the further metadata a controller copies onto what it
makes (a CronJob's job template, CloudNativePG's ``inheritedMetadata``), each with its path, so that the label
transform can write into exactly the places the checks and the policy pack read.

Two kinds of objects carry pod templates:

* the core API's workloads (:data:`SHAPES` entries with ``by_operator=False``): a ``v1`` Pod is its own template,
  Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController and Job keep it at ``spec.template``, a
  CronJob at ``spec.jobTemplate.spec.template`` (k8s.io/api apps/v1, batch/v1 types.go);
* custom resources whose operator makes the pods (``by_operator=True``): CloudNativePG's Pooler
  (``spec.template``), the Keycloak operator's ``spec.unsupported.podTemplate``, Envoy Gateway's strategic merge
  patch over the Envoy Deployment (``envoyDeployment.patch.value``). Some operators take a plain label map for
  their pods instead of a template (Rook, Keycloak's realm import, Envoy Gateway's ``envoyDeployment.pod.labels``):
  :attr:`Shape.pod_labels`.

Custom resources the table does not list are searched for any mapping with a ``containers`` list, so that the
policy pack never skips the pods of a new kind (:func:`pod_specs`). Only the standard library: the policy pack
and the checks import this without Pulumi.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]
"""Keys and list indices from the top of a manifest to a node."""

CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")
"""Every container list of a pod spec, in the order k8s.io/kubernetes ``pkg/api/pod`` ``VisitContainers`` visits
them (and Pod Security's visitor.go after it)."""

TEMPLATE = ("spec", "template")


@dataclass(frozen=True)
class Shape:
    """Where one kind keeps what it hands on to the pods (and jobs, claims, services) made from it."""

    pod_template: Path | None = None
    """The node holding the pod template's ``metadata`` and ``spec``; ``()`` for a Pod, which is its own."""
    by_operator: bool = False
    """A custom resource: an operator, not the core controllers, makes its pods (the plan expands them into
    ``operator-<kind>/``, so the checks see them as what they become)."""
    more_metadata: tuple[Path, ...] = ()
    """Further metadata copied onto what the object makes: a CronJob's job template (its Jobs), CloudNativePG's
    ``inheritedMetadata`` (pods, PVCs and Services of the cluster)."""
    pod_labels: Path | None = None
    """A plain label map the operator puts on the pods (or the Job) it makes; where a kind has one, that map, not
    the pod template's metadata, is where this platform puts the pods' labels."""
    claim_templates: Path | None = None
    """The list of PersistentVolumeClaim templates."""
    api_version: str | None = None
    """Only objects of this ``apiVersion`` have this shape (a ``v1`` Pod); ``None``: any."""

    def label_metadata(self) -> tuple[Path, ...]:
        """Every ``metadata`` (besides the object's own) whose labels reach the objects made from this one:
        :attr:`more_metadata`, then the pod template's, unless the pod template is the object itself or the kind
        takes a :attr:`pod_labels` map."""
        own = () if self.pod_template in (None, ()) or self.pod_labels else ((*self.pod_template, "metadata"),)
        return (*self.more_metadata, *own)


SHAPES: dict[str, Shape] = {
    "Pod": Shape(pod_template=(), api_version="v1"),
    "Deployment": Shape(pod_template=TEMPLATE),
    "StatefulSet": Shape(pod_template=TEMPLATE, claim_templates=("spec", "volumeClaimTemplates")),
    "DaemonSet": Shape(pod_template=TEMPLATE),
    "ReplicaSet": Shape(pod_template=TEMPLATE),
    "ReplicationController": Shape(pod_template=TEMPLATE),
    "Job": Shape(pod_template=TEMPLATE),
    "CronJob": Shape(pod_template=("spec", "jobTemplate", "spec", "template"),
                     more_metadata=(("spec", "jobTemplate", "metadata"),)),
    # CloudNativePG (api/v1 cluster_types.go ``InheritedMetadata``): copied onto its pods, PVCs and Services.
    "Cluster": Shape(by_operator=True, more_metadata=(("spec", "inheritedMetadata"),)),
    # CloudNativePG poolers take a pod template like a Deployment's (api/v1 pooler_types.go ``Template``).
    "Pooler": Shape(pod_template=TEMPLATE, by_operator=True),
    # The Keycloak operator merges this pod template into its StatefulSet's (KeycloakDeploymentDependentResource).
    "Keycloak": Shape(pod_template=("spec", "unsupported", "podTemplate"), by_operator=True),
    # Keycloak operator: labels of the Job that imports a realm.
    "KeycloakRealmImport": Shape(by_operator=True, pod_labels=("spec", "labels")),
    # Rook: labels for every Ceph daemon pod of the cluster (``all``), and for the RGW pods of an object store.
    "CephCluster": Shape(by_operator=True, pod_labels=("spec", "labels", "all")),
    "CephObjectStore": Shape(by_operator=True, pod_labels=("spec", "gateway", "labels")),
    # Envoy Gateway v1.9.0: labels of the data-plane pods, and a strategic merge patch over the Envoy Deployment
    # (internal/utils/merge.go ``MergeWithPatch``) whose pod template adds to the rendered one.
    "EnvoyProxy": Shape(
        pod_template=("spec", "provider", "kubernetes", "envoyDeployment", "patch", "value", "spec", "template"),
        by_operator=True, pod_labels=("spec", "provider", "kubernetes", "envoyDeployment", "pod", "labels")),
}
"""Every kind whose manifest carries pods (or what its pods inherit), by ``kind``."""

NO_SHAPE = Shape()


def shape_of(obj: Mapping[str, Any]) -> Shape:
    """The :class:`Shape` of a manifest (an empty one for kinds that make no pods)."""
    shape = SHAPES.get(str(obj.get("kind", "")), NO_SHAPE)
    if shape.api_version is not None and obj.get("apiVersion") != shape.api_version:
        return NO_SHAPE
    return shape


def dotted(path: Path) -> str:
    """``("spec", "volumeClaimTemplates", 0, "metadata")`` -> ``spec.volumeClaimTemplates[0].metadata``."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def at(obj: Mapping[str, Any], path: Path) -> Any:
    """The node at ``path`` (``None`` where the path does not lead to one)."""
    node: Any = obj
    for key in path:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and -len(node) <= key < len(node) else None
        else:
            node = node.get(key) if isinstance(node, Mapping) else None
    return node


@dataclass(frozen=True)
class Container:
    """One container of a pod spec: its list (``initContainers``, ``containers``, ``ephemeralContainers``)."""

    path: Path
    group: str
    body: Mapping[str, Any]

    @property
    def name(self) -> Any:
        return self.body.get("name")


@dataclass(frozen=True)
class PodTemplate:
    """A pod template found in a manifest."""

    spec_path: Path
    spec: Mapping[str, Any]
    """The pod spec (``{}`` where the template has none)."""
    metadata_path: Path | None
    metadata: Mapping[str, Any] | None
    """The template's metadata; ``None`` where it has none (or, for a searched pod spec, none is known)."""
    by_operator: bool
    """Made by an operator from a custom resource (not by the core controllers)."""

    @property
    def labels(self) -> dict[str, Any]:
        return dict((self.metadata or {}).get("labels") or {})

    def containers(self, groups: tuple[str, ...] = CONTAINER_GROUPS) -> list[Container]:
        """The containers of ``groups`` (default: init, regular, ephemeral, in that order)."""
        return spec_containers(self.spec, groups, self.spec_path)

    def volumes(self) -> list[tuple[Path, Mapping[str, Any]]]:
        return spec_volumes(self.spec, self.spec_path)


def spec_containers(spec: Mapping[str, Any], groups: tuple[str, ...] = CONTAINER_GROUPS,
                    spec_path: Path = ()) -> list[Container]:
    """The containers of ``groups`` of a pod spec (default: init, regular, ephemeral, in that order)."""
    return [Container((*spec_path, group, i), group, c)
            for group in groups for i, c in enumerate(_list(spec.get(group))) if isinstance(c, Mapping)]


def spec_volumes(spec: Mapping[str, Any], spec_path: Path = ()) -> list[tuple[Path, Mapping[str, Any]]]:
    """``(path, volume)`` of every volume of a pod spec."""
    return [((*spec_path, "volumes", i), v) for i, v in enumerate(_list(spec.get("volumes"))) if isinstance(v, Mapping)]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _template(obj: Mapping[str, Any], path: Path, by_operator: bool) -> PodTemplate | None:
    node = at(obj, path)
    if not isinstance(node, Mapping):
        return None
    md, spec = node.get("metadata"), node.get("spec")
    return PodTemplate((*path, "spec"), spec if isinstance(spec, Mapping) else {},
                       (*path, "metadata"), md if isinstance(md, Mapping) else None, by_operator)


def pod_templates(obj: Mapping[str, Any]) -> list[PodTemplate]:
    """The pod templates of a manifest of a kind in :data:`SHAPES` (none where it has none)."""
    shape = shape_of(obj)
    if shape.pod_template is None or (shape.pod_template and not isinstance(obj.get("spec"), Mapping)):
        return []
    found = _template(obj, shape.pod_template, shape.by_operator)
    return [found] if found is not None else []


def workload_pod(obj: Mapping[str, Any]) -> PodTemplate | None:
    """The pods a core-API object makes (a v1 Pod itself, a workload's template); ``None`` for every other object.

    Custom resources are left out: the plan expands their pods into the operator-made objects they become."""
    return next((t for t in pod_templates(obj) if not t.by_operator), None)


def _search(node: Any, path: Path) -> Iterator[PodTemplate]:
    if isinstance(node, Mapping):
        if isinstance(node.get("containers"), list):
            yield PodTemplate(path, node, None, None, True)
        for key, value in node.items():
            yield from _search(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _search(value, (*path, i))


def pod_specs(obj: Mapping[str, Any]) -> list[PodTemplate]:
    """Every pod spec of a manifest: the templates of :func:`pod_templates`, and in a kind whose shape names no pod
    template, every mapping under ``spec`` with a ``containers`` list (a custom resource nobody listed yet)."""
    if shape_of(obj).pod_template is not None:
        return pod_templates(obj)
    return list(_search(obj.get("spec"), ("spec",)))


def claim_templates(obj: Mapping[str, Any], shape: Shape | None = None) -> list[tuple[Path, Mapping[str, Any]]]:
    """``(path, claim)`` of every PersistentVolumeClaim template (``shape``: where the kind is known otherwise, e.g.
    from a resource's type token)."""
    path = (shape or shape_of(obj)).claim_templates
    if path is None:
        return []
    return [((*path, i), c) for i, c in enumerate(_list(at(obj, path))) if isinstance(c, Mapping)]
