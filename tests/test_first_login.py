"""A municipality's administrators can log in the first time: each gets a generated temporary password (handed
over by the platform operator from a Secret in urban-identity) that Keycloak makes them replace at first login;
without a mail relay nothing waits for an e-mail that cannot be sent, with one (shared config `smtp`) the realm
sends mail and administrators verify their address."""

from __future__ import annotations

import json
import re

import pytest

from catalogue import names
from catalogue.realm_policy import PASSWORD_POLICY
from catalogue.shared_config import ConfigError, parse
from catalogue.tenants import load_all
from components.shared.platform import flows
from components.tenant import identity
from tests.test_shared_config import VALID

TENANTS = load_all()
SLUG = "verl"
SMTP = {"host": "mail.kreis-guetersloh.example", "port": 587, "fromAddress": "noreply@kreis-guetersloh.example"}


@pytest.fixture(scope="module")
def plan(plan_stack):
    return plan_stack(SLUG)


def realm_of(plan) -> dict:
    (secret,) = plan.find("Secret", f"realm-{SLUG}")
    return json.loads(secret.inputs["stringData"]["realm.json"])


def test_every_administrator_gets_a_temporary_password_the_operator_can_hand_over(plan):
    tenant = TENANTS[SLUG]
    users = {u["username"]: u for u in realm_of(plan)["users"]}
    assert set(users) == {str(a).lower() for a in tenant.identity.admins} and users
    (secret,) = plan.find("Secret", identity.initial_passwords_secret_name(SLUG))
    assert secret.inputs["metadata"]["namespace"] == names.NS_IDENTITY, "platform operators only"
    handed_over = secret.inputs["stringData"]
    for address, user in users.items():
        (cred,) = user["credentials"]
        assert cred["type"] == "password" and cred["temporary"] is True
        assert cred["userLabel"] == "initial", "keycloak-config-cli never resets an 'initial' credential"
        assert cred["value"] and cred["value"] == handed_over[identity.password_key(address)]
        assert "UPDATE_PASSWORD" in user["requiredActions"]


def test_the_temporary_passwords_meet_the_realm_password_policy(plan):
    generated = [r for r in plan.resources if r.type.startswith("random:index/randomPassword")
                 and "initial-password" in r.name]
    assert len(generated) == len(TENANTS[SLUG].identity.admins)
    minimum = int(re.search(r"length\((\d+)\)", PASSWORD_POLICY).group(1))
    for r in generated:
        assert r.inputs["length"] >= minimum
        for need in ("minUpper", "minLower", "minNumeric", "minSpecial"):
            assert r.inputs[need] >= 1, need


def test_without_a_mail_relay_no_login_waits_for_an_email(plan):
    realm = realm_of(plan)
    assert "smtpServer" not in realm
    for user in realm["users"]:
        assert "VERIFY_EMAIL" not in user["requiredActions"]
        assert user["emailVerified"] is True, "oauth2-proxy refuses unverified addresses"
        assert {"CONFIGURE_TOTP", "UPDATE_PASSWORD"} <= set(user["requiredActions"])


def test_with_a_mail_relay_the_realm_sends_mail_and_administrators_verify_their_address():
    smtp = parse({**VALID, "smtp": SMTP}).smtp
    tenant = TENANTS[SLUG]
    doc = identity.realm(tenant, [], None, (), smtp, {})
    assert doc["smtpServer"] == {"host": "mail.kreis-guetersloh.example", "port": "587",
                                 "from": "noreply@kreis-guetersloh.example", "fromDisplayName": "Urban Stack",
                                 "starttls": "true", "ssl": "false", "auth": "false"}
    for user in doc["users"]:
        assert "VERIFY_EMAIL" in user["requiredActions"] and user["emailVerified"] is False


def test_keycloak_may_reach_the_mail_relay_only_when_one_is_configured():
    def keycloak_egress_ports(cfg) -> set[int]:
        (flow,) = [f for f in flows(cfg) if f[0] == names.NS_IDENTITY and f[1] == "keycloak"]
        return {p["port"] for rule in flow[4] for p in rule["ports"]}

    assert 587 not in keycloak_egress_ports(parse(VALID))
    assert 2525 in keycloak_egress_ports(parse({**VALID, "smtp": {**SMTP, "port": 2525}}))


def test_a_broken_mail_relay_setting_names_the_key():
    with pytest.raises(ConfigError, match=r"urban-stack:smtp\.fromAddress"):
        parse({**VALID, "smtp": {**SMTP, "fromAddress": "not-an-address"}})
