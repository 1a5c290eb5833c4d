"""Security settings every Keycloak realm of the platform gets (master realm and municipality realms).

Oriented on BSI TR-03187 and the IT-Grundschutz building blocks ORP.4 (identity and access management):
strong password policy with history, brute-force lockout with increasing wait, short access tokens,
bounded sessions, TLS required for every request, no self-registration, PKCE for every OIDC client.
One definition, used by the shared stack's master realm and by every municipality's realm.
"""

from __future__ import annotations

PASSWORD_POLICY = (
    "length(12) and maxLength(128) and upperCase(1) and lowerCase(1) and digits(1) and specialChars(1) "
    "and notUsername(undefined) and notEmail(undefined) and passwordHistory(5)"
)

REALM_SECURITY: dict = {
    "sslRequired": "all",
    "registrationAllowed": False,
    "loginWithEmailAllowed": True,
    "duplicateEmailsAllowed": False,
    "resetPasswordAllowed": True,
    "editUsernameAllowed": False,
    "passwordPolicy": PASSWORD_POLICY,
    # Brute-force protection: temporary lockout after 5 failures, growing wait, at most 15 minutes.
    "bruteForceProtected": True,
    "permanentLockout": False,
    "failureFactor": 5,
    "waitIncrementSeconds": 60,
    "maxFailureWaitSeconds": 900,
    "minimumQuickLoginWaitSeconds": 60,
    "quickLoginCheckMilliSeconds": 1000,
    "maxDeltaTimeSeconds": 43200,
    # Tokens and sessions: 5-minute access tokens, 30-minute idle and 10-hour maximum sessions.
    "accessTokenLifespan": 300,
    "accessTokenLifespanForImplicitFlow": 300,
    "ssoSessionIdleTimeout": 1800,
    "ssoSessionMaxLifespan": 36000,
    # Offline sessions (refresh tokens of scope offline_access): 3 days idle, 7 days at most (OFFLINE_SESSION_*).
    "offlineSessionIdleTimeout": 259200,
    "offlineSessionMaxLifespanEnabled": True,
    "offlineSessionMaxLifespan": 604800,
    "accessCodeLifespan": 60,
    "accessCodeLifespanLogin": 1800,
    "actionTokenGeneratedByUserLifespan": 300,
    "revokeRefreshToken": True,
    "refreshTokenMaxReuse": 0,
    # Second factor: TOTP (SHA-256, 6 digits), asked at every login of an administrator (ADMIN_SECOND_FACTOR).
    "otpPolicyType": "totp",
    "otpPolicyAlgorithm": "HmacSHA256",
    "otpPolicyDigits": 6,
    "otpPolicyPeriod": 30,
    "eventsEnabled": True,
    "eventsExpiration": 7776000,
    "adminEventsEnabled": True,
    "adminEventsDetailsEnabled": False,
    "browserSecurityHeaders": {
        "contentSecurityPolicy": "frame-src 'self'; frame-ancestors 'self'; object-src 'none';",
        "xFrameOptions": "SAMEORIGIN",
        "strictTransportSecurity": "max-age=31536000; includeSubDomains",
        "xContentTypeOptions": "nosniff",
        "referrerPolicy": "no-referrer",
    },
}
"""Realm representation fields (Keycloak admin REST API names) applied to every realm."""

ADMIN_REQUIRED_ACTIONS = ["CONFIGURE_TOTP", "UPDATE_PASSWORD", "VERIFY_EMAIL"]
"""Required actions of a newly created administrator: set a password, enrol TOTP, verify e-mail (the enrolment
at first login; every later login asks for the code through :data:`ADMIN_SECOND_FACTOR`)."""

OFFLINE_SESSION_IDLE_DAYS = 3
OFFLINE_SESSION_MAX_DAYS = 7
"""Offline sessions (what a client gets with scope ``offline_access``: a refresh token that outlives the login) end
after 3 idle days and at the latest after 7 days, instead of Keycloak's 30 and the 60 kept before: no module of
the platform needs offline access (each logs in through the browser), so a leaked offline token is worth a week
at most; a weekly login for anything that does use one is the price."""

SECOND_FACTOR_ROLE = "second-factor-required"
"""Realm role of the ``admins`` group (municipality realms): whoever holds it is asked for a one-time code at every
login, by the browser flow and after a login through the municipality's own directory (:data:`ADMIN_SECOND_FACTOR`)."""
BROWSER_FLOW = "browser with second factor for admins"
POST_BROKER_FLOW = "second factor for admins after broker login"
_ROLE_CONDITION = "role second-factor-required"


def _step(authenticator: str, requirement: str, priority: int, config: str | None = None) -> dict:
    return {"authenticator": authenticator, "requirement": requirement, "priority": priority,
            "authenticatorFlow": False, "userSetupAllowed": False,
            **({"authenticatorConfig": config} if config else {})}


def _sub_flow(alias: str, requirement: str, priority: int) -> dict:
    return {"flowAlias": alias, "requirement": requirement, "priority": priority, "authenticatorFlow": True,
            "userSetupAllowed": False}


def _flow(alias: str, description: str, executions: list[dict], top: bool) -> dict:
    return {"alias": alias, "description": description, "providerId": "basic-flow", "topLevel": top,
            "builtIn": False, "authenticationExecutions": executions}


def _otp_if_admin(alias: str) -> dict:
    """Sub-flow: for holders of :data:`SECOND_FACTOR_ROLE` the OTP form is REQUIRED. Keycloak's
    ``conditional-user-role`` (26.4 ``ConditionalRoleAuthenticator.matchCondition``: ``user.hasRole(role)``, group
    roles included; config ``condUserRole``/``negate``) decides whether the CONDITIONAL sub-flow runs; a user
    without a configured OTP gets CONFIGURE_TOTP on the spot (``auth-otp-form`` REQUIRED and not configured:
    ``DefaultAuthenticationFlow`` sets the authenticator's required actions), so no login of an administrator
    passes without the second factor, not only the first."""
    return _flow(alias, "One-time code for the realm's administrators", [
        _step("conditional-user-role", "REQUIRED", 10, _ROLE_CONDITION),
        _step("auth-otp-form", "REQUIRED", 20),
    ], top=False)


ADMIN_SECOND_FACTOR: dict = {
    "browserFlow": BROWSER_FLOW,
    "authenticatorConfig": [{"alias": _ROLE_CONDITION,
                             "config": {"condUserRole": SECOND_FACTOR_ROLE, "negate": "false"}}],
    "authenticationFlows": [
        # Keycloak's built-in "browser" flow (cookie, identity-provider redirector, username and password form)
        # with the conditional OTP bound to the admins' role in place of its "Browser - Conditional OTP".
        _flow(BROWSER_FLOW, "Browser login; a one-time code for administrators", [
            _step("auth-cookie", "ALTERNATIVE", 10),
            _step("identity-provider-redirector", "ALTERNATIVE", 25),
            _sub_flow(f"{BROWSER_FLOW} forms", "ALTERNATIVE", 30),
        ], top=True),
        _flow(f"{BROWSER_FLOW} forms", "Username, password and, for administrators, a one-time code", [
            _step("auth-username-password-form", "REQUIRED", 10),
            _sub_flow(f"{BROWSER_FLOW} otp", "CONDITIONAL", 20),
        ], top=False),
        _otp_if_admin(f"{BROWSER_FLOW} otp"),
        # After a login through the municipality's directory (identityProviders[].postBrokerLoginFlowAlias).
        _flow(POST_BROKER_FLOW, "After a login through the municipality's directory: a one-time code for "
              "administrators", [_sub_flow(f"{POST_BROKER_FLOW} otp", "CONDITIONAL", 10)], top=True),
        _otp_if_admin(f"{POST_BROKER_FLOW} otp"),
    ],
}
"""Realm fields (keycloak-config-cli realm import: ``authenticationFlows`` with ``authenticationExecutions``,
``authenticatorConfig`` by alias, ``browserFlow``) that make the second factor a requirement of every login of
the ``admins`` group of a municipality realm (the group carries :data:`SECOND_FACTOR_ROLE`)."""
