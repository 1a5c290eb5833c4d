"""Offboarding: final backup, export of every data store, checksums written and verified, and only then
release, which locks what stays (docs/operations.md "Offboarding" follows the same steps)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import pyrage
import pytest
import yaml
from moto import mock_aws
from typer.testing import CliRunner

from catalogue.modules import CATALOGUE
from tests.plan_files import SLUG, plan_booking
from urbanstack.cli import app
from urbanstack.ops.offboard import (
    AGE_SUFFIX,
    CHECKSUMS,
    HIBERNATION,
    LOCK_POLICY,
    OffboardError,
    OffsiteBackups,
    VolumeExport,
    data_stores_of,
    run,
    steps,
    verify_checksums,
    write_checksums,
)

DAY = dt.date(2026, 11, 28)
NODE_RED = VolumeExport("lowcode", "editor", "data", "node-red", "/data")
KEY = pyrage.x25519.Identity.generate()
"""The municipality's (and operator's) age key pair: the export is encrypted to its public key."""
RECIPIENTS = [str(KEY.to_public())]


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


def offboard(tmp_path, bucket, runner, release=False, volumes=(NODE_RED,), **kw):
    return list(run("verl", tmp_path, release=release, databases=["geodata"], volumes=list(volumes),
                    runner=runner, s3=bucket, today=DAY, recipients=RECIPIENTS, **kw))


def plain(path: Path) -> bytes:
    return pyrage.decrypt(path.read_bytes(), [KEY])


def test_the_order_is_backup_then_export_then_verify_then_release(tmp_path):
    plan = steps("verl", tmp_path, ["geodata", "superset"], release=True, stamp="20261128", volumes=[NODE_RED])
    phases = [s.phase for s in plan]
    assert phases == sorted(phases, key=["identity", "backup", "export", "verify", "release"].index)
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
    # Every object of the bucket, the database backups kept there included (encrypted).
    assert plain(out / "bucket" / f"cnpg/postgis/base/20261127T020000/data.tar.gz{AGE_SUFFIX}") == b"base"
    assert (out / "bucket" / f"opendata/resources/a.csv{AGE_SUFFIX}").exists()
    listed = {line.split("  ", 1)[1] for line in (out / CHECKSUMS).read_text().splitlines()}
    assert {f"{name}{AGE_SUFFIX}" for name in (
        "geodata.dump", "volume-lowcode-editor-data-0.tar", "realm.json", "bucket.yaml",
        "bucket/cnpg/postgis/wals/0000000100000000/000000010000000000000001.gz",
        "bucket/opendata/resources/a.csv")} | {"final-backup.yaml"} <= listed
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
                 today=DAY, recipients=RECIPIENTS))
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
    # rietberg has no own target: its backups at the off-site target are exported too, and the text says so.
    assert "export the off-site database backups s3://urbanstack-offsite-backups/rietberg/cnpg/" in result.output


def test_in_rook_mode_the_bucket_copy_needs_a_reachable_endpoint(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda _tool: "/usr/bin/true")
    result = CliRunner().invoke(app, ["tenants", "offboard", "verl", "--export-dir", str(tmp_path),
                                      "--recipient", RECIPIENTS[0]])
    assert result.exit_code == 1
    assert "port-forward svc/rook-ceph-rgw-urban-objects" in result.output and "--s3-endpoint" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "verl").exists()


def test_an_invalid_slug_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["tenants", "offboard", "Not A Slug", "--dry-run"])
    assert result.exit_code == 1 and "not a valid municipality slug" in result.output


# Identity: the realm is closed at once, exported, and deleted only after the confirmed release (issue 23.3).

def test_the_realm_is_disabled_first_and_deleted_with_its_job_client_and_secret_only_on_release(tmp_path, bucket):
    runner = FakeRunner()
    offboard(tmp_path, bucket, runner)
    calls = [" ".join(c) for c in runner.calls]
    assert calls[0].startswith("kubectl -n urban-identity exec keycloak-0 -- /bin/bash -c ")
    assert "k update realms/verl -s enabled=false" in calls[0], "the first step disables the realm"
    assert not [c for c in calls if "delete realms/verl" in c or "realm-job-verl" in c], "no release: kept"

    released = FakeRunner()
    offboard(tmp_path / "second", bucket, released, release=True)
    calls = [" ".join(c) for c in released.calls]
    lock = calls.index(f"kubectl apply -f {tmp_path / 'second' / 'verl' / 'lock.yaml'}")
    delete_realm = next(i for i, c in enumerate(calls) if "k delete realms/verl" in c)
    client = next(i for i, c in enumerate(calls) if "-q clientId=realm-job-verl" in c and "k delete clients/" in c)
    secret = calls.index("kubectl -n urban-identity delete secret realm-job-verl --ignore-not-found")
    unprotect = calls.index("pulumi state unprotect --all --yes -s verl")
    assert lock < delete_realm < client < secret < unprotect
    # Realm, client and Secret are the municipality's own (its bootstrap job, docs/decisions/0013): nothing of the
    # shared stack is run or changed to remove them.
    assert not [c for c in calls if "-s shared" in c]
    # Resumable: a realm that is already gone is no failure.
    assert "if k get realms/verl" in calls[delete_realm] and "already deleted" in calls[delete_realm]


def test_the_kcadm_session_in_the_pod_keeps_its_token_private_and_removes_it_however_it_ends(tmp_path):
    (disable,) = [s for s in steps("verl", tmp_path, [], False, "20261128") if s.phase == "identity"]
    script = disable.argv[-1]
    assert script.startswith("umask 077; f=$(mktemp); trap 'rm -f \"$f\"' EXIT; trap 'exit 1' HUP INT TERM; ")
    assert '--client "$KC_BOOTSTRAP_ADMIN_CLIENT_ID" --secret "$KC_BOOTSTRAP_ADMIN_CLIENT_SECRET"' in script
    assert "--server http://localhost:8080 --realm master" in script


def test_the_realm_dump_is_streamed_out_and_removed_in_the_pod_in_the_same_step(tmp_path, bucket):
    """It was written to /tmp in the pod by one step, copied by another, and never removed."""
    runner = FakeRunner()
    offboard(tmp_path, bucket, runner)
    realm = [c for c in runner.calls if any("kc.sh export" in part for part in c)]
    assert len(realm) == 1
    script = realm[0][-1]
    assert realm[0][:-1] == ["kubectl", "-n", "urban-identity", "exec", "keycloak-0", "--", "/bin/bash", "-c"]
    assert script == ("umask 077; f=/tmp/realm-export-verl.json; rm -f \"$f\"; "
                      "trap 'rm -f \"$f\"' EXIT; trap 'exit 1' HUP INT TERM; "
                      "/opt/keycloak/bin/kc.sh export --realm verl --users realm_file --file \"$f\" >&2 && cat \"$f\"")
    assert not [c for c in runner.calls if c[:1] == ["kubectl"] and "cp" in c], "no copy step, no dump left"
    assert plain(tmp_path / "verl" / f"realm.json{AGE_SUFFIX}") == runner_output(script)


def runner_output(last_arg: str) -> bytes:
    return f"output of {last_arg}".encode()


# The export: private, encrypted, never left in plaintext (issue 23.6).

def test_export_folders_are_0700_and_files_0600_whatever_the_umask(tmp_path, bucket):
    import os

    old = os.umask(0o022)
    try:
        offboard(tmp_path, bucket, FakeRunner())
    finally:
        os.umask(old)
    out = tmp_path / "verl"
    folders = [out, *(p for p in out.rglob("*") if p.is_dir())]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(folders) > 3 and len(files) > 6
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o700"}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o600"}


def test_every_exported_data_file_is_encrypted_to_the_recipient_and_no_plaintext_is_left(tmp_path, bucket):
    runner = FakeRunner()
    offboard(tmp_path, bucket, runner)
    out = tmp_path / "verl"
    data = [p for p in out.rglob("*") if p.is_file() and p.name not in (CHECKSUMS, "final-backup.yaml", "lock.yaml")]
    assert data and all(p.name.endswith(AGE_SUFFIX) for p in data), [p.name for p in data]
    assert plain(out / f"geodata.dump{AGE_SUFFIX}") == b"output of geodata"
    assert plain(out / "bucket" / f"opendata/resources/a.csv{AGE_SUFFIX}") == b"x;y\n1;2\n"
    assert b"x;y" not in (out / "bucket" / f"opendata/resources/a.csv{AGE_SUFFIX}").read_bytes()


def test_a_failed_export_step_leaves_no_partial_plaintext(tmp_path, bucket):
    with pytest.raises(OffboardError):
        offboard(tmp_path, bucket, FakeRunner(fail_on="tar"))
    out = tmp_path / "verl"
    assert not (out / "volume-lowcode-editor-data-0.tar").exists()
    assert [p.name for p in out.iterdir() if p.suffix in (".dump", ".tar", ".json")] == []


@pytest.mark.parametrize("recipients", [[], ["not-a-key"]])
def test_an_export_refuses_to_run_without_a_valid_recipient_before_anything_is_written(tmp_path, bucket, recipients):
    runner = FakeRunner()
    with pytest.raises(OffboardError, match="recipient"):
        list(run("verl", tmp_path, databases=["geodata"], volumes=[], runner=runner, s3=bucket, today=DAY,
                 recipients=recipients))
    assert runner.calls == [] and not (tmp_path / "verl").exists()


# The off-site backups: exported, and removed after the confirmed release (issue 23.5).

@pytest.fixture
def offsite():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="urbanstack-offsite-backups")
        for key, body in (("verl/cnpg/postgis/base/20261127T020000/data.tar", b"offsite base"),
                          ("verl/cnpg/postgis/wals/0000000100000000/000000010000000000000002.gz", b"offsite wal"),
                          ("guetersloh/cnpg/postgis/base/20261127T020000/data.tar", b"not verl's")):
            client.put_object(Bucket="urbanstack-offsite-backups", Key=key, Body=body)
        yield client


def test_the_offsite_backups_are_exported_and_removed_only_after_the_confirmed_release(tmp_path, bucket, offsite):
    target = OffsiteBackups("urbanstack-offsite-backups", "verl/cnpg/")
    lines = offboard(tmp_path, bucket, FakeRunner(), offsite=target, offsite_s3=lambda: offsite)
    out = tmp_path / "verl" / "offsite-backups"
    assert plain(out / f"postgis/base/20261127T020000/data.tar{AGE_SUFFIX}") == b"offsite base"
    assert plain(out / f"postgis/wals/0000000100000000/000000010000000000000002.gz{AGE_SUFFIX}") == b"offsite wal"
    assert "ok [export] export the off-site database backups s3://urbanstack-offsite-backups/verl/cnpg/" in \
        " | ".join(lines)
    keys = lambda: sorted(o["Key"] for o in offsite.list_objects_v2(Bucket="urbanstack-offsite-backups")["Contents"])  # noqa: E731
    assert len(keys()) == 3, "without --release nothing is removed"

    runner = FakeRunner()
    lines = offboard(tmp_path / "second", bucket, runner, release=True, offsite=target, offsite_s3=lambda: offsite)
    assert keys() == ["guetersloh/cnpg/postgis/base/20261127T020000/data.tar"], "only verl's, only on release"
    removed = next(i for i, text in enumerate(lines) if "remove the off-site database backups" in text)
    locked = next(i for i, text in enumerate(lines) if "lock: hibernate the database" in text)
    destroy = next(i for i, text in enumerate(lines) if "remove the stack's resources" in text)
    assert locked < removed < destroy


def test_no_step_claims_a_copy_it_does_not_make(tmp_path):
    """The bucket step claimed 'database backups included' where they were at the off-site target."""
    plan = steps("verl", tmp_path, ["geodata"], True, "20261128",
                 offsite=OffsiteBackups("urbanstack-offsite-backups", "verl/cnpg/"))
    titles = [s.title for s in plan]
    assert not [t for t in titles if "database backups included" in t]
    assert any(t.startswith("export the off-site database backups s3://urbanstack-offsite-backups/verl/cnpg/")
               for t in titles)
    assert any(t.startswith("remove the off-site database backups") for t in titles)
