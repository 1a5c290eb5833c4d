"""Validate a FOCUS dataset with focus-validator 1.0.0, which lives in its own virtualenv ``.venv-focus``.

focus-validator pins numpy<2 and pandas<3 (``.venv`` has numpy 2 and pandas 3), so it gets a venv of its own,
created from the exact pins in ``finance/focus-validator.requirements.txt`` by ``make focus-venv`` or by
:func:`ensure_venv` (tests call it, so a clean clone creates it on first use; with uv from .venv about 15 s). The check
runs ``finance/focus_check_runner.py`` with that venv's interpreter and reads its JSON summary.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = HERE / "focus-validator.requirements.txt"
CONFIG = HERE / "focus-validator.yaml"
RUNNER = HERE / "focus_check_runner.py"
VENV = Path(os.environ.get("URBANSTACK_FOCUS_VENV", ROOT / ".venv-focus"))


class FocusCheckError(Exception):
    """The validator could not be installed or run."""


@dataclass
class FocusCheck:
    ok: bool
    summary: dict

    @property
    def failed(self) -> list:
        return self.summary.get("failed", []) + self.summary.get("errored", [])


def python(venv_dir: Path = VENV) -> Path:
    return venv_dir / "bin" / "python"


def _stamp(venv_dir: Path) -> Path:
    return venv_dir / ".installed"


def ensure_venv(venv_dir: Path = VENV, base_python: str | None = None) -> Path:
    """Create ``venv_dir`` with the pinned focus-validator unless it is up to date; return its python."""
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv_dir.parent / f"{venv_dir.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers: one installs, the others wait
        stamp = _stamp(venv_dir)
        wanted = REQUIREMENTS.read_text(encoding="utf-8")
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted and python(venv_dir).exists():
            return python(venv_dir)
        uv = _uv()
        if uv:  # `make venv` puts uv into .venv: seconds instead of a minute with pip
            _run([uv, "venv", "--quiet", "--clear", "--python", base_python or sys.executable, str(venv_dir)],
                 "create the virtualenv")
            _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python(venv_dir)), "--no-deps",
                  "--require-hashes", "-r", str(REQUIREMENTS)], "install focus-validator")
        else:
            if base_python:
                _run([base_python, "-m", "venv", "--clear", str(venv_dir)], "create the virtualenv")
            else:
                venv.EnvBuilder(clear=True, with_pip=True).create(venv_dir)
            _run([str(python(venv_dir)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "--no-deps", "--require-hashes", "-r", str(REQUIREMENTS)], "install focus-validator")
        _run([str(python(venv_dir)), "-c", "import focus_validator.validator"], "import focus_validator")
        stamp.write_text(wanted, encoding="utf-8")
        return python(venv_dir)


def _uv() -> str | None:
    """uv beside this interpreter (``make venv`` installs it into .venv) or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FocusCheckError(f"cannot {what} ({' '.join(cmd[:4])} ...):\n{proc.stderr[-3000:]}")


def validate(parquet: Path, *, venv_dir: Path = VENV, config: Path = CONFIG, create: bool = True) -> FocusCheck:
    """Run focus-validator 1.0.0 (its 1.0 rules, with ``config``'s overrides and renames) on ``parquet``."""
    py = ensure_venv(venv_dir) if create else python(venv_dir)
    if not py.exists():
        raise FocusCheckError(f"{venv_dir} does not exist: run `make focus-venv`")
    proc = subprocess.run([str(py), str(RUNNER), str(Path(parquet).resolve()), str(config)],
                          capture_output=True, text=True, check=False, timeout=600)
    try:
        summary = json.loads(proc.stdout)
    except ValueError:
        raise FocusCheckError(f"focus-validator failed on {parquet}:\n{proc.stderr[-3000:]}") from None
    return FocusCheck(ok=proc.returncode == 0, summary=summary)


if __name__ == "__main__":  # pragma: no cover - `python -m finance.focuscheck --ensure | FILE.parquet`
    if sys.argv[1:] == ["--ensure"]:  # `make focus-venv`
        print(f"focus-validator ready: {ensure_venv()}")
        sys.exit(0)
    result = validate(Path(sys.argv[1]))
    print(json.dumps(result.summary, indent=1))
    sys.exit(0 if result.ok else 1)
