"""Output folders that a command owns: written completely or not at all, never wiping what it did not write.

Every command that writes a folder (``urbanstack plan --out``, ``costs report --out``, ``costs simulate --out``)
goes through :func:`replace_owned`. The rules:

* The folder may be new, empty, or one this tool wrote before: such a folder holds a marker file
  (:data:`MARKER`) that lists, one per line, every file the earlier run wrote, at any depth
  (``verl/resources.json``). Only those files (and the folders that held nothing else) are replaced.
* Anything else in the folder, at any depth (a file the marker does not list, such as a note kept in
  ``build/plan/verl/``, or a non-empty folder without a marker, such as a checkout's root given as ``--out .``)
  makes the command refuse with one line naming it, before anything is written: :class:`OutputRefused`.
  A marker of an earlier version that listed whole folders cannot tell what was added inside them: such a
  folder is refused too, with what to do.
* The new content is built in a temporary folder beside the target and moved in only when the run succeeded; a
  failed run leaves the earlier run's files untouched and no half-written files behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

MARKER = ".urbanstack-output"
"""Marker file in every folder a command wrote; its lines name the entries that command wrote."""


class OutputRefused(Exception):
    """The target folder holds content this tool did not write (or is not a folder)."""


def _owned(folder: Path, kind: str) -> set[str]:
    """The top-level entries of ``folder`` that an earlier run of ``kind`` wrote (every file below them listed in
    its marker); refuses on anything foreign, at any depth."""
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
    listed = {line for line in lines[1:] if line and not line.startswith("/")
              and ".." not in PurePosixPath(line).parts and "." not in PurePosixPath(line).parts}
    legacy = sorted(n for n in listed if "/" not in n and (folder / n).is_dir() and not (folder / n).is_symlink())
    if legacy:
        raise OutputRefused(f"{folder}: written by an earlier urbanstack whose {MARKER} lists folders, not files "
                            f"({', '.join(legacy[:3])}): it cannot tell what was added inside them; move what you "
                            f"keep there elsewhere, remove the folder, and run again")
    foreign = sorted(rel for rel in _files(folder) if rel not in listed and rel != MARKER)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputRefused(f"{folder}: holds files urbanstack did not write ({shown}); "
                            "refusing to replace them: move them away or choose another --out")
    return {PurePosixPath(rel).parts[0] for rel in listed} & entries


def _files(folder: Path) -> list[str]:
    """Every file, symbolic link and empty folder below ``folder``, as a relative POSIX path."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        links = [d for d in dirs if (here / d).is_symlink()]
        dirs[:] = [d for d in dirs if d not in links]
        found += [(here / name).relative_to(folder).as_posix() for name in [*files, *links]]
        if not dirs and not files and not links and here != folder:
            found.append(here.relative_to(folder).as_posix() + "/")
    return found


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
        written = sorted(rel for rel in _files(staging) if rel != MARKER)
        # Re-check right before the swap: nothing foreign may have appeared meanwhile.
        owned = _owned(folder, kind)
        folder.mkdir(exist_ok=True)
        for name in owned:
            _remove(folder / name)
        for name in new:
            os.replace(staging / name, folder / name)
        (folder / MARKER).write_text("\n".join([f"# {kind}", *written]) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def atomic_write(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``path`` through a temporary file in the same folder, flushed to disk, and a rename: never half-written.
    ``mode``: the new file's permissions; None keeps those of the file it replaces (0600 for a new one)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
