"""Check: checkov, an outside scanner nobody here wrote, reports 0 failed checks over the rendered plan.

checkov runs from its own virtualenv ``.venv-checkov`` (``make checkov-venv``): it pins ``packaging<24`` and
pulumi needs ``packaging>=26``, so the two cannot share one. It runs offline (``--skip-download``: no
vendor server) on the Kubernetes framework only. Checks skipped for the whole plan are listed in ONE file,
``checks/checkov-skips.yaml``, with a reason per check id; its ``upstream`` section lists, with a reason each,
checks skipped only for chart-rendered and operator-made objects (what upstream decides there, not this
project), either for all of them or only for the files a glob names (:func:`load_upstream_skips`). Checks on
privilege escalation, root, host namespaces, capabilities and service-account tokens (:data:`FORBIDDEN_SKIPS`)
can never be skipped for the whole plan, and for upstream objects only file-scoped, each with its reason.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from urbanstack.checks.base import (
    DEFAULT_CHECKOV,
    ORIGINS,
    ROOT,
    UPSTREAM_FOLDERS,
    CheckResult,
    Failure,
    Plan,
    origin_of_folder,
)
from urbanstack.engine.planfiles import plan_files

NAME = "checkov"
SKIPS_FILE = ROOT / "checks" / "checkov-skips.yaml"
FORBIDDEN_SKIPS: dict[str, str] = {
    "CKV_K8S_1": "host PID namespace",
    "CKV_K8S_2": "privileged containers",
    "CKV_K8S_3": "host IPC namespace",
    "CKV_K8S_4": "host network namespace",
    "CKV_K8S_5": "privilege escalation",
    "CKV_K8S_6": "root containers",
    "CKV_K8S_7": "NET_RAW capability",
    "CKV_K8S_16": "privileged containers",
    "CKV_K8S_17": "host PID namespace",
    "CKV_K8S_18": "host IPC namespace",
    "CKV_K8S_19": "host network namespace",
    "CKV_K8S_20": "privilege escalation",
    "CKV_K8S_23": "root containers",
    "CKV_K8S_24": "added capabilities",
    "CKV_K8S_25": "added capabilities",
    "CKV_K8S_27": "docker socket from the host",
    "CKV_K8S_28": "NET_RAW capability",
    "CKV_K8S_36": "capabilities assigned",
    "CKV_K8S_37": "capabilities assigned",
    "CKV_K8S_38": "service-account tokens mounted",
    "CKV_K8S_39": "CAP_SYS_ADMIN capability",
    "CKV_K8S_40": "root / low UIDs",
    "CKV_K8S_41": "default service account in use",
    "CKV_K8S_42": "default service account bound",
}
"""checkov checks that may never be skipped, with what they guard."""
CHECK_ID = re.compile(r"^CKV2?_K8S_\d+$")
TIMEOUT_S = 900
UNCHECKED_KIND = "CustomResourceDefinition"
NOT_SCANNED = r"customresourcedefinition-cluster-[^/]*\.yaml$"
"""Plan files checkov is not given: CustomResourceDefinitions (``plan.object_filename``). checkov 3.3.30 has no
check for that kind (its Kubernetes registry and graph checks name 21 other kinds; a test pins it), and building
its graph over the charts' CRD schemas took four fifths of its time over the plan."""


class CheckovError(Exception):
    """checkov is missing, or its skip file or output is unusable."""


UPSTREAM_KEY = "upstream"
"""Key of the skip file's section that holds skips for chart-rendered and operator-made objects only."""


@dataclass(frozen=True)
class UpstreamSkip:
    """One skip of the ``upstream`` section: a check id, for every chart/operator object (``files is None``) or
    only for the plan files matching ``files`` (a glob over ``<stack>/<folder>/<file>``), and the reason."""

    check_id: str
    files: str | None
    reason: str

    def covers(self, check_id: str, rel_path: str) -> bool:
        """Does this skip cover ``check_id`` on the plan file ``rel_path`` (``<stack>/<folder>/<file>``)?"""
        if check_id != self.check_id:
            return False
        parts = rel_path.split("/")
        if len(parts) < 3 or not parts[-2].startswith(UPSTREAM_FOLDERS):
            return False
        # A stack of another cell than the default one is matched as its default-cell name (``shared.<cell>`` as
        # ``shared``): the same chart renders the same objects in every cell (catalogue/cells.py).
        return self.files is None or fnmatch.fnmatchcase("/".join([parts[-3].split(".", 1)[0], *parts[-2:]]),
                                                         self.files)


def _reason_problem(path: Path, what: str, reason: Any) -> str | None:
    if not isinstance(reason, str) or len(reason.strip()) < 20:
        return f"{path}: {what}: needs a reason (a sentence, not a placeholder)"
    return None


def _files_problem(path: Path, check_id: str, files: Any) -> str | None:
    """A scoped skip names files of ONE upstream folder: ``<stack glob>/<chart-|manifests-|operator-...>/<file>``."""
    parts = files.split("/") if isinstance(files, str) else []
    if len(parts) != 3 or not parts[1].startswith(UPSTREAM_FOLDERS) or any(c in parts[1] for c in "*?["):
        return (f"{path}: {UPSTREAM_KEY}: {check_id}: {files!r}: a file glob must read <stack>/<folder>/<file> with "
                f"the folder of a chart, upstream manifest or operator (chart-*, manifests-*, operator-*) spelled out")
    return None


def load_upstream_skips(path: Path = SKIPS_FILE) -> list[UpstreamSkip]:
    """The ``upstream`` section: ``<check id>: <reason>`` skips the check on every chart-rendered and operator-made
    object (never a check of :data:`FORBIDDEN_SKIPS`); ``<check id>: {<file glob>: <reason>, ...}`` skips it only on
    the plan files the globs match. A guarded check can be skipped only this way, scoped to named upstream
    objects, each with the upstream property that forces it (a reviewer checks the reason against the source)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    upstream = (data or {}).get(UPSTREAM_KEY) or {} if isinstance(data, dict) else {}
    if not isinstance(upstream, dict):
        raise CheckovError(f"{path}: {UPSTREAM_KEY}: must be a mapping of checkov check id -> reason or "
                           f"-> {{file glob: reason}}")
    problems: list[str] = []
    out: list[UpstreamSkip] = []
    for check_id, value in upstream.items():
        if not isinstance(check_id, str) or not CHECK_ID.match(check_id):
            problems.append(f"{path}: {check_id!r}: not a checkov Kubernetes check id (CKV_K8S_<n>)")
            continue
        if isinstance(value, dict):
            for files, reason in value.items():
                problem = (_files_problem(path, check_id, files)
                           or _reason_problem(path, f"{check_id} on {files}", reason))
                if problem:
                    problems.append(problem)
                else:
                    out.append(UpstreamSkip(check_id, str(files), str(reason)))
            continue
        if check_id in FORBIDDEN_SKIPS:
            problems.append(f"{path}: {check_id}: guards {FORBIDDEN_SKIPS[check_id]} and may never be skipped "
                            f"(for upstream objects only with a file glob naming the objects and the reason)")
        elif problem := _reason_problem(path, check_id, value):
            problems.append(problem)
        else:
            out.append(UpstreamSkip(check_id, None, str(value)))
    if problems:
        raise CheckovError("\n".join(problems))
    return out


def load_skips(path: Path = SKIPS_FILE, section: str | None = None) -> dict[str, str]:
    """Check id -> reason from the skip file (``section=UPSTREAM_KEY``: the skips of the ``upstream`` section that
    cover every chart-rendered and operator-made object; the file-scoped ones: :func:`load_upstream_skips`);
    refuses bad ids, empty reasons and forbidden skips."""
    if section == UPSTREAM_KEY:
        return {s.check_id: s.reason for s in load_upstream_skips(path) if s.files is None}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if not isinstance(data, dict):
        raise CheckovError(f"{path}: must be a mapping of checkov check id -> reason")
    data.pop(UPSTREAM_KEY, None)
    problems = []
    for check_id, reason in data.items():
        if not isinstance(check_id, str) or not CHECK_ID.match(check_id):
            problems.append(f"{path}: {check_id!r}: not a checkov Kubernetes check id (CKV_K8S_<n>)")
        elif check_id in FORBIDDEN_SKIPS:
            problems.append(f"{path}: {check_id}: guards {FORBIDDEN_SKIPS[check_id]} and may never be skipped")
        if problem := _reason_problem(path, str(check_id), reason):
            problems.append(problem)
    if problems:
        raise CheckovError("\n".join(problems))
    return {str(k): str(v) for k, v in data.items()}


BATCH_FILES = 1500
"""Files per checkov run when a plan is larger. checkov's Kubernetes runner grows faster than linearly with the
files of one run (measured 2026-12-06: 873 files in 10.6 s, about 13,000 files of 100 municipalities in over 9
minutes, 1.8 GiB), while stacks share no object it could connect: a plan is given to it in batches of whole stack
folders (as files, ``-f``), each run on its own, the reports merged."""


def batches(target: Path) -> list[list[Path]]:
    """The files of plan folder ``target`` that checkov judges (not ``resources.json``, not the CRDs), whole stack
    folders per batch, at most :data:`BATCH_FILES` per batch unless one stack alone has more."""
    out: list[list[Path]] = [[]]
    for stack in sorted(p for p in target.iterdir() if p.is_dir()):
        files = [f for f in plan_files(stack) if not re.search(NOT_SCANNED, f.as_posix())]
        if out[-1] and len(out[-1]) + len(files) > BATCH_FILES:
            out.append([])
        out[-1].extend(files)
    return [b for b in out if b]


def run_checkov(checkov: Path, target: Path, skips: dict[str, str]) -> dict[str, Any]:
    """Run checkov on ``target`` (a plan folder or one file) and return its JSON report. A plan folder of more
    than :data:`BATCH_FILES` files is judged in batches of whole stacks (:func:`batches`), two at a time."""
    if not checkov.exists():
        raise CheckovError(f"{checkov}: checkov is not installed; run `make checkov-venv` (own virtualenv, "
                           f"it cannot share one with pulumi)")
    if target.is_dir():
        parts = batches(target)
        if len(parts) > 1:
            with ThreadPoolExecutor(max_workers=2) as pool:
                reports = list(pool.map(lambda files: _run_checkov(checkov, ["-f", *map(str, files)], skips),
                                        parts))
            merged = reports[0]
            for r in reports[1:]:
                for key in ("passed", "failed", "resource_count", "parsing_errors"):
                    merged[key] += r[key]
                merged["failed_checks"] += r["failed_checks"]
            return merged
    return _run_checkov(checkov, ["-d", str(target)] if target.is_dir() else ["-f", str(target)], skips)


def _run_checkov(checkov: Path, what: list[str], skips: dict[str, str]) -> dict[str, Any]:
    cmd = [str(checkov), "--framework", "kubernetes", "--skip-download", "--output", "json", "--quiet",
           "--compact", "--skip-path", "resources.json", "--skip-path", NOT_SCANNED]
    cmd += what
    if skips:
        cmd += ["--skip-check", ",".join(sorted(skips))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise CheckovError(f"checkov gave no JSON report (exit {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}") from None
    reports = report if isinstance(report, list) else [report]
    merged: dict[str, Any] = {"failed_checks": [], "passed": 0, "failed": 0, "resource_count": 0, "parsing_errors": 0}
    for r in reports:
        summary = r.get("summary", r)
        for key in ("passed", "failed", "resource_count", "parsing_errors"):
            merged[key] += int(summary.get(key, 0) or 0)
        merged["failed_checks"] += (r.get("results") or {}).get("failed_checks") or []
    return merged


def _file_of(target: Path, reported: str) -> Path:
    """checkov reports paths like ``/verl/deployment-....yaml`` relative to the scanned folder."""
    base = target if target.is_dir() else target.parent
    return base / reported.lstrip("/") if not Path(reported).is_file() else Path(reported)


def count_files(plan_dir: Path, files: list[Path]) -> dict[str, int]:
    """Scanned files per origin (a stack's own files are ``ours``; see ``base.origin_of_folder``)."""
    out = dict.fromkeys(ORIGINS, 0)
    for f in files:
        origin = "ours" if f.parent.parent == plan_dir else origin_of_folder(f.parent.name)
        out[origin] += 1
    return out


def run(plan: Plan, checkov: Path = DEFAULT_CHECKOV, skips_file: Path = SKIPS_FILE,
        target: Path | None = None) -> CheckResult:
    """checkov over the whole plan (or over ``target``, a folder or one file of it)."""
    skips = load_skips(skips_file)
    upstream_skips = load_upstream_skips(skips_file)
    scanned = target or plan.directory
    report = run_checkov(checkov, scanned, skips)
    failures = []
    upstream_skipped = 0
    used: set[UpstreamSkip] = set()
    for f in report["failed_checks"]:
        path = _file_of(scanned, f.get("file_path", "?"))
        rel = path.resolve().relative_to(plan.directory.resolve()).as_posix() if path.resolve().is_relative_to(
            plan.directory.resolve()) else path.as_posix()
        covering = [s for s in upstream_skips if s.covers(str(f.get("check_id")), rel)]
        if covering:
            upstream_skipped += 1
            used.update(covering)
            continue
        where = plan.rel(path)
        failures.append(Failure(where, f"{f.get('check_id')} {f.get('check_name')}",
                                f"{f.get('resource')}: checkov check failed"))
    if target is None:
        for s in upstream_skips:
            if s.files is not None and s not in used:
                failures.append(Failure(str(skips_file), f"stale-skip {s.check_id}",
                                        f"{UPSTREAM_KEY}: {s.check_id} on {s.files} skips nothing in this plan: "
                                        f"remove it (or fix the glob)"))
    if report["parsing_errors"]:
        failures.append(Failure(str(scanned), "checkov-parse", f"checkov could not parse {report['parsing_errors']} "
                                                               f"file(s)"))
    if scanned.is_dir():
        scanned_files = [f for stack in sorted(p for p in scanned.iterdir() if p.is_dir()) for f in plan_files(stack)]
        origins = count_files(scanned, scanned_files)
    else:
        scanned_files, origins = [scanned], {}
    crds = sum(1 for f in scanned_files if re.search(NOT_SCANNED, f.as_posix()))
    files = len(scanned_files)
    return CheckResult(NAME, files, "files", failures, origins=origins, origin_unit="files",
                       detail=f"{report['resource_count']} resources, {report['passed']} passed and "
                              f"{report['failed']} failed checks, {len(skips)} check ids skipped with a reason in "
                              f"{skips_file.relative_to(ROOT) if skips_file.is_relative_to(ROOT) else skips_file}, "
                              f"{upstream_skipped} results on chart/operator objects skipped by its "
                              f"'{UPSTREAM_KEY}' section, {crds} {UNCHECKED_KIND} files not given to checkov (it "
                              f"has no check for that kind)")
