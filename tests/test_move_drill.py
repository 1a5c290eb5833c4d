"""The move drill on real parts: ``urbanstack/ops/move.py`` moves municipality ``verl`` from cell ``a`` to cell
``b``, both simulated, and every row, object and file arrives (docs/operations.md, "Move drill").

Each cell is a real PostgreSQL server (Debian's package, as in the restore drill) and its own S3 server (moto's
server mode, one process per cell: two separate object stores, each with its own endpoint). Between the engine
and the cells stands the drill's ``kubectl``: it does what the cluster would do with each command and manifest
the engine produces, reading them as the operators read them:

* ``exec svc/<cluster>-rw -- psql|pg_dump|pg_restore …`` runs the tool against that cell's server;
* ``apply`` of the ``Backup``: what the Barman Cloud plugin does (``barman-cloud-backup`` into the ObjectStore of
  the source's stack, rendered by ``components.tenant.database.backup_store``, then the WAL archived);
* ``apply`` of the recovery ``Cluster``: what CloudNativePG does with ``bootstrap.recovery``: it follows
  ``source`` to ``externalClusters[].plugin.parameters`` (``barmanObjectName``, ``serverName``), reads that
  ``ObjectStore`` and its Secret as the engine applied them in the target, restores the latest base backup
  (``barman-cloud-restore``) and replays the archived WAL (``barman-cloud-wal-restore``) into a new server;
* Keycloak's ``kc.sh export`` / ``kcadm.sh create partialImport`` / ``get users/count`` act on a realm document;
* reader and writer pods of a module volume are folders, their ``tar`` and ``sha256sum`` run for real.

The data: two databases, several tables, thousands of rows, bytea and a large object; forty-odd objects in the
bucket (one larger than the multipart threshold); a module volume. The drill interrupts the move twice (a kill
during a database load and one in the middle of the bucket copy) and corrupts one copied object on its way; the
move resumes, detects the bad copy and copies it again; the source stays intact until ``--release-source``.

Like the restore drill: skipped locally without PostgreSQL's server binaries, a failure in CI (``CI=true``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
import yaml

from catalogue import names
from tests import barman_plugin as plugin
from tests.test_restore_drill import Postgres, drill_tools, free_port
from urbanstack.ops.offboard import VolumeExport

SLUG = "verl"
DATABASES = ["geodata", "sensorthings"]
VOLUME = VolumeExport("nodered", "editor", "data", "node-red", "/data", 0)
KEYS = {"ACCESS_KEY_ID": "drill-key", "ACCESS_SECRET_KEY": "drill-secret"}


class Interrupted(BaseException):
    """The injected kill: not an ``Exception``, so no step catches it (as with SIGINT/KeyboardInterrupt)."""


class S3Server:
    """moto's server in a process of its own (forked from this one, so nothing is imported again): a cell's object
    storage, separate from the other cell's (moto keeps its backends per process)."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.pid = os.fork()
        if self.pid == 0:  # the child serves until it is terminated
            try:
                ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False).start()
                signal.pause()
            finally:
                os._exit(0)
        for _ in range(400):
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1)
                # The child started with this process's moto state (earlier tests in this worker): empty it.
                urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"))
                return
            except OSError:
                time.sleep(0.025)
        self.stop()
        raise AssertionError("moto's server did not start")

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=KEYS["ACCESS_KEY_ID"], aws_secret_access_key=KEYS["ACCESS_SECRET_KEY"])

    def stop(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


class SimCell:
    """One cell: its database servers by cluster name, its S3 server, its cluster objects, its realm, volumes."""

    def __init__(self, name: str, base: Path, bin_dir: Path, s3: S3Server):
        self.name, self.base, self.bin, self.s3 = name, base, bin_dir, s3
        self.servers: dict[str, Postgres] = {}
        self.objects: dict[tuple[str, str], dict] = {}
        self.workloads = {"Deployment": {"nodered-api": 1}, "StatefulSet": {"nodered-editor": 1}}
        self.realms: dict[str, dict] = {}
        self.volume = base / "volume"
        self.volume.mkdir(parents=True)
        self.backups: list[str] = []

    def server(self, name: str, **settings: str) -> Postgres:
        (self.base / name / "sock").mkdir(parents=True)
        pg = Postgres(self.bin, self.base / name, self.base / name / "data")
        pg.own(self.base / name)
        pg.run(str(self.bin / "initdb"), "-D", str(pg.data), "-U", "postgres", "--auth=trust")
        pg.configure(**settings)
        pg.start()
        self.servers[name] = pg
        return pg

    def stop(self):
        for pg in self.servers.values():
            with contextlib.suppress(AssertionError):
                pg.stop()


def tool(argv: list[str], env: dict) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Kubectl:
    """The drill's kubectl: what each cell's cluster does with the engine's commands (module docstring)."""

    def __init__(self, cells: dict[str, SimCell], tools: Path, source_store: dict, env: dict):
        self.cells, self.tools, self.source_store, self.env = cells, tools, source_store, env
        self.calls: list[str] = []
        self.kill_on: str | None = None

    def __call__(self, argv, stdout_to=None, stdin_from=None) -> int:
        argv = list(argv)
        assert argv[:2] == ["kubectl", "--context"], argv
        cell = self.cells[argv[2]]
        rest = argv[3:]
        self.calls.append(" ".join(argv))
        if self.kill_on and self.kill_on in " ".join(argv):
            self.kill_on = None
            raise Interrupted(" ".join(argv))
        with (stdout_to.open("wb") if stdout_to else open(os.devnull, "wb")) as out:
            return self.dispatch(cell, rest, out, stdin_from)

    def dispatch(self, cell: SimCell, rest: list[str], out, stdin_from) -> int:
        ns = rest[rest.index("-n") + 1] if "-n" in rest else None
        words = [w for i, w in enumerate(rest) if w != "-n" and (i == 0 or rest[i - 1] != "-n")]
        verb = words[0]
        if verb == "exec":
            split = words.index("--")
            cmd, head = words[split + 1:], [w for w in words[1:split] if w != "-i"]
            if "-c" in head:  # the container
                del head[head.index("-c"):head.index("-c") + 2]
            (target,) = head
            return self.exec(cell, ns, target, cmd, out, stdin_from)
        if verb == "apply":
            docs = list(yaml.safe_load_all(Path(words[words.index("-f") + 1]).read_text()))
            for doc in docs:
                self.apply(cell, doc)
            return 0
        if verb == "scale":
            for kind in cell.workloads:
                cell.workloads[kind] = dict.fromkeys(cell.workloads[kind], 0)
            return 0
        if verb == "get" and words[1] == "deployment,statefulset":
            items = [{"kind": kind, "metadata": {"name": n}, "spec": {"replicas": r}, "status": {"replicas": r}}
                     for kind, found in cell.workloads.items() for n, r in found.items()]
            out.write(json.dumps({"items": items}).encode())
            return 0
        if verb == "get" and words[1] == f"cluster/{names.DB_CLUSTER}":
            out.write(f"cluster.postgresql.cnpg.io/{names.DB_CLUSTER}\n".encode())
            return 0 if names.DB_CLUSTER in cell.servers else 1
        if verb == "get" and words[1].startswith("backup/"):
            done = words[1].split("/", 1)[1] in cell.backups
            out.write(b"completed" if done else b"")
            return 0 if done else 1
        if verb == "get" and words[1:3] == ["secret", "backup-offsite"]:
            data = {k: base64.b64encode(v.encode()).decode() for k, v in KEYS.items()}
            out.write(json.dumps({"data": data}).encode())
            return 0
        if verb == "get" and words[1].startswith("statefulset/"):
            template = {"spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": True}, "containers": [
                {"name": VOLUME.container, "image": "nodered/node-red:4", "securityContext": {}}]}}}}
            out.write(json.dumps(template).encode())
            return 0
        if verb == "get":  # objectstore/… secret/… -o name
            wanted = [w.split("/", 1) for w in words[1:] if "/" in w]
            return 0 if all((k, n) in cell.objects for k, n in wanted) else 1
        if verb == "wait":
            kind, name = words[1].split("/", 1)
            ready = {"backup": name in cell.backups, "cluster": name in cell.servers,
                     "pod": ("pod", name) in cell.objects}[kind]
            return 0 if ready else 1
        if verb in ("delete", "annotate"):
            cell.objects[(verb, words[-1])] = {}
            return 0
        raise AssertionError(f"the drill's kubectl does not know: {rest}")

    def exec(self, cell: SimCell, ns: str, target: str, cmd: list[str], out, stdin_from) -> int:
        inp = stdin_from.open("rb") if stdin_from else None
        try:
            if target.startswith("svc/"):
                pg = cell.servers[target.removeprefix("svc/").removesuffix("-rw")]
                argv = [str(pg.bin / cmd[0]), "-h", str(pg.sock), "-p", str(pg.port), "-U", "postgres", *cmd[1:]]
                return subprocess.run(argv, stdout=out, stdin=inp, check=False).returncode
            if target == f"{names.KEYCLOAK_NAME}-0":
                return self.keycloak(cell, cmd[-1], out, inp)
            # A reader or writer pod of the module volume: the cell's folder stands for the mounted claim.
            assert ("pod", target) in cell.objects, f"pod {target} was not applied in cell {cell.name}"
            local = [c.replace(VOLUME.path, str(cell.volume)) for c in cmd]
            return subprocess.run(local, stdout=out, stdin=inp, check=False).returncode
        finally:
            if inp:
                inp.close()

    def keycloak(self, cell: SimCell, script: str, out, inp) -> int:
        if "kc.sh export --realm" in script:
            out.write(json.dumps(cell.realms[SLUG]).encode())
        elif "create partialImport" in script:
            body = json.loads(inp.read())
            assert body["ifResourceExists"] == "OVERWRITE"
            users = {u["username"]: u for u in cell.realms[SLUG]["users"]}
            users.update({u["username"]: u for u in body["users"]})
            cell.realms[SLUG]["users"] = list(users.values())
        elif "get users/count" in script:
            out.write(f"{len(cell.realms[SLUG]['users'])}\n".encode())
        elif f"k delete realms/{SLUG}" in script:
            cell.realms.pop(SLUG, None)
        else:
            raise AssertionError(f"the drill's Keycloak does not know: {script}")
        return 0

    def apply(self, cell: SimCell, doc: dict) -> None:
        kind, name = doc["kind"], doc["metadata"]["name"]
        cell.objects[(kind.lower(), name)] = doc
        if kind == "Backup":
            self.backup(cell, doc)
        elif kind == "Cluster":
            self.recover(cell, doc)
        elif kind == "Pod":
            claim = doc["spec"]["volumes"][0]["persistentVolumeClaim"]
            assert claim["claimName"] == f"{VOLUME.claim}-{VOLUME.module}-{VOLUME.workload}-{VOLUME.replica}"
            assert doc["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == VOLUME.path

    def backup(self, cell: SimCell, doc: dict) -> None:
        """The Barman Cloud plugin's on-demand backup into the source stack's ObjectStore, and the WAL after it."""
        assert doc["spec"] == {"cluster": {"name": names.DB_CLUSTER}, "method": "plugin",
                               "pluginConfiguration": {"name": names.BARMAN_PLUGIN}}
        pg, conf = cell.servers[names.DB_CLUSTER], self.source_store["configuration"]
        pg.sql("CHECKPOINT")
        tool(plugin.backup(self.tools, conf, names.DB_CLUSTER, doc["metadata"]["name"], str(pg.sock), pg.port),
             self.env)
        ((segment,),) = pg.sql("SELECT pg_walfile_name(pg_switch_wal())")
        for _ in range(300):
            if (cell.base / "spool" / segment).exists():
                break
            time.sleep(0.02)
        for wal in sorted((cell.base / "spool").iterdir()):
            tool(plugin.wal_archive(self.tools, conf, names.DB_CLUSTER, wal), self.env)
            wal.unlink()
        cell.backups.append(doc["metadata"]["name"])

    def recover(self, cell: SimCell, doc: dict) -> None:
        """CloudNativePG's ``bootstrap.recovery`` through the plugin, from what the engine applied in this cell."""
        spec = doc["spec"]
        (origin,) = [c for c in spec["externalClusters"] if c["name"] == spec["bootstrap"]["recovery"]["source"]]
        assert origin["plugin"]["name"] == names.BARMAN_PLUGIN
        params = origin["plugin"]["parameters"]
        store = cell.objects[("objectstore", params["barmanObjectName"])]["spec"]
        conf = store["configuration"]
        secret = cell.objects[("secret", conf["s3Credentials"]["accessKeyId"]["name"])]
        secrets = {secret["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}}
        env = {**self.env, **plugin.credentials_env(conf, secrets)}
        server = params["serverName"]
        backups = json.loads(tool(plugin.backup_list(self.tools, conf, server), env))["backups_list"]
        name = doc["metadata"]["name"]
        base = cell.base / name
        (base / "sock").mkdir(parents=True)
        (base / "fetched").mkdir()
        pg = Postgres(cell.bin, base, base / "data")
        tool(plugin.restore(self.tools, conf, server, backups[-1]["backup_id"], pg.data), env)
        destination = urlparse(conf["destinationPath"])
        s3 = self.cells_s3(conf["endpointURL"])
        for obj in s3.list_objects_v2(Bucket=destination.netloc,
                                      Prefix=f"{destination.path.strip('/')}/{server}/wals/").get("Contents", []):
            wal = Path(obj["Key"]).name.removesuffix(".gz")
            if len(wal) == 24 or wal.endswith(".history"):
                tool(plugin.wal_restore(self.tools, conf, server, wal, base / "fetched" / wal), env)
        (pg.data / "recovery.signal").touch()
        pg.configure(archive_mode="off", restore_command=f"'cp {base / 'fetched'}/%f %p'",
                     recovery_target_action="'promote'")
        pg.own(base)
        pg.data.chmod(0o700)
        pg.start()
        for _ in range(600):
            if pg.sql("SELECT pg_is_in_recovery()") == [(False,)]:
                break
            time.sleep(0.05)
        cell.servers[name] = pg

    def cells_s3(self, endpoint: str):
        (cell,) = [c for c in self.cells.values() if c.s3.endpoint == endpoint.rstrip("/")]
        return cell.s3.client()


class CorruptOnce:
    """The target's S3 client, except that the first upload of ``key`` arrives damaged (one byte flipped)."""

    def __init__(self, client, key: str, kill_after: int | None = None):
        self._client, self.key, self.kill_after, self.puts = client, key, kill_after, 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def upload_file(self, filename, bucket, key, ExtraArgs=None):
        self.puts += 1
        if self.kill_after is not None and self.puts > self.kill_after:
            raise Interrupted(f"killed during the bucket copy, at object {self.puts}")
        if key == self.key:
            self.key = None
            data = bytearray(Path(filename).read_bytes())
            data[len(data) // 2] ^= 0xFF
            return self._client.put_object(Bucket=bucket, Key=key, Body=bytes(data), **{
                "Metadata": (ExtraArgs or {}).get("Metadata", {})})
        return self._client.upload_file(filename, bucket, key, ExtraArgs=ExtraArgs)


@pytest.fixture
def drill_parts():
    bin_dir, tools = drill_tools("move drill")
    base = Path(tempfile.mkdtemp(prefix="urbanstack-move-drill-", dir="/tmp"))
    base.chmod(0o755)  # PostgreSQL runs as user postgres under root: it must reach its folders below
    servers = [S3Server(), S3Server()]
    cells = {}
    try:
        for name, s3 in zip(("cell-a", "cell-b"), servers, strict=True):
            cells[name] = SimCell(name.removeprefix("cell-"), base / name, bin_dir, s3)
        yield tools, cells, base
    finally:
        for cell in cells.values():
            cell.stop()
        for s3 in servers:
            s3.stop()
        shutil.rmtree(base, ignore_errors=True)


def drill_cells(a: SimCell, b: SimCell):
    """The move's two cells, as ``cells_from_config`` makes them from the shared config, pointing at the drill's
    simulated cells."""
    from urbanstack.ops.move import Cell, Cells

    def cell(c: SimCell) -> Cell:
        return Cell.model_validate({
            "name": c.name, "kubeContext": f"cell-{c.name}", "storageClass": f"block-{c.name}",
            "keycloak": f"https://id.{c.name}.example", "objectStorage": {"endpoint": c.s3.endpoint},
            "backups": {"endpoint": c.s3.endpoint, "bucket": f"backups-{c.name}"}})

    return Cells("a", {"a": cell(a), "b": cell(b)}, "the drill's cells")


SCHEMA = {
    "geodata": [
        "CREATE TABLE parcels (id int PRIMARY KEY, name text, area numeric(12,2), wkt text)",
        "INSERT INTO parcels SELECT i, 'Flurstück ' || i, i * 12.5, 'POINT(' || (8 + i / 1e4) || ' 51.9)' "
        "FROM generate_series(1, 2500) i",
        "CREATE TABLE readings (id bigserial PRIMARY KEY, sensor int, value double precision, at timestamptz)",
        "INSERT INTO readings (sensor, value, at) SELECT i % 17, sqrt(i), '2026-11-01'::timestamptz + i * "
        "interval '1 minute' FROM generate_series(1, 4000) i",
        "CREATE TABLE documents (id int PRIMARY KEY, name text, content bytea)",
        "INSERT INTO documents SELECT i, 'plan-' || i || '.pdf', decode(repeat(md5(i::text), 200), 'hex') "
        "FROM generate_series(1, 60) i",
        "CREATE SCHEMA archive",
        "CREATE TABLE archive.events (id int, payload jsonb)",
        "INSERT INTO archive.events SELECT i, jsonb_build_object('n', i, 'tag', 'e' || i) FROM generate_series(1, 700) i",
        "SELECT lo_from_bytea(0, decode(repeat('deadbeef', 50000), 'hex'))",
    ],
    "sensorthings": [
        "CREATE TABLE things (id int PRIMARY KEY, name text, properties jsonb)",
        "INSERT INTO things SELECT i, 'Thing ' || i, jsonb_build_object('i', i) FROM generate_series(1, 300) i",
    ],
}


def seed(a: SimCell, b: SimCell) -> dict[str, bytes]:
    """The source's data, the target's empty stack (databases and roles, as its stack creates them), the realm in
    both (the target's made by its realm job, without users), the bucket in both, a module volume."""
    for cell in (a, b):
        for db in DATABASES:
            conn = cell.servers[names.DB_CLUSTER].connect()
            try:
                conn.cursor().execute(f"CREATE ROLE {db} LOGIN")
                # FILE_COPY: the template is not written into the WAL (fewer segments to archive and replay).
                conn.cursor().execute(f"CREATE DATABASE {db} OWNER {db} STRATEGY FILE_COPY")
            finally:
                conn.close()
    src = a.servers[names.DB_CLUSTER]
    for db, statements in SCHEMA.items():
        for statement in statements:
            src.sql(statement, db)
        for (table,) in src.sql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname "
                                "NOT IN ('pg_catalog', 'information_schema')", db):
            src.sql(f"ALTER TABLE {table} OWNER TO {db}", db)
    users = [{"username": f"user{i}", "enabled": True, "groups": ["/editors"],
              "credentials": [{"type": "password", "secretData": f"hash-{i}"}]} for i in range(25)]
    a.realms[SLUG] = {"realm": SLUG, "users": users}
    b.realms[SLUG] = {"realm": SLUG, "users": []}
    rng = random.Random(20261206)
    objects = {f"modules/nodered/file-{i:03d}.json": rng.randbytes(rng.randint(0, 40_000)) for i in range(40)}
    objects["opendata/large.bin"] = rng.randbytes(9 * 1024 * 1024)  # above boto3's multipart threshold (8 MiB)
    objects["empty"] = b""
    src_s3, dst_s3 = a.s3.client(), b.s3.client()
    for client, bucket in ((src_s3, f"urbanstack-{SLUG}"), (dst_s3, f"urbanstack-{SLUG}"),
                           (src_s3, "backups-a"), (dst_s3, "backups-b")):
        client.create_bucket(Bucket=bucket)
    for key, data in objects.items():
        src_s3.put_object(Bucket=f"urbanstack-{SLUG}", Key=key, Body=data)
    (a.volume / "lib" / "flows").mkdir(parents=True)
    for i in range(12):
        (a.volume / "lib" / "flows" / f"flow-{i}.json").write_bytes(rng.randbytes(2000 + i))
    (a.volume / "settings.js").write_text("module.exports = {}\n")
    return objects


def sums(pg: Postgres, db: str) -> dict:
    from urbanstack.ops.move import TABLE_SUMS, parse_sums

    rows = pg.sql(TABLE_SUMS, db)
    return parse_sums("\n".join("|".join(str(v) for v in row) for row in rows))


def test_a_municipality_moves_to_another_cell_every_row_object_and_file_arrives_and_an_interrupted_move_resumes(
        drill_parts, tmp_path):
    from catalogue.tenants import load_all
    from components.tenant.database import backup_store
    from urbanstack.ops.move import MoveError, prepare, run

    tools, cells, _ = drill_parts
    a, b = cells["cell-a"], cells["cell-b"]
    (a.base / "spool").mkdir()
    source_pg = a.server(names.DB_CLUSTER, wal_level="replica", archive_mode="on",
                         archive_command=f"'test ! -f {a.base / 'spool'}/%f && cp %p {a.base / 'spool'}/%f'")
    source_pg.own(a.base / "spool")
    b.server(names.DB_CLUSTER)
    objects = seed(a, b)
    before = {db: sums(a.servers[names.DB_CLUSTER], db) for db in DATABASES}
    assert before["geodata"]["public.readings"][0] == 4000 and before["geodata"]["large objects"][0] == 1

    # The source stack's ObjectStore, as the stack renders it for an off-site target = cell a's backups.
    tenant = load_all().get(SLUG)
    offsite = SimpleNamespace(bucket="backups-a", endpoint=a.s3.endpoint)
    source_store = backup_store(tenant, None, offsite)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEYS["ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": KEYS["ACCESS_SECRET_KEY"],
           "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "urbanstack-drill-pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    kubectl = Kubectl(cells, tools, source_store, env)
    definitions = drill_cells(a, b)
    work = tmp_path / "move"
    target_s3 = CorruptOnce(b.s3.client(), "modules/nodered/file-007.json", kill_after=20)

    def move(**kw):
        return prepare(SLUG, definitions, "b", work, databases=DATABASES, volumes=[VOLUME], runner=kubectl,
                       source_s3=a.s3.client, target_s3=lambda: target_s3, source_offsite_s3=a.s3.client, **kw)

    # An open session of a module before the move: the freeze ends it.
    module_session = a.servers[names.DB_CLUSTER].connect("geodata")

    # 1. Killed while loading the second database into the target.
    kubectl.kill_on = "pg_restore --clean --if-exists --single-transaction -d sensorthings"
    with pytest.raises(Interrupted):
        list(run(move()))
    journal = json.loads((work / f"{SLUG}-a-to-b" / "journal.json").read_text())
    assert list(journal["steps"]) == ["target-ready", "target-stop", "freeze-modules", "freeze-database",
                                      "backup-request", "backup-wait", "origin-store", "recover-apply",
                                      "recover-wait", "dump-geodata", "load-geodata", "dump-sensorthings"]
    # The source is frozen: modules at zero, the module's session ended, new sessions cannot write.
    assert all(r == 0 for found in a.workloads.values() for r in found.values())
    with pytest.raises(Exception, match=r"terminat|closed"):
        module_session.cursor().execute("SELECT 1")
    with pytest.raises(Exception, match="read-only transaction"):
        a.servers[names.DB_CLUSTER].sql("INSERT INTO parcels VALUES (9999, 'late write', 1, '')", "geodata")

    # 2. Resumed, killed again in the middle of the bucket copy (after 20 objects, one of them arrived damaged).
    lines = []
    with pytest.raises(Interrupted):
        for text in run(move()):
            lines.append(text)
    skipped = [t.split("] ", 1)[1].split(" (done at")[0] for t in lines if t.startswith("skip")]
    assert len(skipped) == 12 and skipped[0].startswith("target: the municipality's stack is deployed")
    assert kubectl.calls.count(" ".join(["kubectl", "--context", "cell-a", "apply", "-f",
                                         str(work / f"{SLUG}-a-to-b" / "final-backup.yaml")])) == 1, \
        "the final backup is requested once, and checked again on resume"
    assert "database geodata: 5 tables, 7261 rows, all equal" in "\n".join(lines)
    progress = (work / f"{SLUG}-a-to-b" / "bucket-copied.jsonl").read_text().splitlines()
    assert len(progress) == 20, "every object copied before the kill is in the log"

    # 3. Resumed again: the bucket copy continues, reads every copy back, finds the damaged one and copies it again.
    target_s3.kill_after = None
    lines = list(run(move()))
    text = "\n".join(lines)
    assert "copied again after a mismatch on reading back: modules/nodered/file-007.json" in text
    assert f"realm {SLUG}: 25 users in the target" in text
    assert "volume data-nodered-editor-0: 13 files, all equal" in text
    assert lines[-1].startswith("moved and verified; the source in cell a stays frozen and protected")

    # Every row arrived: row counts and checksums per table, large objects included; the target is writable.
    for db in DATABASES:
        assert sums(b.servers[names.DB_CLUSTER], db) == before[db]
    # Every object arrived, byte for byte; every file of the volume too.
    dst = b.s3.client()
    for key, data in objects.items():
        assert dst.get_object(Bucket=f"urbanstack-{SLUG}", Key=key)["Body"].read() == data, key
    assert sorted(p.relative_to(b.volume) for p in b.volume.rglob("*")) == sorted(
        p.relative_to(a.volume) for p in a.volume.rglob("*"))

    # A copy damaged after the move is found by the next run's check, and copied again.
    dst.put_object(Bucket=f"urbanstack-{SLUG}", Key="modules/nodered/file-003.json", Body=b"damaged")
    lines = list(run(move()))
    assert any(t.startswith("redo [bucket]") for t in lines)
    assert dst.get_object(Bucket=f"urbanstack-{SLUG}", Key="modules/nodered/file-003.json")["Body"].read() == \
        objects["modules/nodered/file-003.json"]

    # The source copy is still there, untouched: data, backups, realm.
    assert {db: sums(a.servers[names.DB_CLUSTER], db) for db in DATABASES} == before
    src = a.s3.client()
    assert src.list_objects_v2(Bucket="backups-a", Prefix=f"{SLUG}/cnpg/")["KeyCount"] > 0
    assert len(a.realms[SLUG]["users"]) == 25

    # A move into the same cell, or with a journal of another move, is refused before anything runs.
    with pytest.raises(MoveError, match="already in cell a"):
        prepare(SLUG, definitions, "a", work, databases=DATABASES, volumes=[])

    # 4. The explicit release: every step is checked again first; then the source is locked and deleted.
    lines = list(run(move(release_source=True)))
    assert all(t.startswith(("skip", "    ")) for t in lines[:-6])
    assert ("networkpolicy", "offboarding-lock") in a.objects
    assert ("annotate", "cnpg.io/hibernation=on") in a.objects
    assert SLUG not in a.realms
    assert src.list_objects_v2(Bucket="backups-a", Prefix=f"{SLUG}/cnpg/")["KeyCount"] == 0
    assert lines[-1].startswith("released: the source copy in cell a is locked")
    # The target keeps its data (it never reads from what the release removed), and it accepts writes.
    assert sums(b.servers[names.DB_CLUSTER], "sensorthings") == before["sensorthings"]
    b.servers[names.DB_CLUSTER].sql("INSERT INTO parcels VALUES (9999, 'first write in cell b', 1, '')", "geodata")
