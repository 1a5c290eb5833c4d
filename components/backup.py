"""The Barman Cloud ``ObjectStore`` spec, shared by every CloudNativePG cluster of the platform.

Two kinds of credentials exist: Rook's bucket Secrets (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) and
Secrets people create for an external provider (``ACCESS_KEY_ID``/``ACCESS_SECRET_KEY``).
"""

from __future__ import annotations

from typing import Any

ROOK_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
EXTERNAL_KEYS = ("ACCESS_KEY_ID", "ACCESS_SECRET_KEY")


BARMAN_SIDECAR_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"},
                            "limits": {"cpu": "500m", "memory": "512Mi"}}
"""WAL archiving and base backups (barman-cloud-wal-archive, barman-cloud-backup) in the instance pod's sidecar."""


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
        # The Barman Cloud plugin (v0.10.0 internal/cnpgi/operator/lifecycle.go) gives its sidecar in every
        # instance pod exactly these resources; without them it runs unbounded next to PostgreSQL.
        "instanceSidecarConfiguration": {"resources": BARMAN_SIDECAR_RESOURCES},
    }
