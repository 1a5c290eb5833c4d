"""The Barman Cloud plugin's translation of an ``ObjectStore`` into barman-cloud command lines, for the drill.

The plugin (plugin-barman-cloud v0.13.0, chart 0.7.0, sidecar image with ``barman[cloud]==3.19.1`` from
``containers/sidecar-requirements.in``) builds its commands with github.com/cloudnative-pg/barman-cloud
v0.5.2-0.20260609065833-bd68198c31dc (its go.mod; the S3 command lines below are unchanged since v0.4.0, diff read):

* WAL archive (``pkg/archiver/command.go``): ``--<wal.compression>``, ``-e <wal.encryption>``, ``--endpoint-url``,
  ``--cloud-provider aws-s3`` (``pkg/command/commandbuilder.go``: S3 credentials present), destination path,
  server name;
* base backup (``pkg/backup/backup.go``): ``--user postgres --name <name>``, ``--<data.compression>``,
  ``--encryption <data.encryption>``, ``--endpoint-url``, ``--cloud-provider aws-s3``, destination path, server
  name;
* retention (``pkg/command/backupdelete.go``): ``--retention-policy`` from ``pkg/utils/barman.go``
  ``ParsePolicy`` (``30d`` -> ``RECOVERY WINDOW OF 30 DAYS``);
* restore (plugin ``internal/cnpgi/restore/restore.go``) and WAL restore (``CloudWalRestoreOptions``);
* credentials (``pkg/credentials/env.go``): the two Secret keys become ``AWS_ACCESS_KEY_ID`` and
  ``AWS_SECRET_ACCESS_KEY`` in the tool's environment.

The server name is the cluster's name when the ObjectStore sets none (``serverName := clusterName``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path


def _provider(conf: Mapping) -> list[str]:
    out = ["--endpoint-url", conf["endpointURL"]] if conf.get("endpointURL") else []
    if conf.get("s3Credentials"):
        out += ["--cloud-provider", "aws-s3"]
    return out


def credentials_env(conf: Mapping, secrets: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    creds = conf["s3Credentials"]
    key, secret = creds["accessKeyId"], creds["secretAccessKey"]
    return {"AWS_ACCESS_KEY_ID": secrets[key["name"]][key["key"]],
            "AWS_SECRET_ACCESS_KEY": secrets[secret["name"]][secret["key"]]}


def retention_policy(policy: str) -> str:
    number, unit = re.fullmatch(r"([1-9][0-9]*)([dwm])", policy).groups()
    return f"RECOVERY WINDOW OF {number} {dict(d='DAYS', w='WEEKS', m='MONTHS')[unit]}"


def wal_archive(bin_dir: Path, conf: Mapping, server: str, wal: Path) -> list[str]:
    compression = [f"--{conf['wal']['compression']}"] if (conf.get("wal") or {}).get("compression") else []
    encryption = ["-e", conf["wal"]["encryption"]] if (conf.get("wal") or {}).get("encryption") else []
    return [str(bin_dir / "barman-cloud-wal-archive"), *compression, *encryption, *_provider(conf),
            conf["destinationPath"], server, str(wal)]


def backup(bin_dir: Path, conf: Mapping, server: str, name: str, host: str, port: int) -> list[str]:
    compression = [f"--{conf['data']['compression']}"] if (conf.get("data") or {}).get("compression") else []
    encryption = ["--encryption", conf["data"]["encryption"]] if (conf.get("data") or {}).get("encryption") else []
    # --host/--port: the sidecar reaches PostgreSQL through the pod's socket; here a socket folder of the drill.
    return [str(bin_dir / "barman-cloud-backup"), "--user", "postgres", "--name", name, *compression, *encryption,
            *_provider(conf), "--host", host, "--port", str(port), conf["destinationPath"], server]


def delete_by_retention(bin_dir: Path, spec: Mapping, server: str) -> list[str]:
    conf = spec["configuration"]
    return [str(bin_dir / "barman-cloud-backup-delete"), *_provider(conf), "--retention-policy",
            retention_policy(spec["retentionPolicy"]), conf["destinationPath"], server]


def backup_list(bin_dir: Path, conf: Mapping, server: str) -> list[str]:
    return [str(bin_dir / "barman-cloud-backup-list"), *_provider(conf), "--format", "json",
            conf["destinationPath"], server]


def restore(bin_dir: Path, conf: Mapping, server: str, backup_id: str, pgdata: Path) -> list[str]:
    return [str(bin_dir / "barman-cloud-restore"), *_provider(conf), conf["destinationPath"], server, backup_id,
            str(pgdata)]


def wal_restore(bin_dir: Path, conf: Mapping, server: str, wal: str, target: Path) -> list[str]:
    return [str(bin_dir / "barman-cloud-wal-restore"), *_provider(conf), conf["destinationPath"], server, wal,
            str(target)]
