"""The module catalogue: one file per module, one entry per module here.

Every catalogue file ``catalogue/modules/<name>.py`` has the same shape:

* ``Options`` – a :class:`catalogue.spec.ModuleOptions` model: the module's options in the tenant file,
  every field described (the tenant schema and its docs are built from it);
* ``SPEC`` – a :class:`catalogue.spec.ModuleSpec`: name (also its cost module, the label value
  ``urban-stack/module``), title, sizing per workload, databases, OIDC, public access (read by the schema, the
  tenant stack, the docs, the checks and finance).

The component that builds the module is ``components/modules/<name>.py`` (same file name; ``components.modules``
finds it). To add a module: write ``catalogue/modules/<name>.py`` in that shape, add it to ``_MODULES`` below,
and write its component. ``tests/test_module_contract.py`` holds every entry to the same contract.
"""

from __future__ import annotations

from catalogue.labels import PLATFORM_COMPONENTS, PLATFORM_MODULES
from catalogue.modules import dashboards, lowcode, masterportal, opendata, rei3, urbandata
from catalogue.spec import ModuleSpec

_MODULES = (dashboards, lowcode, opendata, urbandata, masterportal, rei3)

CATALOGUE: dict[str, ModuleSpec] = {m.SPEC.key: m.SPEC for m in _MODULES}
"""Tenant-file key (``lowCode``) -> the module's spec. Order = order of deployment and of the docs."""

FILES: dict[str, str] = {m.SPEC.key: m.__name__.rsplit(".", 1)[1] for m in _MODULES}
"""Tenant-file key -> file name of the module (``catalogue/modules/<file>.py``, ``components/modules/<file>.py``)."""


def by_name(name: str) -> ModuleSpec:
    """A module's spec by its DNS-safe name / label value (``lowcode``)."""
    for spec in CATALOGUE.values():
        if spec.name == name:
            return spec
    raise KeyError(name)


def module_names() -> set[str]:
    """All label values ``urban-stack/module`` of booked modules."""
    return {spec.name for spec in CATALOGUE.values()}


def module_label_values() -> set[str]:
    """Every valid ``urban-stack/module`` value: the catalogue's modules and the platform components."""
    return module_names() | set(PLATFORM_MODULES)


def cost_modules() -> dict[str, str]:
    """Component type token -> the module that pays for what the component creates: each module's component
    (``ModuleSpec.component_type`` -> ``ModuleSpec.name``) and each platform component
    (:data:`catalogue.labels.PLATFORM_COMPONENTS`)."""
    return {**{spec.component_type: spec.name for spec in CATALOGUE.values()}, **PLATFORM_COMPONENTS}


def module_label(tag: str | None) -> str | None:
    """Normalise a module tag value to its label value: the label spelling (``lowcode``) and the tenant-file
    spelling (``lowCode``) of a catalogue module, or a platform component (``identity``). ``None`` when the
    value names neither (the caller reports it)."""
    if not tag:
        return None
    for spec in CATALOGUE.values():
        if tag in (spec.name, spec.key):
            return spec.name
    return tag if tag in PLATFORM_MODULES else None
