"""``python -m urbanstack.checks PLAN_DIR``: the same command line as ``urbanstack check``."""

from __future__ import annotations

import sys

from urbanstack.cli import app


def main(argv: list[str] | None = None) -> None:
    """The same command line as ``urbanstack check`` (exits with its code)."""
    app(["check", *(sys.argv[1:] if argv is None else argv)], prog_name="python -m urbanstack.checks")


if __name__ == "__main__":
    main()
