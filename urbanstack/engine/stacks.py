"""The two kinds of stack: ``shared`` (the platform) and one per municipality.

Each function registers the stack's label transform first (so every object is born labelled), creates the
stack's Kubernetes provider, composes the components and returns the stack outputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from catalogue import labels
from catalogue.paths import ROOT
from catalogue.schema import Tenant
from catalogue.shared_config import SharedConfig
from components.labels import register as register_labels
from components.provider import make_provider


def shared_stack(cfg: SharedConfig) -> dict[str, Any]:
    """The shared platform: operators, identity, gateway and TLS, storage, monitoring (see components/shared).

    It reads no tenant file: a municipality joining or leaving changes no object of it (decision records 0012,
    0013; ``tests/test_join.py``)."""
    from components.backup import offsite_credentials
    from components.shared.certificates import dns01_credentials
    from components.shared.platform import SharedPlatform

    if cfg.backup.offsite is not None:  # refused before anything is registered (Secret backup-offsite)
        offsite_credentials("shared", "Keycloak's database backup (backup.offsite)")
    if cfg.tls.issuer == "acme":  # refused before anything is registered (Secret urban-dns01-credentials)
        dns01_credentials(cfg)
    register_labels(labels.shared_scope(cfg.operatorCostCenter))
    provider = make_provider("shared", ROOT)
    platform = SharedPlatform("shared", cfg, opts=pulumi.ResourceOptions(providers=[provider]))
    return platform.outputs


def tenant_stack(tenant: Tenant, shared_ref: str) -> dict[str, Any]:
    """One municipality: tenancy baseline, database, realm, bucket, booked modules (see components/tenant)."""
    from catalogue.shared_config import load_file
    from components.backup import offsite_credentials
    from components.tenant.database import uses_offsite
    from components.tenant.municipality import Municipality, shared_refs

    cfg = load_file()
    if tenant.platformSubdomain and not cfg.tls.platformSubdomains:  # refused before anything is registered
        raise pulumi.RunError(f"tenants/{tenant.slug}.yaml: platformSubdomain: the platform does not offer platform "
                              "subdomains (stacks/Pulumi.shared.yaml: urban-stack:tls.platformSubdomains); nothing "
                              "was registered")
    if uses_offsite(tenant, cfg.backup.offsite):  # refused before anything is registered (Secret backup-offsite)
        offsite_credentials(tenant.slug, "its database backup (shared config backup.offsite)")
    register_labels(labels.tenant_scope(tenant.slug, tenant.costCenter))
    provider = make_provider(tenant.slug, ROOT)
    ref = pulumi.StackReference(shared_ref)
    refs = dataclasses.replace(shared_refs(ref, cfg.storage.mode, cfg.smtp), offsite_backup=cfg.backup.offsite,
                               network=cfg.network, image_registry=cfg.imageRegistry, tls=cfg.tls,
                               admin_email=str(cfg.adminEmail), base_domain=cfg.baseDomain)
    muni = Municipality(tenant.slug, tenant, refs, opts=pulumi.ResourceOptions(providers=[provider]))
    return muni.outputs
