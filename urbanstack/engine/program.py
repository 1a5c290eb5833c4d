"""The Pulumi program: ``__main__.py`` calls :func:`main`, the offline plan calls :func:`build`.

Stack ``shared`` is the default cell's platform, ``shared.<cell>`` another cell's; a stack named like a tenant
slug is that municipality (``tenants/<slug>.yaml``), ``<slug>.<cell>`` outside the default cell
(``catalogue/cells.py``). Everything is validated before the first resource is registered, so a bad
tenant file or shared config never leads to a half-applied deployment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from catalogue.names import CONFIG_NS, PROJECT
from catalogue.shared_config import (
    ENCRYPTED,
    SHARED_CONFIG,
    ConfigError,
    SharedConfig,
    load_file,
    parse,
    plain_secrets,
    stack_config,
)
from catalogue.tenants import TenantError, load_all, tenants_dir

SHARED = "shared"


class UnknownStack(Exception):
    pass


def shared_stack_ref(org: str | None = None, platform: str = SHARED) -> str:
    """Fully qualified name of the platform stack (``shared``, or ``shared.<cell>``) as a municipality stack of that
    cell references it.

    Config ``urban-stack:sharedStack`` of the municipality's stack overrides it (e.g. ``acme-org/urban-stack/shared``
    on Pulumi Cloud); the default ``organization/urban-stack/<platform>`` is what the DIY (file) backend uses.
    """
    return pulumi.Config(PROJECT).get("sharedStack") or f"{org or 'organization'}/{PROJECT}/{platform}"


def build(stack: str, tenants_path: Path | None = None, tenants: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """Register the resources of ``stack`` and return its outputs.

    ``stack`` is a cell's platform stack (``shared`` in the default cell, ``shared.<cell>`` in any other) or a
    municipality's stack in its cell (``<slug>``, ``<slug>.<cell>``; ``catalogue/cells.py``). ``tenants`` (already
    validated) lets the offline plan validate the tenant files once for all stacks; under the engine every stack
    validates all files itself.
    """
    from catalogue import cells

    if tenants is None:
        try:
            tenants = load_all([tenants_path or tenants_dir()])
        except TenantError as exc:
            raise pulumi.RunError(f"invalid tenant files, nothing was registered:\n{exc}") from None
    try:
        # The default cell's platform stack is configured by its own stack config (this file); every other stack
        # reads the shared config file, a cell's platform stack with its own keys (its secrets) on top.
        cfg = from_pulumi() if stack == SHARED else from_file(with_own=stack.startswith(f"{SHARED}."))
    except ConfigError as exc:
        raise pulumi.RunError(f"invalid shared stack configuration, nothing was registered:\n{exc}") from None
    try:
        what = cells.role(stack, cfg, tenants)
    except cells.UnknownStack as exc:
        raise UnknownStack(str(exc)) from None
    if what.slug is None:
        from urbanstack.engine.stacks import shared_stack

        return shared_stack(cfg.in_cell(what.cell), cfg.cell(what.cell), stack)
    from urbanstack.engine.stacks import tenant_stack

    return tenant_stack(tenants[what.slug], shared_stack_ref(platform=cells.platform_stack(cfg, what.cell)),
                        cfg.in_cell(what.cell), cfg.cell(what.cell), stack)


def _own_config() -> dict[str, Any]:
    prefix = f"{CONFIG_NS}:"
    raw: dict[str, Any] = {}
    for key, value in pulumi.runtime.config.CONFIG.get().items():
        if key.startswith(prefix):
            try:
                raw[key[len(prefix):]] = json.loads(value)
            except (ValueError, TypeError):
                raw[key[len(prefix):]] = value
    return raw


def from_file(with_own: bool = False) -> SharedConfig:
    """The shared config file's settings (its ``secure:`` values left out: they are the ``shared`` stack's own), with
    the running stack's keys on top when ``with_own`` (a cell's platform stack: its own secrets)."""
    if not with_own:
        return load_file()
    plain = plain_secrets(SHARED_CONFIG)
    if plain:
        raise ConfigError("\n".join(plain))
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(SHARED_CONFIG).items()
           if k.startswith(f"{CONFIG_NS}:") and v != ENCRYPTED}
    return parse({**raw, **_own_config()})


def from_pulumi() -> SharedConfig:
    """Read every key of the ``urban-stack`` namespace from the running stack's config and validate it."""
    return parse(_own_config())


def main() -> None:
    """Entry point of ``__main__.py`` under the real Pulumi engine."""
    try:
        outputs = build(pulumi.get_stack())
    except UnknownStack as exc:
        raise pulumi.RunError(str(exc)) from None
    for key, value in outputs.items():
        pulumi.export(key, value)
