"""The Pod Security ``restricted`` helper of the tests (``tests/pod_security.py``) agrees with upstream's fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.pod_security import CHECKS, restricted_violations

FIXTURES = Path(__file__).resolve().parent.parent / "vendor" / "pod-security-fixtures" / "restricted" / "v1.33"


def spec_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]


@pytest.mark.parametrize("path", sorted((FIXTURES / "pass").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_pod_upstream_admits_at_restricted_passes(path):
    assert restricted_violations(spec_of(path)) == []


@pytest.mark.parametrize("check", CHECKS)
def test_every_pod_upstream_denies_for_one_of_our_checks_is_denied_for_that_check(check):
    failing = sorted((FIXTURES / "fail").glob(f"{check.lower()}[0-9]*.yaml"))
    assert failing, f"upstream has fail fixtures for {check}"
    for path in failing:
        assert any(v.startswith(f"{check}:") for v in restricted_violations(spec_of(path))), path.name
