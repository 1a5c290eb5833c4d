"""Install order, read from the offline plan's ``resources.json`` (every resource with its parent and dependsOn):
whatever a resource needs in the cluster is created before it.

* a custom resource after the chart or manifests that install its CRD;
* a chart whose values make it create monitors (ServiceMonitor, PodMonitor) or watch the Gateway API after the
  chart that installs those CRDs; the same for a custom resource that makes its operator create monitors;
* anything naming a PriorityClass, a Namespace or a Secret of the same stack after that object.

"Before" means: reachable through dependsOn (depending on a component waits for all its children), or an
ancestor (a chart creates its own CRDs before its other objects). Which chart installs which CRD group is read
from the vendored charts themselves (``vendor/charts``) and from the Keycloak operator's manifest file names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from catalogue.paths import ROOT
from catalogue.versions import CHARTS, MANIFESTS

CHART = "kubernetes:helm.sh/v4:Chart"
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
MONITORING_GROUP = "monitoring.coreos.com"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"


@cache
def crd_providers() -> dict[str, str]:
    """CRD group -> the resource (``type::name``) that installs it."""
    out: dict[str, str] = {}
    for key, spec in CHARTS.items():
        folder = ROOT / "vendor" / "charts" / f"{spec.chart.rsplit('/', 1)[-1]}-{spec.version}"
        for path in folder.rglob("*.yaml"):
            for doc in re.split(r"(?m)^---", path.read_text(encoding="utf-8", errors="ignore")):
                if re.search(r"(?m)^kind:\s*CustomResourceDefinition\s*$", doc):
                    group = re.search(r"(?m)^  group:\s*[\"']?([a-z0-9.-]+)", doc)
                    assert group, f"{path}: a CRD without spec.group"
                    out[group.group(1)] = f"{CHART}::{key}"
    for key, manifests in MANIFESTS.items():
        for file in manifests.files:  # e.g. manifests/keycloaks.k8s.keycloak.org-v1.crd.yml of an OLM bundle
            match = re.fullmatch(r"[a-z]+\.([a-z0-9.-]+)-v\d+(?:\.crd)?\.yml", file.rsplit("/", 1)[-1])
            if match:
                out[match.group(1)] = f"{CONFIG_GROUP}::{key}"
    return out


def key(r: dict) -> str:
    return f"{r['type']}::{r['name']}"


def urn_key(urn: str) -> str:
    """``type::name`` of a URN (``urn:pulumi:<stack>::<project>::<parent types$type>::<name>``)."""
    _, _, qualified, name = urn.split("::", 3)
    return f"{qualified.rsplit('$', 1)[-1]}::{name}"


class Order:
    def __init__(self, resources: list[dict]):
        self.by_key = {key(r): r for r in resources}
        self.parent = {key(r): urn_key(r["parent"]) for r in resources if r.get("parent")}
        self.children: dict[str, list[str]] = {}
        for child, parent in self.parent.items():
            self.children.setdefault(parent, []).append(child)

    def descendants(self, k: str) -> Iterator[str]:
        for child in self.children.get(k, []):
            yield child
            yield from self.descendants(child)

    def ancestors(self, k: str) -> Iterator[str]:
        while k in self.parent:
            k = self.parent[k]
            yield k

    def created_before(self, k: str) -> set[str]:
        """Everything the engine creates before ``k``: its dependsOn closure (with the children of components
        it depends on) and its ancestors."""
        seen: set[str] = set()
        todo = [k]
        while todo:
            current = todo.pop()
            deps = list(self.by_key[current]["options"]["dependsOn"]) if current in self.by_key else []
            for d in deps:
                for item in (d, *self.descendants(d)):
                    if item not in seen:
                        seen.add(item)
                        todo.append(item)
        return seen | set(self.ancestors(k))


def walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k), v
            yield from walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, i))


def needed_groups(r: dict) -> set[str]:
    """CRD groups a resource needs beyond its own kind: monitors its chart or operator creates, the Gateway API
    a controller watches."""
    out: set[str] = set()
    match = re.fullmatch(r"kubernetes:([a-z0-9.-]+\.[a-z]+)/[^:]+:\w+", r["type"])
    group = match.group(1) if match else ""
    if group in crd_providers() or (group and not group.endswith(".k8s.io") and group != "helm.sh"):
        out.add(group)
    for path, value in walk(r["inputs"]):
        name = str(path[-1])
        if name in ("podMonitorEnabled", "enablePodMonitor") and value is True:
            out.add(MONITORING_GROUP)
        if name.lower() in ("servicemonitor", "podmonitor", "monitoring") and isinstance(value, dict) \
                and value.get("enabled") is True:
            out.add(MONITORING_GROUP)
        if name == "enableGatewayAPI" and value is True:
            out.add(GATEWAY_API_GROUP)
    return out


def referenced(r: dict) -> Iterator[tuple[str, str | None, str]]:
    """``(kind, namespace, name)`` of PriorityClasses, Namespaces and Secrets a resource names."""
    inputs = r["inputs"]
    md = inputs.get("metadata") if isinstance(inputs.get("metadata"), dict) else {}
    namespace = md.get("namespace") or (inputs.get("namespace") if r["type"] == CHART else None)
    if namespace:
        yield "Namespace", None, namespace
    for path, value in walk({k: v for k, v in inputs.items() if k != "metadata"}):
        name = str(path[-1])
        if name == "priorityClassName" and isinstance(value, str) and value:
            yield "PriorityClass", None, value
        elif name == "priorityClassNames" and isinstance(value, dict):
            for pc in value.values():
                yield "PriorityClass", None, pc
        elif name in ("secretName", "secret") and isinstance(value, str):
            yield "Secret", namespace, value
        elif (name == "secretKeyRef" or name.endswith("Secret")) and isinstance(value, dict) \
                and isinstance(value.get("name"), str):
            yield "Secret", namespace, value["name"]


@cache
def stacks(plan_dir: Path) -> dict[str, list[dict]]:
    return {doc.parent.name: json.loads(doc.read_text(encoding="utf-8"))["resources"]
            for doc in sorted(plan_dir.glob("*/resources.json"))}


def violations(resources: list[dict], kinds: tuple[str, ...] = ("PriorityClass", "Namespace", "Secret")) -> list[str]:
    order = Order(resources)
    providers = crd_providers()
    objects: dict[tuple[str, str | None, str], str] = {}
    for r in resources:
        if r["type"].startswith("kubernetes:") and isinstance(r["inputs"].get("metadata"), dict):
            md = r["inputs"]["metadata"]
            objects[(r["type"].rsplit(":", 1)[-1], md.get("namespace"), md.get("name"))] = key(r)
    out = []
    for r in resources:
        if not r["type"].startswith("kubernetes:"):
            continue
        k = key(r)
        before = order.created_before(k)
        for group in sorted(needed_groups(r)):
            provider = providers.get(group)
            assert provider, f"{k}: no chart or manifests of the catalogue install CRD group {group}"
            if provider in order.by_key and provider != k and provider not in before:
                out.append(f"{k} needs CRDs of {group} from {provider}")
        for kind, namespace, name in set(referenced(r)):
            if kind not in kinds:
                continue
            target = objects.get((kind, namespace, name))
            if target and target != k and target not in before:
                out.append(f"{k} names {kind} {namespace + '/' if namespace else ''}{name} ({target})")
    return out


def test_every_crd_group_our_resources_use_is_installed_by_a_pinned_chart_or_manifest():
    providers = crd_providers()
    for group in ("cert-manager.io", GATEWAY_API_GROUP, "gateway.envoyproxy.io", "postgresql.cnpg.io",
                  "barmancloud.cnpg.io", "k8s.keycloak.org", "ceph.rook.io", "objectbucket.io", MONITORING_GROUP):
        assert group in providers


def test_the_order_check_finds_a_missing_dependency():
    resources = [
        {"type": CHART, "name": "cert-manager", "parent": None, "inputs": {"namespace": "x"},
         "options": {"dependsOn": []}},
        {"type": "kubernetes:cert-manager.io/v1:ClusterIssuer", "name": "issuer", "parent": None,
         "inputs": {"metadata": {"name": "issuer"}, "spec": {}}, "options": {"dependsOn": []}},
    ]
    assert violations(resources) == [
        "kubernetes:cert-manager.io/v1:ClusterIssuer::issuer needs CRDs of cert-manager.io from "
        f"{CHART}::cert-manager"]
    resources[1]["options"]["dependsOn"] = [f"{CHART}::cert-manager"]
    assert violations(resources) == []


def test_everything_a_shared_resource_needs_is_created_before_it(real_plan_dir):
    for platform in ("shared", "shared.stadt-guetersloh"):  # every cell's platform stack
        problems = violations(stacks(real_plan_dir)[platform])
        assert problems == [], "\n".join(problems)


def municipality_stacks(plan_dir: Path) -> list[str]:
    found = [name for name in stacks(plan_dir) if name.split(".", 1)[0] != "shared"]
    assert found
    return found


def test_every_municipality_resource_comes_after_its_crds_priority_class_and_namespace(real_plan_dir):
    for stack in municipality_stacks(real_plan_dir):
        problems = violations(stacks(real_plan_dir)[stack], kinds=("PriorityClass", "Namespace"))
        assert problems == [], f"{stack}:\n" + "\n".join(problems)


def test_every_municipality_workload_comes_after_the_secrets_it_names(real_plan_dir):
    for stack in municipality_stacks(real_plan_dir):
        problems = violations(stacks(real_plan_dir)[stack], kinds=("Secret",))
        assert problems == [], f"{stack}:\n" + "\n".join(problems)


def test_no_municipality_secret_waits_for_a_workload_and_the_realm_waits_for_no_module(real_plan_dir):
    """The order above without cycles: a module's Secrets and ConfigMaps and the database's role Secrets are made
    before any workload, and the realm job (which registers the modules' OIDC clients) does not wait for modules."""
    workloads = ("Deployment", "StatefulSet", "Job")
    for stack in municipality_stacks(real_plan_dir):
        resources = stacks(real_plan_dir)[stack]
        order = Order(resources)
        modules = {key(r) for r in resources if r["type"].startswith("urbanstack:modules:")}
        assert modules, f"{stack}: no modules booked"
        module_parts = modules | {d for m in modules for d in order.descendants(m)}
        for r in resources:
            if r["type"] in ("kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap"):
                waits_for = sorted(b for b in order.created_before(key(r)) if b.split("::")[0].endswith(workloads))
                assert waits_for == [], f"{stack}: {key(r)} waits for {waits_for}"
        identity = next(key(r) for r in resources if r["type"] == "urbanstack:tenant:identity")
        realm_jobs = [d for d in order.descendants(identity) if d.startswith("kubernetes:batch/v1:Job::")]
        assert realm_jobs, f"{stack}: no realm job"
        for job in realm_jobs:
            assert not order.created_before(job) & module_parts, f"{stack}: the realm job {job} waits for a module"
