"""Cells: which stack is which cell's, and which municipality lives where (decision record 0015).

A cell is one Kubernetes cluster with its own platform stack and its own members. Its stacks are named by one rule:
the default cell's keep the names they had before cells (``shared``, ``<slug>``), every other cell's carry the
cell's name after a dot (``shared.<cell>``, ``<slug>.<cell>``; Pulumi stack names allow ``.``, slugs and cell names
do not contain one). So a municipality moving to another cell gets a new stack next to the old one, and the old
one keeps its resources until the move's release (``urbanstack tenants move``, docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalogue.shared_config import SharedConfig

PLATFORM = "shared"
"""The platform stack's name in the default cell (and the first part of every other cell's)."""


def platform_stack(cfg: SharedConfig, cell: str) -> str:
    """``shared`` for the default cell, ``shared.<cell>`` for every other."""
    return PLATFORM if cell == cfg.default_cell else f"{PLATFORM}.{cell}"


def cell_of(cfg: SharedConfig, tenant: Any) -> str:
    """The cell a municipality lives in: its tenant file's ``cell``, or the default cell."""
    return tenant.cell or cfg.default_cell


def municipality_stack(cfg: SharedConfig, tenant: Any) -> str:
    """``<slug>`` in the default cell, ``<slug>.<cell>`` in every other."""
    cell = cell_of(cfg, tenant)
    return tenant.slug if cell == cfg.default_cell else f"{tenant.slug}.{cell}"


@dataclass(frozen=True)
class CellStacks:
    """One cell's stacks: its platform stack and its members (slug -> stack name), in tenant order."""

    cell: str
    platform: str
    members: dict[str, str]


def layout(cfg: SharedConfig, tenants: Mapping[str, Any]) -> list[CellStacks]:
    """Every cell with its platform stack and its members' stacks: the default cell first, then the others in the
    shared config's order (each cell's platform stack is deployed before its members)."""
    out = []
    for cell in sorted(cfg.cell_list, key=lambda c: not c.default):
        members = {slug: municipality_stack(cfg, t) for slug, t in tenants.items() if cell_of(cfg, t) == cell.name}
        out.append(CellStacks(cell.name, platform_stack(cfg, cell.name), members))
    return out


@dataclass(frozen=True)
class StackRole:
    """What a stack name stands for: a cell's platform (``slug`` None) or a municipality in a cell."""

    cell: str
    slug: str | None = None


class UnknownStack(ValueError):
    """A stack name that is neither a cell's platform stack nor a municipality's stack in its cell."""


def role(stack: str, cfg: SharedConfig, tenants: Mapping[str, Any]) -> StackRole:
    """What ``stack`` is, or :class:`UnknownStack` with the valid names (and, for a municipality's stack in a cell
    it has left, where it lives now)."""
    for cs in layout(cfg, tenants):
        if stack == cs.platform:
            return StackRole(cs.cell)
        for slug, name in cs.members.items():
            if stack == name:
                return StackRole(cs.cell, slug)
    base, _, cell = stack.partition(".")
    tenant = tenants.get(base)
    if tenant is not None and (cell or cfg.default_cell) in {c.name for c in cfg.cell_list}:
        now = municipality_stack(cfg, tenant)
        raise UnknownStack(
            f"stack '{stack}' is {base}'s stack in cell '{cell or cfg.default_cell}', but tenants/{base}.yaml "
            f"names cell '{cell_of(cfg, tenant)}' (stack '{now}'). A municipality that moved keeps its old stack "
            f"until the move's release: `urbanstack tenants move {base} --release-source`, then `pulumi destroy -s "
            f"{stack}` (docs/operations.md, Moving a municipality to another cell); nothing was registered")
    valid = ", ".join(name for cs in layout(cfg, tenants) for name in (cs.platform, *cs.members.values()))
    raise UnknownStack(f"unknown stack '{stack}': valid stacks are {valid} (a municipality's stack is named like "
                       f"its file tenants/<slug>.yaml, followed by .<cell> outside the default cell)")


def cell_on(tenant: Any, day: dt.date, default_cell: str) -> str:
    """The cell a municipality was in on ``day``: the first ``cellHistory`` entry whose ``until`` is on or after
    it, else its current cell."""
    for stay in tenant.cellHistory:
        if day <= stay.until:
            return stay.cell
    return tenant.cell or default_cell
