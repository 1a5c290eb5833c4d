"""``make images``: build the images upstream does not publish and push them to the operator's registry.

Every folder ``images/<key>/`` holds a Dockerfile; ``catalogue/versions.py`` pins its tag
(``IMAGES[<key>]``, ``built_here=True``) and the shared config names the registry (``urban-stack:imageRegistry``
in ``stacks/Pulumi.shared.yaml``). For each image this runs

    docker build -t <imageRegistry>/<name>:<tag> images/<key>
    docker push <imageRegistry>/<name>:<tag>

and stops at the first failure. Pushing needs a ``docker login`` to the registry first. Without Docker it
refuses before doing anything, saying so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from catalogue.paths import ROOT
from catalogue.versions import built_images

IMAGES_DIR = ROOT / "images"


class ImagesError(Exception):
    """``make images`` cannot run; the message says why and what to do."""


def plan(registry: str, images_dir: Path = IMAGES_DIR) -> list[list[str]]:
    """The docker commands, in order: build then push, per image folder (sorted)."""
    refs = built_images(registry)
    folders = sorted(p.name for p in images_dir.iterdir() if (p / "Dockerfile").is_file())
    unpinned = [key for key in folders if key not in refs]
    if unpinned:
        raise ImagesError(f"images/{unpinned[0]}/Dockerfile has no entry with built_here=True in "
                          f"catalogue/versions.py IMAGES: add one with the tag to publish")
    missing = sorted(set(refs) - set(folders))
    if missing:
        raise ImagesError(f"catalogue/versions.py IMAGES['{missing[0]}'] is built_here, but "
                          f"images/{missing[0]}/Dockerfile does not exist")
    commands = []
    for key in folders:
        commands.append(["docker", "build", "-t", refs[key], str(images_dir / key)])
        commands.append(["docker", "push", refs[key]])
    return commands


def registry_from_config() -> str:
    """``urban-stack:imageRegistry`` of ``stacks/Pulumi.shared.yaml``, validated like the shared stack does."""
    from catalogue.shared_config import ConfigError, load_file

    try:
        return load_file().imageRegistry
    except ConfigError as exc:
        raise ImagesError(str(exc)) from None


def publish(registry: str, run: Callable[[Sequence[str]], int] | None = None,
            which: Callable[[str], str | None] | None = None, images_dir: Path = IMAGES_DIR,
            echo: Callable[[str], None] = print) -> list[str]:
    """Build and push every image of ``images/``; return the pushed references."""
    if (which or shutil.which)("docker") is None:
        raise ImagesError("Docker is needed and the `docker` command is not on PATH: install Docker or run "
                          "`make images` on a machine with Docker that is logged in to the registry "
                          f"({registry}); nothing was built or pushed")
    run = run or (lambda cmd: subprocess.run(list(cmd), check=False).returncode)
    commands = plan(registry, images_dir)
    for cmd in commands:
        echo(" ".join(cmd))
        if run(cmd) != 0:
            raise ImagesError(f"`{' '.join(cmd)}` failed; images pushed before it stay in {registry}")
    return [cmd[2] for cmd in commands if cmd[1] == "push"]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        pushed = publish(registry_from_config())
    except ImagesError as exc:
        print(f"make images: {exc}", file=sys.stderr)
        return 1
    print(f"pushed {len(pushed)} images: {', '.join(pushed)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
