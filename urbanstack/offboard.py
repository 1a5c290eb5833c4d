"""Offboarding a municipality: final backup, export, then (only then) release of protection.

Removing ``tenants/<slug>.yaml`` never deletes anything (the stack no longer has a program, and every
data-bearing resource is protected and retained on delete). Offboarding is the explicit, ordered path:

1. **final backup**: an on-demand CloudNativePG ``Backup`` through the Barman Cloud plugin, waited for;
2. **export**: ``pg_dump`` (custom format) of every database of the municipality's cluster, the realm
   (Keycloak partial export: groups, roles, clients; users stay in the municipality's own directory or
   are re-invited) and the bucket listing, into ``<export-dir>/<slug>/``, with a SHA-256 manifest;
3. **release** (only with ``--release``, only after 1 and 2 succeeded): ``pulumi state unprotect --all`` and
   ``pulumi destroy`` of the stack. Because data resources are ``retainOnDelete``, the namespace, database
   cluster and bucket still exist in the cluster afterwards: deleting them is a separate, manual
   ``kubectl delete namespace <slug>`` once the municipality has confirmed receipt of the export (two keys).

Every step runs an external command (``kubectl``, ``pulumi``); ``--dry-run`` prints them instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from components import names
from components.tenant.database import BARMAN_PLUGIN
from components.tenant.netpol import DB_CLUSTER
from urbanstack.schema import SLUG_PATTERN


class OffboardError(Exception):
    pass


@dataclass
class Step:
    title: str
    argv: list[str]
    stdout_to: Path | None = None
    phase: str = "export"


Runner = Callable[[Sequence[str], Path | None], int]


def _run(argv: Sequence[str], stdout_to: Path | None) -> int:
    if stdout_to is None:
        return subprocess.run(list(argv), check=False).returncode
    with stdout_to.open("wb") as fh:
        return subprocess.run(list(argv), stdout=fh, check=False).returncode


def backup_manifest(slug: str, stamp: str) -> str:
    return (
        "apiVersion: postgresql.cnpg.io/v1\nkind: Backup\n"
        f"metadata:\n  name: offboarding-{stamp}\n  namespace: {slug}\n"
        f"spec:\n  cluster:\n    name: {DB_CLUSTER}\n  method: plugin\n"
        f"  pluginConfiguration:\n    name: {BARMAN_PLUGIN}\n"
    )


def steps(slug: str, export_dir: Path, databases: Sequence[str], release: bool, stamp: str) -> list[Step]:
    """The ordered commands of an offboarding (pure: tests and ``--dry-run`` read them)."""
    out = export_dir / slug
    keycloak = f"{names.KEYCLOAK_NAME}-0"
    realm_file = f"/tmp/{slug}-realm.json"
    plan = [
        Step("final backup: request", ["kubectl", "apply", "-f", str(out / "final-backup.yaml")], phase="backup"),
        Step("final backup: wait until completed",
             ["kubectl", "-n", slug, "wait", f"backup/offboarding-{stamp}", "--for=jsonpath={.status.phase}=completed",
              "--timeout=2h"], phase="backup"),
    ]
    for db in databases:
        # svc/postgis-rw resolves to the primary; pg_dump runs as postgres over the local socket.
        plan.append(Step(f"export database {db}",
                         ["kubectl", "-n", slug, "exec", f"svc/{DB_CLUSTER}-rw", "-c", "postgres", "--",
                          "pg_dump", "-Fc", "-d", db],
                         stdout_to=out / f"{db}.dump"))
    plan += [
        Step("export realm (with users, into the Keycloak pod)",
             ["kubectl", "-n", names.NS_IDENTITY, "exec", keycloak, "--", "/opt/keycloak/bin/kc.sh", "export",
              "--realm", slug, "--users", "realm_file", "--file", realm_file]),
        Step("copy the realm export", ["kubectl", "-n", names.NS_IDENTITY, "cp", f"{keycloak}:{realm_file}",
                                       str(out / "realm.json")]),
    ]
    plan.append(Step("list the bucket (its content stays in place until the namespace is deleted)",
                     ["kubectl", "-n", slug, "get", "objectbucketclaim", f"{slug}-bucket", "-o", "yaml"],
                     stdout_to=out / "bucket.yaml"))
    if release:
        plan += [
            Step("release protection", ["pulumi", "state", "unprotect", "--all", "--yes", "-s", slug], phase="release"),
            Step("remove the stack's resources (data objects are retained in the cluster)",
                 ["pulumi", "destroy", "--yes", "--skip-preview", "-s", slug], phase="release"),
        ]
    return plan


def run(slug: str, export_dir: Path, *, release: bool = False, dry_run: bool = False,
        databases: Sequence[str] | None = None, runner: Runner | None = None,
        today: dt.date | None = None) -> Iterator[str]:
    """Offboard ``slug``; yields one line per step; stops at the first failing step (release never runs then)."""
    import re

    if not re.match(SLUG_PATTERN, slug):
        raise OffboardError(f"'{slug}' is not a valid municipality slug")
    if databases is None:
        databases = _databases_of(slug)
    stamp = (today or dt.date.today()).strftime("%Y%m%d")
    plan = steps(slug, export_dir, databases, release, stamp)
    if dry_run:
        for s in plan:
            target = f" > {s.stdout_to}" if s.stdout_to else ""
            yield f"[{s.phase}] {s.title}: {' '.join(s.argv)}{target}"
        return
    run_cmd = runner or _run
    if runner is None:
        for tool in {s.argv[0] for s in plan}:
            if shutil.which(tool) is None:
                raise OffboardError(f"'{tool}' is needed for offboarding but was not found on PATH")
    out = export_dir / slug
    out.mkdir(parents=True, exist_ok=True)
    (out / "final-backup.yaml").write_text(backup_manifest(slug, stamp), encoding="utf-8")
    for s in plan:
        if s.phase == "release":
            _write_manifest(out)
        code = run_cmd(s.argv, s.stdout_to)
        if code != 0:
            raise OffboardError(f"step '{s.title}' failed (exit {code}): {' '.join(s.argv)}; "
                                "nothing after it was done, protection is still in place")
        yield f"ok [{s.phase}] {s.title}"
    if not release:
        yield f"export complete in {out}; run again with --release once the municipality has confirmed receipt"


def _write_manifest(out: Path) -> None:
    lines = []
    for f in sorted(out.iterdir()):
        if f.is_file() and f.name != "SHA256SUMS":
            lines.append(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}")
    (out / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _databases_of(slug: str) -> list[str]:
    """Databases of the municipality's cluster: geodata plus those of its booked modules (tenant file)."""
    from components.modules import CATALOGUE
    from components.tenant.database import GEODATA
    from urbanstack.tenants import TenantError, load_all

    try:
        tenant = load_all().get(slug)
    except TenantError:
        tenant = None
    if tenant is None:
        raise OffboardError(f"tenants/{slug}.yaml not found: pass the databases explicitly "
                            "(the file may already have been removed; restore it from git for the offboarding)")
    return [GEODATA, *(db for key in tenant.booked() for db in CATALOGUE[key].SPEC.databases)]
