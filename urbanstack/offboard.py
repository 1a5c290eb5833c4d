"""Offboarding a municipality: final backup, export of every data store, checksums, then (only then) release.

Removing ``tenants/<slug>.yaml`` never deletes anything (the stack no longer has a program, and every
data-bearing resource is protected and retained on delete). Offboarding is the explicit, ordered path
(docs/operations.md, "Offboarding", follows these steps one for one):

1. **final backup**: an on-demand CloudNativePG ``Backup`` through the Barman Cloud plugin, waited for;
2. **export** into ``<export-dir>/<slug>/``, one file per data store the catalogue declares
   (``ModuleSpec.data_stores``) plus the platform's own:

   * ``pg_dump`` (custom format) of ``geodata`` and of every module database;
   * a tar stream of every module volume, per replica (Node-RED ``/data``, CKAN uploads, REI3 files,
     the Solr index), taken with ``tar`` inside the running container;
   * the realm (Keycloak export with users);
   * the bucket's coordinates (ConfigMap ``<slug>-bucket``, which exists in both storage modes) and every
     object of the bucket, database backups included, copied with the municipality's own bucket keys;
3. **checksums**: ``SHA256SUMS`` over every exported file, written and then verified by reading each file
   again; a mismatch stops here;
4. **release** (only with ``--release``, only after 1-3 succeeded): what stays in the cluster is locked first
   (a deny-all NetworkPolicy ``offboarding-lock`` that Pulumi does not own and so does not delete, the
   database hibernated with CloudNativePG's ``cnpg.io/hibernation=on`` annotation, module StatefulSets
   scaled to zero), then ``pulumi state unprotect --all`` and ``pulumi destroy``. Data objects are
   ``retainOnDelete`` and stay, locked, until someone deletes the namespace (two keys: the municipality
   confirmed receipt of the export).

Every external step runs a command (``kubectl``, ``pulumi``); the bucket copy and the checksums run here in
Python. ``--dry-run`` prints every step instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalogue import names
from catalogue.schema import SLUG_PATTERN
from components.tenant.storage import bucket_name

CHECKSUMS = "SHA256SUMS"
LOCK_POLICY = "offboarding-lock"
HIBERNATION = "cnpg.io/hibernation"
"""CloudNativePG's declarative hibernation annotation and condition (docs: "Declarative hibernation")."""


class OffboardError(Exception):
    pass


@dataclass
class Step:
    title: str
    argv: list[str] = field(default_factory=list)
    stdout_to: Path | None = None
    phase: str = "export"
    action: Callable[[], None] | None = None
    """A step done here in Python (bucket copy, checksums) instead of a command."""
    stdin_from: Path | None = None

    def describe(self) -> str:
        if self.action is not None:
            return f"[{self.phase}] {self.title}"
        target = f" > {self.stdout_to}" if self.stdout_to else ""
        source = f" < {self.stdin_from}" if self.stdin_from else ""
        return f"[{self.phase}] {self.title}: {' '.join(self.argv)}{source}{target}"


@dataclass(frozen=True)
class VolumeExport:
    """One replica's copy of a module volume (``DataStore`` of kind ``volume``)."""

    module: str
    workload: str
    claim: str
    container: str
    path: str
    replica: int = 0

    @property
    def pod(self) -> str:
        return f"{self.module}-{self.workload}-{self.replica}"

    @property
    def file(self) -> str:
        return f"volume-{self.module}-{self.workload}-{self.claim}-{self.replica}.tar"


Runner = Callable[..., int]
"""``runner(argv, stdout_to)`` or, for a step that reads a file, ``runner(argv, stdout_to, stdin_from)``."""
S3Client = Any
"""A boto3 S3 client for the municipality's bucket (its own keys)."""


def _run(argv: Sequence[str], stdout_to: Path | None, stdin_from: Path | None = None) -> int:
    out = stdout_to.open("wb") if stdout_to else None
    inp = stdin_from.open("rb") if stdin_from else None
    try:
        return subprocess.run(list(argv), stdout=out, stdin=inp, check=False).returncode
    finally:
        for fh in (out, inp):
            if fh is not None:
                fh.close()


def check_tools(plan: Sequence[Step], what: str) -> None:
    for tool in sorted({s.argv[0] for s in plan if s.argv}):
        if shutil.which(tool) is None:
            raise OffboardError(f"'{tool}' is needed for {what} but was not found on PATH")


def execute(plan: Sequence[Step], runner: Runner | None = None, what: str = "offboarding",
            still: str = "protection is still in place") -> Iterator[str]:
    """Run the steps in order, one line each; stop at the first failure with an error naming the step."""
    run_cmd = runner or _run
    if runner is None:
        check_tools(plan, what)
    for s in plan:
        if s.action is not None:
            try:
                s.action()
            except OffboardError as exc:
                raise OffboardError(f"step '{s.title}' failed: {exc}; nothing after it was done, {still}") from None
            except Exception as exc:  # boto3/botocore and file errors: reported, never a traceback
                raise OffboardError(f"step '{s.title}' failed: {type(exc).__name__}: {exc}; nothing after it "
                                    f"was done, {still}") from None
        else:
            code = run_cmd(s.argv, s.stdout_to, s.stdin_from) if s.stdin_from else run_cmd(s.argv, s.stdout_to)
            if code != 0:
                raise OffboardError(f"step '{s.title}' failed (exit {code}): {' '.join(s.argv)}; "
                                    f"nothing after it was done, {still}")
        yield f"ok [{s.phase}] {s.title}"


def backup_manifest(slug: str, stamp: str) -> str:
    return (
        "apiVersion: postgresql.cnpg.io/v1\nkind: Backup\n"
        f"metadata:\n  name: offboarding-{stamp}\n  namespace: {slug}\n"
        f"spec:\n  cluster:\n    name: {names.DB_CLUSTER}\n  method: plugin\n"
        f"  pluginConfiguration:\n    name: {names.BARMAN_PLUGIN}\n"
    )


def lock_manifest(slug: str) -> str:
    """Deny all traffic to and from every pod of the namespace. Not owned by Pulumi: ``destroy`` keeps it."""
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata:\n  name: {LOCK_POLICY}\n  namespace: {slug}\n"
        "  labels:\n    app.kubernetes.io/managed-by: urbanstack-offboarding\n"
        "spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"
    )


def export_bucket(client: S3Client, bucket: str, dest: Path) -> int:
    """Copy every object of ``bucket`` (database backups included) below ``dest``; return the count.

    Keys are kept as relative paths; a key that would leave ``dest`` (``..``, absolute) is refused.
    """
    count = 0
    root = dest.resolve()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            target = (dest / obj["Key"]).resolve()
            if root not in target.parents:
                raise OffboardError(f"bucket {bucket}: object key {obj['Key']!r} would be written outside {dest}")
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, obj["Key"], str(target))
            count += 1
    return count


def _export_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and p.name != CHECKSUMS)


def write_checksums(out: Path) -> None:
    lines = [f"{_sha256(p)}  {p.relative_to(out).as_posix()}" for p in _export_files(out)]
    (out / CHECKSUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def verify_checksums(out: Path) -> None:
    """Every exported file is listed in ``SHA256SUMS`` with its current digest, and nothing listed is missing."""
    listed: dict[str, str] = {}
    for line in (out / CHECKSUMS).read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    present = {p.relative_to(out).as_posix(): p for p in _export_files(out)}
    problems = [f"{n}: not in {CHECKSUMS}" for n in sorted(set(present) - set(listed))]
    problems += [f"{n}: listed but missing" for n in sorted(set(listed) - set(present))]
    problems += [f"{n}: checksum differs" for n in sorted(set(listed) & set(present))
                 if _sha256(present[n]) != listed[n]]
    if problems:
        raise OffboardError(f"{out / CHECKSUMS}: the export does not match its checksums: " + "; ".join(problems))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def steps(slug: str, export_dir: Path, databases: Sequence[str], release: bool, stamp: str,
          volumes: Sequence[VolumeExport] = (), s3: Callable[[], S3Client] | None = None) -> list[Step]:
    """The ordered steps of an offboarding (tests and ``--dry-run`` read them).

    ``s3`` opens a client on the municipality's bucket when the bucket step runs (its keys are read then).
    """
    out = export_dir / slug
    keycloak = f"{names.KEYCLOAK_NAME}-0"
    realm_file = f"/tmp/{slug}-realm.json"
    bucket = bucket_name(slug)
    plan = [
        Step("final backup: request", ["kubectl", "apply", "-f", str(out / "final-backup.yaml")], phase="backup"),
        Step("final backup: wait until completed",
             ["kubectl", "-n", slug, "wait", f"backup/offboarding-{stamp}", "--for=jsonpath={.status.phase}=completed",
              "--timeout=2h"], phase="backup"),
    ]
    for db in databases:
        # svc/postgis-rw resolves to the primary; pg_dump runs as postgres over the local socket.
        plan.append(Step(f"export database {db}",
                         ["kubectl", "-n", slug, "exec", f"svc/{names.DB_CLUSTER}-rw", "-c", "postgres", "--",
                          "pg_dump", "-Fc", "-d", db],
                         stdout_to=out / f"{db}.dump"))
    for v in volumes:
        plan.append(Step(f"export volume {v.claim} of {v.module}-{v.workload} (replica {v.replica}, {v.path})",
                         ["kubectl", "-n", slug, "exec", v.pod, "-c", v.container, "--",
                          "tar", "-C", v.path, "-cf", "-", "."],
                         stdout_to=out / v.file))
    plan += [
        Step("export realm (with users, into the Keycloak pod)",
             ["kubectl", "-n", names.NS_IDENTITY, "exec", keycloak, "--", "/opt/keycloak/bin/kc.sh", "export",
              "--realm", slug, "--users", "realm_file", "--file", realm_file]),
        Step("copy the realm export", ["kubectl", "-n", names.NS_IDENTITY, "cp", f"{keycloak}:{realm_file}",
                                       str(out / "realm.json")]),
        # ConfigMap <slug>-bucket exists in both storage modes (Rook writes it for the claim; in external
        # mode the stack publishes it), unlike the ObjectBucketClaim.
        Step("bucket coordinates", ["kubectl", "-n", slug, "get", "configmap", names.bucket_claim(slug), "-o", "yaml"],
             stdout_to=out / "bucket.yaml"),
    ]

    def copy_bucket() -> None:
        if s3 is None:
            raise OffboardError("no S3 access to the bucket was given")
        export_bucket(s3(), bucket, out / "bucket")

    plan += [
        Step(f"export every object of s3://{bucket} (database backups included) into {out / 'bucket'}",
             action=copy_bucket),
        Step(f"write {CHECKSUMS}", phase="verify", action=lambda: write_checksums(out)),
        Step(f"verify every exported file against {CHECKSUMS}", phase="verify", action=lambda: verify_checksums(out)),
    ]
    if release:
        plan += [
            Step("lock: deny all traffic in the namespace (kept after destroy)",
                 ["kubectl", "apply", "-f", str(out / "lock.yaml")], phase="release"),
            Step("lock: hibernate the database (pods removed, volumes kept)",
                 ["kubectl", "-n", slug, "annotate", f"cluster/{names.DB_CLUSTER}", "--overwrite", f"{HIBERNATION}=on"],
                 phase="release"),
            Step("lock: wait until the database is hibernated",
                 ["kubectl", "-n", slug, "wait", f"cluster/{names.DB_CLUSTER}", f"--for=condition={HIBERNATION}",
                  "--timeout=15m"], phase="release"),
            Step("lock: stop the module workloads (volumes kept)",
                 ["kubectl", "-n", slug, "scale", "statefulset,deployment", "--all", "--replicas=0"],
                 phase="release"),
            Step("release protection", ["pulumi", "state", "unprotect", "--all", "--yes", "-s", slug], phase="release"),
            Step("remove the stack's resources (data objects are retained in the cluster, locked)",
                 ["pulumi", "destroy", "--yes", "--skip-preview", "-s", slug], phase="release"),
        ]
    return plan


def run(slug: str, export_dir: Path, *, release: bool = False, dry_run: bool = False,
        databases: Sequence[str] | None = None, volumes: Sequence[VolumeExport] | None = None,
        runner: Runner | None = None, s3: Callable[[], S3Client] | None = None,
        s3_endpoint: str | None = None, today: dt.date | None = None) -> Iterator[str]:
    """Offboard ``slug``; yields one line per step; stops at the first failing step (release never runs then).

    ``databases``/``volumes`` default to the data stores of the tenant file's booked modules; ``s3`` to a
    client on ``s3_endpoint`` (or the external provider's endpoint) with the keys of Secret ``<slug>-bucket``.
    """
    if not re.match(SLUG_PATTERN, slug):
        raise OffboardError(f"'{slug}' is not a valid municipality slug")
    if databases is None or volumes is None:
        found_dbs, found_volumes = data_stores_of(slug)
        databases = found_dbs if databases is None else databases
        volumes = found_volumes if volumes is None else volumes
    stamp = (today or dt.date.today()).strftime("%Y%m%d")
    if s3 is None and not dry_run:
        s3 = _bucket_client_factory(slug, s3_endpoint)
    plan = steps(slug, export_dir, databases, release, stamp, volumes, s3)
    if dry_run:
        for s in plan:
            yield s.describe()
        return
    if runner is None:
        check_tools(plan, "offboarding")  # before anything is written
    out = export_dir / slug
    out.mkdir(parents=True, exist_ok=True)
    (out / "final-backup.yaml").write_text(backup_manifest(slug, stamp), encoding="utf-8")
    (out / "lock.yaml").write_text(lock_manifest(slug), encoding="utf-8")
    yield from execute(plan, runner)
    if not release:
        yield f"export complete and verified in {out}; run again with --release once the municipality has confirmed receipt"


def data_stores_of(slug: str, tenants_dir: Path | None = None) -> tuple[list[str], list[VolumeExport]]:
    """Databases and volumes of the municipality: geodata plus the data stores its booked modules declare."""
    from catalogue.modules import CATALOGUE
    from catalogue.tenants import TenantError, load_all
    from components.tenant.database import GEODATA

    try:
        tenant = load_all([tenants_dir] if tenants_dir else None).get(slug)
    except TenantError:
        tenant = None
    if tenant is None:
        raise OffboardError(f"tenants/{slug}.yaml not found: pass the databases explicitly "
                            "(the file may already have been removed; restore it from git for the offboarding)")
    databases, volumes = [GEODATA], []
    for key in tenant.booked():
        spec = CATALOGUE[key]
        for store in spec.data_stores:
            if store.kind == "database":
                databases.append(store.name)
            elif store.kind == "volume":
                replicas = spec.workloads[store.workload].replicas[tenant.plan]
                volumes += [VolumeExport(spec.name, store.workload, store.name, store.container, store.path, i)
                            for i in range(replicas)]
    return databases, volumes


def _bucket_client_factory(slug: str, endpoint: str | None) -> Callable[[], S3Client]:
    """Open a client on the municipality's bucket with its own keys (Secret ``<slug>-bucket``).

    The endpoint: ``endpoint`` if given, else the external provider's (``storage.external.endpoint``). Rook's
    RGW is reachable inside the cluster only: port-forward it and pass ``--s3-endpoint`` (docs/operations.md).
    """
    from catalogue.shared_config import load_file

    storage = load_file().storage
    if endpoint is None and storage.mode == "external" and storage.external is not None:
        endpoint = str(storage.external.endpoint).rstrip("/")
    if endpoint is None:
        raise OffboardError(
            "storage mode rook-ceph: the bucket is reachable inside the cluster only. Run "
            f"`kubectl -n {names.NS_STORAGE} port-forward svc/rook-ceph-rgw-{names.OBJECT_STORE} 8080:{names.RGW_PORT}` "
            "and pass --s3-endpoint http://127.0.0.1:8080")
    region = storage.external.region if storage.external is not None else "us-east-1"

    def open_client() -> S3Client:
        import base64
        import json

        import boto3

        got = subprocess.run(["kubectl", "-n", slug, "get", "secret", names.bucket_claim(slug), "-o", "json"],
                             capture_output=True, check=False)
        if got.returncode != 0:
            raise OffboardError(f"Secret {slug}/{names.bucket_claim(slug)} could not be read: "
                                f"{got.stderr.decode().strip()}")
        data = json.loads(got.stdout)["data"]
        key, secret = (base64.b64decode(data[k]).decode() for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
        return boto3.client("s3", endpoint_url=endpoint, region_name=region,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    return open_client
