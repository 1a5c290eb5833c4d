"""Offboarding a municipality: identity closed at once, final backup, encrypted export of every data store,
checksums, then (only then) release.

Removing ``tenants/<slug>.yaml`` never deletes anything (the stack no longer has a program, and every
data-bearing resource is protected and retained on delete). Offboarding is the explicit, ordered path
(docs/operations.md, "Offboarding", follows these steps one for one):

0. **identity**: realm ``<slug>`` is disabled at once (kcadm in the Keycloak pod): its users can no longer log in;
1. **final backup**: an on-demand CloudNativePG ``Backup`` through the Barman Cloud plugin, waited for;
2. **export** into ``<export-dir>/<slug>/`` (folders 0700, files 0600, created under umask 077; every file
   encrypted with age to the ``--recipient`` public keys as soon as it is written, the plaintext removed; an
   export refuses to run without a recipient), one file per data store the catalogue declares
   (``ModuleSpec.data_stores``) plus the platform's own:

   * ``pg_dump`` (custom format) of ``geodata`` and of every module database;
   * a tar stream of every module volume, per replica (Node-RED ``/data``, CKAN uploads, REI3 files,
     the Solr index), taken with ``tar`` inside the running container;
   * the realm (Keycloak export with users), streamed out of the pod by the command that wrote it, which
     removes the dump inside the pod however it ends;
   * the bucket's coordinates (ConfigMap ``<slug>-bucket``, which exists in both storage modes) and every
     object of the bucket, copied with the municipality's own bucket keys;
   * the database backups at the operator's off-site target (``<slug>/cnpg/``), copied with the municipality's
     off-site keys (Secret ``backup-offsite``);
3. **checksums**: ``SHA256SUMS`` over every exported (encrypted) file, written and then verified by reading each
   file again; a mismatch stops here;
4. **release** (only with ``--release``, only after 0-3 succeeded): what stays in the cluster is locked first
   (a deny-all NetworkPolicy ``offboarding-lock`` that Pulumi does not own and so does not delete, the
   database hibernated with CloudNativePG's ``cnpg.io/hibernation=on`` annotation, module StatefulSets
   scaled to zero); realm ``<slug>``, the master realm's job client ``realm-job-<slug>`` and its Secret are
   deleted (all three made by the municipality's own stack, its bootstrap job: docs/decisions/0013; the shared
   stack holds nothing of the realm); the off-site backups are removed; then ``pulumi state unprotect --all``
   and ``pulumi destroy``.
   Data objects are ``retainOnDelete`` and stay, locked, until someone deletes the namespace (two keys: the
   municipality confirmed receipt of the export).

Every step is safe to repeat: after a failure, run the same command again. Every external step runs a command
(``kubectl``, ``pulumi``); the bucket copies, encryption and checksums run here in Python. ``--dry-run`` prints
every step instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
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
    seal: Callable[[Path], None] | None = None
    """Encrypts ``stdout_to`` once the command succeeded (and removes the plaintext); on failure the partial
    output is removed."""

    def describe(self) -> str:
        if self.action is not None:
            return f"[{self.phase}] {self.title}"
        target = f" > {self.stdout_to}" if self.stdout_to else ""
        if self.stdout_to and self.seal is not None:
            target += f" (then encrypted into {self.stdout_to.name}{AGE_SUFFIX}, the plaintext removed)"
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


def private_dir(path: Path) -> Path:
    """``path`` and any parent created here: mode 0700 (created under umask 077); an existing ``path`` is tightened
    to 0700. Exports and restore dumps hold password hashes, one-time-code seeds and personal data."""
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create (or empty) ``path`` with mode 0600 before anything is written into it; returns ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    path.chmod(0o600)
    return path


def _run(argv: Sequence[str], stdout_to: Path | None, stdin_from: Path | None = None) -> int:
    out = private_file(stdout_to).open("wb") if stdout_to else None
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
                if s.seal is not None and s.stdout_to is not None:
                    s.stdout_to.unlink(missing_ok=True)  # no partial plaintext is left behind
                raise OffboardError(f"step '{s.title}' failed (exit {code}): {' '.join(s.argv)}; "
                                    f"nothing after it was done, {still}")
            if s.seal is not None and s.stdout_to is not None:
                try:
                    s.seal(s.stdout_to)
                except Exception as exc:
                    s.stdout_to.unlink(missing_ok=True)
                    raise OffboardError(f"step '{s.title}' failed: encrypting {s.stdout_to.name}: "
                                        f"{type(exc).__name__}: {exc}; nothing after it was done, {still}") from None
        yield f"ok [{s.phase}] {s.title}"


def backup_manifest(namespace: str, stamp: str, cluster: str = names.DB_CLUSTER, name: str | None = None) -> str:
    """An on-demand ``Backup`` of ``cluster`` through the Barman Cloud plugin (default name ``offboarding-<stamp>``)."""
    return (
        "apiVersion: postgresql.cnpg.io/v1\nkind: Backup\n"
        f"metadata:\n  name: {name or f'offboarding-{stamp}'}\n  namespace: {namespace}\n"
        f"spec:\n  cluster:\n    name: {cluster}\n  method: plugin\n"
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


AGE_SUFFIX = ".age"


def sealer(recipients: Sequence[str]) -> Callable[[Path], None]:
    """Encrypt a file to every age recipient (``age1…`` public keys) with pyrage (the age format, PyPI wheels,
    no tool to install; README "Dependencies"): ``<file>`` becomes ``<file>.age`` (0600) and the plaintext is
    removed. Decrypt with ``age -d -i KEY <file>.age`` (or rage/pyrage)."""
    import pyrage

    if not recipients:
        raise OffboardError("the export is encrypted: pass at least one --recipient (an age public key, age1…; "
                            "`age-keygen` makes a key pair, the municipality and the operator keep the private key)")
    parsed = []
    for text in recipients:
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except Exception:
            raise OffboardError(f"--recipient {text!r}: not an age public key (age1…)") from None

    def seal(path: Path) -> None:
        target = private_file(path.with_name(path.name + AGE_SUFFIX))
        try:
            pyrage.encrypt_file(str(path), str(target), parsed)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        finally:
            path.unlink(missing_ok=True)

    return seal


def _not_run(path: Path) -> None:
    """The seal of a ``--dry-run`` without recipients: steps are only described, never run."""
    raise OffboardError(f"{path}: a dry run encrypts nothing")


def export_bucket(client: S3Client, bucket: str, dest: Path, seal: Callable[[Path], None] | None = None,
                  prefix: str = "") -> int:
    """Copy every object of ``bucket`` below ``prefix`` into ``dest`` (folders 0700, files 0600, each sealed at
    once when ``seal`` is given); return the count.

    Keys are kept as paths relative to ``prefix``; a key that would leave ``dest`` (``..``, absolute) is refused.
    """
    count = 0
    root = dest.resolve()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, **({"Prefix": prefix} if prefix else {}))
    for page in pages:
        for obj in page.get("Contents", []):
            target = (dest / obj["Key"].removeprefix(prefix)).resolve()
            if root not in target.parents:
                raise OffboardError(f"bucket {bucket}: object key {obj['Key']!r} would be written outside {dest}")
            private_dir(target.parent)
            private_file(target)
            try:
                client.download_file(bucket, obj["Key"], str(target))
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            if seal is not None:
                seal(target)
            count += 1
    return count


def delete_prefix(client: S3Client, bucket: str, prefix: str) -> int:
    """Delete every object (every version, where the bucket keeps versions) below ``prefix``; return the count."""
    count = 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                 for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
        for start in range(0, len(batch), 1000):
            chunk = batch[start:start + 1000]
            # GOVERNANCE-mode object lock (docs/operations.md, Backups): honoured only with s3:BypassGovernanceRetention.
            done = client.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True},
                                         BypassGovernanceRetention=True)
            if done.get("Errors"):
                first = done["Errors"][0]
                raise OffboardError(f"s3://{bucket}/{first.get('Key')}: {first.get('Code')} {first.get('Message')} "
                                    "(object lock still in force? delete again after it ends)")
            count += len(chunk)
    return count


@dataclass(frozen=True)
class OffsiteBackups:
    """A municipality's database backups at the operator's off-site target (shared config ``backup.offsite``)."""

    bucket: str
    prefix: str
    """``<slug>/cnpg/``: where ``components/tenant/database.py`` ``backup_store`` puts them."""


REALM_EXPORT = "/tmp/realm-export-{slug}.json"
KCADM = "/opt/keycloak/bin/kcadm.sh"
KC = "/opt/keycloak/bin/kc.sh"
_CLEANUP = "trap 'rm -f \"$f\"' EXIT; trap 'exit 1' HUP INT TERM; "
"""bash runs the EXIT trap on every exit; a hang-up or kill (kubectl exec interrupted) exits through it."""


def keycloak_exec(script: str) -> list[str]:
    """``script`` run by bash in the Keycloak pod (the image has bash: kc.sh is a bash script)."""
    return ["kubectl", "-n", names.NS_IDENTITY, "exec", f"{names.KEYCLOAK_NAME}-0", "--", "/bin/bash", "-c", script]


def realm_export_script(slug: str) -> str:
    """Export realm ``slug`` with its users into a file only the Keycloak user can read, print it to stdout (the
    export file here receives it), and remove the file in the pod on success, failure or interruption."""
    return (f"umask 077; f={REALM_EXPORT.format(slug=slug)}; rm -f \"$f\"; {_CLEANUP}"
            f"{KC} export --realm {slug} --users realm_file --file \"$f\" >&2 && cat \"$f\"")


def kcadm_script(commands: str) -> str:
    """kcadm.sh logged in to the master realm as the bootstrap service account (the Keycloak operator maps
    ``spec.bootstrapAdmin.service.secret`` keys ``client-id``/``client-secret`` to the pod's env
    ``KC_BOOTSTRAP_ADMIN_CLIENT_ID``/``KC_BOOTSTRAP_ADMIN_CLIENT_SECRET``: keycloak/keycloak
    ``operator/src/main/java/org/keycloak/operator/controllers/KeycloakDistConfigurator.java``,
    ``configureBootstrapAdmin``; to confirm at tag 26.4.5 on a first deployment), with a
    private config file (it holds the token) that is removed however the script ends; ``k`` is kcadm."""
    return (f"umask 077; f=$(mktemp); {_CLEANUP}"
            f"k() {{ {KCADM} \"$@\" --config \"$f\"; }}; "
            f"k config credentials --server http://localhost:{names.KEYCLOAK_HTTP_PORT} --realm master "
            "--client \"$KC_BOOTSTRAP_ADMIN_CLIENT_ID\" --secret \"$KC_BOOTSTRAP_ADMIN_CLIENT_SECRET\" >&2 && "
            + commands)


def identity_steps(slug: str) -> tuple[list[Step], list[Step]]:
    """(first step, release steps) that remove the municipality from identity: realm ``slug`` disabled at once
    (nobody logs in any more; resumable: disabling twice is harmless), deleted only after the confirmed release,
    with the master realm's job client ``realm-job-<slug>`` and its Secret.

    Realm, client and Secret are made by the municipality's stack (its bootstrap job and Secret
    ``realm-job-<slug>``, ``components/tenant/identity.py``); they are deleted here, before ``pulumi destroy``, so
    that the credentials end with the realm even if the destroy fails. No master realm job re-creates them: the
    shared stack lists no municipality, and the bootstrap job runs only within the municipality's own stack. Its
    keycloak-config-cli bookkeeping stays in the master realm (attributes ``de.adorsys.keycloak.config.state-
    bootstrap-<slug>-clients-0`` and ``…import-checksum-bootstrap-<slug>``): two short strings that name no
    credential; a municipality joining again under the same slug brings a new client secret, so its document's
    checksum differs and the bootstrap is applied in full."""
    client = names.realm_job_client(slug)
    first = [Step(f"identity: disable realm {slug} at once (its users can no longer log in)",
                  keycloak_exec(kcadm_script(
                      f"if k get realms/{slug} --fields realm >/dev/null 2>&1; then k update realms/{slug} -s "
                      f"enabled=false; else echo 'realm {slug} does not exist (already deleted)' >&2; fi")),
                  phase="identity")]
    release = [
        Step(f"identity: delete realm {slug} (users, password hashes, one-time-code seeds, directory credentials)",
             keycloak_exec(kcadm_script(
                 f"if k get realms/{slug} --fields realm >/dev/null 2>&1; then k delete realms/{slug}; "
                 f"else echo 'realm {slug} is already deleted' >&2; fi")), phase="release"),
        Step(f"identity: delete the realm job client {client} of the master realm",
             keycloak_exec(kcadm_script(
                 f"ids=$(k get clients -r master -q clientId={client} --fields id --format csv --noquotes) && "
                 f"for i in $ids; do k delete clients/$i -r master || exit 1; done")), phase="release"),
        Step(f"identity: delete Secret {client} (its credentials)",
             ["kubectl", "-n", names.NS_IDENTITY, "delete", "secret", client, "--ignore-not-found"], phase="release"),
    ]
    return first, release


def _export_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and p.name != CHECKSUMS)


def write_checksums(out: Path) -> None:
    lines = [f"{_sha256(p)}  {p.relative_to(out).as_posix()}" for p in _export_files(out)]
    private_file(out / CHECKSUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")


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
          volumes: Sequence[VolumeExport] = (), s3: Callable[[], S3Client] | None = None,
          seal: Callable[[Path], None] | None = None, offsite: OffsiteBackups | None = None,
          offsite_s3: Callable[[], S3Client] | None = None) -> list[Step]:
    """The ordered steps of an offboarding (tests and ``--dry-run`` read them).

    ``s3`` opens a client on the municipality's bucket when the bucket step runs (its keys are read then);
    ``offsite_s3`` one on the off-site target with the municipality's off-site keys. ``seal`` encrypts each
    exported file as soon as it is written (:func:`sealer`).
    """
    out = export_dir / slug
    bucket = bucket_name(slug)
    first, identity_release = identity_steps(slug)
    plan = [
        *first,
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
                         stdout_to=out / f"{db}.dump", seal=seal))
    for v in volumes:
        plan.append(Step(f"export volume {v.claim} of {v.module}-{v.workload} (replica {v.replica}, {v.path})",
                         ["kubectl", "-n", slug, "exec", v.pod, "-c", v.container, "--",
                          "tar", "-C", v.path, "-cf", "-", "."],
                         stdout_to=out / v.file, seal=seal))
    plan += [
        # One command: the dump inside the pod is written 0600 and removed however the command ends.
        Step(f"export realm {slug} with its users (the dump in the Keycloak pod is removed in the same step)",
             keycloak_exec(realm_export_script(slug)), stdout_to=out / "realm.json", seal=seal),
        # ConfigMap <slug>-bucket exists in both storage modes (Rook writes it for the claim; in external
        # mode the stack publishes it), unlike the ObjectBucketClaim.
        Step("bucket coordinates", ["kubectl", "-n", slug, "get", "configmap", names.bucket_claim(slug), "-o", "yaml"],
             stdout_to=out / "bucket.yaml", seal=seal),
    ]

    def copy_bucket() -> None:
        if s3 is None:
            raise OffboardError("no S3 access to the bucket was given")
        export_bucket(s3(), bucket, out / "bucket", seal)

    sealed = ", each object encrypted" if seal is not None else ""
    plan.append(Step(f"export every object of s3://{bucket} into {out / 'bucket'} (module files; the database "
                     f"backups too where they are kept in the bucket{sealed})", action=copy_bucket))
    if offsite is not None:
        def copy_offsite() -> None:
            if offsite_s3 is None:
                raise OffboardError("no S3 access to the off-site target was given")
            export_bucket(offsite_s3(), offsite.bucket, out / "offsite-backups", seal, prefix=offsite.prefix)

        plan.append(Step(f"export the off-site database backups s3://{offsite.bucket}/{offsite.prefix} into "
                         f"{out / 'offsite-backups'}{' (each object encrypted)' if seal is not None else ''}",
                         action=copy_offsite))
    plan += [
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
            *identity_release,
        ]
        if offsite is not None:
            def remove_offsite() -> None:
                if offsite_s3 is None:
                    raise OffboardError("no S3 access to the off-site target was given")
                delete_prefix(offsite_s3(), offsite.bucket, offsite.prefix)

            # Before destroy: the keys are in Secret backup-offsite, which the stack owns (the database is
            # hibernated: nothing archives any more).
            plan.append(Step(f"remove the off-site database backups s3://{offsite.bucket}/{offsite.prefix} "
                             "(exported and verified above)", phase="release", action=remove_offsite))
        plan += [
            Step("release protection", ["pulumi", "state", "unprotect", "--all", "--yes", "-s", slug], phase="release"),
            Step("remove the stack's resources (data objects are retained in the cluster, locked)",
                 ["pulumi", "destroy", "--yes", "--skip-preview", "-s", slug], phase="release"),
        ]
    return plan


def run(slug: str, export_dir: Path, *, release: bool = False, dry_run: bool = False,
        databases: Sequence[str] | None = None, volumes: Sequence[VolumeExport] | None = None,
        runner: Runner | None = None, s3: Callable[[], S3Client] | None = None,
        s3_endpoint: str | None = None, today: dt.date | None = None, recipients: Sequence[str] = (),
        offsite: OffsiteBackups | None = None, offsite_s3: Callable[[], S3Client] | None = None) -> Iterator[str]:
    """Offboard ``slug``; yields one line per step; stops at the first failing step (release never runs then).

    ``databases``/``volumes`` default to the data stores of the tenant file's booked modules (and then
    ``offsite`` to its off-site backups, when the shared config has an off-site target and the tenant file no own
    target); ``s3`` to a client on ``s3_endpoint`` (or the external provider's endpoint) with the keys of Secret
    ``<slug>-bucket``; ``offsite_s3`` to one on the off-site target with the keys of Secret ``backup-offsite``.
    Every exported file is encrypted to ``recipients`` (age public keys); an export refuses to run without one.
    Resumable: run it again after a failure, every step is safe to repeat.
    """
    if not re.match(SLUG_PATTERN, slug):
        raise OffboardError(f"'{slug}' is not a valid municipality slug")
    if databases is None or volumes is None:
        found_dbs, found_volumes = data_stores_of(slug)
        databases = found_dbs if databases is None else databases
        volumes = found_volumes if volumes is None else volumes
        offsite = offsite_of(slug) if offsite is None else offsite
    stamp = (today or dt.date.today()).strftime("%Y%m%d")
    seal = _not_run if dry_run and not recipients else sealer(recipients)
    if s3 is None and not dry_run:
        s3 = _bucket_client_factory(slug, s3_endpoint)
    if offsite is not None and offsite_s3 is None and not dry_run:
        offsite_s3 = _offsite_client_factory(slug)
    plan = steps(slug, export_dir, databases, release, stamp, volumes, s3, seal, offsite, offsite_s3)
    if dry_run:
        for s in plan:
            yield s.describe()
        return
    if runner is None:
        check_tools(plan, "offboarding")  # before anything is written
    out = private_dir(export_dir / slug)
    private_file(out / "final-backup.yaml").write_text(backup_manifest(slug, stamp), encoding="utf-8")
    private_file(out / "lock.yaml").write_text(lock_manifest(slug), encoding="utf-8")
    yield from execute(plan, runner)
    if not release:
        yield (f"export complete, encrypted and verified in {out}; realm {slug} is disabled; run again with "
               "--release once the municipality has confirmed receipt")
    else:
        yield (f"released; realm {slug} and its realm-job client are gone (the shared stack holds nothing of them); "
               f"remove tenants/{slug}.yaml and run `pulumi up -s shared` for the shared objects that still name "
               f"{slug} (docs/operations.md, Offboarding)")


def offsite_of(slug: str, tenants_dir: Path | None = None) -> OffsiteBackups | None:
    """The municipality's backups at the operator's off-site target, or None (its own target, or none)."""
    from catalogue.shared_config import load_file
    from catalogue.tenants import load_all
    from components.tenant.database import uses_offsite

    tenant = load_all([tenants_dir] if tenants_dir else None).get(slug)
    offsite = load_file().backup.offsite
    if tenant is None or not uses_offsite(tenant, offsite):
        return None
    return OffsiteBackups(offsite.bucket, f"{slug}/cnpg/")


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


def _secret_keys(namespace: str, name: str, keys: tuple[str, str]) -> tuple[str, str]:
    import base64
    import json

    got = subprocess.run(["kubectl", "-n", namespace, "get", "secret", name, "-o", "json"],
                         capture_output=True, check=False)
    if got.returncode != 0:
        raise OffboardError(f"Secret {namespace}/{name} could not be read: {got.stderr.decode().strip()}")
    data = json.loads(got.stdout)["data"]
    return tuple(base64.b64decode(data[k]).decode() for k in keys)  # type: ignore[return-value]


def _offsite_client_factory(slug: str) -> Callable[[], S3Client]:
    """A client on the off-site target with the municipality's own off-site keys (Secret ``backup-offsite``)."""
    from catalogue.shared_config import OFFSITE_SECRET, load_file

    offsite = load_file().backup.offsite

    def open_client() -> S3Client:
        import boto3

        key, secret = _secret_keys(slug, OFFSITE_SECRET, ("ACCESS_KEY_ID", "ACCESS_SECRET_KEY"))
        return boto3.client("s3", endpoint_url=str(offsite.endpoint).rstrip("/"), region_name=offsite.region,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    return open_client
