"""Moving a municipality from one cell (a cluster with its own platform stack) to another, with all its data.

``urbanstack tenants move SLUG --to CELL [--from CELL] [--release-source] [--dry-run]``
(docs/operations.md, "Moving a municipality to another cell", follows these steps one for one). The engine takes
the source and the target cell as explicit :class:`Cell` objects (kube context, S3 endpoints and buckets, Keycloak
endpoint), made from the shared config's cells (:func:`cells_from_config`, decision record 0015).

The municipality's stack must already be deployed in the target cell (namespace, an empty ``postgis``, its bucket,
its realm made by the realm job). Then, in order:

1. **check / stop the target**: the target's ``postgis`` exists; the target's modules are scaled to zero until
   their data is in;
2. **freeze** the source: Deployments and StatefulSets scaled to zero; every database of the municipality set to
   ``default_transaction_read_only = on`` and its open sessions ended (checked: new sessions are read-only);
3. **final backup**: an on-demand CloudNativePG ``Backup`` ``move-<stamp>`` through the Barman Cloud plugin into
   the source cell's off-site store, waited for;
4. **database**: in the target cell, ObjectStore ``move-origin`` (the source's off-site path, with a copy of the
   source's ``backup-offsite`` keys) and a recovery ``Cluster`` ``postgis-move-<stamp>`` bootstrapped with
   ``bootstrap.recovery`` from it: the restore path's own manifests (``urbanstack/ops/restore.py``,
   :func:`~urbanstack.ops.restore.recovery_cluster`), except that it archives into the target's own store; then,
   per database, ``pg_dump`` from it and ``pg_restore`` into the target's ``postgis`` (the restore switch); then
   every table compared (row count and a checksum over its rows, large objects included) with the frozen source;
5. **identity**: realm export with users in the source Keycloak (``kc.sh export``, as offboarding), import of its
   users into the target's realm (admin REST ``partialImport``, ``OVERWRITE``), user counts compared;
6. **bucket**: every object of ``urbanstack-<slug>`` copied from the source's object storage to the target's,
   each one read back and checked (size and SHA-256); a mismatch is copied again; resumable object by object
   (``bucket-manifest.json``);
7. **module volumes**: per replica, a reader pod on the source claim and a writer pod on the target claim (each
   the StatefulSet's own pod template, the volume mounted alone), a ``tar`` stream between them, SHA-256 of
   every file compared;
8. **cut-over checklist** (``cutover.md``): DNS, certificates, OIDC issuer, bringing the target's modules up;
9. **release of the source** (only with ``--release-source``, only when every step above is done and passed its
   check in the same run — offboarding's two keys): deny-all policy, database hibernated, realm deleted in the
   source Keycloak, the source's off-site backups removed. The namespace in the source cell is deleted by hand.

Every step says what it did and which objects it touches. A journal (``journal.json`` in the folder the command
creates, written atomically) records each step once its check passed; a rerun checks every recorded step again
and skips it when the check passes (otherwise runs it again), so an interrupted move resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import yaml

from catalogue import names
from clikit.outdir import atomic_write
from components.backup import EXTERNAL_KEYS, object_store_spec, wal_archiver
from components.tenant.database import BACKUP_STORE
from components.tenant.storage import bucket_name
from urbanstack.ops.offboard import (
    HIBERNATION,
    LOCK_POLICY,
    OffboardError,
    Runner,
    S3Client,
    Step,
    VolumeExport,
    _run,
    backup_manifest,
    check_tools,
    delete_prefix,
    execute,
    kcadm_script,
    lock_manifest,
    private_dir,
    private_file,
    realm_export_script,
)

PRIVATE = 0o600
"""Mode of every file a move writes (journal, counts, checklists): its operator's alone."""
JOURNAL = "journal.json"
ORIGIN_STORE = "move-origin"
"""ObjectStore (and Secret) in the target namespace that reads the source cell's off-site backups."""
MOVE_PREFIX = f"{names.DB_CLUSTER}-move-"
BUCKET_MANIFEST = "bucket-copied.jsonl"
CUTOVER = "cutover.md"


class MoveError(Exception):
    pass


# --- cells --------------------------------------------------------------------------------------------------


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class S3Site(_Strict):
    endpoint: pydantic.HttpUrl = pydantic.Field(description="S3 endpoint reachable from where the command runs.")
    region: str = pydantic.Field("us-east-1", min_length=1)


class BackupSite(S3Site):
    bucket: str = pydantic.Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$",
                                 description="The cell's off-site bucket: backups under <slug>/cnpg.")
    egressCidr: str = pydantic.Field("0.0.0.0/0", description="Where the cell's pods reach it (HTTPS).")


class Cell(_Strict):
    """One cell: a cluster with its own platform stack."""

    name: str = pydantic.Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
    kubeContext: str = pydantic.Field(min_length=1, description="kubectl context of the cell's cluster.")
    storageClass: str = pydantic.Field(min_length=1, description="Block StorageClass of the cell.")
    keycloak: pydantic.HttpUrl = pydantic.Field(description="Public URL of the cell's Keycloak.")
    objectStorage: S3Site = pydantic.Field(description="Where the municipalities' buckets are (urbanstack-<slug>).")
    backups: BackupSite = pydantic.Field(description="The cell's off-site backup target.")

    @property
    def keycloak_url(self) -> str:
        return str(self.keycloak).rstrip("/")


@dataclass(frozen=True)
class Cells:
    default: str
    cells: dict[str, Cell]
    source: str
    """Where they were read from (errors name it)."""
    unusable: dict[str, str] = field(default_factory=dict)
    """Cell name -> why a move cannot use it (e.g. no kubeconfig context): said when the move names it."""

    def get(self, name: str, option: str) -> Cell:
        if name in self.unusable:
            raise MoveError(f"{option} {name!r}: {self.unusable[name]}")
        if name not in self.cells:
            known = [*self.cells, *self.unusable]
            raise MoveError(f"{option} {name!r}: no such cell in {self.source} (cells: {', '.join(known)})")
        return self.cells[name]


def cells_from_config(cfg: Any, source: str = "stacks/Pulumi.shared.yaml") -> Cells:
    """The move's view of the shared config's cells (``urban-stack:cells``): each cell's kubeconfig context, block
    StorageClass, Keycloak URL (``https://id.<cell domain>``), object storage (``objectStorageEndpoint``, or the
    external provider's endpoint) and off-site backups, as the cell sees them (``SharedConfig.in_cell``)."""
    cells: dict[str, Cell] = {}
    unusable: dict[str, str] = {}
    for i, c in enumerate(cfg.cell_list):
        where = f"{source}: urban-stack:cells[{i}]" if cfg.cells else f"{source}: urban-stack:cells"
        seen = cfg.in_cell(c.name)
        endpoint = c.objectStorageEndpoint or (seen.storage.external.endpoint if seen.storage.external else None)
        region = seen.storage.external.region if seen.storage.external else "us-east-1"
        missing = [f"{where}.kubernetes.context (the kubeconfig context of its cluster)"] if not c.kubernetes.context \
            else []
        missing += [f"{where}.objectStorageEndpoint (where this machine reaches its object storage)"] if not endpoint \
            else []
        missing += [f"{where}.backup.offsite (its off-site backups: the target recovers from them)"] \
            if seen.backup.offsite is None else []
        if missing:
            unusable[c.name] = f"cell {c.name!r} cannot take part in a move: set {'; '.join(missing)}"
            continue
        off = seen.backup.offsite
        cells[c.name] = Cell(name=c.name, kubeContext=c.kubernetes.context, storageClass=seen.storage.blockStorageClass,
                             keycloak=f"https://id.{cfg.cell_domain(c)}",
                             objectStorage=S3Site(endpoint=str(endpoint), region=region),
                             backups=BackupSite(endpoint=str(off.endpoint), region=off.region, bucket=off.bucket,
                                                egressCidr=off.egressCidr))
    return Cells(cfg.default_cell, cells, source, unusable)


# --- steps with a key, the objects they touch and a check ----------------------------------------------------


@dataclass
class MoveStep(Step):
    """A step of offboarding's mechanism (:class:`~urbanstack.ops.offboard.Step`, run by ``execute``) with what a
    move adds: a journal ``key``, the objects it ``touches`` and a ``verify`` that checks its result (run after the
    step and again before a rerun skips it)."""

    key: str = ""
    touches: tuple[str, ...] = ()
    verify: Callable[[], None] | None = None

    def describe(self) -> str:
        text = super().describe()
        return text + "".join(f"\n    touches {t}" for t in self.touches)


def in_cell(cell: Cell, argv: Sequence[str]) -> list[str]:
    """``kubectl …`` against ``cell``'s cluster (``--context`` right after ``kubectl``)."""
    argv = list(argv)
    if argv and argv[0] == "kubectl":
        return ["kubectl", "--context", cell.kubeContext, *argv[1:]]
    return argv


class Journal:
    """``journal.json`` of one move: who moves where, the stamp of its objects, and every step that passed its
    check. It lives in a folder the move created; a folder without it is never written into."""

    def __init__(self, folder: Path, identity: dict, data: dict):
        self.folder, self.identity, self.data = folder, identity, data

    @property
    def path(self) -> Path:
        return self.folder / JOURNAL

    @classmethod
    def open(cls, folder: Path, identity: dict, stamp: str) -> Journal:
        if folder.exists():
            if not (folder / JOURNAL).is_file():
                raise MoveError(f"{folder} exists but holds no {JOURNAL}: it was not created by a move, nothing is "
                                "written into it (choose another --work-dir, or remove the folder)")
            try:
                data = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MoveError(f"{folder / JOURNAL}: unreadable ({exc}); move it away to start over") from None
            if data.get("move") != identity:
                raise MoveError(f"{folder / JOURNAL} belongs to another move ({data.get('move')}), not {identity}")
            return cls(folder, identity, data)
        private_dir(folder)
        journal = cls(folder, identity, {"move": identity, "stamp": stamp, "steps": {}})
        journal.save()
        return journal

    @property
    def stamp(self) -> str:
        return self.data["stamp"]

    def done(self, key: str) -> dict | None:
        return self.data["steps"].get(key)

    def record(self, step: MoveStep) -> None:
        self.data["steps"][step.key] = {"title": step.title, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        self.save()

    def forget(self, key: str) -> None:
        self.data["steps"].pop(key, None)
        self.save()

    def save(self) -> None:
        atomic_write(self.path, json.dumps(self.data, indent=2) + "\n", PRIVATE)


def run_journaled(plan: Sequence[MoveStep], journal: Journal, runner: Runner | None,
                  still: str = "the source cell is untouched apart from the freeze") -> Iterator[str]:
    """Run the steps with offboarding's ``execute``, one at a time: a step recorded in the journal is checked again
    and skipped when its check passes; every step that ran is checked, then recorded. Stops at the first failure."""
    for s in plan:
        if journal.done(s.key):
            try:
                if s.verify is not None:
                    s.verify()
            except Exception as exc:
                journal.forget(s.key)
                yield f"redo [{s.phase}] {s.title}: recorded as done, but its check failed now ({_why(exc)})"
            else:
                checked = "checked again" if s.verify is not None else "nothing to check"
                yield f"skip [{s.phase}] {s.title} (done at {journal.done(s.key)['at']}; {checked})"
                continue
        try:
            yield from execute([s], runner, what="a move", still=still)
        except OffboardError as exc:
            raise MoveError(f"{exc}; run the same command again to resume") from None
        if s.verify is not None:
            try:
                s.verify()
            except Exception as exc:
                raise MoveError(f"step '{s.title}' ran, but its check failed: {_why(exc)}; nothing after it was "
                                f"done, {still}; run the same command again to resume") from None
            yield f"    checked: {s.title}"
        journal.record(s)


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, (MoveError, OffboardError)) else f"{type(exc).__name__}: {exc}"


# --- the bucket copy -----------------------------------------------------------------------------------------


@dataclass
class BucketCopy:
    """Copy every object of ``source_bucket`` into ``target_bucket`` object by object, each read back and checked
    (size, SHA-256). Progress is a log (``manifest``, one JSON line per copied object, appended and flushed as soon
    as the object is in; a line torn by a kill is ignored), so an interrupted copy resumes with the next object and
    an object already copied and unchanged is not copied again."""

    source: S3Client
    source_bucket: str
    target: S3Client
    target_bucket: str
    manifest: Path
    scratch: Path
    copied: int = 0
    skipped: int = 0
    recopied: list[str] = field(default_factory=list)

    def _load(self) -> dict[str, dict]:
        done: dict[str, dict] = {}
        if self.manifest.is_file():
            for line in self.manifest.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    done[rec["key"]] = rec
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by an interruption: that object is copied again
        return done

    def _log(self, rec: dict) -> None:
        if not self.manifest.exists():
            private_file(self.manifest)
        with self.manifest.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _objects(self) -> Iterator[dict]:
        for page in self.source.get_paginator("list_objects_v2").paginate(Bucket=self.source_bucket):
            yield from page.get("Contents", [])

    def _copy_one(self, obj: dict) -> dict:
        key = obj["Key"]
        tmp = private_file(self.scratch / ".object")
        try:
            self.source.download_file(self.source_bucket, key, str(tmp))
            digest, size = _sha256_file(tmp)
            if size != obj["Size"]:
                raise MoveError(f"s3://{self.source_bucket}/{key}: read {size} bytes, listed {obj['Size']} "
                                "(is the source still being written?)")
            self.target.upload_file(str(tmp), self.target_bucket, key, ExtraArgs={"Metadata": {"sha256": digest}})
        finally:
            tmp.unlink(missing_ok=True)
        head = self.target.head_object(Bucket=self.target_bucket, Key=key)
        rec = {"key": key, "size": size, "sha256": digest, "etag": obj["ETag"], "target_etag": head["ETag"]}
        self._log(rec)
        return rec

    def _target_sha256(self, key: str) -> tuple[str, int] | None:
        try:
            body = self.target.get_object(Bucket=self.target_bucket, Key=key)["Body"]
        except self.target.exceptions.NoSuchKey:
            return None
        h, size = hashlib.sha256(), 0
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
        return h.hexdigest(), size

    def check(self) -> list[str]:
        """Every source object is in the log, unchanged since, and its copy reads back with the same size and
        SHA-256; returns the keys that are not."""
        done = self._load()
        bad = []
        for obj in self._objects():
            rec = done.get(obj["Key"])
            unchanged = rec is not None and rec["etag"] == obj["ETag"] and rec["size"] == obj["Size"]
            if not unchanged or self._target_sha256(obj["Key"]) != (rec["sha256"], rec["size"]):
                bad.append(obj["Key"])
        return bad

    def verify(self) -> None:
        bad = self.check()
        if bad:
            raise MoveError(f"s3://{self.target_bucket}: {len(bad)} object(s) missing or differing from "
                            f"s3://{self.source_bucket}: {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''}")

    def run(self) -> None:
        done = self._load()
        for obj in self._objects():
            rec = done.get(obj["Key"])
            if rec is not None and rec["etag"] == obj["ETag"] and rec["size"] == obj["Size"]:
                try:
                    head = self.target.head_object(Bucket=self.target_bucket, Key=obj["Key"])
                except self.target.exceptions.ClientError:
                    head = None
                if head is not None and head["ContentLength"] == rec["size"] and head["ETag"] == rec["target_etag"]:
                    self.skipped += 1
                    continue
            self._copy_one(obj)
            self.copied += 1
        # Read every copy back: what differs (damaged on the way, or replaced since) is copied again, once.
        for key in self.check():
            obj = self.source.head_object(Bucket=self.source_bucket, Key=key)
            self._copy_one({"Key": key, "Size": obj["ContentLength"], "ETag": obj["ETag"]})
            self.recopied.append(key)
        self.verify()


def _sha256_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


# --- database checks -----------------------------------------------------------------------------------------

TABLE_SUMS = (
    # Per table of every schema but the system's: row count and an order-independent checksum over the rows'
    # text; plus the large objects (pg_largeobject is a system table). Runs read-only.
    "SELECT format('%I.%I', n.nspname, c.relname) AS t, x.n, x.h FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace, LATERAL (SELECT "
    "(xpath('/row/n/text()', r))[1]::text::bigint AS n, (xpath('/row/h/text()', r))[1]::text AS h FROM "
    "query_to_xml(format('SELECT count(*) AS n, md5(coalesce(string_agg(md5(t::text), '''' ORDER BY md5(t::text)),"
    " '''')) AS h FROM %I.%I t', n.nspname, c.relname), false, true, '') r) x "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', "
    "'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
    "UNION ALL SELECT 'large objects', count(*), md5(coalesce(string_agg(md5(lo_get(oid)), '' ORDER BY oid), '')) "
    "FROM pg_largeobject_metadata ORDER BY 1"
)


def parse_sums(text: str) -> dict[str, tuple[int, str]]:
    out = {}
    for line in text.splitlines():
        if line.strip():
            table, count, digest = line.split("|")
            out[table] = (int(count), digest)
    return out


def compare_sums(db: str, source: dict[str, tuple[int, str]], target: dict[str, tuple[int, str]]) -> str:
    """One line for a database whose tables all arrived; otherwise :class:`MoveError` naming every difference."""
    problems = [f"{t}: missing in the target" for t in sorted(set(source) - set(target))]
    problems += [f"{t}: only in the target" for t in sorted(set(target) - set(source))]
    problems += [f"{t}: {source[t][0]} rows in the source, {target[t][0]} in the target"
                 for t in sorted(set(source) & set(target)) if source[t][0] != target[t][0]]
    problems += [f"{t}: same row count ({source[t][0]}), different contents"
                 for t in sorted(set(source) & set(target)) if source[t][0] == target[t][0] and source[t] != target[t]]
    if problems:
        raise MoveError(f"database {db}: " + "; ".join(problems))
    return f"database {db}: {len(source)} tables, {sum(n for n, _ in source.values())} rows, all equal"


# --- the plan ------------------------------------------------------------------------------------------------


@dataclass
class Move:
    """One move of ``slug`` from ``source`` to ``target``; :meth:`steps` is the ordered plan."""

    slug: str
    tenant: Any
    source: Cell
    target: Cell
    folder: Path
    stamp: str
    databases: Sequence[str]
    volumes: Sequence[VolumeExport] = ()
    release_source: bool = False
    runner: Runner | None = None
    source_stack: str = ""
    """The municipality's Pulumi stack in the source cell (``<slug>`` or ``<slug>.<cell>``)."""
    source_s3: Callable[[], S3Client] | None = None
    target_s3: Callable[[], S3Client] | None = None
    source_offsite_s3: Callable[[], S3Client] | None = None
    notes: list[str] = field(default_factory=list)
    stop_timeout: int = 600

    # -- helpers --
    @property
    def recovery(self) -> str:
        return f"{MOVE_PREFIX}{self.stamp}"

    @property
    def backup(self) -> str:
        return f"move-{self.stamp}"

    def k(self, cell: Cell, *args: str) -> list[str]:
        return in_cell(cell, ["kubectl", *args])

    def psql(self, cell: Cell, db: str, sql: str, cluster: str = names.DB_CLUSTER) -> list[str]:
        return self.k(cell, "-n", self.slug, "exec", f"svc/{cluster}-rw", "-c", "postgres", "--",
                      "psql", "-v", "ON_ERROR_STOP=1", "-X", "-qAt", "-d", db, "-c", sql)

    def call(self, argv: Sequence[str], stdin_from: Path | None = None) -> None:
        run_cmd = self.runner or _run
        code = run_cmd(list(argv), None, stdin_from) if stdin_from else run_cmd(list(argv), None)
        if code != 0:
            raise MoveError(f"exit {code}: {' '.join(argv)}")

    def capture(self, argv: Sequence[str]) -> str:
        """Run ``argv`` and return its output (through the runner, so a test's simulated cells answer too)."""
        run_cmd = self.runner or _run
        out = self.folder / ".capture"
        try:
            code = run_cmd(list(argv), out)
            text = out.read_text(encoding="utf-8") if out.exists() else ""
        finally:
            out.unlink(missing_ok=True)
        if code != 0:
            raise MoveError(f"exit {code}: {' '.join(argv)}")
        return text

    def where(self, cell: Cell, what: str) -> str:
        return f"cell {cell.name}: {what}"

    def source_store_spec(self) -> dict:
        b = self.source.backups
        return object_store_spec(f"s3://{b.bucket}/{self.slug}/cnpg", str(b.endpoint).rstrip("/"), ORIGIN_STORE,
                                 EXTERNAL_KEYS, f"{self.tenant.backup.retentionDays}d")

    # -- manifests --
    def recovery_docs(self) -> list[dict]:
        """The restore path's NetworkPolicy and recovery ``Cluster`` (bootstrap.recovery from ObjectStore
        ``move-origin``, serverName ``postgis``), in the target's storage class; it archives into the target's own
        ``backup-store`` under its own server name, never into the source's archive."""
        from components import egress
        from urbanstack.ops.restore import recovery_cluster, recovery_policy

        # The source's off-site target over HTTPS: its range, or the internet without the cluster's own ranges.
        s3_rule = egress.to_cidr(self.source.backups.egressCidr, None, 443)
        policy = recovery_policy(self.slug, self.recovery, s3_rule, egress.api_server(None))
        cluster = recovery_cluster(self.tenant, self.target.storageClass, self.recovery, ORIGIN_STORE)
        cluster["spec"]["description"] = f"{self.tenant.name}: moved from cell {self.source.name}"
        cluster["spec"]["plugins"] = [wal_archiver(BACKUP_STORE, server_name=self.recovery)]
        return [policy, cluster]

    # -- the steps --
    def steps(self) -> list[MoveStep]:
        slug, a, b = self.slug, self.source, self.target
        out = self.folder
        ns = f"namespace {slug}"
        plan: list[MoveStep] = [
            MoveStep("target: the municipality's stack is deployed in the target cell (its empty postgis)",
                     self.k(b, "-n", slug, "get", f"cluster/{names.DB_CLUSTER}", "-o", "name"), phase="check",
                     key="target-ready", touches=(self.where(b, f"Cluster {names.DB_CLUSTER} in {ns} (read)"),)),
            MoveStep("target: stop the modules until their data is in",
                     self.k(b, "-n", slug, "scale", "deployment,statefulset", "--all", "--replicas=0"),
                     phase="check", key="target-stop",
                     touches=(self.where(b, f"every Deployment and StatefulSet in {ns} (replicas 0)"),),
                     verify=lambda: self._scaled_down(b)),
            MoveStep("freeze: stop the modules (nothing writes any more)",
                     self.k(a, "-n", slug, "scale", "deployment,statefulset", "--all", "--replicas=0"),
                     phase="freeze", key="freeze-modules",
                     touches=(self.where(a, f"every Deployment and StatefulSet in {ns} (replicas 0)"),),
                     verify=lambda: self._scaled_down(a)),
            MoveStep(f"freeze: databases {', '.join(self.databases)} read-only (default_transaction_read_only), "
                     "their sessions ended",
                     self.psql(a, "postgres", self._freeze_sql()), phase="freeze", key="freeze-database",
                     touches=tuple(self.where(a, f"database {db} of Cluster {names.DB_CLUSTER}")
                                   for db in self.databases),
                     verify=self._frozen),
            MoveStep(f"final backup: request Backup {self.backup} (Barman Cloud plugin, into the source's off-site "
                     f"store s3://{a.backups.bucket}/{slug}/cnpg)",
                     self.k(a, "apply", "-f", str(out / "final-backup.yaml")), phase="backup", key="backup-request",
                     touches=(self.where(a, f"Backup {self.backup} in {ns}"),)),
            MoveStep("final backup: wait until completed",
                     self.k(a, "-n", slug, "wait", f"backup/{self.backup}", "--for=jsonpath={.status.phase}=completed",
                            "--timeout=2h"), phase="backup", key="backup-wait",
                     touches=(self.where(a, f"Backup {self.backup} (read)"),),
                     verify=lambda: self._backup_completed()),
            MoveStep(f"database: ObjectStore {ORIGIN_STORE} in the target reads the source's off-site backups "
                     f"(with a copy of the source's Secret backup-offsite as Secret {ORIGIN_STORE})",
                     action=self._origin_store, phase="database", key="origin-store",
                     touches=(self.where(a, f"Secret backup-offsite in {ns} (read)"),
                              self.where(b, f"Secret {ORIGIN_STORE}, ObjectStore {ORIGIN_STORE} in {ns}")),
                     verify=lambda: self.call(self.k(b, "-n", slug, "get", f"objectstore/{ORIGIN_STORE}",
                                                     f"secret/{ORIGIN_STORE}", "-o", "name"))),
            MoveStep(f"database: recovery cluster {self.recovery} in the target (bootstrap.recovery from "
                     f"{ORIGIN_STORE}, server {names.DB_CLUSTER}) and its NetworkPolicy",
                     self.k(b, "apply", "-f", str(out / "recovery.yaml")), phase="database", key="recover-apply",
                     touches=(self.where(b, f"Cluster {self.recovery}, NetworkPolicy {self.recovery} in {ns}"),)),
            MoveStep("database: wait until the recovery cluster is ready",
                     self.k(b, "-n", slug, "wait", f"cluster/{self.recovery}", "--for=condition=Ready",
                            "--timeout=4h"), phase="database", key="recover-wait",
                     touches=(self.where(b, f"Cluster {self.recovery} (read)"),),
                     verify=lambda: self.call(self.k(b, "-n", slug, "wait", f"cluster/{self.recovery}",
                                                     "--for=condition=Ready", "--timeout=60s"))),
        ]
        for db in self.databases:
            dump = out / f"{db}.dump"
            plan += [
                MoveStep(f"database: dump {db} from {self.recovery}",
                         self.k(b, "-n", slug, "exec", f"svc/{self.recovery}-rw", "-c", "postgres", "--",
                                "pg_dump", "-Fc", "-d", db), stdout_to=dump, phase="database", key=f"dump-{db}",
                         touches=(self.where(b, f"database {db} of Cluster {self.recovery} (read)"),
                                  f"here: {dump}"),
                         verify=lambda dump=dump: _nonempty(dump)),
                MoveStep(f"database: load {db} into the target's {names.DB_CLUSTER}",
                         self.k(b, "-n", slug, "exec", "-i", f"svc/{names.DB_CLUSTER}-rw", "-c", "postgres", "--",
                                "pg_restore", "--clean", "--if-exists", "--single-transaction", "-d", db), stdin_from=dump, phase="database", key=f"load-{db}",
                         touches=(self.where(b, f"database {db} of Cluster {names.DB_CLUSTER} (replaced)"),)),
            ]
        plan.append(MoveStep("database: every table arrived (row count and checksum per table, large objects; "
                             "the frozen source against the target)", phase="database", key="database-verify",
                             action=self._compare_databases, verify=self._compare_databases,
                             touches=tuple(f"cells {a.name} and {b.name}: database {db} (read)"
                                           for db in self.databases)))
        plan += [
            MoveStep(f"identity: export realm {slug} with its users from the source's Keycloak and import its users "
                     f"into realm {slug} of the target's ({b.keycloak_url}; partialImport, existing users "
                     "overwritten); the dump is removed here once imported", action=self._move_realm,
                     phase="identity", key="realm", verify=self._realm_verify,
                     touches=(self.where(a, f"realm {slug} (read; the dump in the Keycloak pod is removed)"),
                              self.where(b, f"users of realm {slug}"), f"here: {out / 'realm-users.count'}")),
            MoveStep(f"bucket: copy every object of {bucket_name(slug)} from {a.objectStorage.endpoint} to "
                     f"{b.objectStorage.endpoint}, each read back and checked (size, SHA-256)",
                     action=self._copy_bucket, verify=lambda: self._bucket().verify(), phase="bucket",
                     key="bucket", touches=(self.where(a, f"bucket {bucket_name(slug)} (read)"),
                                            self.where(b, f"bucket {bucket_name(slug)}"),
                                            f"here: {out / BUCKET_MANIFEST}")),
        ]
        for v in self.volumes:
            claim = f"{v.claim}-{v.module}-{v.workload}-{v.replica}"
            plan.append(MoveStep(
                f"volume {claim} ({v.module}-{v.workload}, {v.path}): tar stream from the source to the target, "
                "SHA-256 of every file compared", action=lambda v=v: self._copy_volume(v), phase="volumes",
                key=f"volume-{claim}", verify=lambda v=v: self._compare_volume(v),
                touches=(self.where(a, f"PersistentVolumeClaim {claim} (read; reader pod move-read-{v.replica}-"
                                       f"{v.module}-{v.workload})"),
                         self.where(b, f"PersistentVolumeClaim {claim} (written; writer pod)"))))
        plan.append(MoveStep(f"cut-over checklist written to {out / CUTOVER}", phase="cutover", key="checklist",
                             action=self._checklist, touches=(f"here: {out / CUTOVER}",)))
        if self.release_source:
            plan += self._release_steps()
        return plan

    def _release_steps(self) -> list[MoveStep]:
        slug, a = self.slug, self.source
        ns = f"namespace {slug}"
        delete_realm = kcadm_script(f"if k get realms/{slug} --fields realm >/dev/null 2>&1; then "
                                    f"k delete realms/{slug}; else echo 'realm {slug} is already deleted' >&2; fi")
        b = a.backups
        return [
            MoveStep("release: lock the source namespace (deny all traffic; not owned by Pulumi)",
                     self.k(a, "apply", "-f", str(self.folder / "lock.yaml")), phase="release", key="release-lock",
                     touches=(self.where(a, f"NetworkPolicy {LOCK_POLICY} in {ns}"),)),
            MoveStep("release: hibernate the source database (pods removed, volumes kept)",
                     self.k(a, "-n", slug, "annotate", f"cluster/{names.DB_CLUSTER}", "--overwrite",
                            f"{HIBERNATION}=on"), phase="release", key="release-hibernate",
                     touches=(self.where(a, f"Cluster {names.DB_CLUSTER} in {ns} (annotation {HIBERNATION}=on)"),)),
            MoveStep("release: wait until the source database is hibernated",
                     self.k(a, "-n", slug, "wait", f"cluster/{names.DB_CLUSTER}", f"--for=condition={HIBERNATION}",
                            "--timeout=15m"), phase="release", key="release-hibernate-wait",
                     touches=(self.where(a, f"Cluster {names.DB_CLUSTER} (read)"),)),
            MoveStep(f"release: delete realm {slug} in the source's Keycloak",
                     in_cell(a, _keycloak(delete_realm)), phase="release", key="release-realm",
                     touches=(self.where(a, f"realm {slug} (users, credentials)"),)),
            MoveStep(f"release: remove the source's off-site backups s3://{b.bucket}/{slug}/cnpg/ (every version)",
                     action=self._remove_source_backups, phase="release", key="release-backups",
                     touches=(self.where(a, f"s3://{b.bucket}/{slug}/cnpg/ at {b.endpoint}"),)),
        ]

    # -- step bodies and checks --
    def _freeze_sql(self) -> str:
        dbs = ", ".join(f"'{db}'" for db in self.databases)
        alters = "; ".join(f'ALTER DATABASE "{db}" SET default_transaction_read_only = on' for db in self.databases)
        return (f"{alters}; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                f"WHERE datname IN ({dbs}) AND pid <> pg_backend_pid()")

    def _scaled_down(self, cell: Cell) -> None:
        """Every Deployment and StatefulSet at zero and without pods (pods that are still stopping are waited for,
        up to ``stop_timeout`` seconds)."""
        deadline = time.monotonic() + self.stop_timeout
        while True:
            got = json.loads(self.capture(self.k(cell, "-n", self.slug, "get", "deployment,statefulset",
                                                 "-o", "json")))
            running = [f"{i['kind']}/{i['metadata']['name']}" for i in got.get("items", [])
                       if (i.get("spec") or {}).get("replicas", 1) != 0 or (i.get("status") or {}).get("replicas", 0)]
            if not running:
                return
            if time.monotonic() > deadline:
                raise MoveError(f"cell {cell.name}: still running in namespace {self.slug} after "
                                f"{self.stop_timeout} s: {', '.join(running)}")
            time.sleep(2)

    def _frozen(self) -> None:
        for db in self.databases:
            got = self.capture(self.psql(self.source, db, "SHOW default_transaction_read_only")).strip()
            if got != "on":
                raise MoveError(f"cell {self.source.name}: database {db}: new sessions are not read-only ({got!r})")

    def _backup_completed(self) -> None:
        got = self.capture(self.k(self.source, "-n", self.slug, "get", f"backup/{self.backup}", "-o",
                                  "jsonpath={.status.phase}")).strip()
        if got != "completed":
            raise MoveError(f"cell {self.source.name}: Backup {self.backup} is {got or 'not found'}, not completed")

    def _origin_store(self) -> None:
        got = json.loads(self.capture(self.k(self.source, "-n", self.slug, "get", "secret", "backup-offsite",
                                             "-o", "json")))
        missing = [k for k in EXTERNAL_KEYS if k not in (got.get("data") or {})]
        if missing:
            raise MoveError(f"cell {self.source.name}: Secret {self.slug}/backup-offsite lacks {', '.join(missing)}")
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": ORIGIN_STORE, "namespace": self.slug,
                               "labels": {"app.kubernetes.io/managed-by": "urbanstack-move"}},
                  "data": {k: got["data"][k] for k in EXTERNAL_KEYS}}
        store = {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore",
                 "metadata": {"name": ORIGIN_STORE, "namespace": self.slug,
                              "labels": {"app.kubernetes.io/managed-by": "urbanstack-move"}},
                 "spec": self.source_store_spec()}
        path = private_file(self.folder / "origin.yaml")
        try:
            path.write_text(yaml.safe_dump_all([secret, store], sort_keys=False), encoding="utf-8")
            self.call(self.k(self.target, "apply", "-f", str(path)))
        finally:
            path.unlink(missing_ok=True)  # the keys stay in the cluster only

    def _sums(self, cell: Cell, db: str) -> dict[str, tuple[int, str]]:
        return parse_sums(self.capture(self.psql(cell, db, TABLE_SUMS)))

    def _compare_databases(self) -> None:
        for db in self.databases:
            self.notes.append(compare_sums(db, self._sums(self.source, db), self._sums(self.target, db)))

    def _realm_users(self, path: Path) -> list[dict]:
        try:
            realm = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MoveError(f"the export of realm {self.slug} is not a realm ({exc})") from None
        if realm.get("realm") != self.slug:
            raise MoveError(f"the export holds realm {realm.get('realm')!r}, not {self.slug!r}")
        return list(realm.get("users") or [])

    def _move_realm(self) -> None:
        # The export holds password hashes and one-time-code seeds: it lives in the work folder (0600) only until
        # it is imported; what stays is the number of users, for the check.
        export, body = self.folder / "realm.json", self.folder / "realm-users.json"
        run_cmd = self.runner or _run
        try:
            code = run_cmd(in_cell(self.source, _keycloak(realm_export_script(self.slug))), export)
            if code != 0:
                raise MoveError(f"cell {self.source.name}: export of realm {self.slug} failed (exit {code})")
            users = self._realm_users(export)
            # Keycloak's admin REST ``POST /admin/realms/{realm}/partialImport`` (keycloak/keycloak
            # services/src/main/java/org/keycloak/services/resources/admin/RealmAdminResource.java,
            # ``partialImport``: a PartialImportRepresentation, ``ifResourceExists`` FAIL/SKIP/OVERWRITE), sent by
            # ``kcadm.sh create``, whose ``-f -`` reads the body from standard input (integration/admin-cli
            # CreateCmd). Users with their credentials, OTP seeds and group memberships; the realm's settings,
            # clients (their secrets belong to the target stack's Secrets), roles and groups are made by the
            # target's realm job. To confirm at 26.4.5 on a first real move.
            private_file(body).write_text(json.dumps({"ifResourceExists": "OVERWRITE", "users": users}),
                                          encoding="utf-8")
            script = kcadm_script(f"k create partialImport -r {self.slug} -f - >&2")
            self.call(in_cell(self.target, ["kubectl", "-n", names.NS_IDENTITY, "exec", "-i",
                                            f"{names.KEYCLOAK_NAME}-0", "--", "/bin/bash", "-c", script]),
                      stdin_from=body)
            atomic_write(self.folder / "realm-users.count", f"{len(users)}\n", PRIVATE)
        finally:
            export.unlink(missing_ok=True)
            body.unlink(missing_ok=True)

    def _realm_verify(self) -> None:
        try:
            want = int((self.folder / "realm-users.count").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise MoveError("realm-users.count is missing: the realm was not imported") from None
        got = self.capture(in_cell(self.target, _keycloak(kcadm_script(f"k get users/count -r {self.slug}")))).strip()
        if got != str(want):
            raise MoveError(f"cell {self.target.name}: realm {self.slug} has {got or 'no'} users, the export {want}")
        self.notes.append(f"realm {self.slug}: {want} users in the target")

    def _bucket(self) -> BucketCopy:
        if self.source_s3 is None or self.target_s3 is None:
            raise MoveError("no S3 access to the buckets was given")
        bucket = bucket_name(self.slug)
        return BucketCopy(self.source_s3(), bucket, self.target_s3(), bucket, self.folder / BUCKET_MANIFEST,
                          self.folder)

    def _copy_bucket(self) -> None:
        copy = self._bucket()
        copy.run()
        again = f"; copied again after a mismatch on reading back: {', '.join(copy.recopied)}" if copy.recopied else ""
        self.notes.append(f"bucket {copy.target_bucket}: {copy.copied} objects copied, {copy.skipped} already there "
                          f"and unchanged, every copy read back and equal{again}")

    def _pod(self, cell: Cell, v: VolumeExport, role: str) -> tuple[str, dict]:
        """A pod with the StatefulSet's own pod template (image, security context, service account), only the
        named container, sleeping, with the replica's claim mounted alone (read-only for the reader)."""
        sts = f"{v.module}-{v.workload}"
        got = json.loads(self.capture(self.k(cell, "-n", self.slug, "get", f"statefulset/{sts}", "-o", "json")))
        spec = json.loads(json.dumps(got["spec"]["template"]["spec"]))
        (container,) = [c for c in spec["containers"] if c["name"] == v.container]
        mount = {"name": "data", "mountPath": v.path, "readOnly": role == "read"}
        container = {k: c for k, c in container.items() if k in ("image", "imagePullPolicy", "securityContext")}
        container.update({"name": v.container, "command": ["sleep", "86400"], "volumeMounts": [mount],
                          "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                        "limits": {"cpu": "500m", "memory": "256Mi"}}})
        spec = {k: val for k, val in spec.items() if k in ("securityContext", "serviceAccountName",
                                                           "imagePullSecrets", "nodeSelector", "tolerations")}
        spec.update({"containers": [container], "restartPolicy": "Never", "automountServiceAccountToken": False,
                     "volumes": [{"name": "data", "persistentVolumeClaim": {
                         "claimName": f"{v.claim}-{sts}-{v.replica}", "readOnly": role == "read"}}]})
        name = f"move-{role}-{v.replica}-{sts}"[:63]
        return name, {"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": name, "namespace": self.slug,
                                   "labels": {"app.kubernetes.io/managed-by": "urbanstack-move"}},
                      "spec": spec}

    def _with_pods(self, v: VolumeExport, body: Callable[[str, str], None]) -> None:
        pods = []
        try:
            for cell, role in ((self.source, "read"), (self.target, "write")):
                name, doc = self._pod(cell, v, role)
                path = private_file(self.folder / f"{name}-{cell.name}.yaml")
                path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
                self.call(self.k(cell, "apply", "-f", str(path)))
                pods.append((cell, name))
                self.call(self.k(cell, "-n", self.slug, "wait", f"pod/{name}", "--for=condition=Ready",
                                 "--timeout=10m"))
            body(pods[0][1], pods[1][1])
        finally:
            for cell, name in pods:
                self.call(self.k(cell, "-n", self.slug, "delete", "pod", name, "--ignore-not-found", "--wait=false"))

    def _copy_volume(self, v: VolumeExport) -> None:
        tar = private_file(self.folder / "volume.tar")

        def body(reader: str, writer: str) -> None:
            run_cmd = self.runner or _run
            code = run_cmd(self.k(self.source, "-n", self.slug, "exec", reader, "-c", v.container, "--",
                                  "tar", "-C", v.path, "-cf", "-", "."), tar)
            if code != 0:
                raise MoveError(f"cell {self.source.name}: tar of {v.path} in {reader} failed (exit {code})")
            self.call(self.k(self.target, "-n", self.slug, "exec", "-i", writer, "-c", v.container, "--",
                             "tar", "-C", v.path, "-xf", "-"), stdin_from=tar)
            self._compare_files(v, reader, writer)

        try:
            self._with_pods(v, body)
        finally:
            tar.unlink(missing_ok=True)

    def _sha_list(self, cell: Cell, pod: str, v: VolumeExport) -> str:
        return self.capture(self.k(cell, "-n", self.slug, "exec", pod, "-c", v.container, "--", "sh", "-c",
                                   f"cd {v.path} && find . -type f -print0 | sort -z | xargs -0 -r sha256sum"))

    def _compare_files(self, v: VolumeExport, reader: str, writer: str) -> None:
        src, dst = self._sha_list(self.source, reader, v), self._sha_list(self.target, writer, v)
        if src != dst:
            a, b = set(src.splitlines()), set(dst.splitlines())
            differ = sorted(line.split("  ", 1)[-1] for line in a ^ b)
            raise MoveError(f"volume {v.claim} replica {v.replica}: files differ: {', '.join(differ[:5])}")
        self.notes.append(f"volume {v.claim}-{v.module}-{v.workload}-{v.replica}: "
                          f"{len(src.splitlines())} files, all equal")

    def _compare_volume(self, v: VolumeExport) -> None:
        self._with_pods(v, lambda reader, writer: self._compare_files(v, reader, writer))

    def checklist(self) -> list[str]:
        a, b, slug = self.source, self.target, self.slug
        return [
            f"Cut-over of {slug} from cell {a.name} to cell {b.name} (the source stays frozen and protected):",
            f"1. bring the target's modules up: `pulumi up --refresh -s {slug}` against cell {b.name} "
            f"(kube context {b.kubeContext}); check every module in the target by its service before DNS changes;",
            f"2. DNS: lower the TTL of the municipality's host names ahead of time, then point them at cell "
            f"{b.name}'s Gateway address (`kubectl --context {b.kubeContext} -n urban-gateway get gateway -o "
            "wide`);",
            f"3. certificates: wait until cert-manager in cell {b.name} has issued the municipality's certificates "
            f"(`kubectl --context {b.kubeContext} -n {slug} get certificate`: Ready) — HTTP-01 needs step 2;",
            f"4. identity: the OIDC issuer changes from {a.keycloak_url}/realms/{slug} to "
            f"{b.keycloak_url}/realms/{slug} unless both cells serve one host name; tell the municipality's own "
            "OIDC clients and test a login;",
            f"5. the recovery cluster {self.recovery} in cell {b.name} is no longer needed: `kubectl --context "
            f"{b.kubeContext} -n {slug} delete cluster,networkpolicy {self.recovery}` and "
            f"`… delete objectstore,secret {ORIGIN_STORE}`;",
            f"6. once the municipality confirms that everything works in cell {b.name}, release the source: the same "
            "command with --release-source; afterwards delete the source namespace by hand "
            f"(`kubectl --context {a.kubeContext} delete namespace {slug}`).",
        ]

    def _checklist(self) -> None:
        atomic_write(self.folder / CUTOVER, "\n".join(self.checklist()) + "\n", PRIVATE)

    def _remove_source_backups(self) -> None:
        if self.source_offsite_s3 is None:
            raise MoveError("no S3 access to the source's off-site backups was given")
        delete_prefix(self.source_offsite_s3(), self.source.backups.bucket, f"{self.slug}/cnpg/")


def _keycloak(script: str) -> list[str]:
    return ["kubectl", "-n", names.NS_IDENTITY, "exec", f"{names.KEYCLOAK_NAME}-0", "--", "/bin/bash", "-c", script]


def _nonempty(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise MoveError(f"{path}: missing or empty")


# --- the command ---------------------------------------------------------------------------------------------


def folder_of(work_dir: Path, slug: str, source: Cell, target: Cell) -> Path:
    return work_dir / f"{slug}-{source.name}-to-{target.name}"


def prepare(slug: str, cells: Cells, to: str, work_dir: Path, *, source: str | None = None,
            release_source: bool = False, tenants_dir: Path | None = None, databases: Sequence[str] | None = None,
            volumes: Sequence[VolumeExport] | None = None, now: dt.datetime | None = None, **clients) -> Move:
    """The :class:`Move` of ``slug`` from cell ``source`` (default: the file's default cell) to ``to``; checks what
    can be checked before anything runs."""
    from urbanstack.ops.offboard import data_stores_of
    from urbanstack.ops.restore import RestoreError, _tenant

    try:
        tenant = _tenant(slug, tenants_dir)
    except RestoreError as exc:
        raise MoveError(str(exc)) from None
    a = cells.get(source or cells.default, "--from")
    b = cells.get(to, "--to")
    if a.name == b.name:
        raise MoveError(f"--to {to!r}: the municipality is already in cell {a.name}")
    if tenant.backup.target is not None:
        raise MoveError(f"tenants/{slug}.yaml: backup.target: a municipality with its own backup target keeps the "
                        "same backup path in every cell, where the target's cluster cannot archive; not supported "
                        "by a move yet (docs/operations.md, 'Moving a municipality to another cell')")
    same = (str(a.backups.endpoint), a.backups.bucket) == (str(b.backups.endpoint), b.backups.bucket)
    if same:
        raise MoveError(f"{cells.source}: cells {a.name} and {b.name} share the off-site backups "
                        f"s3://{a.backups.bucket}/{slug}/cnpg at {a.backups.endpoint}: the target's cluster would "
                        "archive into the source's archive; give each cell its own backups.bucket")
    if databases is None or volumes is None:
        try:
            found_dbs, found_volumes = data_stores_of(slug, tenants_dir)
        except OffboardError as exc:
            raise MoveError(str(exc)) from None
        databases = found_dbs if databases is None else databases
        volumes = found_volumes if volumes is None else volumes
    folder = folder_of(work_dir, slug, a, b)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S")
    if (folder / JOURNAL).is_file():
        with contextlib.suppress(OSError, ValueError):  # Journal.open reports it
            stamp = json.loads((folder / JOURNAL).read_text(encoding="utf-8")).get("stamp", stamp)
    move = Move(slug, tenant, a, b, folder, stamp, list(databases), list(volumes), release_source, **clients)
    # The municipality's stack in the source cell (catalogue/cells.py naming), removed by `pulumi destroy` at the end.
    move.source_stack = slug if a.name == cells.default else f"{slug}.{a.name}"
    return move


def run(move: Move, *, dry_run: bool = False) -> Iterator[str]:
    """Run (or with ``dry_run`` only list) the move's steps; yields one line per step."""
    plan = move.steps()
    if dry_run:
        yield (f"move {move.slug}: cell {move.source.name} ({move.source.kubeContext}) -> cell {move.target.name} "
               f"({move.target.kubeContext}); working folder {move.folder} (dry run: nothing is changed)")
        yield from (s.describe() for s in plan)
        return
    if move.runner is None:
        try:
            check_tools(plan, "a move")
        except OffboardError as exc:
            raise MoveError(str(exc)) from None
        if move.source_s3 is None or move.target_s3 is None:
            move.source_s3 = move.source_s3 or _bucket_client(move, move.source)
            move.target_s3 = move.target_s3 or _bucket_client(move, move.target)
        if move.source_offsite_s3 is None:
            move.source_offsite_s3 = _offsite_client(move)
    identity = {"slug": move.slug, "from": move.source.name, "to": move.target.name}
    journal = Journal.open(move.folder, identity, move.stamp)
    move.stamp = journal.stamp
    for name, text in (("final-backup.yaml", backup_manifest(move.slug, move.stamp, name=move.backup)),
                       ("recovery.yaml", yaml.safe_dump_all(move.recovery_docs(), sort_keys=False)),
                       ("lock.yaml", lock_manifest(move.slug))):
        atomic_write(move.folder / name, text, PRIVATE)
    plan = move.steps()
    for text in run_journaled(plan, journal, move.runner):
        yield text
        while move.notes:
            yield f"    {move.notes.pop(0)}"
    if move.release_source:
        yield (f"released: the source copy in cell {move.source.name} is locked, hibernated, its realm and off-site "
               f"backups deleted; delete the namespace by hand: kubectl --context {move.source.kubeContext} delete "
               f"namespace {move.slug}"
               + (f"; then remove the old stack's state: pulumi destroy -s {move.source_stack} (it runs no program; "
                  "its data-bearing resources are protected: `pulumi state unprotect` them first, or `pulumi stack "
                  "rm --force` to forget them, the cluster objects being gone)" if move.source_stack else ""))
    else:
        yield from move.checklist()
        yield (f"moved and verified; the source in cell {move.source.name} stays frozen and protected until "
               "--release-source")


def _bucket_client(move: Move, cell: Cell) -> Callable[[], S3Client]:
    def open_client() -> S3Client:
        import base64

        import boto3

        got = json.loads(move.capture(move.k(cell, "-n", move.slug, "get", "secret", names.bucket_claim(move.slug),
                                             "-o", "json")))
        key, secret = (base64.b64decode(got["data"][k]).decode() for k in ("AWS_ACCESS_KEY_ID",
                                                                          "AWS_SECRET_ACCESS_KEY"))
        return boto3.client("s3", endpoint_url=str(cell.objectStorage.endpoint).rstrip("/"),
                            region_name=cell.objectStorage.region, aws_access_key_id=key,
                            aws_secret_access_key=secret)

    return open_client


def _offsite_client(move: Move) -> Callable[[], S3Client]:
    def open_client() -> S3Client:
        import base64

        import boto3

        got = json.loads(move.capture(move.k(move.source, "-n", move.slug, "get", "secret", "backup-offsite",
                                             "-o", "json")))
        key, secret = (base64.b64decode(got["data"][k]).decode() for k in EXTERNAL_KEYS)
        b = move.source.backups
        return boto3.client("s3", endpoint_url=str(b.endpoint).rstrip("/"), region_name=b.region,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    return open_client

