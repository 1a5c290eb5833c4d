"""Real deployments through the Pulumi Automation API: ``shared`` first, then the municipalities.

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
from pathlib import Path

from urbanstack.program import PROJECT, ROOT, SHARED

PULUMI_VERSION = "3.272.0"
"""CLI version installed by ``make up``; the same release as the pinned ``pulumi`` SDK."""
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
        "The Pulumi CLI was not found (neither on PATH nor in .pulumi/bin). Run `make up`, which installs "
        f"Pulumi {PULUMI_VERSION} into .pulumi/ with Pulumi's official installer, or install it yourself: "
        "https://www.pulumi.com/docs/iac/download-install/ . Without a CLI, `make plan` shows offline what "
        "would be deployed."
    )


@dataclass
class StackResult:
    stack: str
    ok: bool
    summary: str


def order(stacks: Iterable[str]) -> list[str]:
    """``shared`` always first; municipalities after it in name order."""
    names = sorted(set(stacks))
    return ([SHARED] if SHARED in names else []) + [s for s in names if s != SHARED]


def up_stack(name: str, on_output: Callable[[str], None] | None = None) -> StackResult:
    """``pulumi up`` of one stack via the Automation API (stack created on first use)."""
    from pulumi import automation as auto

    cli = find_cli()
    command = auto.PulumiCommand(root=str(cli.parent.parent), skip_version_check=False)
    env = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_") or k in ("KUBECONFIG", "HOME", "PATH")}
    env.setdefault("PULUMI_BACKEND_URL", f"file://{ROOT / '.pulumi-state'}")
    stack = auto.create_or_select_stack(
        stack_name=name, work_dir=str(ROOT),
        opts=auto.LocalWorkspaceOptions(pulumi_command=command, env_vars=env, project_settings=None),
    )
    try:
        # The policy pack runs on every real deployment too (policy/, mandatory policies).
        result = stack.up(on_output=on_output or (lambda _line: None), color="never",
                          policy_packs=[str(ROOT / "policy")])
    except auto.errors.CommandError as exc:
        return StackResult(name, False, str(exc).strip().splitlines()[-1] if str(exc).strip() else "failed")
    changes = ", ".join(f"{k}={v}" for k, v in (result.summary.resource_changes or {}).items())
    return StackResult(name, result.summary.result == "succeeded", changes or "no changes")


def up(stacks: Iterable[str], parallel: int = 1,
       progress: Callable[[str, str], None] | None = None) -> list[StackResult]:
    """Deploy ``shared`` (if asked) first, then the municipalities, ``parallel`` at a time."""
    find_cli()
    ordered = order(stacks)
    say = progress or (lambda _s, _m: None)
    results: list[StackResult] = []
    if ordered and ordered[0] == SHARED:
        say(SHARED, "deploying")
        res = up_stack(SHARED, lambda line: say(SHARED, line.rstrip()))
        results.append(res)
        if not res.ok:
            say(SHARED, "failed: municipalities were not deployed")
            return results
        ordered = ordered[1:]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(up_stack, s, lambda line, s=s: say(s, line.rstrip())): s for s in ordered}
        for fut in as_completed(futures):
            results.append(fut.result())
    return results


__all__ = ["PROJECT", "CliMissing", "StackResult", "find_cli", "order", "up"]
