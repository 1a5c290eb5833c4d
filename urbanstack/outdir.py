"""Output folders that a command owns: written completely or not at all, never wiping what it did not write.

Every command that writes a folder (``urbanstack plan --out``, ``costs report --out``, ``costs simulate --out``)
goes through :func:`replace_owned`. The rules:

* The folder may be new, empty, or one this tool wrote before: such a folder holds a marker file
  (:data:`MARKER`) that lists, one per line, every entry the earlier run wrote. Only those entries are replaced.
* Anything else in the folder (a file or folder the marker does not list, or a non-empty folder without a marker,
  such as a checkout's root given as ``--out .``) makes the command refuse with one line, before anything is
  written: :class:`OutputRefused`.
* The new content is built in a temporary folder beside the target and moved in only when the run succeeded; a
  failed run leaves the earlier run's files untouched and no half-written files behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER = ".urbanstack-output"
"""Marker file in every folder a command wrote; its lines name the entries that command wrote."""


class OutputRefused(Exception):
    """The target folder holds content this tool did not write (or is not a folder)."""


def _owned(folder: Path, kind: str) -> set[str]:
    """The entries of ``folder`` that an earlier run of ``kind`` wrote; refuses on anything foreign."""
    if not folder.exists():
        return set()
    if not folder.is_dir():
        raise OutputRefused(f"{folder}: exists and is not a folder; choose another --out")
    entries = {p.name for p in folder.iterdir()}
    if not entries:
        return set()
    marker = folder / MARKER
    if not marker.is_file():
        raise OutputRefused(
            f"{folder}: not empty and not written by urbanstack ({len(entries)} entries, no {MARKER}); "
            "refusing to replace it: choose an empty or new folder for --out")
    lines = marker.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != f"# {kind}":
        raise OutputRefused(f"{folder}: written by another urbanstack command ({lines[0][2:] if lines else '?'}), "
                            f"not by {kind}; choose another --out")
    owned = {line for line in lines[1:] if line and "/" not in line and line not in (".", "..")}
    foreign = sorted(entries - owned - {MARKER})
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputRefused(f"{folder}: holds entries urbanstack did not write ({shown}); "
                            "refusing to replace them: move them away or choose another --out")
    return owned


def check_target(folder: Path, kind: str) -> None:
    """Refuse early (before any work) when ``folder`` could not be replaced by a run of ``kind``."""
    _owned(folder, kind)


@contextmanager
def replace_owned(folder: Path, kind: str) -> Iterator[Path]:
    """Yield a temporary folder to write into; on success its entries replace what ``kind`` wrote before.

    ``kind`` names the command (``plan``, ``costs report``, ...): a folder written by one command is never
    replaced by another. On an exception nothing in ``folder`` changes and the temporary folder is removed.
    """
    owned = _owned(folder, kind)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield staging
        new = sorted(p.name for p in staging.iterdir() if p.name != MARKER)
        # Re-check right before the swap: nothing foreign may have appeared meanwhile.
        owned = _owned(folder, kind)
        folder.mkdir(exist_ok=True)
        for name in owned:
            _remove(folder / name)
        for name in new:
            os.replace(staging / name, folder / name)
        (folder / MARKER).write_text("\n".join([f"# {kind}", *new]) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
