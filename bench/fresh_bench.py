"""Benchmark 4: ``make test`` as a newcomer meets it: a fresh clone, with nothing beside it.

Three runs of the README's test command, each timed with its setup steps (the ``step:`` lines of the Makefile):

* ``fresh, cold``: a new clone of the committed ``HEAD`` into an empty temporary folder (no sibling folders, no
  virtualenvs) with an empty package cache, so every package is downloaded, as on a new CI machine;
* ``fresh, warm cache``: another new clone, the package cache of the first run kept (a developer's second clone);
* ``warm``: ``make test`` again in the second clone, virtualenvs present (the everyday edit-and-test loop).

Run alone with ``python -m bench.fresh_bench``; ``make bench`` runs it as part of the whole set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalogue.paths import ROOT

STEP = re.compile(r"^step: (.+): ([\d.]+) s$", re.M)
PYTEST = re.compile(r"^=*\s*(\d+ passed.* in [\d.]+s).*$", re.M)


def _make_test(clone: Path, env: dict[str, str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(["make", "test"], cwd=clone, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    summary = PYTEST.findall(proc.stdout)
    return {"seconds": round(seconds, 1), "ok": proc.returncode == 0,
            "steps": {name: float(s) for name, s in STEP.findall(proc.stdout + proc.stderr)},
            "pytest": summary[-1] if summary else "", "tail": (proc.stdout + proc.stderr)[-2000:]}


def run() -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="urbanstack-fresh-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "VIRTUAL_ENV", "UV_"))}
        env["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")  # empty: every package is downloaded
        for name, clone in (("fresh_cold", Path(tmp) / "clone-1"), ("fresh_warm_cache", Path(tmp) / "clone-2")):
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
            out[name] = _make_test(clone, env)
            _say(name, out[name])
        out["warm"] = _make_test(Path(tmp) / "clone-2", env)
        _say("warm", out["warm"])
    return out


def _say(name: str, r: dict) -> None:
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in r["steps"].items())
    print(f"  make test ({name}): {r['seconds']:.0f} s, {'passed' if r['ok'] else 'FAILED'}; {r['pytest']}; "
          f"steps: {steps}", flush=True)
    if not r["ok"]:
        print(r["tail"], flush=True)


if __name__ == "__main__":
    result = run()
    sys.exit(0 if all(r["ok"] for r in result.values()) else 1)
