"""The measured figures of docs/capacity.md: what one municipality that books every module and the shared stack put
on the cluster, read from the offline plan.

    .venv/bin/python -m scripts.capacity_figures              # plan 3 synthetic municipalities, print the figures
    .venv/bin/python -m scripts.capacity_figures --plan DIR --tenants T  # a plan `urbanstack plan --out DIR` wrote
    .venv/bin/python -m scripts.capacity_figures --write      # plan, then rewrite the generated block of the guide

The synthetic municipalities are those of ``make bench`` (``bench/synthetic.py``: every module booked): numbers 1,
2 and 3, i.e. plans ``medium``, ``large`` and ``small``. Per stack it counts, from the written plan files:

* API objects by origin (``ours``, ``chart``, ``operator``; the folders of ``urbanstack/checks/base.py``) and their
  size as compact JSON, the body a client sends (the API server adds ``metadata.managedFields``, ``status``, uid
  and timestamps; etcd stores built-in kinds as protobuf and custom resources as JSON);
* CPU and memory requests and limits of what keeps running: Deployments and StatefulSets (replicas x the pod),
  operator-made Pods (CloudNativePG instances with their Barman sidecar), per pod the Kubernetes rule for init
  containers (the larger of the app containers plus restartable init containers, and any one-shot init container);
  Jobs and the ACME HTTP-01 solver pods run to completion and are counted apart, DaemonSets per node;
* storage: StatefulSet claim templates x replicas, PersistentVolumeClaims, CloudNativePG ``instances`` x (storage +
  WAL), the Prometheus volume claim template x replicas; bucket quotas (``ObjectBucketClaim``) apart;
* what drives the gateway, certificates and monitoring: Gateway/ListenerSet listeners, HTTPRoutes, Certificates,
  (Cluster)Issuers, ServiceMonitors/PodMonitors, pods and containers (kube-state-metrics and the kubelet's cAdvisor
  make series per pod and container).

Prints nothing it did not count. No cluster, no network.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalogue.paths import ROOT
from catalogue.sizing import PLANS

GUIDE = ROOT / "docs" / "capacity.md"
BEGIN = "<!-- capacity-figures:begin (scripts/capacity_figures.py --write) -->"
END = "<!-- capacity-figures:end -->"
SYNTHETIC = 3
"""Synthetic municipalities planned: numbers 1, 2, 3 = plans medium, large, small (``bench/synthetic.py``)."""

_CPU = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m?)$")
_BYTES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_MEM = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")


def cpu_m(value: Any) -> int:
    """``500m`` -> 500, ``1`` -> 1000, ``1.5`` -> 1500."""
    m = _CPU.match(str(value).strip())
    if not m:
        raise ValueError(f"not a CPU quantity: {value!r}")
    return round(float(m.group(1)) * (1 if m.group(2) else 1000))


def mib(value: Any) -> float:
    """``512Mi`` -> 512, ``1Gi`` -> 1024, ``100G`` -> 95367.4."""
    m = _MEM.match(str(value).strip())
    if not m:
        raise ValueError(f"not a byte quantity: {value!r}")
    return float(m.group(1)) * _BYTES[m.group(2) or ""] / 2**20


@dataclass
class Resources:
    """Sums of CPU (millicores) and memory (MiB), requests and limits, and the pods they belong to."""

    pods: int = 0
    cpu_req: int = 0
    cpu_lim: int = 0
    mem_req: float = 0.0
    mem_lim: float = 0.0

    def add(self, other: Resources, times: int = 1) -> None:
        self.pods += other.pods * times
        self.cpu_req += other.cpu_req * times
        self.cpu_lim += other.cpu_lim * times
        self.mem_req += other.mem_req * times
        self.mem_lim += other.mem_lim * times


def _container(c: dict) -> Resources:
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    return Resources(0, cpu_m(req.get("cpu", 0)), cpu_m(lim.get("cpu", 0)),
                     mib(req.get("memory", 0)), mib(lim.get("memory", 0)))


def pod_resources(spec: dict) -> Resources:
    """One pod as the scheduler counts it: app containers plus restartable (sidecar) init containers, or any one-shot
    init container with the sidecars started before it, whichever is larger (per resource)."""
    steady = Resources(pods=1)
    for c in spec.get("containers") or []:
        steady.add(_container(c))
    peak = Resources(pods=1)
    sidecars = Resources()
    for c in spec.get("initContainers") or []:
        own = _container(c)
        if c.get("restartPolicy") == "Always":
            sidecars.add(own)
            steady.add(own)
            continue
        peak.cpu_req = max(peak.cpu_req, sidecars.cpu_req + own.cpu_req)
        peak.cpu_lim = max(peak.cpu_lim, sidecars.cpu_lim + own.cpu_lim)
        peak.mem_req = max(peak.mem_req, sidecars.mem_req + own.mem_req)
        peak.mem_lim = max(peak.mem_lim, sidecars.mem_lim + own.mem_lim)
    return Resources(1, max(steady.cpu_req, peak.cpu_req), max(steady.cpu_lim, peak.cpu_lim),
                     max(steady.mem_req, peak.mem_req), max(steady.mem_lim, peak.mem_lim))


@dataclass
class StackFigures:
    """What one stack of the plan puts on the cluster."""

    stack: str
    plan: str | None = None
    """the municipality's plan (``small``, ``medium``, ``large``) from its tenant file, when known"""
    objects: Counter = field(default_factory=Counter)
    """origin -> API objects"""
    json_bytes: Counter = field(default_factory=Counter)
    """origin -> bytes of the objects as compact JSON"""
    elsewhere: Counter = field(default_factory=Counter)
    """namespace (or ``cluster``) -> objects outside the stack's own namespace (municipality stacks only)"""
    kinds: Counter = field(default_factory=Counter)
    crd_bytes: int = 0
    """bytes (compact JSON) of the CustomResourceDefinitions among them"""
    largest: tuple[int, str] = (0, "")
    """the largest object: bytes (compact JSON), kind/name"""
    """bytes (compact JSON) of the CustomResourceDefinitions among them"""
    running: Resources = field(default_factory=Resources)
    transient: Resources = field(default_factory=Resources)
    per_node: Resources = field(default_factory=Resources)
    containers: int = 0
    storage_gib: float = 0.0
    bucket_quota_gb: float = 0.0
    """bucket quotas (``ObjectBucketClaim`` ``maxSize``, written in decimal units) in GB"""
    listeners: int = 0
    monitors: int = 0
    not_modelled: list[str] = field(default_factory=list)
    """custom resources whose pods the cluster model does not render, with what they declare"""


def origin_of(stack_dir: Path, path: Path) -> str:
    from urbanstack.checks.base import origin_of_folder

    return "ours" if path.parent == stack_dir else origin_of_folder(path.parent.name)


def _storage_gib(obj: dict) -> float:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        return mib(((spec.get("resources") or {}).get("requests") or {}).get("storage", 0)) / 1024
    if kind == "StatefulSet":
        per_replica = sum(mib((((t.get("spec") or {}).get("resources") or {}).get("requests") or {})
                              .get("storage", 0)) for t in spec.get("volumeClaimTemplates") or []) / 1024
        return int(spec.get("replicas", 1)) * per_replica
    if kind == "Cluster" and str(obj.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
        size = mib((spec.get("storage") or {}).get("size", 0)) + mib((spec.get("walStorage") or {}).get("size", 0))
        return int(spec.get("instances", 1)) * size / 1024
    return 0.0


def _workload(fig: StackFigures, obj: dict, origin: str) -> None:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
        template = ((spec.get("jobTemplate") or {}).get("spec") or spec).get("template") or {}
        pod = template.get("spec") or {}
    elif kind == "Pod":
        pod = spec
    else:
        return
    one = pod_resources(pod)
    containers = len(pod.get("containers") or []) + sum(
        1 for c in pod.get("initContainers") or [] if c.get("restartPolicy") == "Always")
    if kind in ("Deployment", "StatefulSet"):
        replicas = int(spec.get("replicas", 1))
        fig.running.add(one, replicas)
        fig.containers += containers * replicas
    elif kind == "DaemonSet":
        fig.per_node.add(one)
        fig.containers += containers  # per node
    elif kind == "Pod" and origin == "operator" and "acme-http-solver" not in obj["metadata"].get("name", ""):
        fig.running.add(one)
        fig.containers += containers
    else:  # Jobs, CronJobs, ACME solver pods: run to completion
        fig.transient.add(one)


def _not_modelled(obj: dict) -> str | None:
    """Custom resources that make pods the cluster model does not render (their operators' own sizing)."""
    kind, spec, name = obj.get("kind"), obj.get("spec") or {}, obj["metadata"].get("name")
    if kind == "Alertmanager":
        req = (spec.get("resources") or {}).get("requests") or {}
        return f"Alertmanager {name}: {spec.get('replicas', 1)} x {req.get('cpu', '?')} CPU / {req.get('memory', '?')}"
    if kind == "CephCluster":
        return (f"CephCluster {name}: {(spec.get('mon') or {}).get('count', '?')} mon, "
                f"{(spec.get('mgr') or {}).get('count', '?')} mgr, one OSD per device (no resources declared)")
    if kind == "CephObjectStore":
        gw = spec.get("gateway") or {}
        req = (gw.get("resources") or {}).get("requests") or {}
        return (f"CephObjectStore {name}: {gw.get('instances', 1)} RGW x {req.get('cpu', '?')} CPU / "
                f"{req.get('memory', '?')}")
    return None


def stack_figures(stack_dir: Path) -> StackFigures:
    from urbanstack.engine.planfiles import load_file, plan_files

    fig = StackFigures(stack_dir.name)
    for path in plan_files(stack_dir):
        obj = load_file(path)
        if not isinstance(obj, dict) or "kind" not in obj:
            continue
        origin = origin_of(stack_dir, path)
        fig.objects[origin] += 1
        size = len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        fig.json_bytes[origin] += size
        if obj["kind"] == "CustomResourceDefinition":
            fig.crd_bytes += size
        fig.largest = max(fig.largest, (size, f"{obj['kind']} {obj['metadata'].get('name')}"))
        fig.kinds[obj["kind"]] += 1
        ns = (obj.get("metadata") or {}).get("namespace")
        if fig.stack != "shared" and ns != fig.stack:
            fig.elsewhere[ns or ("cluster" if obj["kind"] != "Namespace" or
                                 obj["metadata"].get("name") != fig.stack else fig.stack)] += 1
        _workload(fig, obj, origin)
        fig.storage_gib += _storage_gib(obj)
        if obj["kind"] == "ObjectBucketClaim":
            fig.bucket_quota_gb += mib(((obj.get("spec") or {}).get("additionalConfig") or {})
                                       .get("maxSize", 0)) * 2**20 / 10**9
        if obj["kind"] in ("Gateway", "ListenerSet", "XListenerSet"):
            fig.listeners += len((obj.get("spec") or {}).get("listeners") or [])
        if obj["kind"] in ("ServiceMonitor", "PodMonitor"):
            fig.monitors += 1
        if obj["kind"] == "Prometheus":
            spec = obj.get("spec") or {}
            claim = (((spec.get("storage") or {}).get("volumeClaimTemplate") or {}).get("spec") or {})
            fig.storage_gib += int(spec.get("replicas", 1)) * int(spec.get("shards", 1)) * mib(
                ((claim.get("resources") or {}).get("requests") or {}).get("storage", 0)) / 1024
        if (line := _not_modelled(obj)) is not None:
            fig.not_modelled.append(line)
    fig.elsewhere.pop(fig.stack, None)
    return fig


def plan_synthetic(out: Path, n: int = SYNTHETIC) -> tuple[Path, Path]:
    """Write ``n`` synthetic municipalities (every module) and their offline plan with shared under ``out``; return
    the plan's folder and the tenant files' folder."""
    from bench.synthetic import write_tenants
    from urbanstack.engine.plan import plan_all, write_plan

    tenants = out / "tenants"
    write_tenants(tenants, n)
    plan = out / "plan"
    write_plan(plan_all(tenants), plan)
    return plan, tenants


# ---------------------------------------------------------------------------------------------------------- output
def _gib(mebibytes: float) -> str:
    return f"{mebibytes / 1024:,.1f} GiB"


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB"


def _cpu(millis: int) -> str:
    return f"{millis / 1000:,.2f}"


def markdown(figs: list[StackFigures]) -> str:
    """The generated block of docs/capacity.md."""
    rows = ["| stack | API objects (ours + chart + operator) | as JSON | pods running | CPU requests / limits "
            "(cores) | memory requests / limits | storage claimed | bucket quota | run to completion | per node |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for f in figs:
        name = f.stack if f.plan is None else f"{f.stack} (plan `{f.plan}`, every module)"
        o = f.objects
        per_node = (f"{f.per_node.pods} pod: {_cpu(f.per_node.cpu_req)} / {_cpu(f.per_node.cpu_lim)} CPU, "
                    f"{f.per_node.mem_req:,.0f} / {f.per_node.mem_lim:,.0f} MiB" if f.per_node.pods else "none")
        transient = (f"{f.transient.pods} pods, {_cpu(f.transient.cpu_req)} CPU / {_gib(f.transient.mem_req)} "
                     f"requested" if f.transient.pods else "none")
        rows.append(
            f"| {name} | **{sum(o.values()):,}** ({o['ours']:,} + {o['chart']:,} + {o['operator']:,}) | "
            f"{_kib(sum(f.json_bytes.values()))} | {f.running.pods} | **{_cpu(f.running.cpu_req)}** / "
            f"{_cpu(f.running.cpu_lim)} | **{_gib(f.running.mem_req)}** / {_gib(f.running.mem_lim)} | "
            f"{f.storage_gib:,.0f} GiB | {f.bucket_quota_gb:,.0f} GB | {transient} | {per_node} |")
    lines = [BEGIN, "", *rows, ""]
    munis = [f for f in figs if f.stack != "shared"]
    shared = next((f for f in figs if f.stack == "shared"), None)
    for f in munis:
        outside = ", ".join(f"{n} in `{ns}`" for ns, n in sorted(f.elsewhere.items()))
        lines.append(f"- `{f.stack}`: {f.running.pods} pods with {f.containers} containers running (what "
                     f"kube-state-metrics and the kubelet's cAdvisor make series of), "
                     f"{f.kinds['HTTPRoute']} HTTPRoutes, {f.kinds['Certificate']} Certificate, "
                     f"{f.kinds['Issuer']} Issuer, {f.listeners} listeners, {f.kinds['Service']} Services, "
                     f"{f.kinds['Secret']} Secrets, {f.monitors} ServiceMonitors/PodMonitors; objects outside its "
                     f"namespace: {outside or 'none'}; largest object {f.largest[1]}, {_kib(f.largest[0])}.")
    if shared is not None:
        lines.append(f"- `shared`: {shared.running.pods} pods with {shared.containers} containers running, "
                     f"{shared.listeners} Gateway listeners (with {len(munis)} municipalities), "
                     f"{shared.kinds['HTTPRoute']} HTTPRoutes, {shared.monitors} ServiceMonitors/PodMonitors, "
                     f"{shared.kinds['CustomResourceDefinition']} CRDs "
                     f"({_kib(shared.crd_bytes)} of the {_kib(sum(shared.json_bytes.values()))}); largest object "
                     f"{shared.largest[1]}, {_kib(shared.largest[0])}.")
        for line in shared.not_modelled:
            lines.append(f"- not in the sums above (pods the cluster model does not render): {line}.")
    if shared is not None and any(f.plan for f in munis):
        lines += ["", *scaled(shared, [f for f in munis if f.plan])]
    lines += ["", END]
    return "\n".join(lines)


SCALES = (30, 100, 400)


def scaled(shared: StackFigures, munis: list[StackFigures]) -> list[str]:
    """Shared once plus N municipalities of one plan, each booking every module: arithmetic on the rows above.
    (The shared stack's own objects grow slightly with N while its Gateway carries the municipalities' listeners;
    counted here as planned with the municipalities above.)"""
    rows = ["| municipalities (all of one plan, every module) | API objects | as JSON | pods running | CPU requests "
            "(cores) | memory requests | storage claimed |", "|---|---|---|---|---|---|---|"]
    for n in SCALES:
        for f in sorted(munis, key=lambda m: PLANS.index(m.plan)):
            objects = sum(shared.objects.values()) + n * sum(f.objects.values())
            size = sum(shared.json_bytes.values()) + n * sum(f.json_bytes.values())
            rows.append(
                f"| {n} x `{f.plan}` | {objects:,} | {size / 2**20:,.0f} MiB | "
                f"{shared.running.pods + n * f.running.pods:,} | "
                f"{(shared.running.cpu_req + n * f.running.cpu_req) / 1000:,.0f} | "
                f"{(shared.running.mem_req + n * f.running.mem_req) / 1024:,.0f} GiB | "
                f"{(shared.storage_gib + n * f.storage_gib) / 1024:,.1f} TiB |")
    return rows


def figures(plan_dir: Path, tenants_dir: Path | None = None) -> list[StackFigures]:
    """Figures of every stack of the plan's default cell (one cluster: the figures are per cell), shared first;
    with the tenant files' folder, each municipality's plan too (the scaled table needs it)."""
    import json

    from catalogue.tenants import load_all

    plans = {slug: t.plan for slug, t in load_all([tenants_dir]).items()} if tenants_dir is not None else {}
    cells = plan_dir / "cells.json"
    default_cell = set(json.loads(cells.read_text(encoding="utf-8"))["cells"][0]["stacks"]) if cells.is_file() \
        else None
    stacks = sorted((p for p in plan_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and (default_cell is None or p.name in default_cell)),
                    key=lambda p: (p.name != "shared", p.name))
    out = [stack_figures(s) for s in stacks]
    for f in out:
        f.plan = plans.get(f.stack)
    return out


def rewrite_guide(block: str, guide: Path = GUIDE) -> bool:
    """Replace the generated block of the guide; True when it changed."""
    text = guide.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{guide}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + block + tail
    if new != text:
        guide.write_text(new, encoding="utf-8")
    return new != text


def generated_block(guide: Path = GUIDE) -> str:
    """The block of the guide between the markers, markers included."""
    text = guide.read_text(encoding="utf-8")
    return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", type=Path, help="a plan written by `urbanstack plan --out DIR` (default: plan "
                                                  f"{SYNTHETIC} synthetic municipalities in a temporary folder)")
    parser.add_argument("--tenants", type=Path, help="with --plan: the folder of its tenant files (for the plans)")
    parser.add_argument("--write", action="store_true", help=f"rewrite the generated block of {GUIDE.name}")
    args = parser.parse_args(argv)
    if args.plan is not None:
        figs = figures(args.plan, args.tenants)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figs = figures(*plan_synthetic(Path(tmp)))
    block = markdown(figs)
    print(block)
    if args.write:
        print(f"{GUIDE.relative_to(ROOT)}: {'rewritten' if rewrite_guide(block) else 'already up to date'}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
