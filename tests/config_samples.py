"""A valid shared-stack configuration (keys without the ``urban-stack:`` namespace): tests change one key of it."""

from __future__ import annotations

SHARED_REQUIRED = {
    "baseDomain": "urbanstack.example.de",
    "operatorName": "Betrieb",
    "operatorCostCenter": "KST-1",
    "adminEmail": "betrieb@example.de",
    "imageRegistry": "registry.example.de/urban-stack",
}
"""Every key without a default; with the defaults (profile production, storage rook-ceph) it still needs
``backup.offsite``: :data:`SHARED_VALID` has one."""
OFFSITE = {"offsite": {"endpoint": "https://s3.offsite.example", "bucket": "offsite-backups"}}
SHARED_VALID = {**SHARED_REQUIRED, "backup": OFFSITE}
