"""Everything the setup installs is checked against recorded hashes: the uv bootstrap, the lock files and the
focus-validator virtualenv; Renovate knows every place a version is pinned."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from catalogue.paths import ROOT
from catalogue.versions import CHARTS, IMAGES, MANIFESTS


def requirements(path: Path) -> dict[str, list[str]]:
    """``name==version`` -> its hashes, from a pip requirements file with ``--hash`` options."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+==[^\s\\;]+)", line)
        if match:
            current = match.group(1).lower()
            out[current] = []
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            assert current, f"{path}: hash before a requirement"
            out[current].append(digest)
    return out


def test_the_uv_bootstrap_is_installed_from_a_hash_checked_requirements_file_of_the_makefiles_version():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    [version] = re.findall(r"^UV_VERSION := (\S+)$", makefile, flags=re.MULTILINE)
    [bootstrap] = [line for line in makefile.splitlines() if "install uv $(UV_VERSION)" in line]
    assert "--require-hashes" in bootstrap and "-r requirements/uv.txt" in bootstrap
    assert "uv==" not in bootstrap, "the version comes from the hash-checked file, not the command line"
    pins = requirements(ROOT / "requirements" / "uv.txt")
    assert list(pins) == [f"uv=={version}"]
    assert len(pins[f"uv=={version}"]) >= 2


@pytest.mark.parametrize("path", ["requirements/dev.lock", "requirements/checkov.lock", "requirements/uv.txt",
                                  "finance/focus-validator.requirements.txt"])
def test_every_locked_package_carries_its_hashes(path):
    pins = requirements(ROOT / path)
    assert pins
    assert [name for name, hashes in pins.items() if not hashes] == []


def test_the_focus_validator_lock_holds_exactly_the_pins_of_its_input_file():
    wanted = {line.split("#")[0].strip().lower()
              for line in (ROOT / "requirements" / "focus-validator.in").read_text(encoding="utf-8").splitlines()
              if line.split("#")[0].strip()}
    canonical = {re.sub(r"[-_.]+", "-", pin) for pin in wanted}
    assert {re.sub(r"[-_.]+", "-", pin) for pin in requirements(ROOT / "finance/focus-validator.requirements.txt")} \
        == canonical


def test_the_focus_validator_venv_is_installed_with_require_hashes(tmp_path, monkeypatch):
    from finance import focuscheck

    commands: list[list[str]] = []
    monkeypatch.setattr(focuscheck, "_run", lambda cmd, what: commands.append([str(c) for c in cmd]))
    monkeypatch.setattr(focuscheck, "_uv", lambda: "/usr/bin/uv")
    (tmp_path / "venv").mkdir()  # what `uv venv` would have made (the recorder runs nothing)
    focuscheck.ensure_venv(tmp_path / "venv")
    [install] = [c for c in commands if "install" in c]
    assert "--require-hashes" in install and str(focuscheck.REQUIREMENTS) in install


def renovate() -> dict:
    return json.loads((ROOT / "renovate.json").read_text(encoding="utf-8"))


def python_re(pattern: str) -> str:
    """Renovate's ``(?<name>…)`` groups in Python's spelling."""
    return pattern.replace("(?<", "(?P<")


def custom_matches(text: str) -> list[dict[str, str]]:
    """What Renovate's regex managers for catalogue/versions.py extract from ``text`` (Python's re equals
    Renovate's RE2 here: named groups, no lookaround)."""
    found = []
    for manager in renovate()["customManagers"]:
        if not any(re.search(p.strip("/"), "catalogue/versions.py") for p in manager["managerFilePatterns"]):
            continue
        for pattern in manager["matchStrings"]:
            for match in re.finditer(python_re(pattern), text):
                found.append({**({"depName": manager["depNameTemplate"]} if "depNameTemplate" in manager else {}),
                              **{k: v for k, v in match.groupdict().items() if v},
                              "datasource": manager.get("datasourceTemplate", "")})
    return found


def test_renovate_finds_every_chart_image_and_manifest_pin_of_the_catalogue():
    text = (ROOT / "catalogue" / "versions.py").read_text(encoding="utf-8")
    found = {(m["depName"], m["currentValue"]) for m in custom_matches(text)}
    for chart in CHARTS.values():
        name = chart.chart.removeprefix("oci://")
        assert (name, chart.version) in found, chart
    for key, image in IMAGES.items():
        if not image.built_here:
            assert (image.repository, image.tag) in found, key
    # The Keycloak operator's bundle is pinned by commit; Renovate follows its version as the operator image's tag.
    assert ("quay.io/keycloak/keycloak-operator", MANIFESTS["keycloak-operator"].version) in found
    assert set(MANIFESTS) == {"keycloak-operator"}, "a new manifest set needs its own Renovate manager"
    digests = {m["depName"]: m.get("currentDigest") for m in custom_matches(text)}
    for image in IMAGES.values():
        if image.digest:
            assert digests[image.repository] == image.digest


def test_renovate_reads_the_dockerfiles_the_lock_files_and_the_makefile_pins():
    config = renovate()
    assert "dockerfile" in config["enabledManagers"] and "pip-compile" in config["enabledManagers"]
    lock_patterns = config["pip-compile"]["managerFilePatterns"]
    for lock in ("requirements/dev.lock", "requirements/checkov.lock", "requirements/uv.txt",
                 "finance/focus-validator.requirements.txt"):
        assert any(re.search(p.strip("/"), lock) for p in lock_patterns), lock
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    matched = {manager["depNameTemplate"] for manager in config["customManagers"]
               if any(re.search(p.strip("/"), "Makefile") for p in manager["managerFilePatterns"])
               for pattern in manager["matchStrings"] if re.search(python_re(pattern), makefile)}
    assert matched >= {"uv", "checkov"}
    for key in ("ckan", "masterportal", "rei3"):
        text = (ROOT / "images" / key / "Dockerfile").read_text(encoding="utf-8")
        args = [m for manager in config["customManagers"]
                if any(re.search(p.strip("/"), f"images/{key}/Dockerfile") for p in manager["managerFilePatterns"])
                for pattern in manager["matchStrings"] for m in re.finditer(python_re(pattern), text)]
        assert args, f"images/{key}/Dockerfile: no version ARG Renovate can read"
