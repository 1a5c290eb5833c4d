"""The restore drill on real parts: the backup settings we generate can be restored to a point in time, for a
municipality's database and for the shared Keycloak's (the same drill over each one's ObjectStore).

A real PostgreSQL server (the distribution's package, started as a non-root user in a temporary folder),
the Barman Cloud tools the plugin's sidecar runs (``barman[cloud]``, same version) and an S3 server on
localhost (moto's server mode). The ObjectStore spec is taken from the offline plan of municipality
``verl`` and of the shared stack (``keycloak-db-backup``: destination path, compression, server-side encryption,
retention, credential layout); only the endpoint is moto's.
The steps follow docs/operations.md "Restore drill" one for one:

1. WAL archiving on; 2. base backup; 3. more writes, WAL archived; 4. retention applied; 5. the server is
lost; 6. restore of the base backup and 7. WAL replay to a point in time between the writes; 8. rows checked.

Archiving runs in two hops: PostgreSQL's ``archive_command`` copies each finished segment to a spool folder
and the drill hands it to ``barman-cloud-wal-archive`` (in CloudNativePG, the instance manager receives the
segment and the plugin's sidecar runs the same tool); on restore, ``barman-cloud-wal-restore`` fetches the
segments and ``restore_command`` copies them in. The tools run as the test's user, PostgreSQL as
``postgres`` when the test runs as root (CI), because PostgreSQL refuses to run as root.

Without PostgreSQL's server binaries the drill is skipped locally, with the reason; in CI (``CI=true``) it
fails instead: ``.ci/run`` installs the Debian package ``postgresql``.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests import barman_plugin as plugin

SERVER = "postgis"
"""The cluster's name: the plugin's server name when the ObjectStore sets none."""


def _missing(reason: str, drill: str = "restore drill"):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{drill}: {reason} (CI must install it: see .ci/run)")
    pytest.skip(f"{drill}: {reason}")


def drill_tools(drill: str) -> tuple[Path, Path]:
    """PostgreSQL's server binaries and the folder of the barman-cloud tools, or a skip (locally) / failure (CI)
    naming what is missing; the restore and the move drill need the same parts."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        _missing("PostgreSQL server binaries not found (Debian: apt-get install postgresql)", drill)
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        _missing("running as root needs runuser and the user 'postgres' (created by the postgresql package)", drill)
    tools = Path(sys.executable).parent
    if not (tools / "barman-cloud-backup").exists():
        pytest.fail("barman-cloud-backup not found next to the Python interpreter: pip install -e '.[dev]' "
                    "(barman[cloud] is a pinned dev dependency)")
    return bin_dir, tools


def postgres_bin() -> Path | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "postgres").exists():
        return Path(found).resolve().parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throw-away PostgreSQL server in ``base`` (socket only, no TCP), run as ``postgres`` under root."""

    def __init__(self, bin_dir: Path, base: Path, data: Path):
        self.bin, self.base, self.data = bin_dir, base, data
        self.sock = base / "sock"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def run(self, *argv: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *argv] if self.as_root else list(argv)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = (self.base / "server.log").read_text() if (self.base / "server.log").exists() else ""
            raise AssertionError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}\n{log[-3000:]}")

    def own(self, path: Path) -> None:
        if self.as_root:
            user = pwd.getpwnam("postgres")
            for p in [path, *path.rglob("*")]:
                os.chown(p, user.pw_uid, user.pw_gid)

    def configure(self, **settings: str) -> None:
        with (self.data / "postgresql.conf").open("a") as fh:
            for key, value in {"port": str(self.port), "listen_addresses": "''",
                               "unix_socket_directories": f"'{self.sock}'", **settings}.items():
                fh.write(f"{key} = {value}\n")

    def start(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "start")

    def stop(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        conn = psycopg2.connect(host=str(self.sock), port=self.port, user="postgres", dbname=dbname)
        conn.autocommit = True
        return conn

    def sql(self, query: str, dbname: str = "postgres"):
        with self.connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else None


@pytest.fixture
def parts():
    """The real parts, or a skip (locally) / failure (CI) naming what is missing."""
    bin_dir, tools = drill_tools("restore drill")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's backends live in this process, shared by every server it starts: each drill starts empty.
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"))
    base = Path(tempfile.mkdtemp(prefix="urbanstack-drill-", dir="/tmp"))
    try:
        yield bin_dir, tools, f"http://127.0.0.1:{port}", base
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_a_base_backup_and_archived_wal_restore_to_a_point_in_time_between_writes(parts, plan_stack):
    """A municipality's database (verl: the operator's off-site target, encrypted)."""
    (store,) = plan_stack("verl").find("ObjectStore")
    drill(parts, store.inputs["spec"], SERVER, "postgres")


def test_keycloaks_database_restores_from_its_offsite_backup_to_a_point_in_time(parts, plan_stack):
    """The shared Keycloak's database: its ObjectStore in the shared stack's plan (off-site target, encrypted),
    server name ``keycloak-db`` (the cluster's name), database ``keycloak`` (``database_spec`` bootstrap)."""
    from catalogue import names
    from components.shared.identity import BACKUP_STORE, DB_NAME

    (store,) = plan_stack("shared").find("ObjectStore", BACKUP_STORE, names.NS_IDENTITY)
    (cluster,) = plan_stack("shared").find("Cluster", names.KEYCLOAK_DB_CLUSTER, names.NS_IDENTITY)
    assert cluster.inputs["spec"]["plugins"][0]["parameters"] == {"barmanObjectName": BACKUP_STORE}
    assert cluster.inputs["spec"]["bootstrap"]["initdb"]["database"] == DB_NAME
    conf = store.inputs["spec"]["configuration"]
    assert conf["endpointURL"].startswith("https://") and conf["destinationPath"].endswith("/urban-identity/cnpg"), \
        "the drill restores what production keeps: the off-site copy"
    assert conf["wal"]["encryption"] == conf["data"]["encryption"] == "AES256"
    drill(parts, store.inputs["spec"], names.KEYCLOAK_DB_CLUSTER, DB_NAME)


def drill(parts, spec: dict, server: str, dbname: str) -> None:
    """The drill over one ObjectStore ``spec`` (only the endpoint is moto's), archiving as server ``server``,
    writing into database ``dbname`` (created when it is not ``postgres``)."""
    import boto3

    bin_dir, tools, endpoint, base = parts
    conf = {**spec["configuration"], "endpointURL": endpoint}  # the layout is ours; only the endpoint is moto's
    # The Secret the ObjectStore names, with the keys it names (the stack creates it in the namespace).
    creds = conf["s3Credentials"]
    secrets = {creds["accessKeyId"]["name"]: {creds["accessKeyId"]["key"]: "drill-key",
                                              creds["secretAccessKey"]["key"]: "drill-secret"}}
    env = {**os.environ, **plugin.credentials_env(conf, secrets), "AWS_DEFAULT_REGION": "us-east-1",
           # barman-cloud's tools are Python programs started a dozen times per drill: their bytecode is kept in
           # one folder of the drill's machine, so only the first start compiles barman, boto3 and botocore (with
           # PYTHONDONTWRITEBYTECODE set, as on our build machine, every start compiled them again).
           "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "urbanstack-drill-pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    destination = urlparse(conf["destinationPath"])
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="drill-key", aws_secret_access_key="drill-secret")
    s3.create_bucket(Bucket=destination.netloc)

    def tool(argv: list[str]) -> str:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    spool, archived = base / "spool", set()

    def archive_finished_segments() -> None:
        for wal in sorted(spool.iterdir()):
            if wal.name not in archived:
                tool(plugin.wal_archive(tools, conf, server, wal))
                archived.add(wal.name)

    def sql(server_: Postgres, query: str):
        return server_.sql(query, dbname)

    # 1. A server with WAL archiving on.
    for folder in ("sock", "spool", "fetched"):
        (base / folder).mkdir()
    pg = Postgres(bin_dir, base, base / "data")
    pg.own(base)
    pg.run(str(bin_dir / "initdb"), "-D", str(pg.data), "-U", "postgres", "--auth=trust")
    pg.configure(wal_level="replica", archive_mode="on",
                 archive_command=f"'test ! -f {spool}/%f && cp %p {spool}/%f'")
    pg.start()
    try:
        if dbname != "postgres":
            conn = pg.connect()  # not in `with`: psycopg2 2.9 opens a transaction there, CREATE DATABASE refuses
            try:
                conn.cursor().execute(f"CREATE DATABASE {dbname}")
            finally:
                conn.close()
        sql(pg, "CREATE TABLE readings (id int PRIMARY KEY, note text)")
        sql(pg, "INSERT INTO readings SELECT i, 'before the base backup' FROM generate_series(1, 3) i")

        # 2. Base backup with the ObjectStore's data compression, encryption and credentials. A checkpoint first:
        # the backup starts with a spread checkpoint (as the plugin's default, no immediateCheckpoint), which
        # after CREATE DATABASE's dirty pages took about 100 s of waiting on this machine (2026-12-06).
        pg.sql("CHECKPOINT")
        tool(plugin.backup(tools, conf, server, "drill-base", str(pg.sock), pg.port))
        pg.sql("SELECT pg_switch_wal()")

        # 3. More writes; the point in time lies between two committed batches; WAL archived.
        sql(pg, "INSERT INTO readings SELECT i, 'after the backup, before the target' FROM generate_series(4, 6) i")
        ((target,),) = pg.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                              "'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        sql(pg, "INSERT INTO readings SELECT i, 'after the target' FROM generate_series(7, 9) i")
        pg.sql("SELECT pg_switch_wal()")
        pg.sql("CHECKPOINT")
        pg.sql("SELECT pg_switch_wal()")
    finally:
        pg.stop()  # a clean stop archives the last segments
    archive_finished_segments()
    assert archived, "PostgreSQL archived no WAL segment"

    # 4. Retention as the ObjectStore says: the fresh backup is inside the recovery window and stays.
    tool(plugin.delete_by_retention(tools, {**spec, "configuration": conf}, server))
    backups = json.loads(tool(plugin.backup_list(tools, conf, server)))["backups_list"]
    assert [b["backup_name"] for b in backups] == ["drill-base"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=destination.netloc)["Contents"]]
    prefix = f"{destination.path.strip('/')}/{server}/"
    assert all(k.startswith(prefix) for k in keys)
    assert any(k.startswith(prefix + "wals/") and k.endswith(".gz") for k in keys), "WAL is gzip-compressed"
    assert any(k.startswith(prefix + "base/") and k.endswith(".tar.gz") for k in keys), "data is gzip-compressed"
    # Server-side encryption as the ObjectStore asks, on every WAL segment and base backup object.
    wanted = {"wals/": (conf.get("wal") or {}).get("encryption"), "base/": (conf.get("data") or {}).get("encryption")}
    for key in keys:
        part = key[len(prefix):].split("/", 1)[0] + "/"
        if wanted.get(part):
            assert s3.head_object(Bucket=destination.netloc, Key=key).get("ServerSideEncryption") == wanted[part], key

    # 5. The server is lost.
    shutil.rmtree(pg.data)

    # 6. Restore the base backup into a new data folder.
    restored = Postgres(bin_dir, base, base / "restored")
    tool(plugin.restore(tools, conf, server, backups[0]["backup_id"], restored.data))

    # 7. Replay archived WAL up to the point in time, then promote.
    for key in keys:
        name = Path(key).name.removesuffix(".gz")
        # Segments and timeline histories (not the .backup labels, which recovery never asks for).
        if key.startswith(prefix + "wals/") and re.fullmatch(r"[0-9A-F]{24}|[0-9A-F]{8}\.history", name):
            tool(plugin.wal_restore(tools, conf, server, name, base / "fetched" / name))
    (restored.data / "recovery.signal").touch()
    restored.configure(archive_mode="off", restore_command=f"'cp {base / 'fetched'}/%f %p'",
                       recovery_target_time=f"'{target}'", recovery_target_action="'promote'")
    restored.own(base)
    restored.data.chmod(0o700)
    restored.start()
    try:
        for _ in range(600):
            if restored.sql("SELECT pg_is_in_recovery()") == [(False,)]:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        # 8. Exactly the rows committed before the point in time.
        assert sql(restored, "SELECT id FROM readings ORDER BY id") == [(i,) for i in range(1, 7)]
    finally:
        restored.stop()
