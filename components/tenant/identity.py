"""The municipality's realm in the shared Keycloak, managed declaratively.

The realm is described as JSON (a Keycloak realm representation) and applied by keycloak-config-cli,
run as a Job in the identity namespace (``components/shared/realm_job.py``); the Job's name carries a hash
of the realm, so every change to the tenant file re-runs it on the next ``pulumi up``
(``KeycloakRealmImport`` only ever creates realms). keycloak-config-cli never deletes a realm.

The realm has the groups admins/editors/viewers, the administrators from the tenant file, one confidential
OIDC client per booked module that has one (its secret is delivered to the municipality's namespace as
Secret ``<module>-oidc``), the platform's security settings (``catalogue/realm_policy.py``) and the
optional federation to the municipality's own directory.

Before the realm job, the municipality's **bootstrap job** (same mechanism, ``realm_job``) makes what the realm job
needs to log in, so that a join changes nothing in the shared stack
(docs/decisions/0013-realm-bootstrap-in-the-municipality-stack.md):

* realm ``<slug>``, empty (:func:`empty_realm`; Keycloak then creates client ``<slug>-realm`` in the master realm);
* in the master realm, the service-account client ``realm-job-<slug>`` (:func:`realm_job_client`) whose service
  account holds roles of client ``<slug>-realm`` only (:data:`REALM_JOB_ROLES`), with a secret generated here
  (Secret ``realm-job-<slug>`` in ``urban-identity``, the realm job's login).

It logs in with the platform's bootstrap service account (Secret ``keycloak-bootstrap-service`` of the shared stack,
referenced by name: this stack never reads its value), keeps its keycloak-config-cli state under its own key
``bootstrap-<slug>``, never deletes a client and applies its documents at every run (:func:`bootstrap_job`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from catalogue import names
from catalogue.realm_policy import (
    ADMIN_REQUIRED_ACTIONS,
    ADMIN_SECOND_FACTOR,
    POST_BROKER_FLOW,
    REALM_SECURITY,
    SECOND_FACTOR_ROLE,
)
from catalogue.schema import Tenant, admin_key
from components import k8s as kb
from components.base import TenantContext
from components.provider import stack_secret

GROUPS = ("admins", "editors", "viewers")
REALM_SSL_REQUIRED = "external"
"""Municipality realms accept plain HTTP from private addresses only (the modules' back channel through the
Gateway's internal listener, whose Envoy forwards the pod's address in X-Forwarded-For; TLS ends at the Gateway
for everything else). With ``all`` Keycloak answers "HTTPS required"
to every back-channel call: its endpoints check the scheme of the URL the request came in on (Keycloak 26
``TokenEndpoint.checkSsl``: ``getBaseUri().getScheme()`` against ``realm.getSslRequired().isRequired(connection)``),
and ``external`` exempts loopback, site-local (RFC 1918) and link-local/ULA client addresses
(``org.keycloak.common.enums.SslRequired.isLocal``). Requests through the Gateway come from public client
addresses (``proxy-headers: xforwarded``) over HTTPS, as before; the master realm does the same for the realm jobs."""


OIDC_PATHS = {"auth-url": "auth", "token-url": "token", "userinfo-url": "userinfo", "jwks-url": "certs"}
"""Keys of the OIDC Secret with an endpoint URL -> Keycloak's endpoint below ``<realm>/protocol/openid-connect/``."""
FRONT_CHANNEL = {"auth-url"}
"""Endpoints the browser opens: on the public host. The others are back channel: the Gateway's internal listener."""


def backchannel_url(slug: str, port: int | None = None) -> str:
    """The realm at the municipality's internal back-channel listener of the shared Gateway
    (``http://backchannel-<slug>.urban-gateway.svc:<port>/realms/<slug>``, ``names.backchannel_base_url``),
    which serves only this realm's discovery, token, userinfo and keys paths (components/shared/gateway.py);
    module pods have no network path to Keycloak's pods.

    Keycloak runs with ``hostname`` = the public URL and ``hostname-backchannel-dynamic`` (shared identity,
    ``keycloak_spec``): a request to this address gets the public issuer and login page but back-channel
    endpoints on the address it came in on (Keycloak 26 ``OIDCWellKnownProvider.getConfig``: issuer,
    authorization and logout from ``UrlType.FRONTEND``; token, introspection, userinfo and jwks from
    ``UrlType.BACKEND``; Envoy passes the Host header through), and tokens carry the public issuer either way."""
    return f"{names.backchannel_base_url(slug, port)}/realms/{slug}"


def endpoint_urls(issuer_url: Any, slug: str, port: int | None = None) -> dict[str, Any]:
    """The OIDC endpoints of realm ``slug`` as the modules use them (see :data:`OIDC_PATHS`)."""
    back = backchannel_url(slug, port)
    return {key: pulumi.Output.concat(issuer_url if key in FRONT_CHANNEL else back,
                                      f"/protocol/openid-connect/{path}")
            for key, path in OIDC_PATHS.items()}


def keycloak_adapter_config(slug: str, client_id: str, secret: Any, client_roles: bool,
                            port: int | None = None) -> pulumi.Output:
    """``keycloak.json`` of a client for Keycloak's OIDC adapter (FROST's KeycloakAuthProvider): the server URL is
    the municipality's internal back-channel listener (:func:`backchannel_url`); the adapter reads issuer, token
    and keys from its discovery document (keycloak adapter ``KeycloakDeployment.resolveUrls``), so the tokens'
    public issuer is accepted."""
    return pulumi.Output.json_dumps({
        "realm": slug, "auth-server-url": names.backchannel_base_url(slug, port), "ssl-required": REALM_SSL_REQUIRED,
        "resource": client_id, "credentials": {"secret": secret}, "confidential-port": 0,
        "use-resource-role-mappings": client_roles,
    })


def _groups_mapper() -> dict:
    return {
        "name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
        "config": {"full.path": "false", "id.token.claim": "true", "access.token.claim": "true",
                   "userinfo.token.claim": "true", "claim.name": "groups"},
    }


def client(module: str, title: str, host: str, secret: Any, callbacks: tuple[str, ...] = ()) -> dict:
    """A confidential OIDC client (authorization code + PKCE S256) for ``https://<host>``.

    ``redirectUris`` are exactly the module's callback URLs (``ModuleSpec.oidc_callbacks``), no wildcard: a
    wildcard lets any page of the host (an open redirect, a user's page in Node-RED or CKAN) receive the
    authorization code. A module without callbacks gets no browser flow at all. After logout the browser may
    only go back to the host's root page."""
    return {
        "clientId": module, "name": title, "enabled": True, "protocol": "openid-connect",
        "publicClient": False, "clientAuthenticatorType": "client-secret", "secret": secret,
        "standardFlowEnabled": bool(callbacks), "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False, "frontchannelLogout": True,
        "redirectUris": [f"https://{host}{path}" for path in callbacks],
        "webOrigins": [f"https://{host}"], "rootUrl": f"https://{host}",
        "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": f"https://{host}/"},
        "protocolMappers": [_groups_mapper()],
    }


def federation(fed, secret: Any) -> dict:
    """Realm fields for the municipality's own directory (OIDC or SAML broker, or LDAP user federation).

    ``trustEmail`` only when the tenant file says the directory verifies addresses (``verifiesEmail``); a login
    through a broker runs the post-broker flow, which asks administrators for their one-time code
    (``catalogue/realm_policy.py``, ``ADMIN_SECOND_FACTOR``)."""
    if fed is None:
        return {}
    if fed.type == "oidc":
        issuer = str(fed.issuer).rstrip("/")
        return {"identityProviders": [{
            "alias": "municipality", "displayName": "Anmeldung der Verwaltung", "providerId": "oidc",
            "enabled": True, "trustEmail": fed.verifiesEmail, "firstBrokerLoginFlowAlias": "first broker login",
            "postBrokerLoginFlowAlias": POST_BROKER_FLOW,
            "config": {
                "issuer": issuer, "clientId": fed.clientId, "clientSecret": secret,
                "clientAuthMethod": "client_secret_post", "syncMode": "IMPORT",
                "authorizationUrl": str(fed.authorizationUrl or f"{issuer}/protocol/openid-connect/auth"),
                "tokenUrl": str(fed.tokenUrl or f"{issuer}/protocol/openid-connect/token"),
                "jwksUrl": str(fed.jwksUrl or f"{issuer}/protocol/openid-connect/certs"),
                "validateSignature": "true", "useJwksUrl": "true", "pkceEnabled": "true", "pkceMethod": "S256",
                "defaultScope": "openid email profile",
            },
        }]}
    if fed.type == "saml":
        return {"identityProviders": [{
            "alias": "municipality", "displayName": "Anmeldung der Verwaltung", "providerId": "saml",
            "enabled": True, "trustEmail": fed.verifiesEmail, "firstBrokerLoginFlowAlias": "first broker login",
            "postBrokerLoginFlowAlias": POST_BROKER_FLOW,
            "config": {
                "idpEntityId": fed.entityId, "metadataDescriptorUrl": str(fed.metadataUrl),
                "useMetadataDescriptorUrl": "true", "validateSignature": "true", "wantAssertionsSigned": "true",
                "postBindingResponse": "true", "postBindingAuthnRequest": "true", "syncMode": "IMPORT",
                "nameIDPolicyFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            },
        }]}
    ad = fed.vendor == "ad"
    return {"components": {"org.keycloak.storage.UserStorageProvider": [{
        "name": "municipality-directory", "providerId": "ldap",
        "config": {
            "enabled": ["true"], "vendor": ["ad" if ad else "other"], "connectionUrl": [fed.url],
            "usersDn": [fed.usersDn], "bindDn": [fed.bindDn], "bindCredential": [secret], "authType": ["simple"],
            "editMode": ["READ_ONLY"], "importEnabled": ["true"], "syncRegistrations": ["false"],
            "usernameLDAPAttribute": ["sAMAccountName" if ad else "uid"], "rdnLDAPAttribute": ["cn"],
            "uuidLDAPAttribute": ["objectGUID" if ad else "entryUUID"],
            "userObjectClasses": ["person, organizationalPerson, user" if ad else "inetOrgPerson, organizationalPerson"],
            "searchScope": ["2"], "useTruststoreSpi": ["always"], "trustEmail": [str(fed.verifiesEmail).lower()], "pagination": ["true"],
            "connectionPooling": ["true"], "startTls": ["false"],
        },
    }]}}


def client_roles(modules: list) -> tuple[dict, dict]:
    """Client roles of the modules' clients (``roles.client``) and, per group, the client roles it gets."""
    roles: dict[str, list[dict]] = {}
    grants: dict[str, dict[str, list[str]]] = {g: {} for g in GROUPS}
    for spec in modules:
        if not (spec.oidc and spec.client_roles):
            continue
        roles[spec.name] = [{"name": role, "clientRole": True} for role in spec.client_roles]
        for role, groups in spec.client_roles.items():
            for g in groups:
                grants[g].setdefault(spec.name, []).append(role)
    return roles, grants


def smtp_server(smtp) -> dict:
    """Realm ``smtpServer`` (Keycloak's mail sender reads host, port, from, fromDisplayName, ssl, starttls, auth:
    ``DefaultEmailSenderProvider.send``; values are strings) for the shared config's relay, or nothing."""
    if smtp is None:
        return {}
    return {"smtpServer": {"host": smtp.host, "port": str(smtp.port), "from": str(smtp.fromAddress),
                           "fromDisplayName": smtp.fromDisplayName, "starttls": str(smtp.starttls).lower(),
                           "ssl": str(smtp.ssl).lower(), "auth": "false"}}


def admin_required_actions(smtp) -> list[str]:
    """What an administrator must do at first login. E-mail verification only when the realm can send mail:
    without a relay Keycloak cannot send the link and VERIFY_EMAIL would block every login."""
    return [a for a in ADMIN_REQUIRED_ACTIONS if smtp is not None or a != "VERIFY_EMAIL"]


def admin_user(address: str, password: Any, smtp) -> dict:
    """A realm administrator from the tenant file: member of ``admins`` with a generated temporary password.

    ``credentials`` carry ``userLabel: initial``: keycloak-config-cli sets such a credential when it creates the
    user and never again (v6.4.0 ``UserImportService.updateUser`` drops credentials labelled "initial" for
    existing users), so a later run of the realm job does not reset the password the administrator chose.
    ``temporary`` plus the required action UPDATE_PASSWORD make Keycloak ask for a new password at first login.
    ``emailVerified``: the address comes from the tenant file the platform operator maintains; without a mail
    relay it is taken as verified (nothing could verify it, and oauth2-proxy refuses unverified addresses, v7.15.2
    ``insecure-oidc-allow-unverified-email`` false), with one the administrator verifies it at first login.
    """
    return {
        "username": address, "email": address, "enabled": True, "emailVerified": smtp is None,
        "groups": ["admins"], "requiredActions": admin_required_actions(smtp),
        "credentials": [{"type": "password", "value": password, "temporary": True, "userLabel": "initial"}],
    }


def realm(tenant: Tenant, clients: list[dict], federation_secret: Any, modules: list = (), smtp=None,
          admin_passwords: dict[str, Any] | None = None) -> dict:
    """The complete realm representation of one municipality (values may be Outputs)."""
    roles, grants = client_roles(list(modules))
    passwords = admin_passwords or {}
    return {
        "realm": tenant.slug, "enabled": True, "displayName": tenant.name,
        **REALM_SECURITY,
        "sslRequired": REALM_SSL_REQUIRED,
        **ADMIN_SECOND_FACTOR,
        # Realm roles listed here are managed by keycloak-config-cli (import.managed.role "full", remote state on:
        # it deletes only roles it created; Keycloak's default roles are kept, RoleImportService /
        # KeycloakUtil.isDefaultRole), so offline_access, uma_authorization and default-roles-<slug> stay.
        "roles": {"realm": [{"name": SECOND_FACTOR_ROLE, "description": "asked for a one-time code at every login"}],
                  **({"client": roles} if roles else {})},
        "groups": [{"name": g, **({"realmRoles": [SECOND_FACTOR_ROLE]} if g == "admins" else {}),
                    **({"clientRoles": grants[g]} if grants[g] else {})} for g in GROUPS],
        "users": [admin_user(str(a).lower(), passwords.get(str(a).lower()), smtp) for a in tenant.identity.admins],
        "clients": clients,
        **federation(tenant.identity.federation, federation_secret),
        **smtp_server(smtp),
    }


def initial_passwords_secret_name(slug: str) -> str:
    """Secret (in the identity namespace, for platform operators only) with the administrators' first passwords."""
    return f"realm-{slug}-initial-passwords"


def password_key(address: str) -> str:
    """Secret data key of an administrator's address (``catalogue.schema.admin_key``: validation refuses two
    addresses with one key)."""
    return admin_key(address)


def federation_secret_ref(tenant: Tenant) -> str | None:
    """Name of the config secret the tenant's federation needs (OIDC client secret or LDAP bind password)."""
    fed = tenant.identity.federation
    return getattr(fed, "clientSecretRef", None) or getattr(fed, "bindCredentialRef", None)


def federation_secret(tenant: Tenant) -> Any:
    """The federation's secret from the municipality's stack config (``pulumi config set --secret``)."""
    ref = federation_secret_ref(tenant)
    if ref is None:
        return None
    value = pulumi.Config(names.CONFIG_NS).get_secret(ref)
    if value is None:
        raise pulumi.RunError(
            f"tenants/{tenant.slug}.yaml: identity.federation refers to config secret '{ref}', which stack "
            f"'{tenant.slug}' does not have: run "
            f"`pulumi config set --secret {names.CONFIG_NS}:{ref} VALUE -s {tenant.slug}`"
        )
    # Render mode writes Secrets in plain text to disk: there the realm carries a placeholder instead.
    return stack_secret(value)



REALM_REAPPLY_PATTERN = r"^[A-Za-z0-9._-]{0,40}$"


def realm_reapply() -> str:
    """Stack config ``urban-stack:realmReapply`` of a municipality's stack (empty when unset); a value that is not
    a short token of letters, digits, ``.``, ``_`` or ``-`` stops the stack with the key named."""
    import re

    value = pulumi.Config(names.CONFIG_NS).get("realmReapply") or ""
    if not re.match(REALM_REAPPLY_PATTERN, value):
        raise ValueError(f"stack config {names.CONFIG_NS}:realmReapply: {value!r} must be at most 40 letters, digits, "
                         "'.', '_' or '-' (e.g. a date: 2026-12-06)")
    return value


REALM_JOB_ROLES = (
    "view-realm", "manage-realm", "view-users", "manage-users", "query-users", "query-groups",
    "view-clients", "manage-clients", "query-clients", "view-identity-providers", "manage-identity-providers",
    "view-events", "manage-events",
)
"""Roles of client ``<slug>-realm`` (master realm) a municipality's realm job gets: everything keycloak-config-cli
writes in a realm document (settings, flows and components: manage-realm; groups and users: manage-users; clients
and client roles: manage-clients; federation: manage-identity-providers; event settings: manage-events), never
``impersonation`` or authorization services. Keycloak creates client ``<realm>-realm`` in the master realm for every
realm; its roles grant admin rights in that realm only. keycloak-config-cli also reads ``/admin/serverinfo``
(6.4.0 ``KeycloakProvider.getKeycloakVersion``), which Keycloak allows to any caller with an admin role of some
realm (``AdminRoot.getServerInfo``: ``AdminPermissions.realms(...).isAdmin()``)."""
EMPTY_REALM_FILE = "empty-realm.json"
"""The bootstrap job's first document (realm ``<slug>``); its second, the master realm's part, is ``realm.json``."""


def bootstrap_name(slug: str) -> str:
    """Name of the bootstrap job's Secret (its documents) and, with the documents' hash, of its Job, in
    ``urban-identity``. Not ``realm-...``: ``realm-bootstrap-x`` would be the realm Secret of a municipality
    ``bootstrap-x``; nothing else in ``urban-identity`` starts with ``bootstrap-`` (slugs are at most 30
    characters: at most 40 here, within ``realm_job``'s 52)."""
    return f"bootstrap-{slug}"


def bootstrap_cache_key(slug: str) -> str:
    """keycloak-config-cli ``import.cache.key`` of the bootstrap job: its state in the master realm (the client it
    made) is its own, apart from the master realm job's (``platform``) and every other municipality's."""
    return f"bootstrap-{slug}"


BOOTSTRAP_NO_DELETE = ("client",)
"""What the bootstrap job never deletes: clients (``import.managed.client=no-delete``). Its master realm document
lists one client, so with ``full`` keycloak-config-cli would delete every client missing from it that its state
lists; no-delete never runs that deletion at all (6.5.0 ``ClientImportService.doImport``: only for ``FULL``). Its
documents have no other managed entity (roles, groups, components, flows, required actions, identity providers,
client scopes): keycloak-config-cli touches an entity only when the document has its key
(``if (clients == null) return;`` and the like in each import service)."""


def realm_job_client(slug: str, secret: Any) -> dict[str, Any]:
    """The master realm's service-account client of a municipality's realm job (client credentials only)."""
    return {
        "clientId": names.realm_job_client(slug), "name": f"Realm job of {slug}", "enabled": True,
        "protocol": "openid-connect", "publicClient": False, "clientAuthenticatorType": "client-secret",
        "secret": secret, "serviceAccountsEnabled": True, "standardFlowEnabled": False,
        "implicitFlowEnabled": False, "directAccessGrantsEnabled": False, "frontchannelLogout": False,
    }


def realm_job_account(slug: str) -> dict[str, Any]:
    """The client's service-account user (Keycloak names it ``service-account-<clientId>``) and its roles."""
    # keycloak-config-cli 6.4.0 finds the existing user by name and sets its client roles (as in its own test
    # src/test/resources/import-files/clients/11_update_realm__add_authorization.json); it sets the client roles
    # of the clients the document names and clears those of other non-default clients, of this user only
    # (6.5.0 UserImportService, setupClientRoles).
    return {"username": f"service-account-{names.realm_job_client(slug)}", "enabled": True,
            "serviceAccountClientId": names.realm_job_client(slug),
            "clientRoles": {f"{slug}-realm": list(REALM_JOB_ROLES)}}


def empty_realm(slug: str) -> dict[str, Any]:
    """What the bootstrap job creates of a municipality's realm: only the realm (disabled until its realm job
    configures it). On an existing realm it changes nothing the realm job set: keycloak-config-cli 6.5.0 updates a
    realm with the fields the document has (``RealmImportService.updateRealm``; ``eventsEnabled`` copied from the
    realm, ``setEventsEnabledWorkaround``) and imports entities only when their key is present."""
    return {"realm": slug}


def bootstrap_master_realm(slug: str, secret: Any) -> dict[str, Any]:
    """The bootstrap job's part of the master realm: the municipality's realm-job client and its service account,
    nothing else (no realm setting, no other client, user, role or flow)."""
    return {"realm": "master", "clients": [realm_job_client(slug, secret)], "users": [realm_job_account(slug)]}


def bootstrap_job(parent: pulumi.Resource, slug: str, secret: Any, reapply: str = ""):
    """The municipality's bootstrap job (see the module docstring): ``(document Secret, Job)``."""
    from components.shared.realm_job import Login, realm_job

    master = pulumi.Output.secret(pulumi.Output.json_dumps(bootstrap_master_realm(slug, secret)))
    return realm_job(
        parent, bootstrap_name(slug), master, Login(names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET),
        namespace=names.NS_IDENTITY, before=[(EMPTY_REALM_FILE, json.dumps(empty_realm(slug), sort_keys=True))],
        reapply=reapply, cache_key=bootstrap_cache_key(slug), no_delete=BOOTSTRAP_NO_DELETE,
        # Every run applies both documents (two small ones): realmReapply then re-creates a realm or client that
        # was deleted by hand, which a stored checksum equal to the document's would otherwise skip.
        always_apply=True)


class Identity(pulumi.ComponentResource):
    """Realm ``<slug>`` and the OIDC client Secrets of the booked modules."""

    def __init__(self, name: str, ctx: TenantContext, modules: list, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:tenant:identity", name, None, opts)
        from components.shared.realm_job import Login, realm_job

        tenant = ctx.tenant
        clients, self.client_secrets = [], {}
        for spec in modules:
            if not spec.oidc:
                continue
            secret = random.RandomPassword(f"{spec.name}-client-secret", length=40, special=False,
                                           opts=pulumi.ResourceOptions(parent=self))
            host = ctx.host(spec)
            clients.append(client(spec.name, spec.title, host, secret.result, spec.oidc_callbacks))
            self.client_secrets[spec.name] = k8s.core.v1.Secret(
                names.oidc_secret_name(spec.name), metadata=kb.meta(names.oidc_secret_name(spec.name), ctx.namespace),
                type="Opaque",
                string_data={
                    "client-id": spec.name, "client-secret": secret.result, "issuer-url": ctx.issuer_url,
                    "backchannel-url": backchannel_url(tenant.slug, tenant.backchannel_port),
                    **endpoint_urls(ctx.issuer_url, tenant.slug, tenant.backchannel_port),
                    "keycloak.json": keycloak_adapter_config(tenant.slug, spec.name, secret.result,
                                                             bool(spec.client_roles), tenant.backchannel_port),
                },
                opts=kb.child(self, ctx.in_namespace),
            )
        admins = [str(a).lower() for a in tenant.identity.admins]
        keys = {password_key(a): a for a in admins}
        if len(keys) != len(admins):
            raise ValueError(f"tenants/{tenant.slug}.yaml: identity.admins: two addresses map to the same Secret key")
        # A temporary password per administrator, meeting the realm's password policy (length 12, upper, lower,
        # digit, special character); it is only good for the first login (UPDATE_PASSWORD).
        passwords = {a: random.RandomPassword(
            f"admin-{hashlib.sha256(a.encode()).hexdigest()[:10]}-initial-password", length=20, special=True,
            override_special="-_.:+", min_lower=2, min_upper=2, min_numeric=2, min_special=2,
            opts=pulumi.ResourceOptions(parent=self)).result for a in admins}
        self.initial_passwords = None
        if admins:
            # In the identity namespace: platform operators hand each password over on a separate channel (the
            # administrators cannot read their namespace before their first login, which needs the password).
            self.initial_passwords = k8s.core.v1.Secret(
                initial_passwords_secret_name(tenant.slug),
                metadata=kb.meta(initial_passwords_secret_name(tenant.slug), names.NS_IDENTITY),
                type="Opaque", string_data={key: passwords[a] for key, a in keys.items()},
                opts=kb.child(self, pulumi.ResourceOptions(additional_secret_outputs=["stringData"])),
            )
        representation = realm(tenant, clients, federation_secret(tenant), modules, ctx.shared.smtp, passwords)
        reapply = realm_reapply()
        # The realm job's own login: a client of the master realm made by the bootstrap job, its secret generated
        # here and delivered beside the job (docs/decisions/0013).
        job_client_secret = random.RandomPassword(f"{names.realm_job_client(tenant.slug)}-secret", length=40,
                                                  special=False, opts=pulumi.ResourceOptions(parent=self))
        self.job_client_secret = kb.secret(
            self, names.realm_job_client(tenant.slug), names.NS_IDENTITY,
            {"client-id": names.realm_job_client(tenant.slug), "client-secret": job_client_secret.result},
            opts=pulumi.ResourceOptions(additional_secret_outputs=["stringData"]))
        self.bootstrap_secret, self.bootstrap_job = bootstrap_job(self, tenant.slug, job_client_secret.result,
                                                                  reapply)
        # keycloak-config-cli creates and updates the realm but never deletes it; the realm's record in
        # the stack (its Secret) is protected, so removing the tenant file never deletes it either
        # (offboarding does, explicitly).
        self.config_secret, self.job = realm_job(
            self, f"realm-{tenant.slug}", pulumi.Output.secret(pulumi.Output.json_dumps(representation)),
            # The municipality's own service-account client (made by the bootstrap job): admin of this realm only.
            Login(names.realm_job_client(tenant.slug)),
            namespace=names.NS_IDENTITY,
            job_after=[self.bootstrap_job, self.job_client_secret],
            secret_opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True),
            # Stack config urban-stack:realmReapply of this municipality's stack: change it to apply the realm
            # (and its bootstrap) again with unchanged documents (after a Keycloak restore, docs/operations.md).
            reapply=reapply,
        )
        self.register_outputs({"realm": tenant.slug})
