"""Offboarding: final backup, export of every data store, checksums written and verified, and only then
release, which locks what stays (docs/operations.md "Offboarding" follows the same steps)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws
from typer.testing import CliRunner

from catalogue.modules import CATALOGUE
from tests.plan_files import SLUG, plan_booking
from urbanstack.cli import app
from urbanstack.offboard import (
    CHECKSUMS,
    HIBERNATION,
    LOCK_POLICY,
    OffboardError,
    VolumeExport,
    data_stores_of,
    run,
    steps,
    verify_checksums,
    write_checksums,
)

DAY = dt.date(2026, 11, 28)
NODE_RED = VolumeExport("lowcode", "editor", "data", "node-red", "/data")


class FakeRunner:
    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, argv, stdout_to):
        self.calls.append(list(argv))
        if self.fail_on and self.fail_on in " ".join(argv):
            return 1
        if stdout_to is not None:
            stdout_to.write_bytes(f"output of {argv[-1]}".encode())
        if argv[:1] == ["kubectl"] and "cp" in argv:
            Path(argv[-1]).write_text("{}")
        return 0


@pytest.fixture
def bucket():
    """The municipality's bucket at a stand-in S3 (moto): module files and the database backups."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="urbanstack-verl")
        client.put_object(Bucket="urbanstack-verl", Key="cnpg/postgis/base/20261127T020000/data.tar.gz", Body=b"base")
        client.put_object(Bucket="urbanstack-verl", Key="cnpg/postgis/wals/0000000100000000/000000010000000000000001.gz",
                          Body=b"wal")
        client.put_object(Bucket="urbanstack-verl", Key="opendata/resources/a.csv", Body=b"x;y\n1;2\n")
        yield lambda: client


def offboard(tmp_path, bucket, runner, release=False, volumes=(NODE_RED,)):
    return list(run("verl", tmp_path, release=release, databases=["geodata"], volumes=list(volumes),
                    runner=runner, s3=bucket, today=DAY))


def test_the_order_is_backup_then_export_then_verify_then_release(tmp_path):
    plan = steps("verl", tmp_path, ["geodata", "superset"], release=True, stamp="20261128", volumes=[NODE_RED])
    phases = [s.phase for s in plan]
    assert phases == sorted(phases, key=["backup", "export", "verify", "release"].index)
    assert [s.title for s in plan if s.phase == "verify"] == [f"write {CHECKSUMS}",
                                                             f"verify every exported file against {CHECKSUMS}"]
    assert {s.argv[-1] for s in plan if "pg_dump" in s.argv} == {"geodata", "superset"}


def test_every_data_store_is_exported_and_the_checksums_are_verified_without_release(tmp_path, bucket):
    runner = FakeRunner()
    lines = offboard(tmp_path, bucket, runner)
    out = tmp_path / "verl"
    assert not [c for c in runner.calls if c[0] == "pulumi"]
    assert "verified" in lines[-1] and "--release" in lines[-1]
    assert ["kubectl", "-n", "verl", "exec", "lowcode-editor-0", "-c", "node-red", "--",
            "tar", "-C", "/data", "-cf", "-", "."] in runner.calls
    # Every object of the bucket, the database backups included.
    assert (out / "bucket" / "cnpg/postgis/base/20261127T020000/data.tar.gz").read_bytes() == b"base"
    assert (out / "bucket" / "opendata/resources/a.csv").exists()
    listed = {line.split("  ", 1)[1] for line in (out / CHECKSUMS).read_text().splitlines()}
    assert {"geodata.dump", "volume-lowcode-editor-data-0.tar", "realm.json", "bucket.yaml",
            "bucket/cnpg/postgis/wals/0000000100000000/000000010000000000000001.gz",
            "bucket/opendata/resources/a.csv", "final-backup.yaml"} <= listed
    verify_checksums(out)
    backup = (out / "final-backup.yaml").read_text()
    assert "kind: Backup" in backup and "method: plugin" in backup and "name: offboarding-20261128" in backup


def test_a_changed_export_file_fails_the_verification(tmp_path):
    out = tmp_path / "verl"
    out.mkdir()
    (out / "geodata.dump").write_bytes(b"dump")
    write_checksums(out)
    verify_checksums(out)
    (out / "geodata.dump").write_bytes(b"dump, changed")
    (out / "extra.txt").write_text("not exported by us")
    with pytest.raises(OffboardError) as failure:
        verify_checksums(out)
    assert "geodata.dump: checksum differs" in str(failure.value)
    assert f"extra.txt: not in {CHECKSUMS}" in str(failure.value)


def test_the_bucket_coordinates_come_from_the_config_map_so_external_storage_mode_completes(tmp_path, bucket):
    """In external mode there is no ObjectBucketClaim: the step that read it failed every offboarding."""
    runner = FakeRunner(fail_on="objectbucketclaim")
    offboard(tmp_path, bucket, runner)
    assert ["kubectl", "-n", "verl", "get", "configmap", "verl-bucket", "-o", "yaml"] in runner.calls


def test_a_failed_export_stops_before_protection_is_released(tmp_path, bucket):
    runner = FakeRunner(fail_on="tar")
    with pytest.raises(OffboardError, match="protection is still in place"):
        offboard(tmp_path, bucket, runner, release=True)
    assert not [c for c in runner.calls if c[0] == "pulumi" or "annotate" in c]
    assert not (tmp_path / "verl" / CHECKSUMS).exists()


def test_an_unreadable_bucket_stops_before_release_without_a_traceback(tmp_path):
    def broken():
        raise ConnectionError("endpoint unreachable")

    runner = FakeRunner()
    with pytest.raises(OffboardError, match=r"ConnectionError: endpoint unreachable.*protection is still in place"):
        list(run("verl", tmp_path, release=True, databases=["geodata"], volumes=[], runner=runner, s3=broken,
                 today=DAY))
    assert not [c for c in runner.calls if c[0] == "pulumi"]


def test_release_locks_what_stays_before_protection_is_released(tmp_path, bucket):
    runner = FakeRunner()
    offboard(tmp_path, bucket, runner, release=True)
    calls = [" ".join(c) for c in runner.calls]
    lock = calls.index(f"kubectl apply -f {tmp_path / 'verl' / 'lock.yaml'}")
    hibernate = calls.index(f"kubectl -n verl annotate cluster/postgis --overwrite {HIBERNATION}=on")
    unprotect = calls.index("pulumi state unprotect --all --yes -s verl")
    assert lock < hibernate < unprotect
    assert any(c.startswith("kubectl -n verl wait cluster/postgis --for=condition=cnpg.io/hibernation")
               for c in calls[hibernate:unprotect])
    assert runner.calls[-1][:2] == ["pulumi", "destroy"]
    policy = yaml.safe_load((tmp_path / "verl" / "lock.yaml").read_text())
    assert policy["metadata"] == {"name": LOCK_POLICY, "namespace": "verl",
                                  "labels": {"app.kubernetes.io/managed-by": "urbanstack-offboarding"}}
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_the_lock_policy_is_not_a_name_the_stack_owns(plan_stack):
    """``pulumi destroy`` deletes what the stack owns: the lock must be a policy of its own."""
    names = {r.inputs["metadata"]["name"] for r in plan_stack("verl").find("NetworkPolicy")}
    assert LOCK_POLICY not in names


@pytest.mark.parametrize("key", list(CATALOGUE))
def test_offboarding_exports_every_data_store_a_module_declares(plan_stack, tmp_path, key):
    folder = tmp_path / "tenants"
    plan, _ = plan_booking(plan_stack, folder, {key: {}}, "large")
    databases, volumes = data_stores_of(SLUG, folder)
    commands = [" ".join(s.argv) for s in steps(SLUG, tmp_path, databases, False, "20261128", volumes)]
    spec = CATALOGUE[key]
    for store in spec.data_stores:
        if store.kind == "database":
            assert f"pg_dump -Fc -d {store.name}" in " | ".join(commands), store
        elif store.kind == "volume":
            replicas = spec.workloads[store.workload].replicas["large"]
            for i in range(replicas):
                pod = f"{spec.name}-{store.workload}-{i}"
                assert f"exec {pod} -c {store.container} -- tar -C {store.path} -cf - ." in " | ".join(commands)
    # ... and every volume in the plan is a declared one (the module contract checks the mount paths).
    for sts in plan.find("StatefulSet"):
        for template in sts.inputs["spec"]["volumeClaimTemplates"]:
            workload = sts.inputs["metadata"]["name"].removeprefix(f"{spec.name}-")
            assert any(v.workload == workload and v.claim == template["metadata"]["name"] for v in volumes)


def test_cli_dry_run_lists_the_data_stores_of_the_tenant_file(tmp_path):
    result = CliRunner().invoke(app, ["tenants", "offboard", "rietberg", "--dry-run", "--export-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for db in ("geodata", "rei3"):
        assert f"pg_dump -Fc -d {db}" in result.output
    assert "exec lowcode-editor-0 -c node-red -- tar -C /data -cf - ." in result.output
    assert "exec rei3-app-0 -c rei3 -- tar -C /opt/r3/data -cf - ." in result.output
    assert "s3://urbanstack-rietberg" in result.output
    assert "unprotect" not in result.output and "objectbucketclaim" not in result.output


def test_in_rook_mode_the_bucket_copy_needs_a_reachable_endpoint(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda _tool: "/usr/bin/true")
    result = CliRunner().invoke(app, ["tenants", "offboard", "verl", "--export-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "port-forward svc/rook-ceph-rgw-urban-objects" in result.output and "--s3-endpoint" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "verl").exists()


def test_an_invalid_slug_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["tenants", "offboard", "Not A Slug", "--dry-run"])
    assert result.exit_code == 1 and "not a valid municipality slug" in result.output
