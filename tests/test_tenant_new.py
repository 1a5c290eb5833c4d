"""`urbanstack tenants new`: a template that stays valid, checked against the files already there, and a
command that never writes, replaces or deletes anything it did not create."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.paths import ROOT
from catalogue.tenants import load_all, load_tenant
from urbanstack.cli import app

runner = CliRunner()


def new(folder: Path, slug: str = "halle", **options: str):
    values = {"name": "Halle (Westf.)", "ags": "05754012", "population": "21000", "domain": "halle.example.org",
              **options}
    args = ["tenants", "new", slug, "--dir", str(folder)]
    for key, value in values.items():
        args += [f"--{key.replace('_', '-')}", value]
    return runner.invoke(app, args)


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_template_offers_every_module_of_the_catalogue_commented_out(tmp_path):
    from catalogue.modules import CATALOGUE

    assert new(tmp_path).exit_code == 0
    text = (tmp_path / "halle.yaml").read_text(encoding="utf-8")
    offered = re.findall(r"^#  (\w+): \{\}", text, flags=re.M)
    assert offered == list(CATALOGUE)
    assert load_tenant(tmp_path / "halle.yaml").booked() == {}, "a new file books nothing until a line is uncommented"


def test_uncommenting_any_one_module_line_books_exactly_that_module(tmp_path):
    from catalogue.modules import CATALOGUE

    assert new(tmp_path).exit_code == 0
    path = tmp_path / "halle.yaml"
    text = path.read_text(encoding="utf-8")
    for key in CATALOGUE:
        path.write_text(text.replace(f"#  {key}: {{}}", f"  {key}: {{}}"), encoding="utf-8")
        assert list(load_tenant(path).booked()) == [key]


def test_uncommenting_every_module_line_books_them_all(tmp_path):
    from catalogue.modules import CATALOGUE

    assert new(tmp_path).exit_code == 0
    path = tmp_path / "halle.yaml"
    path.write_text(re.sub(r"^#  (\w+: \{\})", r"  \1", path.read_text(encoding="utf-8"), flags=re.M),
                    encoding="utf-8")
    assert list(load_tenant(path).booked()) == list(CATALOGUE)


@pytest.mark.parametrize("slug", ["/../victim", "../victim", "sub/victim", "Victim", "v", "urban-identity",
                                  "kube-victim"])
def test_a_slug_that_is_not_a_valid_slug_is_refused_before_anything_is_written_or_deleted(tmp_path, slug):
    folder = tmp_path / "tenants"
    # Files that a careless path join would hit: beside the folder, at its parent, with a temporary suffix.
    for name in ("victim.yaml", "victim.yaml.new", ".victim.yaml.new", "tenants/keep.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("precious\n", encoding="utf-8")
    before = listing(tmp_path)
    result = new(folder, slug)
    assert result.exit_code == 1
    assert result.output.startswith("SLUG: ") and "nothing was written" in result.output, result.output
    assert listing(tmp_path) == before


def test_problems_of_a_file_that_was_not_written_name_the_option_not_a_file_line(tmp_path):
    result = new(tmp_path, ags="99", domain="https://halle.example.org/", name="Halle\nckan.debug = true")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "--ags: expected the 8-digit Amtlicher Gemeindeschlüssel" in result.output
    assert "--domain: expected a host name like urbanstack.verl.example" in result.output
    assert "--name: contains a line break" in result.output
    assert lines[-1] == f"{tmp_path / 'halle.yaml'} was not written"
    assert not any(re.match(r"^\S+\.yaml:\d+:", line) for line in lines), lines
    assert not list(tmp_path.iterdir())


def test_a_new_file_is_checked_against_the_files_already_there(tmp_path):
    (tmp_path / "verl.yaml").write_bytes((ROOT / "tenants" / "verl.yaml").read_bytes())
    result = new(tmp_path, ags="05754044", domain="urbanstack.verl.example")
    assert result.exit_code == 1
    assert f"--ags: '05754044' is already used by {tmp_path / 'verl.yaml'}:5" in result.output
    assert f"--domain: 'urbanstack.verl.example' is already used by {tmp_path / 'verl.yaml'}:13" in result.output
    assert not (tmp_path / "halle.yaml").exists()

    inside = new(tmp_path, domain="halle.urbanstack.verl.example")
    assert inside.exit_code == 1 and "lies inside 'urbanstack.verl.example'" in inside.output


def test_problems_of_files_already_there_are_not_reported_by_new(tmp_path):
    (tmp_path / "broken.yaml").write_text("slug: [unclosed\n", encoding="utf-8")
    result = new(tmp_path)
    assert result.exit_code == 0, result.output
    assert "broken" not in result.output
    assert (tmp_path / "halle.yaml").is_file()


def test_values_cannot_change_the_structure_of_the_file(tmp_path):
    result = new(tmp_path, domain="halle.example.org\nplan: large", cost_center="KST-1 # comment")
    assert result.exit_code == 1
    assert "--domain: contains a line break" in result.output
    assert "--cost-center: expected up to 63 letters" in result.output
    assert not list(tmp_path.iterdir())


def test_a_written_file_validates_together_with_the_examples(tmp_path):
    for f in (ROOT / "tenants").glob("*.yaml"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    result = new(tmp_path, slug="schloss-holte-stukenbrock", name="Schloß Holte-Stukenbrock", ags="05754036",
                 domain="urbanstack.shs.example", contact_name="Fachbereich: IT & Digitales")
    assert result.exit_code == 0, result.output
    tenant = load_all([tmp_path])["schloss-holte-stukenbrock"]
    assert tenant.name == "Schloß Holte-Stukenbrock" and tenant.contact.name == "Fachbereich: IT & Digitales"


def test_a_folder_that_is_a_file_is_reported_without_a_traceback(tmp_path):
    (tmp_path / "tenants").write_text("not a folder\n", encoding="utf-8")
    result = new(tmp_path / "tenants")
    assert result.exit_code == 1, result.output
    assert "cannot be written" in result.output and "Traceback" not in result.output
    assert (tmp_path / "tenants").read_text(encoding="utf-8") == "not a folder\n"


@pytest.mark.parametrize(("written", "inhabitants"), [("21000", 21000), ("21.000", 21000), ("1.234.567", 1234567),
                                                     ("21 000", 21000)])
def test_a_population_with_german_thousands_separators_is_read_as_a_german_means_it(tmp_path, written, inhabitants):
    """Issue 25 item 1: `--population 21.000` wrote `population: 21` (a thousandth of the town's share)."""
    result = new(tmp_path, population=written)
    assert result.exit_code == 0, result.output
    assert load_tenant(tmp_path / "halle.yaml").population == inhabitants
    if not written.isdigit():
        assert f"--population {written}: read as {inhabitants} inhabitants" in result.output


@pytest.mark.parametrize(("written", "said"), [
    ("21,5", "'21,5' is not a whole number (the comma is a decimal comma)"),
    ("21,000", "'21,000' reads two ways: 21,000 = 21 in German (decimal comma), 21000 in English"),
    ("21.00", "'21.00': a dot separates thousands in German (21.000 = 21000)"),
    ("-5", "'-5' is negative"),
    ("viele", "'viele' is not a whole number"),
])
def test_a_population_that_is_not_a_whole_number_or_reads_two_ways_is_refused(tmp_path, written, said):
    result = new(tmp_path, population=written)
    assert result.exit_code == 1
    assert f"--population: {said}" in result.output, result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())


def test_a_new_member_is_billed_from_the_first_day_of_next_month_and_the_output_says_so(tmp_path):
    """Issue 25 item 7: without memberSince a town created today was billed for the running month."""
    import datetime as dt

    today = dt.date.today()
    first_of_next = dt.date(today.year + today.month // 12, today.month % 12 + 1, 1)
    result = new(tmp_path)
    assert result.exit_code == 0, result.output
    assert load_tenant(tmp_path / "halle.yaml").memberSince == first_of_next
    assert f"memberSince: {first_of_next.isoformat()}: halle is billed from {first_of_next:%d.%m.%Y} on" \
        in result.output


def test_member_since_chooses_the_day_and_a_german_date_is_pointed_to_iso(tmp_path):
    result = new(tmp_path, member_since="2027-03-15")
    assert result.exit_code == 0, result.output
    assert str(load_tenant(tmp_path / "halle.yaml").memberSince) == "2027-03-15"
    german = new(tmp_path / "other", member_since="15.3.2027")
    assert german.exit_code == 1
    assert "--member-since: '15.3.2027' is a German date; write it as 2027-03-15" in german.output


def test_a_seven_digit_ags_is_told_its_leading_zero_is_missing(tmp_path):
    """Issue 25 item 12: `--ags 5754012` was told to use quotes (it came from a shell, not from YAML)."""
    result = new(tmp_path, ags="5754012")
    assert result.exit_code == 1
    assert "--ags: '5754012' has 7 digits: the leading zero is missing" in result.output
    assert "write --ags 05754012" in result.output and "quotes" not in result.output


def test_an_invalid_domain_is_blamed_on_domain_only_not_on_options_never_given(tmp_path):
    """Issue 25 item 12: `--domain example` blamed --contact-email and --admin, which were never given."""
    for f in (ROOT / "tenants").glob("*.yaml"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    result = new(tmp_path, domain="example")
    assert result.exit_code == 1
    problems = result.output.splitlines()[:-1]
    assert problems == ["--domain: expected a host name like urbanstack.verl.example (lower case, no https://, "
                        "no path), got 'example'"], problems
