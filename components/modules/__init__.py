"""The module catalogue: one file per module, one entry per module here.

Every module file has the same shape:

* ``Options`` – a :class:`components.base.ModuleOptions` model: the module's options in the tenant file,
  every field described (the tenant schema and its docs are built from it);
* ``SPEC`` – a :class:`components.base.ModuleSpec`: name, title, sizing per workload, databases, OIDC,
  public access (read by the schema, the tenant stack, the docs and the cost estimate);
* ``Component`` – a ``pulumi.ComponentResource`` with type token ``SPEC.component_type`` and the
  constructor ``Component(ctx: TenantContext, options: Options, opts=None)``.

To add a module: write ``components/modules/<name>.py`` in that shape and add it to ``_MODULES`` below.
``tests/test_module_contract.py`` holds every entry to the same contract.
"""

from __future__ import annotations

from types import ModuleType

from components.modules import dashboards, lowcode, masterportal, opendata, rei3, urbandata

_MODULES: tuple[ModuleType, ...] = (dashboards, lowcode, opendata, urbandata, masterportal, rei3)

CATALOGUE: dict[str, ModuleType] = {m.SPEC.key: m for m in _MODULES}
"""Tenant-file key (``lowCode``) -> module file. Order = order of deployment and of the docs."""


def by_name(name: str) -> ModuleType:
    """Module file by its DNS-safe name / label value (``lowcode``)."""
    for mod in CATALOGUE.values():
        if mod.SPEC.name == name:
            return mod
    raise KeyError(name)


def module_names() -> set[str]:
    """All label values ``urban-stack/module`` of booked modules."""
    return {m.SPEC.name for m in CATALOGUE.values()}


def module_label_values() -> set[str]:
    """Every valid ``urban-stack/module`` value: the catalogue's modules and the platform components."""
    from components.labels import PLATFORM_MODULES

    return module_names() | set(PLATFORM_MODULES)


def module_label(tag: str | None) -> str | None:
    """Normalise a module tag value to its label value: the label spelling (``lowcode``) and the tenant-file
    spelling (``lowCode``) of a catalogue module, or a platform component (``identity``). ``None`` when the
    value names neither (the caller reports it)."""
    if not tag:
        return None
    for mod in CATALOGUE.values():
        if tag in (mod.SPEC.name, mod.SPEC.key):
            return mod.SPEC.name
    from components.labels import PLATFORM_MODULES

    return tag if tag in PLATFORM_MODULES else None
