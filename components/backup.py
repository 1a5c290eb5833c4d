"""The Barman Cloud ``ObjectStore`` spec, shared by every CloudNativePG cluster of the platform.

Two kinds of credentials exist: Rook's bucket Secrets (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) and
Secrets people create for an external provider (``ACCESS_KEY_ID``/``ACCESS_SECRET_KEY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from catalogue.shared_config import OFFSITE_CREDENTIALS, OFFSITE_SECRET
from components.k8s import child, meta

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


SERVER_SIDE_ENCRYPTION = "AES256"
"""``wal.encryption``/``data.encryption`` of an ObjectStore outside the cluster. The Barman Cloud plugin's
ObjectStore CRD (chart plugin-barman-cloud 0.4.0, ``templates/crds/crds.yaml``) allows ``AES256`` and ``aws:kms``;
github.com/cloudnative-pg/barman-cloud passes it as ``-e``/``--encryption`` to barman-cloud-wal-archive
(``pkg/archiver/command.go``) and barman-cloud-backup (``pkg/backup/backup.go``), which set the S3
``ServerSideEncryption`` of every object they write. Not for the in-cluster RGW (dev): Ceph refuses SSE requests
over plain HTTP (``rgw_crypt_require_ssl``, default true) and needs a configured SSE-S3 backend."""


def object_store_spec(destination: str, endpoint: Any, secret: str, keys: tuple[str, str],
                      retention: str, encryption: str | None = SERVER_SIDE_ENCRYPTION) -> dict[str, Any]:
    """WAL and base backups (gzip, server-side encrypted with ``encryption`` unless None) to ``destination``
    (``s3://bucket/path``) at ``endpoint``, kept ``retention`` (CloudNativePG syntax, e.g. ``30d``), with the key
    pair from Secret ``secret``."""
    sse = {"encryption": encryption} if encryption else {}
    return {
        "retentionPolicy": retention,
        "configuration": {
            "destinationPath": destination,
            "endpointURL": endpoint,
            "s3Credentials": {"accessKeyId": {"name": secret, "key": keys[0]},
                              "secretAccessKey": {"name": secret, "key": keys[1]}},
            "wal": {"compression": "gzip", **sse},
            "data": {"compression": "gzip", **sse},
        },
        # The Barman Cloud plugin (v0.13.0 internal/cnpgi/operator/lifecycle.go) gives its sidecar in every
        # instance pod exactly these resources; without them it runs unbounded next to PostgreSQL.
        "instanceSidecarConfiguration": {"resources": BARMAN_SIDECAR_RESOURCES},
    }


def offsite_credentials(stack: str, why: str) -> dict[str, Any]:
    """The off-site key pair from the running stack's config secrets (:data:`OFFSITE_CREDENTIALS`), as secret
    Outputs keyed like Secret :data:`OFFSITE_SECRET`; or a ``RunError`` naming both commands.

    Called before the stack registers anything (``urbanstack/engine/stacks.py``): without the pair, WAL archiving and the
    first backup would fail in the cluster while ``pulumi up`` reports success.
    """
    config = pulumi.Config(names.CONFIG_NS)
    values = {key: config.get_secret(name) for key, name in OFFSITE_CREDENTIALS.items()}
    missing = [OFFSITE_CREDENTIALS[key] for key, value in values.items() if value is None]
    if missing:
        commands = " and ".join(f"`pulumi config set --secret {names.CONFIG_NS}:{name} VALUE -s {stack}`"
                                for name in missing)
        raise pulumi.RunError(
            f"stack '{stack}': {why} needs the off-site key pair, but config secret(s) "
            f"{', '.join(f'{names.CONFIG_NS}:{n}' for n in missing)} are not set; nothing was registered. "
            f"Run {commands} (docs/operations.md, Backups)")
    return values


def offsite_secret(parent: pulumi.Resource, namespace: str, credentials: Mapping[str, Any],
                   opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Secret:
    """Secret :data:`OFFSITE_SECRET` in ``namespace`` from :func:`offsite_credentials` (values stay secret)."""
    return k8s.core.v1.Secret(
        OFFSITE_SECRET, metadata=meta(OFFSITE_SECRET, namespace), type="Opaque",
        string_data={key: pulumi.Output.secret(value) for key, value in credentials.items()},
        opts=child(parent, pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["stringData"]))))
