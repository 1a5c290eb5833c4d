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
    "offlineSessionIdleTimeout": 2592000,
    "offlineSessionMaxLifespanEnabled": True,
    "offlineSessionMaxLifespan": 5184000,
    "accessCodeLifespan": 60,
    "accessCodeLifespanLogin": 1800,
    "actionTokenGeneratedByUserLifespan": 300,
    "revokeRefreshToken": True,
    "refreshTokenMaxReuse": 0,
    # Second factor: TOTP (SHA-256, 6 digits) is required for administrators (see required actions).
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
"""Required actions of a newly created administrator: set a password, enrol TOTP, verify e-mail."""
