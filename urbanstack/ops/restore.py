"""Restoring a municipality's database: a recovery cluster beside the running one, then an explicit switch.

``urbanstack tenants restore SLUG [--to TIMESTAMP] [--from OBJECTSTORE]`` (docs/operations.md, "Restore",
follows these steps one for one):

1. writes and applies a NetworkPolicy for the recovery cluster's pods (the namespace denies everything by
   default; the flows are those of the running cluster) and a CloudNativePG ``Cluster``
   ``postgis-restore-<stamp>`` bootstrapped with ``bootstrap.recovery`` from the backups in the Barman Cloud
   ``ObjectStore`` (``externalClusters[].plugin``: ``barman-cloud.cloudnative-pg.io`` with ``barmanObjectName``
   and ``serverName`` = the running cluster's name, which is where the plugin archived it), to
   ``recoveryTarget.targetTime`` when ``--to`` is given (else to the end of the archived WAL);
2. waits until it is ready. The running cluster is not touched; check the recovered data with ``psql``.

``urbanstack tenants restore SLUG --switch postgis-restore-<stamp>`` then makes the recovered state the live one:

1. an on-demand backup of the running cluster (the state before the switch stays restorable), waited for;
2. the municipality's workloads are scaled to zero (nothing writes during the switch);
3. per database, ``pg_dump`` from the recovery cluster and ``pg_restore --clean --if-exists
   --single-transaction`` into the running cluster (names, services, Secrets and the Pulumi state stay as
   they are);
4. ``pulumi up --refresh`` brings the workloads back at the plan's replicas.

The recovery cluster is left for comparison; delete it with ``kubectl -n SLUG delete cluster <name>`` (and its
NetworkPolicy) once the switch is confirmed.

Upstream: CloudNativePG ``Cluster`` CRD (``bootstrap.recovery.source``, ``recoveryTarget.targetTime``: RFC 3339,
"timestamps without an explicit timezone are interpreted as UTC"; ``externalClusters[].plugin``), as the CloudNativePG chart
installs it (``vendor/charts/cloudnative-pg-*/``); the Barman Cloud plugin's recovery example
(``barmanObjectName``, ``serverName``), plugin-barman-cloud v0.13.0 (chart 0.7.0).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from catalogue import names
from catalogue.schema import SLUG_PATTERN
from components import egress
from components.backup import wal_archiver
from components.k8s import dns_egress, peer, tcp
from components.tenant.database import BACKUP_STORE, cluster_base_spec
from urbanstack.ops.offboard import OffboardError, Runner, Step, check_tools, execute, private_dir, private_file

RECOVERY_PREFIX = f"{names.DB_CLUSTER}-restore-"
INSTANCE_MANAGER_PORT = 8000
"""CloudNativePG's instance manager (status, backups), reached by the operator."""
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class RestoreError(Exception):
    pass


def parse_target_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``--to``: an ISO 8601 / RFC 3339 timestamp; without a zone it is UTC (as CloudNativePG reads it)."""
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RestoreError(f"--to {text!r}: not a timestamp (use e.g. 2026-11-28T09:30:00+01:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if when > (now or dt.datetime.now(dt.UTC)):
        raise RestoreError(f"--to {text!r}: lies in the future")
    return when


def recovery_name(stamp: dt.datetime) -> str:
    return f"{RECOVERY_PREFIX}{stamp.strftime('%Y%m%d%H%M%S')}"


def recovery_spec(base: dict, description: str, name: str, server: str, source_store: str,
                  target_time: dt.datetime | None) -> dict:
    """A running cluster's spec (``base``) turned into its recovery cluster's: one instance, bootstrapped from
    ``server``'s backups in ``source_store``; it archives its own WAL to the same store under its own server name
    ``name``, so it never writes into the running cluster's archive. One mechanism for municipalities and for
    Keycloak's database."""
    spec = {k: v for k, v in base.items() if k not in ("bootstrap", "managed", "plugins")}
    spec.update({
        "description": description,
        "instances": 1,
        "enablePDB": False,
        "bootstrap": {"recovery": {"source": "origin"}},
        "externalClusters": [{"name": "origin", "plugin": {
            "name": names.BARMAN_PLUGIN,
            "parameters": {"barmanObjectName": source_store, "serverName": server},
        }}],
        "plugins": [wal_archiver(source_store, server_name=name)],
    })
    if isinstance(spec.get("affinity"), dict):
        spec["affinity"] = {**spec["affinity"], "enablePodAntiAffinity": False}
    if target_time is not None:
        spec["bootstrap"]["recovery"]["recoveryTarget"] = {
            "targetTime": target_time.astimezone(dt.UTC).isoformat(timespec="seconds")}
    return spec


def recovery_cluster(tenant, storage_class: str, name: str, source_store: str = BACKUP_STORE,
                     target_time: dt.datetime | None = None) -> dict:
    """The recovery ``Cluster`` manifest of a municipality: the running cluster's image and sizes, recovered from
    its backups in ``source_store`` (:func:`recovery_spec`)."""
    spec = recovery_spec(cluster_base_spec(tenant, tenant.plan, storage_class),
                         f"Recovery of the PostGIS cluster of {tenant.name}", name, names.DB_CLUSTER,
                         source_store, target_time)
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": name, "namespace": tenant.slug,
                         "labels": {"urban-stack/tenant": tenant.slug, "urban-stack/module": "database"}},
            "spec": spec}


def recovery_policy(slug: str, name: str, s3_rule: dict, api_rule: dict | None = None) -> dict:
    """The flows of the running cluster (``components/tenant/database.py``) for the recovery cluster's pods,
    except that no app connects to it. ``api_rule``: egress to the API server (``components.egress.api_server``
    of the shared config's ``network``; without it, that of an unconfigured network)."""
    pods = {"cnpg.io/cluster": name}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": slug},
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [peer(None, pods)], "ports": tcp(names.DB_PORT, INSTANCE_MANAGER_PORT)},
                {"from": [peer(names.NS_OPERATORS, {})], "ports": tcp(names.DB_PORT, INSTANCE_MANAGER_PORT)},
            ],
            "egress": [
                {"to": [peer(None, pods)], "ports": tcp(names.DB_PORT, INSTANCE_MANAGER_PORT)},
                dns_egress(),
                s3_rule,
                api_rule or egress.api_server(None),
            ],
        },
    }


def restore_steps(slug: str, work: Path, name: str) -> list[Step]:
    manifest = work / f"{name}.yaml"
    return [
        Step("recovery cluster: network policy and cluster", ["kubectl", "apply", "-f", str(manifest)],
             phase="recover"),
        Step("recovery cluster: wait until ready (recovery from the backup)",
             ["kubectl", "-n", slug, "wait", f"cluster/{name}", "--for=condition=Ready", "--timeout=4h"],
             phase="recover"),
    ]


def switch_steps(slug: str, work: Path, name: str, databases: Sequence[str], stamp: str) -> list[Step]:
    plan = [
        Step("switch: back up the running cluster first", ["kubectl", "apply", "-f", str(work / "pre-switch-backup.yaml")],
             phase="backup"),
        Step("switch: wait for that backup",
             ["kubectl", "-n", slug, "wait", f"backup/pre-switch-{stamp}", "--for=jsonpath={.status.phase}=completed",
              "--timeout=2h"], phase="backup"),
        Step("switch: stop the municipality's workloads",
             ["kubectl", "-n", slug, "scale", "deployment,statefulset", "--all", "--replicas=0"], phase="switch"),
    ]
    for db in databases:
        dump = work / f"{db}.dump"
        plan += [
            Step(f"switch: dump {db} from {name}",
                 ["kubectl", "-n", slug, "exec", f"svc/{name}-rw", "-c", "postgres", "--", "pg_dump", "-Fc", "-d", db],
                 stdout_to=dump, phase="switch"),
            Step(f"switch: load {db} into {names.DB_CLUSTER}",
                 ["kubectl", "-n", slug, "exec", "-i", f"svc/{names.DB_CLUSTER}-rw", "-c", "postgres", "--",
                  "pg_restore", "--clean", "--if-exists", "--single-transaction", "-d", db],
                 stdin_from=dump, phase="switch"),
        ]
    plan.append(Step("switch: bring the workloads back at the plan's replicas",
                     ["pulumi", "up", "--refresh", "--yes", "--skip-preview", "-s", slug], phase="switch"))
    return plan


def _tenant(slug: str, tenants_dir: Path | None):
    from catalogue.tenants import TenantError, load_all

    if not re.match(SLUG_PATTERN, slug):
        raise RestoreError(f"'{slug}' is not a valid municipality slug")
    try:
        tenant = load_all([tenants_dir] if tenants_dir else None).get(slug)
    except TenantError as exc:
        raise RestoreError(f"the tenant files are invalid: {exc}") from None
    if tenant is None:
        raise RestoreError(f"tenants/{slug}.yaml not found")
    return tenant


def _shared_config_file():
    from catalogue.shared_config import load_file

    return load_file()


def _s3_rule(tenant, cfg) -> dict:
    """Where the recovery cluster reads the backups from, in the precedence of ``database.backup_store``: the
    municipality's own target, the operator's off-site target (``egressCidr``), the bucket (as
    ``components.tenant.netpol.to_backup``)."""
    from components.tenant.database import uses_offsite

    if uses_offsite(tenant, cfg.backup.offsite):
        return egress.to_cidr(cfg.backup.offsite.egressCidr, cfg.network, 443)
    if cfg.storage.mode == "rook-ceph" and tenant.backup.target is None:
        return {"to": [peer(names.NS_STORAGE, {"app": "rook-ceph-rgw"})], "ports": tcp(names.RGW_PORT)}
    return egress.to_internet(cfg.network, 443)


def _recover(plan, docs: list[dict], work: Path, name: str, dry_run: bool, runner):
    """The recovery steps of a municipality's and of Keycloak's database alike: with ``dry_run`` print the steps
    and manifests (returns True: nothing else to do); else write the manifests where only the operator can read
    them and run the steps (yields one line per step)."""
    if dry_run:
        yield from (s.describe() for s in plan)
        yield yaml.safe_dump_all(docs, sort_keys=False).rstrip()
        return True
    _check(plan, runner)
    private_dir(work)
    private_file(work / f"{name}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    yield from _execute(plan, runner)
    return False


def restore(slug: str, work_dir: Path, *, to: str | None = None, source: str = BACKUP_STORE,
            dry_run: bool = False, runner: Runner | None = None, now: dt.datetime | None = None,
            tenants_dir: Path | None = None):
    """Create the recovery cluster beside the running one; yields one line per step."""
    tenant = _tenant(slug, tenants_dir)
    if not _NAME.match(source):
        raise RestoreError(f"--from {source!r}: not the name of an ObjectStore")
    now = now or dt.datetime.now(dt.UTC)
    target = parse_target_time(to, now) if to else None
    name = recovery_name(now)
    work = work_dir / slug
    cfg = _shared_config_file()
    docs = [recovery_policy(slug, name, _s3_rule(tenant, cfg), egress.api_server(cfg.network)),
            recovery_cluster(tenant, cfg.storage.blockStorageClass, name, source, target)]
    if (yield from _recover(restore_steps(slug, work, name), docs, work, name, dry_run, runner)):
        return
    yield (f"recovery cluster {name} is ready beside {names.DB_CLUSTER}; check it "
           f"(kubectl -n {slug} exec -it svc/{name}-rw -c postgres -- psql -d geodata), then switch with "
           f"`urbanstack tenants restore {slug} --switch {name}`")


def switch(slug: str, work_dir: Path, name: str, *, databases: Sequence[str] | None = None, dry_run: bool = False,
           runner: Runner | None = None, now: dt.datetime | None = None, tenants_dir: Path | None = None):
    """Make the recovery cluster's data the running cluster's; yields one line per step."""
    from urbanstack.ops.offboard import backup_manifest, data_stores_of

    _tenant(slug, tenants_dir)
    if not (name.startswith(RECOVERY_PREFIX) and _NAME.match(name)):
        raise RestoreError(f"--switch {name!r}: not a recovery cluster (its name starts with {RECOVERY_PREFIX})")
    if databases is None:
        databases, _ = data_stores_of(slug, tenants_dir)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S")
    work = work_dir / slug / name
    plan = switch_steps(slug, work, name, databases, stamp)
    if dry_run:
        yield from (s.describe() for s in plan)
        return
    _check(plan, runner)
    private_dir(work)
    private_file(work / "pre-switch-backup.yaml").write_text(backup_manifest(slug, stamp, name=f"pre-switch-{stamp}"),
                                                             encoding="utf-8")
    yield from _execute(plan, runner)
    yield f"switched: {names.DB_CLUSTER} holds the data of {name}; delete {name} once confirmed"


def _check(plan: list[Step], runner: Runner | None) -> None:
    if runner is None:
        try:
            check_tools(plan, "a restore")
        except OffboardError as exc:
            raise RestoreError(str(exc)) from None


def _execute(plan: list[Step], runner: Runner | None):
    try:
        yield from execute(plan, runner, what="restore", still="the running cluster is unchanged unless the "
                                                              "step was part of the switch")
    except OffboardError as exc:
        raise RestoreError(str(exc)) from None


# Keycloak's database (``urbanstack platform restore``): the same mechanism, in namespace urban-identity.

PLATFORM_RECOVERY_PREFIX = f"{names.KEYCLOAK_DB_CLUSTER}-restore-"
PLATFORM_STACK = "shared"


def platform_recovery_name(stamp: dt.datetime) -> str:
    return f"{PLATFORM_RECOVERY_PREFIX}{stamp.strftime('%Y%m%d%H%M%S')}"


def platform_recovery_cluster(cfg, name: str, source_store: str | None = None,
                              target_time: dt.datetime | None = None) -> dict:
    """The recovery ``Cluster`` of Keycloak's database: the running cluster's image and sizes
    (``components/shared/identity.py`` ``database_spec``), recovered from server ``keycloak-db`` in its
    ObjectStore (in production the off-site target, ``backup_store_spec``)."""
    from components.shared.identity import BACKUP_STORE as KEYCLOAK_STORE
    from components.shared.identity import database_spec
    from components.shared.profile import profile_of

    spec = recovery_spec(database_spec(cfg, profile_of(cfg)), "Recovery of the database of the shared Keycloak",
                         name, names.KEYCLOAK_DB_CLUSTER, source_store or KEYCLOAK_STORE, target_time)
    spec.pop("monitoring", None)  # no PodMonitor (and no alerts) for a cluster that is checked by hand
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": name, "namespace": names.NS_IDENTITY,
                         "labels": {"urban-stack/module": "identity"}},
            "spec": spec}


def platform_s3_rule(cfg) -> dict:
    """Egress of the recovery pods to where the backups are: the off-site target's addresses (HTTPS), else the
    platform's object store (``components/shared/platform.py`` ``s3_egress``)."""
    from components.shared.platform import s3_egress

    if cfg.backup.offsite is not None:
        return {"to": [{"ipBlock": {"cidr": cfg.backup.offsite.egressCidr}}], "ports": tcp(443)}
    return s3_egress(cfg)


def platform_recovery_policy(cfg, name: str) -> dict:
    """What the running cluster's flows in urban-identity (``components/shared/platform.py``: ``keycloak-db``,
    ``kube-api-db``) give its pods, for the recovery cluster's pods; the namespace's baseline (deny all, DNS,
    traffic inside the namespace) stays as it is."""
    pods = {"cnpg.io/cluster": name}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": names.NS_IDENTITY},
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [peer(names.NS_OPERATORS, {})], "ports": tcp(names.DB_PORT, INSTANCE_MANAGER_PORT)}],
            "egress": [
                {"to": [peer(names.NS_OPERATORS, {})], "ports": tcp(9090)},
                dns_egress(),
                platform_s3_rule(cfg),
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": tcp(443, 6443)},
            ],
        },
    }


def platform_switch_steps(work: Path, name: str, stamp: str) -> list[Step]:
    ns, db = names.NS_IDENTITY, f"svc/{names.KEYCLOAK_DB_CLUSTER}-rw"
    dump = work / "keycloak.dump"
    selector = ",".join(f"{k}={v}" for k, v in names.KEYCLOAK_POD_LABELS.items())
    return [
        Step("switch: back up Keycloak's running database first",
             ["kubectl", "apply", "-f", str(work / "pre-switch-backup.yaml")], phase="backup"),
        Step("switch: wait for that backup",
             ["kubectl", "-n", ns, "wait", f"backup/pre-switch-{stamp}", "--for=jsonpath={.status.phase}=completed",
              "--timeout=2h"], phase="backup"),
        # Keycloak CR spec.instances (operator 26.4.5: an integer, no minimum): the operator scales its
        # StatefulSet to zero; scaling the StatefulSet itself would be undone by the operator.
        Step("switch: stop Keycloak (instances 0; nobody can log in until the last step)",
             ["kubectl", "-n", ns, "patch", f"keycloak/{names.KEYCLOAK_NAME}", "--type", "merge",
              "-p", '{"spec":{"instances":0}}'], phase="switch"),
        Step("switch: wait until every Keycloak pod is gone",
             ["kubectl", "-n", ns, "wait", "pod", "-l", selector, "--for=delete", "--timeout=10m"], phase="switch"),
        Step(f"switch: dump database keycloak from {name}",
             ["kubectl", "-n", ns, "exec", f"svc/{name}-rw", "-c", "postgres", "--", "pg_dump", "-Fc", "-d", "keycloak"],
             stdout_to=dump, phase="switch"),
        Step(f"switch: load it into {names.KEYCLOAK_DB_CLUSTER}",
             ["kubectl", "-n", ns, "exec", "-i", db, "-c", "postgres", "--",
              "pg_restore", "--clean", "--if-exists", "--single-transaction", "-d", "keycloak"],
             stdin_from=dump, phase="switch"),
        Step("switch: bring Keycloak back at the profile's instances (then bump realmReapply in shared and every "
             "municipality's stack: docs/operations.md, 'Realms after a Keycloak restore')",
             ["pulumi", "up", "--refresh", "--yes", "--skip-preview", "-s", PLATFORM_STACK], phase="switch"),
    ]


def _shared_config(cfg):
    from catalogue.shared_config import ConfigError, load_file

    if cfg is not None:
        return cfg
    try:
        return load_file()
    except ConfigError as exc:
        raise RestoreError(str(exc)) from None


def platform_restore(work_dir: Path, *, to: str | None = None, source: str | None = None, dry_run: bool = False,
                     runner: Runner | None = None, now: dt.datetime | None = None, cfg=None):
    """Create the recovery cluster of Keycloak's database beside the running one (from its off-site backup in
    production); yields one line per step."""
    cfg = _shared_config(cfg)
    if source is not None and not _NAME.match(source):
        raise RestoreError(f"--from {source!r}: not the name of an ObjectStore")
    now = now or dt.datetime.now(dt.UTC)
    target = parse_target_time(to, now) if to else None
    name = platform_recovery_name(now)
    work = work_dir / names.NS_IDENTITY
    docs = [platform_recovery_policy(cfg, name), platform_recovery_cluster(cfg, name, source, target)]
    if (yield from _recover(restore_steps(names.NS_IDENTITY, work, name), docs, work, name, dry_run, runner)):
        return
    yield (f"recovery cluster {name} is ready beside {names.KEYCLOAK_DB_CLUSTER}; check it (kubectl -n "
           f"{names.NS_IDENTITY} exec -it svc/{name}-rw -c postgres -- psql -d keycloak -c 'select name, enabled "
           f"from realm'), then switch with `urbanstack platform restore --switch {name}`")


def platform_switch(work_dir: Path, name: str, *, dry_run: bool = False, runner: Runner | None = None,
                    now: dt.datetime | None = None):
    """Make the recovery cluster's data Keycloak's database; yields one line per step."""
    from urbanstack.ops.offboard import backup_manifest

    if not (name.startswith(PLATFORM_RECOVERY_PREFIX) and _NAME.match(name)):
        raise RestoreError(f"--switch {name!r}: not a recovery cluster of Keycloak's database (its name starts "
                           f"with {PLATFORM_RECOVERY_PREFIX})")
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S")
    work = work_dir / names.NS_IDENTITY / name
    plan = platform_switch_steps(work, name, stamp)
    if dry_run:
        yield from (s.describe() for s in plan)
        return
    _check(plan, runner)
    private_dir(work)
    private_file(work / "pre-switch-backup.yaml").write_text(
        backup_manifest(names.NS_IDENTITY, stamp, cluster=names.KEYCLOAK_DB_CLUSTER, name=f"pre-switch-{stamp}"),
        encoding="utf-8")
    yield from _execute(plan, runner)
    yield (f"switched: {names.KEYCLOAK_DB_CLUSTER} holds the data of {name}; Keycloak is back; delete {name} "
           f"(and its NetworkPolicy) once confirmed")
