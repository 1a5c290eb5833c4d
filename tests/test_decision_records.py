"""Decision records (``docs/decisions/``): each is listed in the index, has context, decision and consequences, and
every link to a record, from the docs or from the code, leads to one that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DECISIONS = ROOT / "docs" / "decisions"
RECORDS = sorted(DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_POINTER = re.compile(r"docs/decisions/[\w.-]+\.md")


def local_links(md: Path) -> list[str]:
    return [target for target in LINK.findall(md.read_text(encoding="utf-8"))
            if not re.match(r"^[a-z]+:", target) and not target.startswith("#")]


def test_records_are_numbered_one_after_another():
    assert [int(r.name[:4]) for r in RECORDS] == list(range(1, len(RECORDS) + 1))


def test_every_record_is_listed_in_the_index_and_the_index_lists_only_records():
    linked = {(DECISIONS / target).resolve() for target in local_links(DECISIONS / "README.md")
              if target.endswith(".md") and not target.startswith("..")}
    assert linked == {r.resolve() for r in RECORDS}


def test_every_record_has_context_decision_and_consequences():
    for record in RECORDS:
        headings = re.findall(r"^## (.+)$", record.read_text(encoding="utf-8"), flags=re.M)
        assert headings[:3] == ["Context", "Decision", "Consequences"], record.name


def test_every_local_link_of_the_records_the_readme_and_the_operations_guide_resolves():
    pages = [*RECORDS, DECISIONS / "README.md", ROOT / "README.md", ROOT / "docs" / "operations.md",
             ROOT / "docs" / "shared-stack.md"]
    broken = [f"{page.relative_to(ROOT)}: {target}" for page in pages for target in local_links(page)
              if not (page.parent / target.split("#", 1)[0]).exists()]
    assert broken == []


def test_every_pointer_from_the_code_to_a_record_leads_to_one():
    pointers = {(py.relative_to(ROOT), ref) for folder in ("components", "urbanstack", "catalogue", "finance", "policy")
                for py in (ROOT / folder).rglob("*.py") for ref in CODE_POINTER.findall(py.read_text(encoding="utf-8"))}
    assert pointers, "the code points to no decision record"
    assert [f"{py}: {ref}" for py, ref in sorted(pointers) if not (ROOT / ref).is_file()] == []
