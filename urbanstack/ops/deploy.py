"""Real deployments through the Pulumi Automation API: cell by cell, each cell's platform stack first, then
its municipalities.

This needs the Pulumi CLI (``make up`` installs the pinned version into ``.pulumi/`` with Pulumi's official
installer when none is on PATH). State goes to ``PULUMI_BACKEND_URL``; ``make up`` defaults it to a local
file backend inside the project (``.pulumi-state/``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import yaml

from catalogue.names import PROJECT
from catalogue.paths import ROOT
from urbanstack.engine.program import SHARED

PULUMI_VERSION = version("pulumi")
"""CLI version installed by ``make up``: the release of the pinned ``pulumi`` SDK (pyproject.toml, one place)."""
LOCAL_CLI = ROOT / ".pulumi" / "bin" / "pulumi"


class CliMissing(Exception):
    pass


def find_cli() -> Path:
    """The Pulumi CLI: on PATH, else the project-local install; raise :class:`CliMissing` with what to do."""
    found = shutil.which("pulumi")
    if found:
        return Path(found)
    if LOCAL_CLI.is_file():
        return LOCAL_CLI
    raise CliMissing(
        f"The Pulumi CLI was not found (neither on PATH nor in {LOCAL_CLI.parent}). Install Pulumi "
        f"{PULUMI_VERSION} (https://www.pulumi.com/docs/iac/download-install/) and put it on PATH, or run "
        "`make pulumi-cli` where the installer can be downloaded. Without a CLI, `make plan` shows offline "
        "what would be deployed."
    )


def describe_target(kubeconfig_env: str | None = None, home: Path | None = None) -> str:
    """Where a deployment goes, said before it starts: the kubeconfig's current context, or render mode.

    Follows the rule of ``components/provider.py`` (``KUBECONFIG`` files, else ``~/.kube/config``; without one
    the provider renders manifests to ``build/rendered/<stack>/`` instead of touching a cluster).
    """
    env = os.environ.get("KUBECONFIG") if kubeconfig_env is None else kubeconfig_env
    files = [Path(p) for p in env.split(os.pathsep) if p] if env else [(home or Path.home()) / ".kube" / "config"]
    files = [f for f in files if f.is_file()]
    if not files:
        return (f"target: no kubeconfig found, so nothing is applied to a cluster: manifests are rendered to "
                f"{ROOT / 'build' / 'rendered'}/<stack>/ (Secrets included, see docs/operations.md)")
    for f in files:
        try:
            cfg = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            return f"target: kubeconfig {f} cannot be read ({exc.__class__.__name__}); fix it before deploying"
        context = cfg.get("current-context") if isinstance(cfg, dict) else None
        if context:
            server = next((c.get("cluster", {}).get("server") for c in cfg.get("clusters") or []
                           if isinstance(c, dict) and c.get("name") == _context_cluster(cfg, context)), None)
            return f"target: cluster of kubeconfig context '{context}'{f' ({server})' if server else ''} from {f}"
    return f"target: kubeconfig {', '.join(map(str, files))} names no current-context; set one before deploying"


def _context_cluster(cfg: dict, context: str) -> str | None:
    for c in cfg.get("contexts") or []:
        if isinstance(c, dict) and c.get("name") == context:
            return (c.get("context") or {}).get("cluster")
    return None


@dataclass
class StackResult:
    stack: str
    ok: bool
    summary: str


def is_platform(stack: str) -> bool:
    """A cell's platform stack: ``shared`` (the default cell) or ``shared.<cell>`` (``catalogue/cells.py``)."""
    return stack == SHARED or stack.startswith(f"{SHARED}.")


def platform_of(stack: str) -> str:
    """The platform stack a stack's cell has, by the naming rule of ``catalogue/cells.py``: ``<slug>.<cell>`` ->
    ``shared.<cell>``, ``<slug>`` -> ``shared``."""
    if is_platform(stack):
        return stack
    _, _, cell = stack.partition(".")
    return f"{SHARED}.{cell}" if cell else SHARED


def order(stacks: Iterable[str]) -> list[str]:
    """Cell by cell (the default cell's ``shared`` first, then ``shared.<cell>`` in name order), each cell's platform
    stack before its municipalities (in name order)."""
    names = sorted(set(stacks))
    cells = sorted({platform_of(s) for s in names}, key=lambda p: (p != SHARED, p))
    return [s for platform in cells
            for s in ([platform] if platform in names else []) + [m for m in names if platform_of(m) == platform
                                                                 and m != platform]]


SELECT_ATTEMPTS = 3
"""Selecting (or creating) a stack only reads and writes the workspace's stack settings: safe to try again,
e.g. when parallel workers race on the local backend's lock files. ``up`` itself is never retried here: a
failed update may have applied part of its changes, and whether to run it again is a person's decision."""


def _select(auto, name: str, command, env) -> object:
    last: Exception | None = None
    for _attempt in range(SELECT_ATTEMPTS):
        try:
            return auto.create_or_select_stack(
                stack_name=name, work_dir=str(ROOT),
                opts=auto.LocalWorkspaceOptions(pulumi_command=command, env_vars=env, project_settings=None),
            )
        except Exception as exc:  # reported in the stack's result after the last attempt
            last = exc
    raise _SelectFailed(last)


class _SelectFailed(Exception):
    pass


def _last_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1]}" if text else type(exc).__name__


def up_stack(name: str, on_output: Callable[[str], None] | None = None) -> StackResult:
    """``pulumi up`` of one stack via the Automation API (stack created on first use).

    Never raises: every failure (selecting the stack, the update, anything unexpected) becomes this stack's
    :class:`StackResult`, so that one stack's failure cannot hide the others' results.
    """
    try:
        from pulumi import automation as auto

        cli = find_cli()
        command = auto.PulumiCommand(root=str(cli.parent.parent), skip_version_check=False)
        env = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_") or k in ("KUBECONFIG", "HOME", "PATH")}
        env.setdefault("PULUMI_BACKEND_URL", f"file://{ROOT / '.pulumi-state'}")
        try:
            stack = _select(auto, name, command, env)
        except _SelectFailed as exc:
            cause = exc.args[0]
            return StackResult(name, False, f"selecting the stack failed {SELECT_ATTEMPTS} times "
                                            f"(nothing was deployed): {_last_line(cause)}")
        # The policy pack runs on every real deployment too (policy/, mandatory policies).
        result = stack.up(on_output=on_output or (lambda _line: None), color="never",
                          policy_packs=[str(ROOT / "policy")])
    except Exception as exc:  # one stack's failure is its result, not the end of the run
        return StackResult(name, False, f"update failed (not retried; check the stack before running again): "
                                        f"{_last_line(exc)}")
    changes = ", ".join(f"{k}={v}" for k, v in (result.summary.resource_changes or {}).items())
    return StackResult(name, result.summary.result == "succeeded", changes or "no changes")


def up(stacks: Iterable[str], parallel: int = 1,
       progress: Callable[[str, str], None] | None = None) -> list[StackResult]:
    """Deploy cell by cell: a cell's platform stack (if asked) first, then its municipalities, ``parallel`` at a time.

    Returns one result per requested stack, in deployment order; municipalities not attempted because their cell's
    platform stack failed are reported as failed too (the other cells go on). Files the CLI and the provider write
    (state, rendered manifests) are created readable by the owner only (umask 077).
    """
    find_cli()
    ordered = order(stacks)
    say = progress or (lambda _s, _m: None)
    results: list[StackResult] = []
    previous = os.umask(0o077)
    try:
        for platform in dict.fromkeys(platform_of(s) for s in ordered):
            members = [s for s in ordered if platform_of(s) == platform and s != platform]
            if platform in ordered:
                say(platform, "deploying")
                res = up_stack(platform, lambda line, p=platform: say(p, line.rstrip()))
                results.append(res)
                say(platform, f"finished: {'ok' if res.ok else 'FAILED'}, {res.summary}")
                if not res.ok:
                    say(platform, "failed: the municipalities of its cell were not deployed")
                    results += [StackResult(s, False, f"not deployed: {platform} failed") for s in members]
                    continue
            results += _members(members, parallel, say)
        return results
    finally:
        os.umask(previous)


def _members(members: list[str], parallel: int, say: Callable[[str, str], None]) -> list[StackResult]:
    done: dict[str, StackResult] = {}

    def one(s: str) -> StackResult:
        say(s, "deploying")
        return up_stack(s, lambda line: say(s, line.rstrip()))

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(one, s): s for s in members}
        for fut in as_completed(futures):
            s = futures[fut]
            try:
                done[s] = fut.result()
            except Exception as exc:  # up_stack reports its failures; this is the last net
                done[s] = StackResult(s, False, _last_line(exc))
            say(s, f"finished: {'ok' if done[s].ok else 'FAILED'}, {done[s].summary}")
    return [done[s] for s in members]


__all__ = ["PROJECT", "CliMissing", "StackResult", "find_cli", "order", "up"]
