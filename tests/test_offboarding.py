"""Offboarding: final backup and export first; protection is released only after both succeeded."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from urbanstack.cli import app
from urbanstack.offboard import OffboardError, run, steps

DAY = dt.date(2026, 11, 28)


class FakeRunner:
    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, argv, stdout_to):
        self.calls.append(list(argv))
        if stdout_to is not None:
            stdout_to.write_bytes(b"dump")
        return 1 if self.fail_on and self.fail_on in " ".join(argv) else 0


def test_the_order_is_backup_then_export_then_release(tmp_path):
    plan = steps("verl", tmp_path, ["geodata", "superset"], release=True, stamp="20261128")
    phases = [s.phase for s in plan]
    assert phases == sorted(phases, key=["backup", "export", "release"].index)
    assert [s.argv[2] for s in plan if s.phase == "release"] == ["unprotect", "--yes"]
    assert {s.argv[-1] for s in plan if "pg_dump" in s.argv} == {"geodata", "superset"}


def test_without_release_nothing_is_unprotected(tmp_path):
    runner = FakeRunner()
    lines = list(run("verl", tmp_path, databases=["geodata"], runner=runner, today=DAY))
    assert not [c for c in runner.calls if c[0] == "pulumi"]
    assert "--release" in lines[-1]
    backup = (tmp_path / "verl" / "final-backup.yaml").read_text()
    assert "kind: Backup" in backup and "method: plugin" in backup and "name: offboarding-20261128" in backup


def test_a_failed_export_stops_before_protection_is_released(tmp_path):
    runner = FakeRunner(fail_on="pg_dump")
    with pytest.raises(OffboardError, match="protection is still in place"):
        list(run("verl", tmp_path, release=True, databases=["geodata"], runner=runner, today=DAY))
    assert not [c for c in runner.calls if c[0] == "pulumi"]


def test_release_runs_after_a_complete_export_and_writes_checksums(tmp_path):
    runner = FakeRunner()
    list(run("verl", tmp_path, release=True, databases=["geodata"], runner=runner, today=DAY))
    assert runner.calls[-2][:3] == ["pulumi", "state", "unprotect"]
    assert runner.calls[-1][:2] == ["pulumi", "destroy"]
    assert "geodata.dump" in (tmp_path / "verl" / "SHA256SUMS").read_text()


def test_cli_dry_run_lists_the_steps_with_the_databases_of_the_tenant_file(tmp_path):
    result = CliRunner().invoke(app, ["tenants", "offboard", "verl", "--dry-run", "--export-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "pg_dump -Fc -d geodata" in result.output
    assert "pg_dump -Fc -d sensorthings" in result.output
    assert "unprotect" not in result.output


def test_an_invalid_slug_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["tenants", "offboard", "Not A Slug", "--dry-run"])
    assert result.exit_code == 1 and "not a valid municipality slug" in result.output
