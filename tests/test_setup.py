"""A fresh clone installs exactly what is pinned, from lock files with hashes, and needs nothing beside it.

* Every exact pin of pyproject.toml is the version ``requirements/dev.lock`` installs (``make lock`` re-resolves).
* checkov's pin is the same in the Makefile, ``requirements/checkov.in`` and its lock.
* Every lock line carries hashes (uv installs with ``--require-hashes``).
* Everything the tests read from outside the code is in ``vendor/`` with a licence and a provenance file; no
  code or test refers to a folder beside the checkout.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from catalogue.paths import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\],]+)==([^\s;\\]+)")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", requirement.split("[")[0]).lower()


def _lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line)
        if m:
            pins[_name(m.group(1))] = m.group(2)
    return pins


def test_every_pin_of_pyproject_is_what_the_lock_installs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lock = _lock(ROOT / "requirements" / "dev.lock")
    for requirement in wanted:
        m = PIN.match(requirement)
        assert m, f"pyproject.toml: {requirement!r} is not pinned exactly (name==version)"
        name, pinned = _name(m.group(1)), m.group(2)
        assert lock.get(name) == pinned, (
            f"requirements/dev.lock has {name} {lock.get(name)}, pyproject.toml pins {pinned}: run `make lock`")


def test_checkov_is_pinned_once_and_locked():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    version = re.search(r"^CHECKOV_VERSION := (\S+)", makefile, re.M).group(1)
    assert (ROOT / "requirements" / "checkov.in").read_text(encoding="utf-8").strip() == f"checkov=={version}"
    assert _lock(ROOT / "requirements" / "checkov.lock")["checkov"] == version


@pytest.mark.parametrize("lock", ["dev.lock", "checkov.lock"])
def test_every_locked_package_carries_hashes(lock):
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [e.split()[0] for e in entries if PIN.match(e) and "--hash=sha256:" not in e]
    assert not unhashed, f"{lock}: no hashes for {unhashed}"


def test_vendored_items_have_a_licence_and_a_provenance():
    vendor = ROOT / "vendor"
    items = sorted(p for p in vendor.iterdir() if p.is_dir())
    assert {p.name for p in items} >= {"crds", "charts", "pod-security-fixtures"}
    for item in items:
        copies = [f for f in item.rglob("*") if f.is_file() and f.suffix != ".md" and not f.name.startswith("LICENSE")]
        licences = list(item.glob("LICENSE*")) or list(item.glob("*/LICENSE*"))
        # A folder that holds no upstream copy (vendor/crds: no cluster prerequisite today) needs no licence.
        assert licences or not copies, f"vendor/{item.name}: no licence file"
        assert list(item.glob("*.md")), f"vendor/{item.name}: no README/PROVENANCE file"
        assert item.name in (vendor / "README.md").read_text(encoding="utf-8"), f"vendor/README.md omits {item.name}"


def test_nothing_reads_a_folder_beside_the_checkout():
    offenders = []
    for path in [*ROOT.glob("*.py"), *ROOT.glob("[!.v]*/**/*.py"), ROOT / "Makefile"]:
        if "vendor" in path.parts or ".venv" in str(path):
            continue
        text = path.read_text(encoding="utf-8")
        if path != Path(__file__) and re.search(r"\.\./shared|/work/shared|parent / \"shared\"", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"these read ../shared, which a clone does not have: {offenders}"
