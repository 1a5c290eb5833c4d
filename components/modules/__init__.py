"""The components of the catalogue's modules: ``components/modules/<file>.py`` builds the module whose options
and spec are ``catalogue/modules/<file>.py`` (same file name, ``catalogue.modules.FILES``).

Every component file defines ``Component``, a :class:`components.module.ModuleComponent` with ``SPEC`` (the
catalogue's spec) as class attribute and the constructor ``Component(ctx: ModuleContext, options, opts=None)``.
"""

from __future__ import annotations

import importlib

from catalogue.modules import FILES
from components.module import ModuleComponent


def component(key: str) -> type[ModuleComponent]:
    """The component class of catalogue module ``key`` (tenant-file key, e.g. ``lowCode``)."""
    cls = importlib.import_module(f"components.modules.{FILES[key]}").Component
    if cls.SPEC.key != key:
        raise TypeError(f"components/modules/{FILES[key]}.py builds {cls.SPEC.key!r}, not {key!r}")
    return cls
