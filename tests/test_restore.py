"""Restore: a recovery cluster beside the running one (CloudNativePG bootstrap.recovery through the Barman
Cloud plugin), then an explicit switch (docs/operations.md "Restore" follows the same steps)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalogue import names
from components.tenant.database import BACKUP_STORE
from urbanstack.cli import app
from urbanstack.ops.restore import RestoreError, parse_target_time, restore, switch

NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)


def installed_crds(plan_stack) -> dict:
    """The CRDs the shared stack installs (the CloudNativePG chart's ``Cluster`` CRD among them)."""
    from urbanstack.engine import crds, render

    rendered = [(o, pkg.folder) for pkg in render.render_stack(plan_stack("shared")) for o in pkg.objects]
    return crds.index_crds(rendered)[0]


class FakeRunner:
    def __init__(self, fail_on: str | None = None):
        self.calls: list[tuple[list[str], Path | None]] = []
        self.fail_on = fail_on

    def __call__(self, argv, stdout_to, stdin_from=None):
        self.calls.append((list(argv), stdin_from))
        if self.fail_on and self.fail_on in " ".join(argv):
            return 1
        if stdout_to is not None:
            stdout_to.write_bytes(b"dump")
        return 0


def manifests(tmp_path, **kw):
    runner = FakeRunner()
    lines = list(restore("verl", tmp_path, runner=runner, now=NOW, **kw))
    (path,) = (tmp_path / "verl").glob("postgis-restore-*.yaml")
    policy, cluster = yaml.safe_load_all(path.read_text())
    return runner, lines, policy, cluster


def test_the_recovery_cluster_recovers_the_running_clusters_backups_to_the_given_time(tmp_path, plan_stack):
    from urbanstack.engine import crds

    _, _, _, cluster = manifests(tmp_path, to="2026-11-28T09:30:00+01:00")
    assert crds.judge(cluster, installed_crds(plan_stack)).failures == []
    spec = cluster["spec"]
    assert cluster["metadata"]["name"] == "postgis-restore-20261128120000"
    recovery = spec["bootstrap"]["recovery"]
    (origin,) = spec["externalClusters"]
    assert recovery == {"source": origin["name"], "recoveryTarget": {"targetTime": "2026-11-28T08:30:00+00:00"}}
    assert origin["plugin"] == {"name": names.BARMAN_PLUGIN,
                                "parameters": {"barmanObjectName": BACKUP_STORE, "serverName": "postgis"}}
    # It archives under its own server name: the running cluster's archive is never written to.
    (archiver,) = spec["plugins"]
    assert archiver["isWALArchiver"] and archiver["parameters"]["serverName"] == cluster["metadata"]["name"]
    assert spec["instances"] == 1 and spec["storage"]["storageClass"] == "ceph-block"


def test_without_to_it_recovers_to_the_end_of_the_archive_from_the_chosen_store(tmp_path):
    _, _, _, cluster = manifests(tmp_path, source="offsite-copy")
    assert cluster["spec"]["bootstrap"]["recovery"] == {"source": "origin"}
    assert cluster["spec"]["externalClusters"][0]["plugin"]["parameters"]["barmanObjectName"] == "offsite-copy"


def test_the_recovery_cluster_gets_the_running_clusters_flows_and_the_running_cluster_is_not_touched(tmp_path):
    runner, lines, policy, cluster = manifests(tmp_path)
    name = cluster["metadata"]["name"]
    assert policy["spec"]["podSelector"] == {"matchLabels": {"cnpg.io/cluster": name}}
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert [c[0][:2] for c in runner.calls] == [["kubectl", "apply"], ["kubectl", "-n"]]
    assert runner.calls[1][0][3:5] == ["wait", f"cluster/{name}"]
    assert not any("postgis-rw" in " ".join(argv) or "cluster/postgis " in " ".join(argv) for argv, _ in runner.calls)
    assert f"--switch {name}" in lines[-1]


@pytest.mark.parametrize(("text", "needle"), [("yesterday", "not a timestamp"),
                                               ("2026-11-29T00:00:00Z", "lies in the future")])
def test_a_bad_point_in_time_is_refused_before_anything_is_written(tmp_path, text, needle):
    with pytest.raises(RestoreError, match=needle):
        list(restore("verl", tmp_path, to=text, runner=FakeRunner(), now=NOW))
    assert not (tmp_path / "verl").exists()


def test_a_time_without_zone_is_utc_as_cloudnativepg_reads_it():
    assert parse_target_time("2026-11-28 09:30:00", NOW) == dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)


def test_the_switch_backs_up_stops_copies_each_database_and_brings_the_workloads_back(tmp_path):
    runner = FakeRunner()
    name = "postgis-restore-20261128120000"
    list(switch("verl", tmp_path, name, runner=runner, now=NOW))
    commands = [" ".join(argv) for argv, _ in runner.calls]
    assert commands[0].startswith("kubectl apply -f") and "pre-switch-backup.yaml" in commands[0]
    assert "wait backup/pre-switch-20261128120000" in commands[1]
    assert commands[2] == "kubectl -n verl scale deployment,statefulset --all --replicas=0"
    loads = [(argv, stdin) for argv, stdin in runner.calls if "pg_restore" in argv]
    assert [argv[-1] for argv, _ in loads] == ["geodata", "superset", "sensorthings"]
    for argv, stdin in loads:
        assert argv[4:6] == ["-i", "svc/postgis-rw"] and stdin == tmp_path / "verl" / name / f"{argv[-1]}.dump"
        assert f"exec svc/{name}-rw -c postgres -- pg_dump -Fc -d {argv[-1]}" in " | ".join(commands)
    assert commands[-1] == "pulumi up --refresh --yes --skip-preview -s verl"
    backup = yaml.safe_load((tmp_path / "verl" / name / "pre-switch-backup.yaml").read_text())
    assert backup["kind"] == "Backup" and backup["metadata"]["name"] == "pre-switch-20261128120000"


def test_a_failed_dump_stops_the_switch_before_anything_is_loaded(tmp_path):
    runner = FakeRunner(fail_on="pg_dump -Fc -d superset")
    with pytest.raises(RestoreError, match="failed"):
        list(switch("verl", tmp_path, "postgis-restore-20261128120000", runner=runner, now=NOW))
    assert [argv[-1] for argv, _ in runner.calls if "pg_restore" in argv] == ["geodata"]
    assert not [argv for argv, _ in runner.calls if argv[0] == "pulumi"]


def test_only_a_recovery_cluster_can_be_switched_to(tmp_path):
    with pytest.raises(RestoreError, match="not a recovery cluster"):
        list(switch("verl", tmp_path, "postgis", runner=FakeRunner(), now=NOW))


def test_cli_restore_dry_run_prints_steps_and_manifests_and_a_bad_time_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["tenants", "restore", "verl", "--to", "2026-01-02T03:04:05Z", "--dry-run",
                                      "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "bootstrap:\n    recovery:" in result.output and "targetTime: '2026-01-02T03:04:05+00:00'" in result.output
    assert not (tmp_path / "verl").exists()
    bad = CliRunner().invoke(app, ["tenants", "restore", "verl", "--to", "soon", "--dry-run"])
    assert bad.exit_code == 1 and "not a timestamp" in bad.output and "Traceback" not in bad.output


# Keycloak's database: `urbanstack platform restore`, the same mechanism in urban-identity.

def platform_manifests(tmp_path, **kw):
    from catalogue.shared_config import load_file
    from urbanstack.ops.restore import platform_restore

    runner = FakeRunner()
    lines = list(platform_restore(tmp_path, runner=runner, now=NOW, cfg=load_file(), **kw))
    (path,) = (tmp_path / "urban-identity").glob("keycloak-db-restore-*.yaml")
    policy, cluster = yaml.safe_load_all(path.read_text())
    return runner, lines, policy, cluster, path


def test_keycloaks_database_is_recovered_from_its_offsite_backup_into_a_new_cluster(tmp_path, plan_stack):
    from urbanstack.engine import crds

    runner, lines, policy, cluster, path = platform_manifests(tmp_path, to="2026-11-28T09:30:00+01:00")
    assert crds.judge(cluster, installed_crds(plan_stack)).failures == []
    name = cluster["metadata"]["name"]
    assert name == "keycloak-db-restore-20261128120000" and cluster["metadata"]["namespace"] == "urban-identity"
    spec = cluster["spec"]
    (origin,) = spec["externalClusters"]
    assert spec["bootstrap"]["recovery"] == {"source": origin["name"],
                                             "recoveryTarget": {"targetTime": "2026-11-28T08:30:00+00:00"}}
    # The running cluster's ObjectStore, which in production is the off-site target (plan of the shared stack).
    assert origin["plugin"]["parameters"] == {"barmanObjectName": "keycloak-db-backup", "serverName": "keycloak-db"}
    (store,) = plan_stack("shared").find("ObjectStore", "keycloak-db-backup", "urban-identity")
    assert store.inputs["spec"]["configuration"]["destinationPath"].endswith("/urban-identity/cnpg")
    (archiver,) = spec["plugins"]
    assert archiver["parameters"]["serverName"] == name, "never writes into the running cluster's archive"
    (running,) = plan_stack("shared").find("Cluster", "keycloak-db", "urban-identity")
    assert spec["imageName"] == running.inputs["spec"]["imageName"] and spec["instances"] == 1
    # Its pods reach the operator, DNS, the off-site target (HTTPS) and the API; nothing else reaches them.
    assert policy["spec"]["podSelector"] == {"matchLabels": {"cnpg.io/cluster": name}}
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]} in \
        policy["spec"]["egress"]
    assert [c[0][:2] for c in runner.calls] == [["kubectl", "apply"], ["kubectl", "-n"]]
    assert not any("keycloak-db-rw" in " ".join(argv) for argv, _ in runner.calls), "running cluster untouched"
    assert f"urbanstack platform restore --switch {name}" in lines[-1]
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_the_keycloak_switch_backs_up_stops_keycloak_copies_the_database_and_brings_keycloak_back(tmp_path):
    from urbanstack.ops.restore import platform_switch

    runner = FakeRunner()
    name = "keycloak-db-restore-20261128120000"
    lines = list(platform_switch(tmp_path, name, runner=runner, now=NOW))
    commands = [" ".join(argv) for argv, _ in runner.calls]
    assert commands[0].startswith("kubectl apply -f") and "pre-switch-backup.yaml" in commands[0]
    assert "wait backup/pre-switch-20261128120000" in commands[1]
    assert commands[2] == ("kubectl -n urban-identity patch keycloak/keycloak --type merge -p "
                           '{"spec":{"instances":0}}')
    assert commands[3].startswith("kubectl -n urban-identity wait pod -l app=keycloak,") and "--for=delete" in commands[3]
    assert commands[4] == f"kubectl -n urban-identity exec svc/{name}-rw -c postgres -- pg_dump -Fc -d keycloak"
    argv, stdin = runner.calls[5]
    assert argv[4:6] == ["-i", "svc/keycloak-db-rw"] and argv[-1] == "keycloak" and "pg_restore" in argv
    assert stdin == tmp_path / "urban-identity" / name / "keycloak.dump"
    assert commands[-1] == "pulumi up --refresh --yes --skip-preview -s shared"
    backup = yaml.safe_load((tmp_path / "urban-identity" / name / "pre-switch-backup.yaml").read_text())
    assert backup["spec"]["cluster"] == {"name": "keycloak-db"} and backup["metadata"]["namespace"] == "urban-identity"
    assert len(lines) == len(commands) + 1 and all(text.startswith("ok [") for text in lines[:-1])


def test_only_a_recovery_cluster_of_keycloaks_database_can_be_switched_to(tmp_path):
    from urbanstack.ops.restore import platform_switch

    for wrong in ("keycloak-db", "postgis-restore-20261128120000"):
        with pytest.raises(RestoreError, match="not a recovery cluster of Keycloak's database"):
            list(platform_switch(tmp_path, wrong, runner=FakeRunner(), now=NOW))


def test_cli_platform_restore_dry_run_prints_each_step_and_the_manifests(tmp_path):
    result = CliRunner().invoke(app, ["platform", "restore", "--dry-run", "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "[recover] recovery cluster: network policy and cluster: kubectl apply -f" in result.output
    assert "serverName: keycloak-db" in result.output and "namespace: urban-identity" in result.output
    switch_run = CliRunner().invoke(app, ["platform", "restore", "--switch", "keycloak-db-restore-20261128120000",
                                          "--dry-run", "--work-dir", str(tmp_path)])
    assert switch_run.exit_code == 0 and "[switch] switch: stop Keycloak" in switch_run.output
    assert not (tmp_path / "urban-identity").exists()


def test_a_municipalitys_recovery_cluster_reaches_the_offsite_target_its_backups_are_at(tmp_path):
    """verl backs up off-site: its recovery pods were given the in-cluster RGW instead."""
    _, _, policy, _ = manifests(tmp_path)
    egress = policy["spec"]["egress"]
    from catalogue.shared_config import load_file
    from components import egress as internet

    # The example's egressCidr is 0.0.0.0/0: the internet, never the cluster or the metadata service (issue 23.8).
    assert internet.to_internet(load_file().network, 443) in egress
    assert not [rule for rule in egress if "urban-storage" in str(rule)]
