"""Tenant files: every problem in one run, messages that teach, hostile input refused by FILE:LINE, and
values that would be dangerous downstream (namespaces, labels, config files, secrets, URLs) refused."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pulumi
import pytest
from typer.testing import CliRunner

from catalogue import names
from catalogue.paths import ROOT
from catalogue.tenants import TenantError, load_all
from tests.config_samples import SHARED_VALID
from tests.tenant_texts import tenant_text
from urbanstack.cli import app

runner = CliRunner()

VALID = tenant_text()


def write(folder: Path, text: str, slug: str = "halle", mtime: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.yaml"
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def verl(folder: Path, mtime: float | None = None) -> Path:
    return write(folder, (ROOT / "tenants" / "verl.yaml").read_text(encoding="utf-8"), "verl", mtime)


def problems(folder: Path, **kwargs) -> list[str]:
    with pytest.raises(TenantError) as exc:
        load_all([folder], **kwargs)
    return [str(p) for p in exc.value.problems]


def only(folder: Path, text: str, slug: str = "halle") -> list[str]:
    """The problems of ``text`` as the only tenant file."""
    write(folder, text, slug)
    return problems(folder)


# -- all problems in one run -------------------------------------------------------------------------------

def test_five_mistakes_give_five_lines_duplicates_included(tmp_path):
    verl(tmp_path, mtime=1_000_000)
    halle = write(tmp_path, VALID.replace('"05754012"', '"05754044"').replace("21000", "25.500")
                  .replace("KST-1", "EVIL-").replace("halle.example.org", "https://halle.example.org/")
                  + "modules:\n  opendata: {}\n", mtime=2_000_000)
    found = problems(tmp_path)
    assert found == [
        f"{halle}:4: ags: '05754044' is already used by {tmp_path / 'verl.yaml'}:5",
        f"{halle}:5: population: expected a whole number, got 25.500, which YAML reads as the decimal number 25.5; "
        "without the German thousands separator: 25500",
        f"{halle}:7: costCenter: expected up to 63 letters, digits, '-', '_' or '.', beginning and ending with a "
        "letter or digit (it becomes a Kubernetes label value), like VERL-1100, got 'EVIL-'",
        f"{halle}:11: domain: expected a host name like urbanstack.verl.example (lower case, no https://, no path), "
        "got 'https://halle.example.org/'",
        f"{halle}:15: modules.opendata: unknown module 'opendata'; did you mean 'openData'? The modules are: "
        "dashboards, lowCode, openData, urbanData, masterportal, rei3",
    ]


def test_a_slug_that_differs_from_the_file_name_is_reported_with_the_other_problems(tmp_path):
    found = only(tmp_path, VALID.replace("slug: halle", "slug: werther").replace("21000", "-1"))
    assert len(found) == 2
    assert any(": slug: 'werther' must equal the file name 'halle'" in p for p in found)
    assert any(": population: " in p for p in found)


@pytest.mark.parametrize("field", ["ags", "domain"])
def test_a_duplicate_is_blamed_on_the_file_changed_last_with_file_and_line_of_both(tmp_path, field):
    verl_path = verl(tmp_path, mtime=1_000_000)
    value = {"ags": '"05754044"', "domain": "urbanstack.verl.example"}[field]
    original = {"ags": '"05754012"', "domain": "halle.example.org"}[field]
    halle = write(tmp_path, VALID.replace(original, value), mtime=2_000_000)
    line = {"ags": 4, "domain": 11}[field]
    other = {"ags": 5, "domain": 13}[field]
    assert problems(tmp_path) == [f"{halle}:{line}: {field}: '{value.strip(chr(34))}' is already used by {verl_path}:{other}"]

    os.utime(verl_path, (3_000_000, 3_000_000))  # now verl.yaml is the file changed last
    assert problems(tmp_path) == [f"{verl_path}:{other}: {field}: '{value.strip(chr(34))}' is already used by {halle}:{line}"]


def test_a_duplicate_between_files_changed_at_the_same_time_is_blamed_on_both(tmp_path):
    verl_path = verl(tmp_path, mtime=1_000_000)
    halle = write(tmp_path, VALID.replace('"05754012"', '"05754044"'), mtime=1_000_000)
    assert problems(tmp_path) == [f"{halle}:4: ags: '05754044' is already used by {verl_path}:5",
                                  f"{verl_path}:5: ags: '05754044' is already used by {halle}:4"]


def test_a_duplicate_slug_in_two_folders_is_reported(tmp_path):
    a = write(tmp_path / "a", VALID, mtime=1_000_000)
    b = write(tmp_path / "b", VALID.replace('"05754012"', '"05754016"').replace("halle.example", "other.example"),
              mtime=2_000_000)
    with pytest.raises(TenantError) as exc:
        load_all([tmp_path / "a", tmp_path / "b"])
    assert [str(p) for p in exc.value.problems] == [f"{b}:2: slug: 'halle' is already used by {a}:2"]


# -- messages that teach ------------------------------------------------------------------------------------

def test_every_pattern_of_the_tenant_file_has_a_message_for_people():
    from catalogue.schema import PATTERN_HINTS, tenant_model

    patterns = set(re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', __import__("json").dumps(tenant_model().model_json_schema())))
    decoded = {__import__("json").loads(f'"{p}"') for p in patterns}
    # contributorId documents its pattern for editors but is checked by its own validator with its own message.
    decoded = {p for p in decoded if "dcat-ap" not in p}
    assert decoded - set(PATTERN_HINTS) == set()


@pytest.mark.parametrize(("change", "expected"), [
    (("slug: halle", "slug: Halle_1"), "slug: expected a short name of 3–30 lower-case letters"),
    (('ags: "05754012"', 'ags: "5754012"'), "ags: expected the 8-digit Amtlicher Gemeindeschlüssel in quotes"),
    (("costCenter: KST-1", "costCenter: -KST"), "costCenter: expected up to 63 letters"),
    (("costCenter: KST-1", "costCenter: " + "K" * 64), "costCenter: "),
])
def test_a_pattern_failure_says_what_is_expected_never_the_regular_expression(tmp_path, change, expected):
    (found,) = only(tmp_path, VALID.replace(*change))
    assert expected in found
    assert "^" not in found and "$" not in found and "[a-z" not in found


def test_an_unknown_field_suggests_the_closest_one(tmp_path):
    (found,) = only(tmp_path, VALID + "costCentre: KST-2\n")
    assert "costCentre: unknown field 'costCentre'; did you mean 'costCenter'?" in found


def test_an_unquoted_ags_is_quoted_back_as_written(tmp_path):
    (found,) = only(tmp_path, VALID.replace('"05754012"', "05754012"))
    assert 'ags: expected text, got 05754012; put it in quotes: "05754012"' in found


@pytest.mark.parametrize(("written", "needle"), [
    ("25.500", "without the German thousands separator: 25500"),
    ("25.000", "without the German thousands separator: 25000"),  # YAML reads 25.0: it was accepted as 25
    ("true", "expected a whole number (digits only, like 25500), got 'true'"),  # bool was accepted as 1
    ("'21000'", "expected a whole number"),
])
def test_population_is_a_whole_number_written_as_digits(tmp_path, written, needle):
    (found,) = only(tmp_path, VALID.replace("population: 21000", f"population: {written}"))
    assert found.startswith(f"{tmp_path / 'halle.yaml'}:5: population: ") and needle in found, found


def test_an_empty_modules_mapping_books_nothing(tmp_path):
    from catalogue.tenants import load_tenant

    path = write(tmp_path, VALID + "modules:\n#  dashboards: {}\n")
    assert load_tenant(path).booked() == {}


# -- hostile input (issue 15, item 10) -----------------------------------------------------------------------

HOSTILE = [
    ("populationDate: 2023-12-31", "populationDate: 2023-13-45", 6, "populationDate: '2023-13-45' is not a real date"),
    ("populationDate: 2023-12-31", "populationDate: 2023-02-30 10:00:00", 6,
     "populationDate: '2023-02-30 10:00:00' is not a real date"),
    ("population: 21000", "population: " + "9" * 5000, 5, "population: a number with 5000 characters is far too large"),
    ("costCenter: KST-1", "costCenter: " + "[" * 5000 + "]" * 5000, 7, "nested deeper than 32 levels"),
    ("costCenter: KST-1", "costCenter:\n" + "".join(" " * i + "k:\n" for i in range(1, 600)) + " " * 600 + "k: 1",
     7 + 32, "nested deeper than 32 levels"),
    ("costCenter: KST-1", "costCenter:\n  " + "- " * 5000 + "x", 8, "nested deeper than 32 levels"),
]


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(("old", "new", "line", "needle"), HOSTILE)
def test_hostile_values_are_refused_with_file_and_line(tmp_path, monkeypatch, old, new, line, needle, libyaml):
    from catalogue import yamlsafe

    if libyaml and not yamlsafe.HAVE_LIBYAML:
        pytest.skip("this PyYAML has no libyaml")
    monkeypatch.setattr(yamlsafe, "HAVE_LIBYAML", libyaml)
    found = only(tmp_path, VALID.replace(old, new))
    assert found[0].startswith(f"{tmp_path / 'halle.yaml'}:{line}: ") and needle in found[0], found[0][:300]


@pytest.mark.parametrize(("old", "new", "line", "needle"), HOSTILE[:4])
def test_plan_and_the_pulumi_program_see_a_tenant_error_for_a_hostile_file(tmp_path, old, new, line, needle):
    from urbanstack.engine.program import build

    write(tmp_path, VALID.replace(old, new))
    with pytest.raises(pulumi.RunError) as exc:  # what every stack's program raises for invalid tenant files
        build("shared", tenants_path=tmp_path)
    assert f"halle.yaml:{line}: " in str(exc.value)
    result = runner.invoke(app, ["plan", "--tenants", str(tmp_path), "--out", str(tmp_path / "plan")])
    assert result.exit_code == 1 and "Traceback" not in result.output and needle in result.output


def test_a_file_that_breaks_the_checker_itself_still_gives_only_a_tenant_error(tmp_path, monkeypatch):
    import catalogue.tenants as tenants

    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(tenants, "tenant_model", broken)
    found = only(tmp_path, VALID)
    assert found == [f"{tmp_path / 'halle.yaml'}: cannot be checked (RecursionError: 'maximum recursion depth "
                     "exceeded'); please report this"]


# -- dangerous values (issue 15, item 11) --------------------------------------------------------------------

@pytest.mark.parametrize("slug", [*names.PLATFORM_NAMESPACES, "kube-system", "kube-public", "kube-node-lease",
                                  "kube-anything", "default", "cert-manager", "shared", "master", "urban-future",
                                  "platform"])
def test_platform_and_system_namespaces_are_reserved_slugs(tmp_path, slug):
    (found,) = only(tmp_path, VALID.replace("slug: halle", f"slug: {slug}"), slug=slug)
    assert f": slug: '{slug}' is reserved (" in found


@pytest.mark.parametrize("value", ["EVIL-", "-EVIL", "EVIL.", "K" * 64, "KST 1", "KST/1"])
def test_a_cost_center_must_be_a_valid_label_value(tmp_path, value):
    (found,) = only(tmp_path, VALID.replace("costCenter: KST-1", f"costCenter: '{value}'"))
    assert ": costCenter: " in found


@pytest.mark.parametrize("value", ["BETRIEB-", "-BETRIEB", "K" * 64])
def test_the_operators_cost_center_must_be_a_valid_label_value_too(value):
    from catalogue.shared_config import ConfigError, parse

    raw = {k: v for k, v in SHARED_VALID.items() if k != "operatorCostCenter"}
    assert parse({**raw, "operatorCostCenter": "BETRIEB-1"}).operatorCostCenter == "BETRIEB-1"
    with pytest.raises(ConfigError, match="urban-stack:operatorCostCenter"):
        parse({**raw, "operatorCostCenter": value})


def test_a_cost_center_of_63_characters_is_a_valid_label_value(tmp_path):
    from catalogue.tenants import load_tenant

    path = write(tmp_path, VALID.replace("costCenter: KST-1", f"costCenter: {'K' * 61}.1"))
    assert load_tenant(path).costCenter == "K" * 61 + ".1"


@pytest.mark.parametrize(("path", "text"), [
    ("name", 'name: "Verl\\nckan.auth.anon_create_dataset = true"'),
    ("name", 'name: "Verl\\r\\nx"'),
    ("name", 'name: "Verl\\u2028x"'),
    ("contact.name", 'contact:\n  name: "IT\\tDigital"\n  email: it@example.org'),
    ("modules.openData.siteTitle", 'modules:\n  openData:\n    siteTitle: "Open Data\\nckan.auth.anon_create_dataset = true"'),
    ("modules.masterportal.title", 'modules:\n  masterportal:\n    title: "Geoportal\\u0000"'),
])
def test_no_value_may_hold_a_line_break_or_control_character(tmp_path, path, text):
    if path == "name":
        doc = VALID.replace("name: Halle (Westf.)", text)
    elif path == "contact.name":
        doc = VALID.replace("contact:\n  name: IT\n  email: it@example.org", text)
    else:
        doc = VALID + text + "\n"
    found = only(tmp_path, doc)
    assert any(f": {path}: contains " in p and "every value must be one line of text" in p for p in found), found


def test_a_domain_inside_another_municipalitys_domain_is_refused(tmp_path):
    verl_path = verl(tmp_path, mtime=1_000_000)
    halle = write(tmp_path, VALID.replace("halle.example.org", "halle.urbanstack.verl.example"), mtime=2_000_000)
    assert problems(tmp_path) == [f"{halle}:11: domain: 'halle.urbanstack.verl.example' lies inside "
                                  f"'urbanstack.verl.example', the domain of {verl_path}:13; every municipality "
                                  "needs a domain of its own"]


def test_a_domain_that_contains_another_municipalitys_domain_is_refused(tmp_path):
    verl_path = verl(tmp_path, mtime=1_000_000)
    halle = write(tmp_path, VALID.replace("halle.example.org", "verl.example"), mtime=2_000_000)
    assert problems(tmp_path) == [f"{halle}:11: domain: 'verl.example' contains 'urbanstack.verl.example', the "
                                  f"domain of {verl_path}:13; every municipality needs a domain of its own"]


@pytest.mark.parametrize(("domain", "relation"), [
    ("urbanstack.kreis-guetersloh.example", "is"),
    ("halle.urbanstack.kreis-guetersloh.example", "lies inside"),
    ("kreis-guetersloh.example", "contains"),
])
def test_a_domain_in_or_around_the_platforms_domain_is_refused(tmp_path, domain, relation):
    shared = (ROOT / "stacks" / "Pulumi.shared.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(shared, 1) if text.strip().startswith("urban-stack:baseDomain:"))
    (found,) = only(tmp_path, VALID.replace("halle.example.org", domain))
    assert found == (f"{tmp_path / 'halle.yaml'}:11: domain: '{domain}' {relation} the platform's domain "
                     f"'urbanstack.kreis-guetersloh.example' (stacks/Pulumi.shared.yaml:{line}, urban-stack:baseDomain); "
                     "use a domain of the municipality's own")


def test_the_platform_domain_is_read_from_the_shared_config_given(tmp_path):
    config = tmp_path / "Pulumi.shared.yaml"
    config.write_text("config:\n  urban-stack:baseDomain: example.org\n", encoding="utf-8")
    write(tmp_path / "t", VALID)
    assert "the platform's domain 'example.org'" in problems(tmp_path / "t", shared_config=config)[0]


TARGET = """\
backup:
  target:
    endpoint: https://s3.example.org
    bucket: halle-backups
    credentialsSecret: {secret}
"""


def platform_secret_names() -> list[str]:

    return [names.role_secret_name("geodata"), names.role_secret_name("opendata"), names.oidc_secret_name("dashboards"),
            names.tenant_tls_secret("halle"), "halle-bucket", f"{names.DB_CLUSTER}-app", f"{names.DB_CLUSTER}-superuser",
            "opendata-secrets", "dashboards", names.KEYCLOAK_ADMIN_SECRET, names.PLATFORM_TLS_SECRET]


@pytest.mark.parametrize("secret", platform_secret_names())
def test_the_backup_credentials_may_not_name_a_secret_of_the_platform(tmp_path, secret):
    (found,) = only(tmp_path, VALID + TARGET.format(secret=secret))
    assert f"backup.target.credentialsSecret: '{secret}' is a name the platform uses" in found


def test_the_municipalitys_own_backup_credentials_are_accepted(tmp_path):
    from catalogue.tenants import load_tenant

    path = write(tmp_path, VALID + TARGET.format(secret="backup-s3-credentials"))
    assert load_tenant(path).backup.target.credentialsSecret == "backup-s3-credentials"


@pytest.mark.parametrize(("path", "text"), [
    ("backup.target.endpoint", TARGET.format(secret="backup-s3").replace("https://", "https://key:secret@")),
    ("backup.target.endpoint", TARGET.format(secret="backup-s3").replace("https://", "https://key@")),
    ("identity.federation.issuer", "  federation:\n    type: oidc\n    issuer: https://u:p@login.example.org/realms/x\n"
                                   "    clientId: urban\n    clientSecretRef: oidcSecret\n"),
    ("identity.federation.url", "  federation:\n    type: ldap\n    url: ldaps://cn=admin:pw@dc.example.org\n"
                                "    usersDn: dc=x\n    bindDn: cn=r\n    bindCredentialRef: ldapPassword\n"),
])
def test_a_url_with_user_and_password_is_refused(tmp_path, path, text):
    doc = VALID + text if path.startswith("backup") else VALID.replace(
        "identity:\n  admins: [admin@example.org]\n", "identity:\n  admins: [admin@example.org]\n" + text)
    found = only(tmp_path, doc)
    assert any(f": {path}: must not contain a user name or password" in p for p in found), found


def test_a_file_with_thousands_of_mistakes_lists_the_first_hundred_and_counts_the_rest(tmp_path):
    from catalogue.tenants import MAX_PROBLEMS_PER_FILE

    found = only(tmp_path, VALID + "".join(f"key{i}: 1\n" for i in range(5000)))
    assert len(found) == MAX_PROBLEMS_PER_FILE + 1
    assert found[0].startswith(f"{tmp_path / 'halle.yaml'}:14: key0: unknown field 'key0'")
    assert found[-1] == (f"{tmp_path / 'halle.yaml'}:{14 + MAX_PROBLEMS_PER_FILE}: … and "
                         f"{5000 - MAX_PROBLEMS_PER_FILE} more problems in this file from this line on "
                         "(fix the ones above first)")


def test_a_line_injected_through_the_site_title_never_reaches_ckan_ini_in_the_plan(tmp_path):
    text = (ROOT / "tenants" / "verl.yaml").read_text(encoding="utf-8").replace(
        "modules:\n", 'modules:\n  openData:\n    siteTitle: "Open Data Verl\\nckan.auth.anon_create_dataset = true"\n')
    write(tmp_path / "tenants", text, "verl")
    result = runner.invoke(app, ["plan", "--tenants", str(tmp_path / "tenants"), "--out", str(tmp_path / "plan")])
    assert result.exit_code == 1
    assert "verl.yaml:17: modules.openData.siteTitle: contains a line break" in result.output
    written = [p.read_text(encoding="utf-8") for p in (tmp_path / "plan").rglob("*") if p.is_file()]
    assert not any("anon_create_dataset = true" in content for content in written)
