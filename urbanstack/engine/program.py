"""The Pulumi program: ``__main__.py`` calls :func:`main`, the offline plan calls :func:`build`.

Stack ``shared`` is the shared platform; a stack named like a tenant slug is that municipality
(``tenants/<slug>.yaml``). Everything is validated before the first resource is registered, so a bad
tenant file or shared config never leads to a half-applied deployment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from catalogue.names import CONFIG_NS, PROJECT
from catalogue.shared_config import ConfigError, SharedConfig, parse
from catalogue.tenants import TenantError, load_all, tenants_dir

SHARED = "shared"


class UnknownStack(Exception):
    pass


def shared_stack_ref(org: str | None = None) -> str:
    """Fully qualified name of the shared stack as tenant stacks reference it.

    Config ``urban-stack:sharedStack`` overrides it (e.g. ``acme-org/urban-stack/shared`` on Pulumi Cloud);
    the default ``organization/urban-stack/shared`` is what the DIY (file) backend uses.
    """
    return pulumi.Config(PROJECT).get("sharedStack") or f"{org or 'organization'}/{PROJECT}/{SHARED}"


def build(stack: str, tenants_path: Path | None = None, tenants: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """Register the resources of ``stack`` and return its outputs.

    ``tenants`` (already validated) lets the offline plan validate the tenant files once for all stacks;
    under the engine every stack validates all files itself.
    """
    if tenants is None:
        try:
            tenants = load_all([tenants_path or tenants_dir()])
        except TenantError as exc:
            raise pulumi.RunError(f"invalid tenant files, nothing was registered:\n{exc}") from None
    if stack == SHARED:
        from urbanstack.engine.stacks import shared_stack

        try:
            cfg = from_pulumi()
        except ConfigError as exc:
            raise pulumi.RunError(f"invalid shared stack configuration, nothing was registered:\n{exc}") from None
        return shared_stack(cfg)
    if stack in tenants:
        from urbanstack.engine.stacks import tenant_stack

        return tenant_stack(tenants[stack], shared_stack_ref())
    valid = ", ".join([SHARED, *tenants])
    raise UnknownStack(
        f"unknown stack '{stack}': valid stacks are {valid} "
        f"(a municipality's stack is named like its file tenants/<slug>.yaml)"
    )


def from_pulumi() -> SharedConfig:
    """Read every key of the ``urban-stack`` namespace from the running stack's config and validate it."""
    prefix = f"{CONFIG_NS}:"
    raw: dict[str, Any] = {}
    for key, value in pulumi.runtime.config.CONFIG.get().items():
        if key.startswith(prefix):
            try:
                raw[key[len(prefix):]] = json.loads(value)
            except (ValueError, TypeError):
                raw[key[len(prefix):]] = value
    return parse(raw)


def main() -> None:
    """Entry point of ``__main__.py`` under the real Pulumi engine."""
    try:
        outputs = build(pulumi.get_stack())
    except UnknownStack as exc:
        raise pulumi.RunError(str(exc)) from None
    for key, value in outputs.items():
        pulumi.export(key, value)
