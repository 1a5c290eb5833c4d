"""Benchmark 1 of ``make bench``: plan, render and check N synthetic municipalities that book every module.

For each N (default 10, 100 and 400; ``python -m bench.full_bench 10 40`` or ``make bench SIZES="10 40"``) one fresh
interpreter (so its peak memory belongs to that N alone) does what ``urbanstack plan --out`` and ``urbanstack check``
do, each phase timed on its own:

* **plan**: the shared stack, then every municipality's stack, under Pulumi's mocks (:func:`bench.plan_bench.plan_stacks`);
* **write** the plan files and **render** per stack: the Helm charts and what the operators make (the cluster model,
  ``urbanstack/cluster_model/``; :func:`urbanstack.engine.plan.write_cluster_model`, timed per stack);
* **checks**: every check of ``urbanstack/checks/`` one after the other (checkov included, in its own virtualenv),
  after reading the plan back.

A baseline of N = 1 is measured as well: a check's cost per municipality at N is ``(t(N) - t(1)) / (N - 1)`` (the
checks see the whole plan, so the shared stack's share cannot be timed apart as for plan and render). Targets (issue
21): at most 2 s per added municipality, all checks included; the time per municipality at the largest N within 1.1x
of N = 10; the shared stack's own time not growing with N; no check growing with the square of N.

Wall and CPU seconds are both recorded: on a loaded machine the CPU figures are the steadier ones (CPU of a check
includes its child processes: checkov). Peak memory is the worker's ``ru_maxrss``. Nothing is asserted: the figures are printed and written to
``bench/results/``. When the plan refuses N (the ceiling of 20 municipalities on the one
shared Gateway is gone since decision 0012; what is left is a refusal of the tenant files), the bench says so in one line before it spends any time, and exits 1.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalogue.paths import ROOT

SIZES = (10, 100, 400)
BASELINE = 1
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


class PlanRefused(RuntimeError):
    """The plan refuses N municipalities (its message is the plan's own)."""


def _cpu() -> float:
    return time.process_time()


def worker(n: int, folder: Path, out: Path, checkov: Path) -> dict:
    """Plan, write + render, read back and check; every phase timed (runs in its own interpreter)."""
    from bench.plan_bench import plan_stacks
    from urbanstack.checks import checks
    from urbanstack.checks.base import load_plan
    from urbanstack.engine import plan as planning

    row: dict = {"n": n}
    t, c = time.perf_counter(), _cpu()
    plans, timings = plan_stacks(folder)
    row["plan"] = {"wall_s": time.perf_counter() - t, "cpu_s": _cpu() - c, **timings}
    row["resources"] = sum(len(p.resources) for p in plans)
    rss_planned = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    render: dict[str, dict[str, float]] = {}
    original = planning.write_cluster_model

    def timed_render(plan, stack_folder, all_plans):
        t0, c0 = time.perf_counter(), _cpu()
        try:
            return original(plan, stack_folder, all_plans)
        finally:
            render[plan.stack] = {"wall_s": time.perf_counter() - t0, "cpu_s": _cpu() - c0}

    planning.write_cluster_model = timed_render
    try:
        t, c = time.perf_counter(), _cpu()
        planning.write_plan(plans, out)
        write_wall, write_cpu = time.perf_counter() - t, _cpu() - c
    finally:
        planning.write_cluster_model = original
    row["render"] = {"stacks": render, "write_and_render_wall_s": write_wall, "write_and_render_cpu_s": write_cpu}
    row["objects"] = sum(1 for _ in out.rglob("*.yaml"))
    del plans
    rss_written = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    t, c = time.perf_counter(), _cpu()
    plan = load_plan(out, folder)
    _ = plan.objects
    row["read_plan"] = {"wall_s": time.perf_counter() - t, "cpu_s": _cpu() - c}
    row["checks"] = {}
    for name, check in checks(checkov).items():
        t, c = time.perf_counter(), _cpu()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = check(plan)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = _cpu() - c + (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        row["checks"][name] = {"wall_s": time.perf_counter() - t, "cpu_s": cpu, "failures": len(result.failures),
                               "figure": result.figure()}
    row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row["rss_after_plan_mib"] = rss_planned / 1024
    row["rss_after_write_mib"] = rss_written / 1024
    # Children: checkov. Linux counts a child's RSS from before its exec (the forked worker), so this is at least the
    # worker's RSS when checkov started: an upper bound for checkov, not its own figure.
    row["checkov_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return row


def refusal(n: int) -> str | None:
    """The plan's own message when it refuses ``n`` municipalities (only the shared stack is planned: the shared
    Gateway is what refuses today), else ``None``."""
    from bench.synthetic import write_tenants

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tenants"
        write_tenants(folder, n)
        proc = subprocess.run([sys.executable, "-m", "bench.full_bench", "--preflight", str(folder)], cwd=ROOT,
                              capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def preflight(folder: Path) -> int:
    from catalogue.tenants import load_all
    from urbanstack.engine.plan import plan_shared

    try:
        plan_shared(folder, tenants=load_all([folder]))
    except Exception as exc:  # the plan's own refusal, whatever its type: said in one line
        print(" ".join(str(exc).split()) or type(exc).__name__)
        return 1
    return 0


def _summarise(rows: dict[int, dict]) -> dict:
    """Per-municipality figures, growth of each check, the shared stack's own time."""
    base = rows.get(BASELINE)
    out: dict = {}
    for n, r in rows.items():
        tenants = list(r["plan"]["tenant_s"])
        plan_per = sum(r["plan"]["tenant_s"].values()) / n
        render_per = sum(r["render"]["stacks"][s]["wall_s"] for s in tenants) / n
        write_render_tenants = r["render"]["write_and_render_wall_s"] - r["render"]["stacks"]["shared"]["wall_s"]
        write_per = (write_render_tenants - sum(r["render"]["stacks"][s]["wall_s"] for s in tenants)) / n
        s = {"plan_s": plan_per, "write_s": write_per, "render_s": render_per,
             "plan_cpu_s": sum(r["plan"]["tenant_cpu_s"].values()) / n,
             "render_cpu_s": sum(r["render"]["stacks"][t]["cpu_s"] for t in tenants) / n,
             "write_cpu_s": (r["render"]["write_and_render_cpu_s"] - sum(x["cpu_s"] for x in r["render"]["stacks"].values()))
             / n,
             "shared_plan_s": r["plan"]["shared_s"], "shared_plan_cpu_s": r["plan"]["shared_cpu_s"],
             "shared_render_s": r["render"]["stacks"]["shared"]["wall_s"],
             "shared_render_cpu_s": r["render"]["stacks"]["shared"]["cpu_s"],
             "checks_s": sum(c["wall_s"] for c in r["checks"].values()) + r["read_plan"]["wall_s"],
             "checks_cpu_s": sum(c["cpu_s"] for c in r["checks"].values()) + r["read_plan"]["cpu_s"]}
        if base is not None and n != BASELINE:
            per_check = {name: (c["wall_s"] - base["checks"][name]["wall_s"]) / (n - BASELINE)
                         for name, c in r["checks"].items()}
            per_check["read plan"] = (r["read_plan"]["wall_s"] - base["read_plan"]["wall_s"]) / (n - BASELINE)
            s["check_per_municipality_s"] = per_check
            per_check_cpu = {name: (c["cpu_s"] - base["checks"][name]["cpu_s"]) / (n - BASELINE)
                             for name, c in r["checks"].items()}
            per_check_cpu["read plan"] = (r["read_plan"]["cpu_s"] - base["read_plan"]["cpu_s"]) / (n - BASELINE)
            s["check_per_municipality_cpu_s"] = per_check_cpu
            s["checks_per_municipality_s"] = sum(per_check.values())
            s["checks_per_municipality_cpu_s"] = (s["checks_cpu_s"] - _checks_cpu(base)) / (n - BASELINE)
            s["per_municipality_s"] = plan_per + write_per + render_per + s["checks_per_municipality_s"]
            s["per_municipality_cpu_s"] = (s["plan_cpu_s"] + s["write_cpu_s"] + s["render_cpu_s"]
                                           + s["checks_per_municipality_cpu_s"])
        out[n] = s
    sizes = sorted(n for n in rows if n != BASELINE)
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        out["ratio_per_municipality"] = out[hi]["per_municipality_s"] / out[lo]["per_municipality_s"] \
            if base is not None else None
        out["ratio_per_municipality_cpu"] = out[hi]["per_municipality_cpu_s"] / out[lo]["per_municipality_cpu_s"] \
            if base is not None else None
        # Exponent of what N municipalities add over the baseline: t(N) - t(1) ~ (N - 1)^k; 1 linear, 2 quadratic.
        growth = {}
        for name in rows[lo]["checks"]:
            zero = base["checks"][name]["cpu_s"] if base is not None else 0.0
            a, b = rows[lo]["checks"][name]["cpu_s"] - zero, rows[hi]["checks"][name]["cpu_s"] - zero
            nlo, nhi = (lo - BASELINE, hi - BASELINE) if base is not None else (lo, hi)
            growth[name] = math.log(b / a) / math.log(nhi / nlo) if a > 0 and b > 0 else None
        out["check_growth_exponent_cpu"] = growth
    return out


def _checks_cpu(r: dict) -> float:
    return sum(c["cpu_s"] for c in r["checks"].values()) + r["read_plan"]["cpu_s"]


def run(sizes: tuple[int, ...] = SIZES, checkov: Path = CHECKOV, partial: Path | None = None) -> dict:
    """Every N in its own interpreter, smallest first; :class:`PlanRefused` before anything runs when the plan
    refuses the largest N."""
    from bench.synthetic import write_tenants

    sizes = tuple(sorted(set(sizes)))
    refused = refusal(max(sizes))
    if refused is not None:
        raise PlanRefused(f"the plan refuses N = {max(sizes)} synthetic municipalities: {refused}")
    rows: dict[int, dict] = {}
    for n in (BASELINE, *[s for s in sizes if s != BASELINE]):
        with tempfile.TemporaryDirectory() as tmp:
            folder, out = Path(tmp) / "tenants", Path(tmp) / "plan"
            write_tenants(folder, n)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "bench.full_bench", "--worker", str(n), str(folder), str(out),
                                   str(checkov)], cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"N = {n}: the worker failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["wall_s"] = time.perf_counter() - started
        rows[n] = row
        if partial is not None:  # each N as soon as it is measured: a long run keeps what it has
            partial.write_text(json.dumps({"sizes": list(sizes), "rows": rows}, indent=1), encoding="utf-8")
        failed = {name: c["failures"] for name, c in row["checks"].items() if c["failures"]}
        print(f"  N={n:>3}: {row['wall_s']:7.1f} s wall (plan {row['plan']['wall_s']:.1f} s, write + render "
              f"{row['render']['write_and_render_wall_s']:.1f} s, checks "
              f"{sum(c['wall_s'] for c in row['checks'].values()):.1f} s), {row['resources']} resources, "
              f"{row['objects']} objects, peak RSS {row['peak_rss_mib']:.0f} MiB"
              + (f"; FAILURES {failed}" if failed else ""), flush=True)
    return {"sizes": list(sizes), "baseline": BASELINE, "rows": rows, "summary": _summarise(rows)}


def _at(table: dict, n: int) -> dict:
    """``table[n]``, also when it was read back from JSON (keys as text)."""
    return table[n] if n in table else table[str(n)]


def print_table(r: dict) -> None:
    rows, summary = r["rows"], r["summary"]
    sizes = [n for n in r["sizes"] if n != BASELINE]
    print("\n| N | wall | plan / municipality | write | render (charts + cluster model) | checks / added municipality "
          "| per added municipality | shared stack: plan, render | peak RSS |\n|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        x, s = _at(rows, n), _at(summary, n)
        print(f"| {n} | {x['wall_s']:.0f} s | {s['plan_s']:.2f} s | {s['write_s']:.2f} s | {s['render_s']:.2f} s | "
              f"{s.get('checks_per_municipality_s', float('nan')):.2f} s | "
              f"**{s.get('per_municipality_s', float('nan')):.2f} s** (CPU {s.get('per_municipality_cpu_s', float('nan')):.2f} s) | "
              f"{s['shared_plan_s']:.2f} s, {s['shared_render_s']:.2f} s | {x['peak_rss_mib']:.0f} MiB |")
    if summary.get("ratio_per_municipality") is not None:
        print(f"\nper added municipality at N = {sizes[-1]} / at N = {sizes[0]}: "
              f"{summary['ratio_per_municipality']:.2f} wall, {summary['ratio_per_municipality_cpu']:.2f} CPU "
              "(target ≤ 1.1; ≤ 2 s per added municipality)")
    print("\n| check | " + " | ".join(f"N={n}: s, s per added municipality (CPU)" for n in sizes)
          + f" | growth exponent of t(N) - t(1) (CPU, N={sizes[0]}→{sizes[-1]}; 1 linear, 2 quadratic) |")
    print("|---|" + "---|" * (len(sizes) + 1))
    growth = summary.get("check_growth_exponent_cpu", {})
    for name in _at(rows, sizes[0])["checks"]:
        cells = []
        for n in sizes:
            x, s = _at(rows, n), _at(summary, n)
            per = s.get("check_per_municipality_s", {}).get(name)
            per_cpu = s.get("check_per_municipality_cpu_s", {}).get(name)
            cells.append(f"{x['checks'][name]['wall_s']:.2f} s, {per:.3f} s (CPU {x['checks'][name]['cpu_s']:.2f} s, "
                         f"{per_cpu:.3f} s)" if per is not None else f"{x['checks'][name]['wall_s']:.2f} s")
        g = growth.get(name)
        print(f"| {name} | " + " | ".join(cells) + (f" | {g:.2f} |" if g is not None else " | – |"))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        n, folder, out, checkov = argv[1:5]
        print(json.dumps(worker(int(n), Path(folder), Path(out), Path(checkov))))
        return 0
    if argv[:1] == ["--preflight"]:
        return preflight(Path(argv[1]))
    import datetime as dt

    from bench.run import machine

    sizes = tuple(int(a) for a in argv) or SIZES
    started = dt.datetime.now(dt.UTC)
    out = ROOT / "bench" / "results" / f"{started.strftime('%Y%m%dT%H%M%SZ')}-scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = run(sizes, partial=out)
    except PlanRefused as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    result = {"started": started.isoformat(timespec="seconds"), "machine": machine(), "scale": result}
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print_table(result["scale"])
    print(f"written: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
