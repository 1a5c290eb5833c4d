"""URLs of tenant files (and of the shared config) are parsed by one parser, catalogue/urls.py: one URL, the allowed
scheme, a public host name; what a municipality really uses stays accepted."""

from __future__ import annotations

import re

import pytest

from catalogue.urls import host_problem, is_public_suffix, parse_url
from tests.config_samples import SHARED_VALID
from tests.hostile_tenants import ADMINS, VALID


@pytest.mark.parametrize("url", [
    "https://login.microsoftonline.com/0b2c3d4e/v2.0",
    "https://login.rheda-wiedenbrueck.example/realms/verwaltung",
    "https://adfs.kreis-guetersloh.de:8443/adfs/oauth2/token?x=1",
    "https://s3.eu-central-1.amazonaws.com",
    "https://s3.amazonaws.com",
    "https://idp.stadt-muenster.de/metadata.xml",
    "HTTPS://Login.Example.ORG/x",
])
def test_the_urls_municipalities_use_are_accepted(url):
    parts = parse_url(url, "https")
    assert parts.hostname == url.split("://")[1].split("/")[0].split(":")[0].lower()


@pytest.mark.parametrize("url", ["ldaps://dc01.rietberg.example:636", "ldaps://dc.verl.de", "ldaps://dc.verl.de/"])
def test_one_ldaps_server_is_accepted(url):
    assert parse_url(url, "ldaps", path=False).scheme == "ldaps"


@pytest.mark.parametrize(("host", "needle"), [
    ("10.96.0.1", "IP address"), ("[fd00::1]", "IP address"), ("0177.0.0.1", "IP address"),
    ("kubernetes", "cluster-internal"), ("kubernetes.default.svc.cluster.local", "cluster-internal"),
    ("keycloak-service.urban-identity", "no top-level domain"), ("dc.verl.local", "cluster-internal"),
    ("metadata.google.internal", "cluster-internal"), ("xn--80ak6aa92e.com", "IDN"),
    ("127.0.0.1.nip.io", "spells the IP address"), ("under_score.example.org", "no DNS label"),
])
def test_hosts_that_point_inward_or_imitate_another_name_are_refused(host, needle):
    assert needle in (host_problem(host) or "")


def test_public_suffixes_come_from_the_vendored_list():
    assert is_public_suffix("co.uk") and is_public_suffix("github.io") and is_public_suffix("de")
    assert not is_public_suffix("verl.de") and not is_public_suffix("verl.github.io")
    assert not is_public_suffix("urbanstack.verl.example")


def test_a_platform_name_is_refused_only_where_the_platform_is_known():
    platform = [("urbanstack.example.de", "the platform's domain")]
    with pytest.raises(ValueError, match=re.escape("lies in 'urbanstack.example.de', the platform's domain")):
        parse_url("https://id.urbanstack.example.de/realms/master", "https", platform=platform)
    assert parse_url("https://id.urbanstack.example.de/realms/master", "https").hostname


@pytest.mark.parametrize(("section", "key"), [("backup", "offsite"), ("storage", "external")])
def test_the_shared_configs_s3_endpoints_are_parsed_by_the_same_parser(section, key):
    from catalogue.shared_config import ConfigError, parse

    raw = dict(SHARED_VALID)
    if section == "backup":
        raw["backup"] = {"offsite": {"endpoint": "https://169.254.169.254", "bucket": "offsite-backups"}}
    else:
        raw["storage"] = {"mode": "external", "blockStorageClass": "standard",
                          "external": {"endpoint": "https://minio.urban-storage.svc"}}
    with pytest.raises(ConfigError, match=f"{section}.{key}.endpoint"):
        parse(raw)


def test_a_federation_with_verified_addresses_is_accepted(tmp_path):
    from catalogue.tenants import load_tenant

    text = VALID.replace(ADMINS, ADMINS + "  federation:\n    type: ldap\n    url: ldaps://dc1.halle.de:636\n"
                                          "    usersDn: dc=x\n    bindDn: cn=r\n    bindCredentialRef: ldap\n"
                                          "    verifiesEmail: true\n")
    (tmp_path / "halle.yaml").write_text(text, encoding="utf-8")
    assert load_tenant(tmp_path / "halle.yaml").identity.federation.verifiesEmail is True
