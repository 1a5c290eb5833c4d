"""Check: what the API server validates in code and no OpenAPI schema expresses, so ``schemas`` cannot see it.

Every rule names the Kubernetes function it follows (kubernetes/kubernetes, read for this check):

* ``pdb-min-and-max`` – ``pkg/apis/policy/validation/validation.go`` ``ValidatePodDisruptionBudgetSpec``: a
  PodDisruptionBudget may set ``minAvailable`` or ``maxUnavailable``, not both; an integer must be >= 0 and a
  percentage at most 100%.
* ``label-syntax`` – ``staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go``
  ``ValidateLabels``/``ValidateLabelSelector`` with ``staging/src/k8s.io/apimachinery/pkg/util/validation/
  validation.go`` ``IsQualifiedName`` (key: optional DNS-subdomain prefix of at most 253 characters, ``/``, a
  name of at most 63 characters of ``[A-Za-z0-9_.-]`` starting and ending alphanumeric) and
  ``IsValidLabelValue`` (at most 63 such characters, may be empty). Checked on every label map of every object
  (``metadata``, pod templates, PVC templates, ``inheritedMetadata``, the operator label maps of
  :attr:`catalogue.manifests.Shape.pod_labels`), on Service selectors and on every label selector
  (``matchLabels``; ``matchExpressions`` keys, operators and values), wherever it sits.
* ``selector-matches-template`` – ``pkg/apis/apps/validation/validation.go`` (``ValidateDeploymentSpec``,
  ``ValidateStatefulSetSpec``, ``ValidateDaemonSetSpec``, ``ValidateReplicaSetSpec``): the selector must be
  non-empty and select the pod template's labels.
* ``container-ports`` – ``pkg/apis/core/validation/validation.go`` ``validateContainerPorts``: ``containerPort``
  1-65535, ``hostPort`` 0 or 1-65535, names ``IsValidPortName`` (IANA_SVC_NAME: at most 15 characters of
  ``[a-z0-9-]``, at least one letter, no leading, trailing or double ``-``) and unique within the container.
* ``service-ports`` – same file, ``ValidateService``/``validateServicePort``: ``port`` 1-65535; every port named
  when there is more than one, names DNS-1123 labels (at most 63 characters) and unique; ``targetPort`` a port
  number or an IANA_SVC_NAME; no two ports with the same ``port`` and ``protocol``.

Immutable fields between two plans are judged by :mod:`urbanstack.engine.compare` (``urbanstack plan --compare``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from catalogue import manifests
from urbanstack.checks.base import CheckResult, Failure, Plan, count_origins, per_cell

NAME = "API validation"
RULE_PDB = "pdb-min-and-max"
RULE_LABELS = "label-syntax"
RULE_SELECTOR = "selector-matches-template"
RULE_CONTAINER_PORTS = "container-ports"
RULE_SERVICE_PORTS = "service-ports"

_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PORT_NAME = re.compile(r"^[-a-z0-9]+$")
SELECTOR_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist"}
NODE_SELECTOR_TERMS = {"nodeSelectorTerms", "preference"}
SELECTOR_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}


# -- the upstream predicates -------------------------------------------------------------------------------------

def qualified_name_problems(key: Any) -> list[str]:
    """``IsQualifiedName``: problems of a label key (empty: valid)."""
    if not isinstance(key, str):
        return [f"key {key!r} is not a string"]
    parts = key.split("/")
    if len(parts) > 2:
        return [f"key {key!r}: a qualified name has at most one '/'"]
    problems = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append(f"key {key!r}: prefix part must be non-empty")
        elif len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            problems.append(f"key {key!r}: prefix must be a DNS-1123 subdomain of at most 253 characters")
    if not name:
        problems.append(f"key {key!r}: name part must be non-empty")
    elif len(name) > 63:
        problems.append(f"key {key!r}: name part must be at most 63 characters")
    elif not _NAME_PART.match(name):
        problems.append(f"key {key!r}: name part must consist of alphanumerics, '-', '_' or '.', "
                        f"starting and ending with an alphanumeric")
    return problems


def label_value_problems(value: Any) -> list[str]:
    """``IsValidLabelValue``: problems of a label value (empty: valid)."""
    if not isinstance(value, str):
        return [f"value {value!r} is not a string"]
    if len(value) > 63:
        return [f"value {value!r} must be at most 63 characters"]
    if value and not _NAME_PART.match(value):
        return [f"value {value!r} must consist of alphanumerics, '-', '_' or '.', starting and ending with an "
                f"alphanumeric"]
    return []


def port_name_problems(name: Any) -> list[str]:
    """``IsValidPortName`` (IANA_SVC_NAME)."""
    if not isinstance(name, str) or not name:
        return [f"port name {name!r} must be a non-empty string"]
    if len(name) > 15:
        return [f"port name {name!r} must be at most 15 characters"]
    if not _PORT_NAME.match(name):
        return [f"port name {name!r} must contain only lowercase letters, digits and '-'"]
    if not re.search(r"[a-z]", name):
        return [f"port name {name!r} must contain at least one letter"]
    if "--" in name or name.startswith("-") or name.endswith("-"):
        return [f"port name {name!r} must not begin or end with '-' or contain '--'"]
    return []


def _port_number_ok(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == int(value) \
        and 1 <= int(value) <= 65535


def labels_problems(mapping: Any) -> list[str]:
    if not isinstance(mapping, Mapping):
        return [f"labels must be a map, not {type(mapping).__name__}"]
    return [p for k, v in mapping.items() for p in (*qualified_name_problems(k), *label_value_problems(v))]


def selector_problems(sel: Mapping[str, Any]) -> list[str]:
    """``ValidateLabelSelector`` (values checked as label values: ``AllowInvalidLabelValueInSelector`` off)."""
    problems = labels_problems(sel.get("matchLabels") or {})
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        problems += qualified_name_problems(key)
        if op not in SELECTOR_OPERATORS:
            problems.append(f"operator {op!r} of key {key!r} is not one of {sorted(SELECTOR_OPERATORS)}")
        elif op in ("In", "NotIn") and not values:
            problems.append(f"operator {op} of key {key!r} needs values")
        elif op in ("Exists", "DoesNotExist") and values:
            problems.append(f"operator {op} of key {key!r} takes no values")
        problems += [p for v in values for p in label_value_problems(v)]
    return problems


def selects(sel: Mapping[str, Any], found: Mapping[str, str]) -> bool:
    """``LabelSelectorAsSelector(sel).Matches(labels)``."""
    if any(found.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        ok = {"In": key in found and found[key] in values, "NotIn": key not in found or found[key] not in values,
              "Exists": key in found, "DoesNotExist": key not in found}.get(op, False)
        if not ok:
            return False
    return True


# -- where labels and selectors sit --------------------------------------------------------------------------------

def label_places(obj: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Every label map and selector of an object: ``(where, "labels" | "selector", value)``."""
    def walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
        if isinstance(node, Mapping):
            last = re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]
            # A LabelSelector wherever it sits; node affinity terms look alike but are NodeSelectorRequirements.
            if ("matchLabels" in node or "matchExpressions" in node) and last not in NODE_SELECTOR_TERMS:
                yield path, "selector", node
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                if key == "labels" and path.rsplit(".", 1)[-1].lower().endswith("metadata"):
                    yield sub, "labels", value
                else:
                    yield from walk(value, sub)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, f"{path}[{i}]")

    if obj.get("kind") == "CustomResourceDefinition":
        # Its spec is an OpenAPI schema: properties named "selector" or "labels" there are field definitions.
        yield from walk({"metadata": obj.get("metadata") or {}}, "")
        return
    yield from walk(obj, "")
    pod_labels = manifests.shape_of(obj).pod_labels
    if pod_labels is not None and manifests.at(obj, pod_labels) is not None:
        yield manifests.dotted(pod_labels), "labels", manifests.at(obj, pod_labels)
    if obj.get("kind") == "Service" and isinstance((obj.get("spec") or {}).get("selector"), Mapping):
        yield "spec.selector", "labels", obj["spec"]["selector"]


# -- the rules per object -----------------------------------------------------------------------------------------------

def _pdb(obj: Mapping[str, Any]) -> list[str]:
    spec = obj.get("spec") or {}
    out = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        out.append("minAvailable and maxUnavailable cannot be both set")
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if isinstance(value, str) and value.endswith("%"):
            if not value[:-1].isdigit() or int(value[:-1]) > 100:
                out.append(f"{key} {value!r} must be a percentage between 0% and 100%")
        elif value is not None and (not isinstance(value, int | float) or value < 0):
            out.append(f"{key} {value!r} must be an integer >= 0 or a percentage")
    return out


def _container_ports(template: manifests.PodTemplate) -> list[str]:
    out = []
    # Ephemeral containers may declare no ports at all (same file: ``allowedEphemeralContainerFields`` has
    # ``"Ports": false``, enforced by ``validateEphemeralContainers``), so they are not looked at here.
    for container in template.containers(("initContainers", "containers")):
        key, c = container.group, container.body
        names: set[str] = set()
        for p in c.get("ports") or []:
            where = f"{key} {c.get('name')!r} port {p.get('name') or p.get('containerPort')!r}"
            if p.get("name"):
                problems = port_name_problems(p["name"])
                out += [f"{where}: {x}" for x in problems]
                if not problems and p["name"] in names:
                    out.append(f"{where}: duplicate port name {p['name']!r} in the container")
                names.add(p["name"])
            if not _port_number_ok(p.get("containerPort")):
                out.append(f"{where}: containerPort {p.get('containerPort')!r} must be 1-65535")
            if p.get("hostPort") not in (None, 0) and not _port_number_ok(p.get("hostPort")):
                out.append(f"{where}: hostPort {p.get('hostPort')!r} must be 1-65535")
    return out


def _service_ports(obj: Mapping[str, Any]) -> list[str]:
    ports = (obj.get("spec") or {}).get("ports") or []
    out, names, seen = [], set(), set()
    for i, p in enumerate(ports):
        where = f"spec.ports[{i}]"
        name = p.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(f"{where}: a name is required when a Service has more than one port")
        elif name:
            if len(name) > 63 or not _DNS1123_LABEL.match(name):
                out.append(f"{where}: name {name!r} must be a DNS-1123 label (at most 63 characters)")
            elif name in names:
                out.append(f"{where}: duplicate port name {name!r}")
            names.add(name)
        if not _port_number_ok(p.get("port")):
            out.append(f"{where}: port {p.get('port')!r} must be 1-65535")
        target = p.get("targetPort")
        if isinstance(target, str) and not target.isdigit():
            out += [f"{where}: targetPort: {x}" for x in port_name_problems(target)]
        elif target is not None and not _port_number_ok(int(target)):
            out.append(f"{where}: targetPort {target!r} must be 1-65535")
        key = (p.get("port"), p.get("protocol", "TCP"))
        if key in seen:
            out.append(f"{where}: duplicate port {key[0]}/{key[1]}")
        seen.add(key)
    return out


def problems_of(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every broken rule of one object as ``(rule, message)``."""
    out: list[tuple[str, str]] = []
    kind = str(obj.get("kind", ""))
    if kind == "PodDisruptionBudget":
        out += [(RULE_PDB, m) for m in _pdb(obj)]
    for where, what, value in label_places(obj):
        found = labels_problems(value) if what == "labels" else selector_problems(value)
        out += [(RULE_LABELS, f"{where}: {m}") for m in found]
    template = manifests.workload_pod(obj)
    if template is not None:
        out += [(RULE_CONTAINER_PORTS, m) for m in _container_ports(template)]
        if kind in SELECTOR_WORKLOADS:
            sel = (obj.get("spec") or {}).get("selector") or {}
            tmpl_labels = template.labels
            if not sel.get("matchLabels") and not sel.get("matchExpressions"):
                out.append((RULE_SELECTOR, "spec.selector: empty selector (it must select the pod template)"))
            elif not selects(sel, tmpl_labels):
                out.append((RULE_SELECTOR, "spec.selector does not match the template labels "
                                           "(spec.template.metadata.labels)"))
    if kind == "Service":
        out += [(RULE_SERVICE_PORTS, m) for m in _service_ports(obj)]
    return out


@per_cell
def run(plan: Plan) -> CheckResult:
    failures = [Failure(plan.rel(po.path), rule, f"{po.ref()}: {message}")
                for po in plan.objects for rule, message in problems_of(po.obj)]
    return CheckResult(NAME, len(plan.objects), "objects", failures, origins=count_origins(plan.objects))
