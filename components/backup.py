"""The Barman Cloud ``ObjectStore`` spec, shared by every CloudNativePG cluster of the platform.

Two kinds of credentials exist: Rook's bucket Secrets (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) and
Secrets people create for an external provider (``ACCESS_KEY_ID``/``ACCESS_SECRET_KEY``).
"""

from __future__ import annotations

from typing import Any

from catalogue import names

ROOK_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
EXTERNAL_KEYS = ("ACCESS_KEY_ID", "ACCESS_SECRET_KEY")


BARMAN_SIDECAR_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"},
                            "limits": {"cpu": "500m", "memory": "512Mi"}}
"""WAL archiving and base backups (barman-cloud-wal-archive, barman-cloud-backup) in the instance pod's sidecar."""


def wal_archiver(store: str, server_name: str | None = None) -> dict[str, Any]:
    """A cluster's ``plugins`` entry: the Barman Cloud plugin archives WAL (and takes base backups) into
    ObjectStore ``store``, under ``server_name`` (default: the cluster's name)."""
    parameters = {"barmanObjectName": store, **({"serverName": server_name} if server_name else {})}
    return {"name": names.BARMAN_PLUGIN, "isWALArchiver": True, "parameters": parameters}


def scheduled_backup_spec(cluster: str, schedule: str) -> dict[str, Any]:
    """A ``ScheduledBackup`` of ``cluster`` through the Barman Cloud plugin at ``schedule`` (six-field cron, with
    seconds), a first backup at once, owned by the ScheduledBackup."""
    return {"schedule": schedule, "backupOwnerReference": "self", "immediate": True,
            "cluster": {"name": cluster}, "method": "plugin", "pluginConfiguration": {"name": names.BARMAN_PLUGIN}}


def object_store_spec(destination: str, endpoint: Any, secret: str, keys: tuple[str, str],
                      retention: str) -> dict[str, Any]:
    """WAL and base backups (gzip) to ``destination`` (``s3://bucket/path``) at ``endpoint``, kept ``retention``
    (CloudNativePG syntax, e.g. ``30d``), with the key pair from Secret ``secret``."""
    return {
        "retentionPolicy": retention,
        "configuration": {
            "destinationPath": destination,
            "endpointURL": endpoint,
            "s3Credentials": {"accessKeyId": {"name": secret, "key": keys[0]},
                              "secretAccessKey": {"name": secret, "key": keys[1]}},
            "wal": {"compression": "gzip"},
            "data": {"compression": "gzip"},
        },
        # The Barman Cloud plugin (v0.13.0 internal/cnpgi/operator/lifecycle.go) gives its sidecar in every
        # instance pod exactly these resources; without them it runs unbounded next to PostgreSQL.
        "instanceSidecarConfiguration": {"resources": BARMAN_SIDECAR_RESOURCES},
    }
