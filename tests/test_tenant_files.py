"""The tenant file contract: what is accepted, and how every kind of bad input is reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.tenants import TenantError, load_all, load_tenant
from tests.tenant_texts import tenant_text
from urbanstack.cli import app

runner = CliRunner()
LINE = re.compile(r"^\S+\.yaml(:\d+)?: ")



def write(folder: Path, slug: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def valid(slug="halle", name='"Halle (Westf.)"', ags="05754012", domain="halle.example.org") -> str:
    return tenant_text(slug=slug, name=name, ags=ags, domain=domain)


def problems_of(path_or_dir) -> list[str]:
    with pytest.raises(TenantError) as exc:
        load_all([path_or_dir])
    return [str(p) for p in exc.value.problems]


def test_the_example_municipalities_are_valid():
    tenants = load_all()
    assert set(tenants) == {"guetersloh", "verl", "rheda-wiedenbrueck", "rietberg"}
    assert {t.ags for t in tenants.values()} == {"05754008", "05754044", "05754028", "05754032"}
    assert len({tuple(t.booked()) for t in tenants.values()}) == 4, "examples book different modules"
    assert {t.plan for t in tenants.values()} == {"small", "medium", "large"}


@pytest.mark.parametrize("name", ["Schloß Holte-Stukenbrock", "Halle (Westf.)", "Rheda-Wiedenbrück"])
def test_any_utf8_display_name_is_accepted(tmp_path, name):
    path = write(tmp_path, "halle", valid(name=f'"{name}"'))
    assert load_tenant(path).name == name


def test_defaults_apply_when_optional_fields_are_omitted(tmp_path):
    t = load_tenant(write(tmp_path, "halle", valid()))
    assert t.plan == "small" and t.backup.retentionDays == 30 and t.booked() == {}


@pytest.mark.parametrize(
    ("change", "path", "needle"),
    [
        (("slug: halle", "slug: Halle"), "slug", "lower-case letters"),
        (('ags: "05754012"', 'ags: "17754012"'), "ags", "Land code 01–16"),
        (('ags: "05754012"', "ags: 5754012"), "ags", "in quotes"),
        (("population: 21000", "population: -5"), "population", "greater than 0"),
        (("population: 21000", "population: many"), "population", "whole number"),
        (("populationDate: 2023-12-31", "populationDate: 31.12.2023"), "populationDate", "date"),
        (("email: it@example.org", "email: not-an-email"), "contact.email", "email"),
        (("domain: halle.example.org", "domain: Halle_Example"), "domain", "host name like"),
        (("identity:\n  admins: [admin@example.org]", "identity:\n  admins: []"), "identity.admins", "at least 1"),
        (("costCenter: KST-1\n", "costCenter: KST-1\nplan: huge\n"), "plan", "small"),
        (("costCenter: KST-1\n", "costCenter: KST-1\nbackup:\n  retentionDays: 3\n"), "backup.retentionDays", "7"),
        (("costCenter: KST-1\n", "costCenter: KST-1\ncostCentre: typo\n"), "costCentre", "unknown field"),
        (("costCenter: KST-1\n", "costCenter: KST-1\nmodules:\n  dashbords: {}\n"), "modules.dashbords",
         "unknown module"),
        (("costCenter: KST-1\n", "costCenter: KST-1\nmodules:\n  masterportal:\n    center: [2.35, 48.85]\n"),
         "modules.masterportal.center", "outside Germany"),
        (("costCenter: KST-1\n",
          "costCenter: KST-1\nmodules:\n  masterportal:\n    layers:\n      - {id: a, name: A, url: 'http://x.org/wms', layers: a}\n"),
         "modules.masterportal.layers.0.url", "https"),
        (("schemaVersion: 1", "schemaVersion: 2"), "schemaVersion", "1"),
    ],
)
def test_a_bad_field_is_reported_with_file_line_and_path(tmp_path, change, path, needle):
    text = valid().replace(*change)
    assert text != valid(), "the change must apply"
    f = write(tmp_path, "halle", text)
    problems = problems_of(f)
    assert any(f": {path}: " in p and needle.lower() in p.lower() for p in problems), problems
    for p in problems:
        assert LINE.match(p), p
        assert p.startswith(f"{f}:"), p
    line = int(problems[0].split(":")[1])
    assert path.split(".")[0] in text.splitlines()[line - 1] or line > 1


def test_a_missing_required_field_is_named(tmp_path):
    f = write(tmp_path, "halle", valid().replace("costCenter: KST-1\n", ""))
    assert any(": costCenter: required field is missing" in p for p in problems_of(f))


def test_slug_must_equal_the_file_name(tmp_path):
    f = write(tmp_path, "other", valid())
    assert problems_of(f) == [f"{f}:2: slug: 'halle' must equal the file name 'other'"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "file is empty"),
        ("   \n# only a comment\n", "file is empty"),
        (b"\x00\x01binary\x00", "binary file"),
        (b"slug: \xff\xfe", "not UTF-8"),
        ("slug: [unclosed\n", "YAML syntax error"),
        ("slug: a\nslug: b\n", "duplicate key 'slug'"),
        ("- a list\n- not a mapping\n", "expected a mapping"),
        ("a: &x [1]\nb: *x\n", "anchors and aliases"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "anchors and aliases"),
        ("a: 1\n---\nb: 2\n", "exactly one YAML document"),
    ],
)
def test_broken_files_are_reported_without_a_traceback(tmp_path, content, needle):
    f = write(tmp_path, "halle", content)
    problems = problems_of(f)
    assert len(problems) == 1 and needle in problems[0], problems
    assert problems[0].startswith(str(f))


def test_a_billion_laughs_file_is_refused_before_expansion(tmp_path):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    f = write(tmp_path, "halle", "\n".join(lines) + "\n")
    assert "anchors and aliases" in problems_of(f)[0]


def test_a_huge_file_is_refused(tmp_path):
    f = write(tmp_path, "halle", valid() + "#" + "x" * 300_000 + "\n")
    assert "larger than" in problems_of(f)[0]


def test_duplicate_slug_ags_and_domain_across_files_are_reported(tmp_path):
    write(tmp_path, "halle", valid())
    write(tmp_path, "werther", valid(slug="werther", ags="05754012", domain="halle.example.org"))
    problems = problems_of(tmp_path)
    assert any("ags: '05754012' is already used by" in p for p in problems)
    assert any("domain: 'halle.example.org' is already used by" in p for p in problems)


def test_all_problems_of_all_files_are_collected(tmp_path):
    write(tmp_path, "a-town", valid(slug="a-town").replace("population: 21000", "population: 0"))
    write(tmp_path, "b-town", "")
    problems = problems_of(tmp_path)
    assert len(problems) == 2


def test_cli_validate_accepts_the_examples():
    result = runner.invoke(app, ["tenants", "validate"])
    assert result.exit_code == 0, result.output
    assert "4 valid tenant file(s)" in result.output


def test_cli_validate_prints_one_line_per_problem_and_exits_1(tmp_path):
    write(tmp_path, "halle", valid().replace("population: 21000", "population: -1"))
    write(tmp_path, "werther", "key: [\n")
    result = runner.invoke(app, ["tenants", "validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert any(re.match(rf"^{re.escape(str(tmp_path))}/halle\.yaml:5: population: ", line) for line in lines), lines
    assert any(line.startswith(f"{tmp_path}/werther.yaml:") and "YAML syntax error" in line for line in lines)
    assert "Traceback" not in result.output


def test_cli_new_writes_a_valid_commented_file_and_refuses_to_overwrite(tmp_path):
    args = ["tenants", "new", "schloss-holte-stukenbrock", "--name", "Schloß Holte-Stukenbrock",
            "--ags", "05754036", "--population", "27000", "--domain", "shs.example.org", "--dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    path = tmp_path / "schloss-holte-stukenbrock.yaml"
    assert load_tenant(path).name == "Schloß Holte-Stukenbrock"
    assert "# " in path.read_text(encoding="utf-8")
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "refusing to overwrite" in again.output


def test_cli_new_rejects_invalid_values_without_writing(tmp_path):
    result = runner.invoke(app, ["tenants", "new", "halle", "--name", "Halle", "--ags", "99", "--population",
                                 "5", "--domain", "halle.example.org", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "ags:" in result.output
    assert not list(tmp_path.iterdir())


# -- issue 25: a newcomer's mistakes get a message that says what to write instead ----------------------------

@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t.replace("  name: IT", "\tname: IT"),
     ":9: indented with a tab; YAML indents with spaces only"),
    (lambda t: t.replace("populationDate: 2023-12-31", "populationDate: 31.12.2023"),
     ":6: populationDate: 31.12.2023 is a German date; write it as 2023-12-31 (YYYY-MM-DD)"),
    (lambda t: t.replace("populationDate: 2023-12-31", "populationDate: Ende 2023"),
     ":6: populationDate: expected a date like 2024-12-31 (YYYY-MM-DD), got 'Ende 2023'"),
    (lambda t: t + "modules:\n  urbanData:\n    mqtt: ja\n",
     ":16: modules.urbanData.mqtt: expected true or false, got ja; for 'ja' write true"),
    (lambda t: t + "modules:\n  dashboards:\n",
     ":15: modules.dashboards: no value: write 'dashboards: {}' to book it with its defaults"),
    (lambda t: t.replace('ags: "05754012"', "ags: 5754012"),
     ':4: ags: expected text, got 5754012, which has lost its leading zero: put the 8 digits in quotes: "05754012"'),
    (lambda t: t.replace("name: Halle\n", ""),
     ": name: required field is missing: add a line 'name: …' (docs/tenant-file.md)"),
])
def test_common_mistakes_get_a_message_naming_line_field_and_what_to_write(tmp_path, change, expected):
    f = write(tmp_path, "halle", change(valid(name="Halle")))
    [problem] = problems_of(f)
    assert problem == f"{f}{expected}" or problem.startswith(f"{f}{expected}"), problem


def test_a_latin1_file_is_told_where_and_how_to_save_it_as_utf8(tmp_path):
    f = write(tmp_path, "halle", valid(name="Gütersloh").encode("latin-1"))
    [problem] = problems_of(f)
    assert problem.startswith(f"{f}:3: not UTF-8 text: byte ") and "is 'ü' in Latin-1/Windows-1252" in problem
    assert "save the file as UTF-8" in problem


def test_validating_one_file_checks_it_against_the_other_files_in_its_folder(tmp_path):
    """Issue 25 item 3: a copy of Verl's file under another name was "1 valid" when validated alone."""
    write(tmp_path, "verl", valid(slug="verl", ags="05754044", domain="urbanstack.verl.example"))
    copy = write(tmp_path, "harsewinkel", valid(slug="harsewinkel", ags="05754044", domain="urbanstack.verl.example"))
    (tmp_path / "harsewinkel.yaml").touch()
    import os
    os.utime(tmp_path / "verl.yaml")  # the neighbour changed last: the file asked about is still the one blamed
    result = runner.invoke(app, ["tenants", "validate", str(copy)])
    assert result.exit_code == 1, result.output
    assert f"{copy}:4: ags: '05754044' is already used by {tmp_path / 'verl.yaml'}:4" in result.output
    assert f"{copy}:11: domain: 'urbanstack.verl.example' is already used by" in result.output
    alone = runner.invoke(app, ["tenants", "validate", str(tmp_path / "verl.yaml"), str(copy)])
    assert alone.exit_code == 1


def test_an_empty_folder_is_not_valid_and_a_file_in_a_subfolder_is_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["tenants", "validate", str(empty)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{empty}: no tenant files (*.yaml) in this folder")
    write(tmp_path / "t", "halle", valid())
    write(tmp_path / "t" / "old", "verl", valid(slug="verl", ags="05754044", domain="urbanstack.verl.example"))
    result = runner.invoke(app, ["tenants", "validate", str(tmp_path / "t")])
    assert result.exit_code == 0
    assert f"{tmp_path / 't' / 'old' / 'verl.yaml'}: in a subfolder of {tmp_path / 't'}: not read" in result.output
