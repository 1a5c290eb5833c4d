"""Moving a municipality between cells: the cell file, the steps and what they touch, the journal that makes a move
resumable, the checked bucket copy, and the release that needs its own flag (docs/operations.md, "Moving a
municipality to another cell"). The drill on real parts is tests/test_move_drill.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from catalogue import names
from urbanstack.cli import app
from urbanstack.ops.move import (
    BucketCopy,
    Cell,
    Cells,
    MoveError,
    cells_from_config,
    compare_sums,
    parse_sums,
    prepare,
    run,
)

NOW = dt.datetime(2026, 12, 6, 5, 0, 0, tzinfo=dt.UTC)


def cell(name: str, **over) -> dict:
    return {"name": name, "kubeContext": f"ctx-{name}", "storageClass": "ceph-block",
            "keycloak": f"https://id.{name}.example", "objectStorage": {"endpoint": f"https://s3.{name}.example"},
            "backups": {"endpoint": "https://backup.example", "bucket": f"backups-{name}"}, **over}


def make_cells(*defs: dict, default: str = "a") -> Cells:
    """The move's cells as the shared config gives them (:func:`cells_from_config`), written out directly."""
    return Cells(default, {d["name"]: Cell.model_validate(d) for d in defs}, "cells of this test")


@pytest.fixture
def cells() -> Cells:
    return make_cells(cell("a"), cell("b"))


class FakeRunner:
    """kubectl that succeeds, answering the checks as a healthy cluster would (``fail_on``: the first command that
    contains it exits 1)."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, argv, stdout_to, stdin_from=None):
        self.calls.append(list(argv))
        text = " ".join(argv)
        if self.fail_on and self.fail_on in text:
            return 1
        answer = b""
        if "deployment,statefulset" in text and "json" in text:
            answer = b'{"items": []}'
        elif "SHOW default_transaction_read_only" in text:
            answer = b"on\n"
        elif "jsonpath={.status.phase}" in text and " get " in text:
            answer = b"completed"
        elif "secret backup-offsite" in text:
            answer = b'{"data": {"ACCESS_KEY_ID": "aw==", "ACCESS_SECRET_KEY": "cw=="}}'
        elif "pg_catalog" in text:
            answer = b"public.t|3|abc\nlarge objects|0|d41d8cd98f00b204e9800998ecf8427e\n"
        elif "kc.sh export" in text:
            answer = b'{"realm": "verl", "users": [{"username": "u"}]}'
        elif "users/count" in text:
            answer = b"1\n"
        elif stdout_to is not None:
            answer = b"dump"
        if stdout_to is not None:
            stdout_to.write_bytes(answer)
        return 0


class NoBucket:
    """A bucket copy with nothing in it (the S3 side is tested below with moto)."""

    def get_paginator(self, _):
        return self

    def paginate(self, **_):
        return [{"Contents": []}]


def a_move(cells, tmp_path, runner=None, **kw):
    return prepare("verl", cells, "b", tmp_path / "move", databases=["geodata"], volumes=[], now=NOW,
                   runner=runner or FakeRunner(), source_s3=NoBucket, target_s3=NoBucket, **kw)


# --- the cells of the shared config -----------------------------------------------------------------------


def test_the_cells_of_the_shared_config_are_the_moves_cells():
    from catalogue.shared_config import load_file

    cfg = load_file()
    found = cells_from_config(cfg)
    assert found.default == "kreis"
    dedicated = found.get("stadt-guetersloh", "--to")
    assert dedicated.kubeContext == "urbanstack-stadt-guetersloh"
    assert dedicated.keycloak_url == f"https://id.stadt-guetersloh.{cfg.baseDomain}"
    assert dedicated.backups.bucket == "urbanstack-offsite-stadt-guetersloh"
    assert str(dedicated.objectStorage.endpoint).startswith("https://s3.stadt-guetersloh.")
    assert dedicated.storageClass == cfg.storage.blockStorageClass


def test_a_cell_without_a_context_or_object_storage_endpoint_cannot_take_part_naming_the_keys():
    from catalogue.shared_config import load_file

    found = cells_from_config(load_file())
    with pytest.raises(MoveError) as err:
        found.get("kreis", "--from")
    text = str(err.value)
    assert "--from 'kreis': cell 'kreis' cannot take part in a move" in text
    assert "stacks/Pulumi.shared.yaml: urban-stack:cells[0].kubernetes.context" in text
    assert "urban-stack:cells[0].objectStorageEndpoint" in text
    with pytest.raises(MoveError, match=r"--to 'c': no such cell in .* \(cells: stadt-guetersloh, kreis\)"):
        found.get("c", "--to")


def test_an_unknown_cell_a_move_within_one_cell_and_a_shared_backup_bucket_are_refused(tmp_path, cells):
    with pytest.raises(MoveError, match=r"--to 'c': no such cell in cells of this test \(cells: a, b\)"):
        prepare("verl", cells, "c", tmp_path)
    with pytest.raises(MoveError, match="already in cell a"):
        prepare("verl", cells, "a", tmp_path)
    shared = make_cells(cell("a"), cell("b", backups={"endpoint": "https://backup.example", "bucket": "backups-a"}))
    with pytest.raises(MoveError, match="share the off-site backups s3://backups-a/verl/cnpg"):
        prepare("verl", shared, "b", tmp_path)


# --- the steps -----------------------------------------------------------------------------------------------


def test_the_steps_run_in_order_each_in_its_cell_and_release_only_with_its_flag(tmp_path, cells):
    keys = [s.key for s in a_move(cells, tmp_path).steps()]
    assert keys == ["target-ready", "target-stop", "freeze-modules", "freeze-database", "backup-request",
                    "backup-wait", "origin-store", "recover-apply", "recover-wait", "dump-geodata", "load-geodata",
                    "database-verify", "realm", "bucket", "checklist"]
    released = [s.key for s in a_move(cells, tmp_path, release_source=True).steps()]
    assert released == [*keys, "release-lock", "release-hibernate", "release-hibernate-wait",
                        "release-realm", "release-backups"]
    steps = {s.key: s for s in a_move(cells, tmp_path, release_source=True).steps()}
    for key in ("freeze-modules", "freeze-database", "backup-request", "release-lock", "release-realm"):
        assert steps[key].argv[:3] == ["kubectl", "--context", "ctx-a"], key
    for key in ("target-ready", "target-stop", "recover-apply", "load-geodata"):
        assert steps[key].argv[:3] == ["kubectl", "--context", "ctx-b"], key
    assert "ALTER DATABASE \"geodata\" SET default_transaction_read_only = on" in steps["freeze-database"].argv[-1]
    assert all(s.touches for s in steps.values()), "every step names the objects it touches"


def test_the_target_recovers_from_the_sources_offsite_backup_as_the_restore_path_does(tmp_path, cells, plan_stack):
    from tests.test_restore import installed_crds
    from urbanstack.engine import crds

    move = a_move(cells, tmp_path)
    policy, cluster = move.recovery_docs()
    assert crds.judge(cluster, installed_crds(plan_stack)).failures == []
    spec = cluster["spec"]
    (origin,) = spec["externalClusters"]
    assert spec["bootstrap"]["recovery"] == {"source": origin["name"]}
    assert origin["plugin"] == {"name": names.BARMAN_PLUGIN,
                                "parameters": {"barmanObjectName": "move-origin", "serverName": names.DB_CLUSTER}}
    # It archives into the target's own store under its own name: never into the source's archive.
    assert spec["plugins"][0]["parameters"] == {"barmanObjectName": "backup-store",
                                                "serverName": "postgis-move-20261206050000"}
    assert spec["storage"]["storageClass"] == "ceph-block"
    assert policy["spec"]["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "postgis-move-20261206050000"}}
    store = move.source_store_spec()
    assert store["configuration"]["destinationPath"] == "s3://backups-a/verl/cnpg"
    assert store["configuration"]["s3Credentials"]["accessKeyId"] == {"name": "move-origin", "key": "ACCESS_KEY_ID"}
    assert crds.judge({"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore",
                       "metadata": {"name": "move-origin", "namespace": "verl"}, "spec": store},
                      installed_crds(plan_stack)).failures == []


@pytest.fixture
def verl_moving(monkeypatch):
    """The example, with the default cell reachable for a move and verl's file naming the dedicated cell (with the
    cell it leaves in its history), as the procedure of docs/operations.md has it before `tenants move`."""
    import datetime as dt

    import catalogue.shared_config as shared_config
    import catalogue.tenants as tenants_module
    from catalogue.schema import CellStay

    cfg = shared_config.load_file()
    kreis = cfg.cells[0].model_copy(update={
        "kubernetes": cfg.cells[0].kubernetes.model_copy(update={"context": "urbanstack-kreis"}),
        "objectStorageEndpoint": "https://s3.kreis.example"})
    cfg = cfg.model_copy(update={"cells": [kreis, *cfg.cells[1:]]})
    tenants = tenants_module.load_all()
    tenants["verl"] = tenants["verl"].model_copy(update={
        "cell": "stadt-guetersloh", "cellHistory": [CellStay(cell="kreis", until=dt.date(2026, 12, 14))]})
    monkeypatch.setattr(shared_config, "load_file", lambda *a, **k: cfg)
    monkeypatch.setattr(tenants_module, "load_all", lambda *a, **k: tenants)
    return tenants


def test_cli_dry_run_lists_every_step_with_the_objects_it_touches_and_changes_nothing(tmp_path, verl_moving):
    result = CliRunner().invoke(app, ["tenants", "move", "verl", "--to", "stadt-guetersloh", "--dry-run",
                                      "--work-dir", str(tmp_path / "move")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "move verl: cell kreis (urbanstack-kreis) -> cell stadt-guetersloh (urbanstack-stadt-guetersloh)" in out
    for text in ("[freeze] freeze: stop the modules", "[backup] final backup: request Backup move-",
                 "[database] database: recovery cluster postgis-move-", "[identity] identity: export realm verl with its users",
                 "[bucket] bucket: copy every object of urbanstack-verl", "[cutover] cut-over checklist",
                 "touches cell kreis: every Deployment and StatefulSet in namespace verl (replicas 0)",
                 "touches cell stadt-guetersloh: Secret move-origin, ObjectStore move-origin in namespace verl"):
        assert text in out, text
    assert "[release]" not in out
    assert not (tmp_path / "move").exists()


def test_cli_a_move_follows_the_tenant_file_and_says_how_to_prepare_it(tmp_path, verl_moving):
    other = CliRunner().invoke(app, ["tenants", "move", "rietberg", "--to", "stadt-guetersloh", "--dry-run"])
    assert other.exit_code == 1 and "Traceback" not in other.output
    assert "tenants/rietberg.yaml names cell 'kreis'. A move follows the file: set `cell: stadt-guetersloh`" in \
        other.output
    assert "pulumi up -s rietberg.stadt-guetersloh" in other.output
    verl_moving["verl"] = verl_moving["verl"].model_copy(update={"cellHistory": []})
    bad = CliRunner().invoke(app, ["tenants", "move", "verl", "--to", "stadt-guetersloh", "--dry-run"])
    assert bad.exit_code == 1 and "--from: tenants/verl.yaml has no cellHistory entry" in bad.output


# --- the journal ---------------------------------------------------------------------------------------------


def test_a_move_records_every_checked_step_and_a_rerun_checks_and_skips_them(tmp_path, cells):
    runner = FakeRunner()
    lines = list(run(a_move(cells, tmp_path, runner)))
    assert lines[-1].startswith("moved and verified; the source in cell a stays frozen and protected")
    folder = tmp_path / "move" / "verl-a-to-b"
    journal = json.loads((folder / "journal.json").read_text())
    assert journal["move"] == {"slug": "verl", "from": "a", "to": "b"}
    assert len(journal["steps"]) == 15
    assert not (folder / "realm.json").exists(), "the realm dump (password hashes) is removed once imported"
    assert (folder / "journal.json").stat().st_mode & 0o777 == 0o600
    assert (folder / "cutover.md").read_text().startswith("Cut-over of verl from cell a to cell b")
    runs = len(runner.calls)
    again = list(run(a_move(cells, tmp_path, runner)))
    assert sum(t.startswith("skip") for t in again) == 15
    assert not any("apply -f" in " ".join(c) for c in runner.calls[runs:]), "nothing is applied again"


def test_an_interrupted_move_resumes_after_the_last_checked_step(tmp_path, cells):
    with pytest.raises(MoveError, match=r"step 'final backup: wait until completed' failed .* run the same command "
                                        r"again to resume"):
        list(run(a_move(cells, tmp_path, FakeRunner(fail_on="wait backup/"))))
    journal = json.loads((tmp_path / "move" / "verl-a-to-b" / "journal.json").read_text())
    assert list(journal["steps"]) == ["target-ready", "target-stop", "freeze-modules", "freeze-database",
                                      "backup-request"]
    runner = FakeRunner()
    lines = list(run(a_move(cells, tmp_path, runner)))
    assert [t.startswith("skip") for t in lines[:5]] == [True] * 5
    assert lines[5] == "ok [backup] final backup: wait until completed"
    # The stamp (and so the Backup's name) is the first run's, whatever the clock says now.
    assert any("backup/move-20261206050000" in " ".join(c) for c in runner.calls)


def test_a_recorded_step_whose_check_fails_now_is_done_again(tmp_path, cells):
    list(run(a_move(cells, tmp_path)))
    runner = FakeRunner(fail_on="SHOW default_transaction_read_only")  # someone made the source writable again
    with pytest.raises(MoveError):
        list(run(a_move(cells, tmp_path, runner)))
    assert any(" ".join(c).startswith("kubectl --context ctx-a -n verl exec svc/postgis-rw -c postgres -- psql")
               and "ALTER DATABASE" in c[-1] for c in runner.calls), "the freeze ran again"


def test_the_source_is_released_only_with_the_flag_and_only_after_every_step_passed(tmp_path, cells):
    with pytest.raises(MoveError):
        list(run(a_move(cells, tmp_path, FakeRunner(fail_on="users/count"), release_source=True)))
    journal = json.loads((tmp_path / "move" / "verl-a-to-b" / "journal.json").read_text())
    assert not [k for k in journal["steps"] if k.startswith("release")]
    runner = FakeRunner()
    deleted = []
    move = a_move(cells, tmp_path, runner, release_source=True,
                  source_offsite_s3=lambda: deleted.append("s3") or _Versions())
    lines = list(run(move))
    assert any("apply -f" in " ".join(c) and c[2] == "ctx-a" and c[-1].endswith("lock.yaml") for c in runner.calls)
    assert any("k delete realms/verl" in c[-1] and c[2] == "ctx-a" for c in runner.calls)
    assert deleted == ["s3"] and lines[-1].startswith("released: the source copy in cell a")


class _Versions:
    def get_paginator(self, _):
        return self

    def paginate(self, **_):
        return [{"Versions": [], "DeleteMarkers": []}]


def test_a_folder_the_move_did_not_create_is_never_written_into(tmp_path, cells):
    folder = tmp_path / "move" / "verl-a-to-b"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(MoveError, match=r"holds no journal\.json: it was not created by a move"):
        list(run(a_move(cells, tmp_path)))
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


# --- the bucket copy and the table sums ----------------------------------------------------------------------


def test_the_bucket_copy_checks_every_object_finds_a_damaged_copy_and_resumes(tmp_path):
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="src")
        s3.create_bucket(Bucket="dst")
        for i in range(5):
            s3.put_object(Bucket="src", Key=f"k{i}", Body=f"object {i}".encode() * (i + 1))
        log = tmp_path / "copied.jsonl"
        copy = BucketCopy(s3, "src", s3, "dst", log, tmp_path)
        copy.run()
        assert (copy.copied, copy.skipped, copy.recopied) == (5, 0, [])
        # A log torn by a kill: the object of the torn line is copied again, the others are not.
        lines = log.read_text().splitlines()
        log.write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
        resumed = BucketCopy(s3, "src", s3, "dst", log, tmp_path)
        resumed.run()
        assert (resumed.copied, resumed.skipped) == (1, 4)
        # A copy damaged afterwards (same size, other bytes): found by reading it back, copied again.
        s3.put_object(Bucket="dst", Key="k2", Body=b"object 2object 3")
        assert BucketCopy(s3, "src", s3, "dst", log, tmp_path).check() == ["k2"]
        again = BucketCopy(s3, "src", s3, "dst", log, tmp_path)
        again.run()
        assert (again.copied, again.skipped) == (1, 4), "its ETag changed: copied again at once"
        assert again.check() == []
        assert s3.get_object(Bucket="dst", Key="k2")["Body"].read() == b"object 2" * 3


def test_table_sums_name_every_table_that_differs():
    source = parse_sums("public.a|3|x\npublic.b|2|y\nlarge objects|1|z\n")
    assert compare_sums("geodata", source, dict(source)) == "database geodata: 3 tables, 6 rows, all equal"
    with pytest.raises(MoveError, match=r"public.a: 3 rows in the source, 2 in the target; public.b: same row "
                                        r"count \(2\), different contents"):
        compare_sums("geodata", source, {**source, "public.a": (2, "x"), "public.b": (2, "q")})
    with pytest.raises(MoveError, match="large objects: missing in the target"):
        compare_sums("geodata", source, {k: v for k, v in source.items() if k != "large objects"})
