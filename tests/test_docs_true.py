"""The docs say what is true for a newcomer (issue 25 item 15): distinct sections in the generated tenant-file
reference, commands that run as written from a fresh clone (the venv's executables, not a system Python)."""

from __future__ import annotations

import re

from catalogue.paths import ROOT
from urbanstack.docs import generated


def test_every_section_of_the_generated_tenant_file_reference_has_its_own_heading():
    """Six sections were all called `## Options`; each now names the module whose options it lists."""
    text = generated()[ROOT / "docs" / "tenant-file.md"]
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert len(headings) == len(set(headings)), sorted(h for h in headings if headings.count(h) > 1)
    assert "Options of modules.dashboards" in headings


def test_documented_commands_use_the_projects_virtualenv():
    """`python -m urbanstack.checks` fails without the venv on a fresh clone; the docs name `.venv/bin/...`."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(r"(\S*)python3? -m (urbanstack|finance)\b", text):
                assert match.group(1).endswith(".venv/bin/"), f"{path.relative_to(ROOT)}:{n}: {text.strip()}"
