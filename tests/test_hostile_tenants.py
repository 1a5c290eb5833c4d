"""Every hostile tenant file of the security reviews is refused with a clear message naming file, line and the field
it is about (the fixture set: tests/hostile_tenants.py; the time it takes: bench/hostile_bench.py)."""

from __future__ import annotations

import pytest

from catalogue.tenants import TenantError, load_all
from tests.hostile_tenants import CASES, Hostile


def test_every_case_has_a_name_of_its_own():
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_tenant_file_is_refused_with_file_line_and_field(tmp_path, case: Hostile):
    path = tmp_path / f"{case.slug}.yaml"
    path.write_text(case.text, encoding="utf-8")
    with pytest.raises(TenantError) as exc:
        load_all([tmp_path])
    found = [str(p) for p in exc.value.problems]
    prefix = f"{path}:"
    field = f": {case.field}: " if case.field else ": "
    matching = [p for p in found if p.startswith(prefix) and field in p and case.needle in p]
    assert matching, "\n".join(found)
    line = matching[0][len(prefix):].split(":", 1)[0]
    assert line.isdigit(), matching[0]
