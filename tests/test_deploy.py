"""Real deployments through the Automation API: order, policy pack, and a clear message without a CLI."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from urbanstack.cli import app
from urbanstack.ops import deploy


def test_without_a_pulumi_cli_up_says_what_to_do(monkeypatch):
    monkeypatch.setattr(deploy.shutil, "which", lambda _name: None)
    monkeypatch.setattr(deploy, "LOCAL_CLI", deploy.ROOT / "no-such-dir" / "pulumi")
    result = CliRunner().invoke(app, ["up", "--all"])
    assert result.exit_code == 1
    assert "Pulumi CLI was not found" in result.output
    # It names ways out that work, never `make up` (which is what just failed) as the cure.
    assert "make up" not in result.output
    assert "put it on PATH" in result.output and "make plan" in result.output
    assert "Traceback" not in result.output


def test_up_says_where_it_deploys_before_it_starts(monkeypatch):
    monkeypatch.setattr(deploy.shutil, "which", lambda _name: None)
    monkeypatch.setattr(deploy, "LOCAL_CLI", deploy.ROOT / "no-such-dir" / "pulumi")
    monkeypatch.setenv("KUBECONFIG", "/no/such/kubeconfig")
    result = CliRunner().invoke(app, ["up", "--stack", "verl"])
    assert result.output.splitlines()[0].startswith("target: no kubeconfig found")
    assert "build/rendered" in result.output


def test_the_target_is_the_kubeconfigs_current_context(tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: staging\n"
        "contexts: [{name: staging, context: {cluster: test-cluster, user: ops}}]\n"
        "clusters: [{name: test-cluster, cluster: {server: 'https://10.0.0.1:6443'}}]\n")
    target = deploy.describe_target(str(kubeconfig))
    assert target == f"target: cluster of kubeconfig context 'staging' (https://10.0.0.1:6443) from {kubeconfig}"
    assert "no current-context" in deploy.describe_target(str(_write(tmp_path / "empty", "kind: Config\n")))


def _write(path, text):
    path.write_text(text)
    return path


def test_up_needs_exactly_one_of_stack_or_all():
    assert CliRunner().invoke(app, ["up"]).exit_code == 2
    assert CliRunner().invoke(app, ["up", "--all", "--stack", "verl"]).exit_code == 2


def test_an_unknown_stack_is_refused_with_the_valid_names():
    result = CliRunner().invoke(app, ["up", "--stack", "bielefeld"])
    assert result.exit_code == 2 and "valid stacks are shared, rheda-wiedenbrueck" in result.output
    assert "shared.stadt-guetersloh, guetersloh.stadt-guetersloh" in result.output


@pytest.fixture
def fake_engine(monkeypatch, tmp_path):
    """A stand-in for the Automation API that records which stacks were deployed, in which order."""
    from pulumi import automation as auto

    calls: list[tuple[str, dict]] = []
    lock = threading.Lock()

    class FakeStack:
        def __init__(self, name):
            self.name = name

        def up(self, **kw):
            with lock:
                calls.append((self.name, kw))
            kw["on_output"](f"updating {self.name}")
            ok = self.name != "rietberg"
            return SimpleNamespace(summary=SimpleNamespace(result="succeeded" if ok else "failed",
                                                          resource_changes={"create": 3}))

    cli = tmp_path / "bin" / "pulumi"
    cli.parent.mkdir()
    cli.write_text("#!/bin/sh\n")
    monkeypatch.setattr(deploy, "find_cli", lambda: cli)
    monkeypatch.setattr(auto, "PulumiCommand", lambda **kw: SimpleNamespace(**kw))
    monkeypatch.setattr(auto, "create_or_select_stack", lambda stack_name, work_dir, opts: FakeStack(stack_name))
    return calls


def test_shared_is_deployed_first_then_every_municipality_with_the_policy_pack(fake_engine):
    results = deploy.up(["verl", "shared", "guetersloh", "rietberg"], parallel=2)
    assert fake_engine[0][0] == "shared"
    assert {name for name, _ in fake_engine[1:]} == {"verl", "guetersloh", "rietberg"}
    for _, kw in fake_engine:
        assert kw["policy_packs"] == [str(deploy.ROOT / "policy")]
    assert {r.stack: r.ok for r in results} == {"shared": True, "verl": True, "guetersloh": True, "rietberg": False}


def test_a_failed_shared_stack_stops_before_any_municipality(fake_engine, monkeypatch):
    def failing(name, on_output=None):
        fake_engine.append((name, {}))
        return deploy.StackResult(name, False, "failed")

    monkeypatch.setattr(deploy, "up_stack", failing)
    results = deploy.up(["shared", "verl"], parallel=1)
    assert [(r.stack, r.ok) for r in results] == [("shared", False), ("verl", False)]
    assert "not deployed" in results[1].summary
    assert [name for name, _ in fake_engine] == ["shared"]


def test_an_error_while_selecting_one_stack_is_that_stacks_result_and_the_others_are_kept(fake_engine, monkeypatch):
    """``up --all --parallel``: a stack that cannot even be selected fails alone; every stack is reported."""
    from pulumi import automation as auto

    real_select = auto.create_or_select_stack
    attempts: list[str] = []

    def select(stack_name, work_dir, opts):
        attempts.append(stack_name)
        if stack_name == "verl":
            raise auto.errors.CommandError(auto.CommandResult("", "error: could not read workspace settings", 255))
        return real_select(stack_name, work_dir, opts)

    monkeypatch.setattr(auto, "create_or_select_stack", select)
    results = deploy.up(["shared", "verl", "guetersloh", "rietberg"], parallel=3)
    by_stack = {r.stack: r for r in results}
    assert [r.stack for r in results] == ["shared", "guetersloh", "rietberg", "verl"]
    assert by_stack["shared"].ok and by_stack["guetersloh"].ok and not by_stack["rietberg"].ok
    assert not by_stack["verl"].ok and "could not read workspace settings" in by_stack["verl"].summary
    # Selecting is safe to repeat (it changes nothing deployed): tried SELECT_ATTEMPTS times, never updated.
    assert attempts.count("verl") == deploy.SELECT_ATTEMPTS
    assert "verl" not in [name for name, _ in fake_engine]


def test_a_selection_that_succeeds_on_a_second_try_deploys_the_stack(fake_engine, monkeypatch):
    from pulumi import automation as auto

    real_select = auto.create_or_select_stack
    failures = {"verl": 1}

    def flaky(stack_name, work_dir, opts):
        if failures.get(stack_name):
            failures[stack_name] -= 1
            raise auto.errors.CommandError(auto.CommandResult("", "error: the stack is locked", 255))
        return real_select(stack_name, work_dir, opts)

    monkeypatch.setattr(auto, "create_or_select_stack", flaky)
    (result,) = deploy.up(["verl"], parallel=1)
    assert result.ok and [name for name, _ in fake_engine] == ["verl"]


def test_an_update_that_raises_is_reported_and_not_retried(fake_engine, monkeypatch):
    """A failed update may have applied part of its changes: it is reported, never run again by itself."""
    from pulumi import automation as auto

    class Exploding:
        def __init__(self, name):
            self.name = name

        def up(self, **kw):
            fake_engine.append((self.name, kw))
            raise RuntimeError("connection reset by peer")

    monkeypatch.setattr(auto, "create_or_select_stack",
                        lambda stack_name, work_dir, opts: Exploding(stack_name))
    results = deploy.up(["verl", "rietberg"], parallel=2)
    assert [(r.stack, r.ok) for r in results] == [("rietberg", False), ("verl", False)]
    assert all("connection reset by peer" in r.summary and "not retried" in r.summary for r in results)
    assert sorted(name for name, _ in fake_engine) == ["rietberg", "verl"]


def test_cli_up_all_reports_every_stack_and_exits_non_zero_when_one_failed(fake_engine, monkeypatch):
    from pulumi import automation as auto

    real_select = auto.create_or_select_stack

    def select(stack_name, work_dir, opts):
        if stack_name == "verl":
            raise ValueError("broken workspace")
        return real_select(stack_name, work_dir, opts)

    monkeypatch.setattr(auto, "create_or_select_stack", select)
    result = CliRunner().invoke(app, ["up", "--all", "--parallel", "3"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    from catalogue.tenants import load_all

    for stack in ["shared", "shared.stadt-guetersloh", "guetersloh.stadt-guetersloh",
                  *(slug for slug in load_all() if slug != "guetersloh")]:
        assert f" {stack}: " in result.output
    assert "FAILED verl: selecting the stack failed" in result.output
    assert "stack(s) failed" in result.output


def test_every_cell_is_deployed_platform_first_and_a_failed_platform_stops_only_its_own_cell(fake_engine,
                                                                                         monkeypatch):
    real = deploy.up_stack

    def platform_b_fails(name, on_output=None):
        if name == "shared.b":
            fake_engine.append((name, {}))
            return deploy.StackResult(name, False, "failed")
        return real(name, on_output)

    monkeypatch.setattr(deploy, "up_stack", platform_b_fails)
    results = deploy.up(["verl.b", "shared.b", "rietberg", "shared", "guetersloh.c", "shared.c"], parallel=2)
    assert [r.stack for r in results] == ["shared", "rietberg", "shared.b", "verl.b", "shared.c", "guetersloh.c"]
    by_stack = {r.stack: r for r in results}
    assert not by_stack["verl.b"].ok and by_stack["verl.b"].summary == "not deployed: shared.b failed"
    assert "verl.b" not in [name for name, _ in fake_engine]
    assert by_stack["guetersloh.c"].ok, "another cell goes on"
    order = [name for name, _ in fake_engine]
    assert order.index("shared.c") < order.index("guetersloh.c") and order.index("shared") < order.index("rietberg")


def test_files_written_during_up_are_private_to_the_owner(fake_engine, monkeypatch):
    """State and rendered manifests (which hold Secrets in render mode) are created with umask 077."""
    import os

    from pulumi import automation as auto

    seen: list[int] = []

    class Recording:
        def up(self, **kw):
            current = os.umask(0o077)
            os.umask(current)
            seen.append(current)
            return SimpleNamespace(summary=SimpleNamespace(result="succeeded", resource_changes={}))

    monkeypatch.setattr(auto, "create_or_select_stack", lambda stack_name, work_dir, opts: Recording())
    before = os.umask(0o022)
    try:
        deploy.up(["verl"], parallel=1)
        after = os.umask(0o022)
    finally:
        os.umask(before)
    assert seen == [0o077] and after == 0o022


def test_up_all_shows_stacks_done_of_all_with_the_elapsed_time(fake_engine, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/no/such/kubeconfig")
    result = CliRunner().invoke(app, ["up", "--all"])
    lines = result.output.splitlines()
    total = 2 + len([p for p in (deploy.ROOT / "tenants").glob("*.yaml")])  # two cells' platform stacks
    assert any(ln.startswith(f"[0/{total} done, ") and "[shared] deploying" in ln for ln in lines)
    assert any(ln.startswith(f"[1/{total} done, ") and "[shared] finished: ok" in ln for ln in lines)
    assert any(ln.startswith(f"[{total}/{total} done, ") for ln in lines), "the last stack's line counts all"
