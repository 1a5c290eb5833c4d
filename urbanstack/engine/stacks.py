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
from catalogue.shared_config import Cell, SharedConfig
from components.labels import register as register_labels
from components.provider import make_provider


def shared_stack(cfg: SharedConfig, cell: Cell | None = None, stack: str = "shared") -> dict[str, Any]:
    """A cell's platform: operators, identity, gateway and TLS, storage, monitoring (see components/shared).

    ``cfg`` is the settings as the cell sees them (``SharedConfig.in_cell``); ``cell`` says how its cluster is reached
    (default: the default cell's current kubeconfig context); ``stack`` is ``shared`` or ``shared.<cell>``.
    It reads no tenant file: a municipality joining or leaving changes no object of it (decision records 0012,
    0013; ``tests/test_join.py``)."""
    from components.backup import offsite_credentials
    from components.shared.certificates import dns01_credentials
    from components.shared.platform import SharedPlatform

    if cfg.backup.offsite is not None:  # refused before anything is registered (Secret backup-offsite)
        offsite_credentials(stack, "Keycloak's database backup (backup.offsite)")
    if cfg.tls.issuer == "acme":  # refused before anything is registered (Secret urban-dns01-credentials)
        dns01_credentials(cfg, stack)
    register_labels(labels.shared_scope(cfg.operatorCostCenter))
    provider = make_provider(stack, ROOT, cell.kubernetes.context if cell else None)
    platform = SharedPlatform("shared", cfg, opts=pulumi.ResourceOptions(providers=[provider]))
    return platform.outputs


def tenant_stack(tenant: Tenant, shared_ref: str, cfg: SharedConfig | None = None, cell: Cell | None = None,
                 stack: str | None = None) -> dict[str, Any]:
    """One municipality: tenancy baseline, database, realm, bucket, booked modules (see components/tenant).

    ``shared_ref`` names its cell's platform stack; ``cfg`` is the settings as its cell sees them (default: the
    shared config file's, default cell); ``stack`` is ``<slug>`` or ``<slug>.<cell>``."""
    from catalogue.shared_config import load_file
    from components.backup import offsite_credentials
    from components.tenant.database import uses_offsite
    from components.tenant.municipality import Municipality, shared_refs

    cfg = cfg or load_file()
    stack = stack or tenant.slug
    if tenant.platformSubdomain and not cfg.tls.platformSubdomains:  # refused before anything is registered
        raise pulumi.RunError(f"tenants/{tenant.slug}.yaml: platformSubdomain: the platform does not offer platform "
                              "subdomains (stacks/Pulumi.shared.yaml: urban-stack:tls.platformSubdomains); nothing "
                              "was registered")
    if uses_offsite(tenant, cfg.backup.offsite):  # refused before anything is registered (Secret backup-offsite)
        offsite_credentials(stack, "its database backup (shared config backup.offsite)")
    register_labels(labels.tenant_scope(tenant.slug, tenant.costCenter))
    provider = make_provider(stack, ROOT, cell.kubernetes.context if cell else None)
    ref = pulumi.StackReference(shared_ref)
    refs = dataclasses.replace(shared_refs(ref, cfg.storage.mode, cfg.smtp), offsite_backup=cfg.backup.offsite,
                               network=cfg.network, image_registry=cfg.imageRegistry, tls=cfg.tls,
                               admin_email=str(cfg.adminEmail), base_domain=cfg.baseDomain)
    muni = Municipality(tenant.slug, tenant, refs, opts=pulumi.ResourceOptions(providers=[provider]))
    return muni.outputs
