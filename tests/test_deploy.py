"""Real deployments through the Automation API: order, policy pack, and a clear message without a CLI."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from urbanstack import deploy
from urbanstack.cli import app


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
    assert result.exit_code == 2 and "valid stacks are shared, guetersloh" in result.output


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
    assert [r.stack for r in results] == ["shared"]
    assert [name for name, _ in fake_engine] == ["shared"]
