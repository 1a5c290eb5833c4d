"""The cost-sharing label scheme: label keys and values, where they go and the rules they follow.

Every Kubernetes object of every stack, every pod template and every PVC template carries

==========================  ==================================================================
``urban-stack/tenant``       the municipality's slug, or ``shared``
``urban-stack/module``       the module or platform component the object belongs to
``urban-stack/cost-center``  the municipality's ``costCenter``, or the operator's for shared objects
``urban-stack/cost-share``   ``dedicated`` (charged to one municipality) or ``shared`` (split by key)
==========================  ==================================================================

plus the Kubernetes recommended ``app.kubernetes.io/*`` labels.

How they get there: each stack registers one Pulumi *resource transform* (``components/labels.py``) that runs
for every resource of the stack, including the children of Helm charts under the real engine. It takes

* tenant, cost centre and cost share from the stack (:class:`LabelScope`: :func:`shared_scope`,
  :func:`tenant_scope`), and
* the module from the catalogue: the innermost component of the resource's parent chain whose type token the
  catalogue names (each module's ``ModuleSpec``, the platform components in :data:`PLATFORM_COMPONENTS`).

Helm charts render their objects inside the provider, so chart values additionally receive
:func:`cost_labels` explicitly (``commonLabels``/``podLabels``), with the same scope; nothing else sets these
labels by hand.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalogue import manifests

TENANT = "urban-stack/tenant"
MODULE = "urban-stack/module"
COST_CENTER = "urban-stack/cost-center"
COST_SHARE = "urban-stack/cost-share"
COST_LABEL_KEYS = (TENANT, MODULE, COST_CENTER, COST_SHARE)
OIDC_BACKCHANNEL = "urban-stack/oidc-backchannel"
"""Pod label of the module workloads that call their realm's OIDC back channel (value ``internal`` or ``public``,
declared in the module's catalogue entry, ``ModuleSpec.backchannel``): the only pods the Gateway's network
policy admits for it."""

CELL = "urban-stack/cell"
"""Cost tag of a cell's cloud resources (its nodes, volumes, load balancers) in billing data: the cell's name, or
:data:`GLOBAL_CELL` for a cost of no single cell. Not a label of the Kubernetes objects: each cell is its own
cluster, and its OpenCost meters only that cluster (docs/finance.md, "Zellen")."""
GLOBAL_CELL = "global"
"""Value of :data:`CELL` for the cooperation's costs of no single cell (the management cluster, the off-site
provider's base fee): split among all members (decision record 0015). No cell may be named so."""

SHARED_TENANT = "shared"
DEDICATED = "dedicated"
SHARED = "shared"
COST_SHARES = (DEDICATED, SHARED)
UNASSIGNED = "unassigned"
"""Module value of an object that sits outside every component: the label check reports it."""

PART_OF = "urban-stack"

PLATFORM_MODULES: dict[str, str] = {
    "operators": "Kubernetes operators (CloudNativePG, Keycloak, cert-manager, Rook, ...)",
    "identity": "Shared Keycloak and the per-municipality realms in it",
    "gateway": "Shared Gateway API gateway and TLS certificates",
    "certificates": "cert-manager issuers",
    "monitoring": "Prometheus stack and OpenCost metering",
    "storage": "Object storage (Rook-Ceph RGW or an external S3 provider) and buckets",
    "platform": "Platform hygiene: namespaces, priority classes, network baselines",
    "tenancy": "A municipality's namespace, quota, limits, RBAC and network baseline",
    "database": "A municipality's CloudNativePG cluster, databases and backups",
}
"""Module label values of platform components. Module values of booked modules come from the catalogue."""

LABEL_VALUE_MAX = 63


@dataclass(frozen=True)
class LabelScope:
    """What every object of one stack is charged to."""

    tenant: str
    cost_center: str
    cost_share: str

    def __post_init__(self) -> None:
        if self.cost_share not in COST_SHARES:
            raise ValueError(f"cost_share must be one of {COST_SHARES}, not {self.cost_share!r}")


def shared_scope(operator_cost_center: str) -> LabelScope:
    """The scope of every object of the shared stack: the operator's cost centre, split by key."""
    return LabelScope(SHARED_TENANT, operator_cost_center, SHARED)


def tenant_scope(slug: str, cost_center: str) -> LabelScope:
    """The scope of every object of a municipality's stack: charged to it alone."""
    return LabelScope(slug, cost_center, DEDICATED)


def cost_labels(scope: LabelScope, module: str) -> dict[str, str]:
    """The four cost labels plus the recommended labels for ``module`` in ``scope``."""
    return {
        TENANT: scope.tenant,
        MODULE: module,
        COST_CENTER: scope.cost_center,
        COST_SHARE: scope.cost_share,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def cost_labels_for_operator(scope: LabelScope, module: str) -> dict[str, str]:
    """Only the four cost labels, for an operator that merges them OVER its own labels (Envoy Gateway's
    ``envoyLabels``, the Keycloak operator's Service labels): the recommended ``app.kubernetes.io/managed-by``
    there would replace the operator's own value, which its selectors and informers match on."""
    full = cost_labels(scope, module)
    return {key: full[key] for key in COST_LABEL_KEYS}


PLATFORM_COMPONENTS: dict[str, str] = {
    "urbanstack:shared:operators": "operators",
    "urbanstack:shared:identity": "identity",
    "urbanstack:shared:gateway": "gateway",
    "urbanstack:shared:certificates": "certificates",
    "urbanstack:shared:monitoring": "monitoring",
    "urbanstack:shared:storage": "storage",
    "urbanstack:shared:platform": "platform",
    "urbanstack:tenant:tenancy": "tenancy",
    "urbanstack:tenant:database": "database",
    "urbanstack:tenant:identity": "identity",
    "urbanstack:tenant:storage": "storage",
    "urbanstack:tenant:gateway": "gateway",
}
"""Pulumi type token of each platform component -> the module (of :data:`PLATFORM_MODULES`) that pays for what it
creates. The tokens are part of every URN below the component: renaming one replaces its resources, so they stay
as they are; who pays is said here, and a component whose token is in no table is charged to nobody (``unassigned``,
which the label check reports)."""


def module_of_parent(parent_urn: str | None, modules: Mapping[str, str]) -> str:
    """The cost module of the resources whose parent has ``parent_urn``
    (``urn:pulumi:stack::project::type$chain::name``): the innermost component of the chain that ``modules``
    (``catalogue.modules.cost_modules``) names, or ``unassigned``."""
    parts = (parent_urn or "").split("::")
    if len(parts) < 4:
        return UNASSIGNED
    for token in reversed(parts[2].split("$")):
        if token in modules:
            return modules[token]
    return UNASSIGNED


COST_KEYS_ONLY_KINDS = {"EnvoyProxy"}
"""Kinds whose pod label map (``catalogue.manifests.Shape.pod_labels``) the operator copies OVER its own app labels,
which its selectors match: they get only the four cost labels. Envoy Gateway v1.9.0 (internal/infrastructure/
kubernetes/proxy/resource_provider.go ``getPodLabels``/``envoyLabels``) would otherwise replace
``app.kubernetes.io/managed-by: envoy-gateway`` on the pod template by ours, and the Deployment's selector would no
longer select its pods."""
UNLABELLED_TYPES = (
    "kubernetes:helm.sh/",
    "kubernetes:yaml/",
    "kubernetes:kustomize/",
)


def kind_of(type_: str) -> str:
    """``kubernetes:apps/v1:Deployment`` -> ``Deployment``."""
    return type_.rsplit(":", 1)[-1]


def is_labelled_type(type_: str) -> bool:
    """True for Kubernetes objects (built-in or custom), false for charts, config groups, providers."""
    return type_.startswith("kubernetes:") and not type_.startswith(UNLABELLED_TYPES)


def _merge(target: dict, labels: Mapping[str, str], force: tuple[str, ...]) -> dict:
    current = dict(target.get("labels") or {})
    for key, value in labels.items():
        if key in force or key not in current:
            current[key] = value
    target["labels"] = current
    return target


def _at(obj: dict, path: tuple[str, ...], create: bool) -> dict | None:
    node = obj
    for key in path:
        nxt = node.get(key)
        if nxt is None:
            if not create:
                return None
            nxt = {}
            node[key] = nxt
        if not isinstance(nxt, dict):
            return None
        node = nxt
    return node


def apply_labels(type_: str, props: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of ``props`` with ``labels`` on the object, its pod templates and PVC templates.

    The four cost labels always win (they are not for components to choose); the recommended
    ``app.kubernetes.io/*`` labels only fill gaps, so selectors keep the values components gave them.
    """
    out = copy.deepcopy(dict(props))
    kind = kind_of(type_)
    shape = manifests.SHAPES.get(kind, manifests.NO_SHAPE)
    _merge(_at(out, ("metadata",), create=True), labels, COST_LABEL_KEYS)
    if isinstance(out.get("spec"), dict):
        for path in shape.label_metadata():
            _merge(_at(out, path, create=True), labels, COST_LABEL_KEYS)
        if shape.pod_labels is not None:
            path = shape.pod_labels
            holder = _at(out, path[:-1], create=False)
            if holder is not None:
                current = holder.get(path[-1]) if isinstance(holder.get(path[-1]), dict) else {}
                wanted = ({k: v for k, v in labels.items() if k in COST_LABEL_KEYS}
                          if kind in COST_KEYS_ONLY_KINDS else labels)
                holder[path[-1]] = _merge({"labels": current}, wanted, COST_LABEL_KEYS)["labels"]
    for _, claim in manifests.claim_templates(out, shape):
        _merge(claim.setdefault("metadata", {}), labels, COST_LABEL_KEYS)
    return out


def template_labels(obj: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any] | None]]:
    """Every place of a rendered object that must carry the cost labels, as ``(where, labels)``.

    ``where`` is a dotted path (``metadata``, ``spec.template.metadata``, ``spec.volumeClaimTemplates[0].metadata``,
    ``spec.labels.all``); ``labels`` is ``{}`` where the place has no labels and ``None`` where the place (e.g. a
    pod template's ``metadata``) is missing altogether. Used by the label check
    and the policy pack, so that both look exactly where :func:`apply_labels` writes.
    """
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    out: list[tuple[str, Mapping[str, Any] | None]] = [("metadata", md.get("labels") or {})]
    if not isinstance(obj.get("spec"), dict):
        return out
    shape = manifests.shape_of(obj)
    for path in shape.label_metadata():
        node = manifests.at(obj, path)
        out.append((manifests.dotted(path), (node.get("labels") or {}) if isinstance(node, dict) else None))
    if shape.pod_labels is not None and isinstance(manifests.at(obj, shape.pod_labels[:-1]), dict):
        out.append((manifests.dotted(shape.pod_labels), manifests.at(obj, shape.pod_labels) or {}))
    for path, claim in manifests.claim_templates(obj):
        out.append((manifests.dotted((*path, "metadata")), (claim.get("metadata") or {}).get("labels") or {}))
    return out


def check_labels(labels: Mapping[str, Any] | None, valid_tenants: set[str], valid_modules: set[str]) -> list[str]:
    """Problems with the cost labels of one object or template (empty list = fine)."""
    labels = labels or {}
    problems = []
    for key in COST_LABEL_KEYS:
        if not labels.get(key):
            problems.append(f"label {key} missing")
    tenant = labels.get(TENANT)
    if tenant and tenant not in valid_tenants:
        problems.append(f"label {TENANT}={tenant!r} is neither a known municipality nor '{SHARED_TENANT}'")
    module = labels.get(MODULE)
    if module and module not in valid_modules:
        problems.append(f"label {MODULE}={module!r} is not a known module or platform component")
    share = labels.get(COST_SHARE)
    if share and share not in COST_SHARES:
        problems.append(f"label {COST_SHARE}={share!r} must be one of {', '.join(COST_SHARES)}")
    if tenant and share and (tenant == SHARED_TENANT) != (share == SHARED):
        problems.append(f"{TENANT}={tenant} does not fit {COST_SHARE}={share}")
    for key, value in labels.items():
        if key in COST_LABEL_KEYS and isinstance(value, str) and len(value) > LABEL_VALUE_MAX:
            problems.append(f"label {key} longer than {LABEL_VALUE_MAX} characters")
    return problems
