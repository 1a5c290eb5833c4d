"""The tenant file contract: one pydantic model, every field described.

``tenants/<slug>.yaml`` is validated against :class:`Tenant`. The JSON Schema for editors
(``schema/tenant.schema.json``) and the reference in ``docs/tenant-file.md`` are generated from this model
(``urbanstack docs write``); ``tests/test_docs.py`` fails when they are stale.

Module options are not listed here: each module brings its own model (``catalogue/modules/*.py``)
and :func:`modules_model` assembles ``modules:`` from the catalogue.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from functools import cache
from typing import Annotated, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalogue import names
from catalogue.modules import CATALOGUE
from catalogue.spec import HttpsUrl
from catalogue.urls import CONTEXT_PLATFORM, host_problem, is_public_suffix, ldaps_url

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$"
CELL_NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$"
"""A cell's name: a DNS label of at most 20 characters, starting with a letter (it becomes part of stack names
``shared.<cell>`` and ``<slug>.<cell>``, of the derived ``<cell>.<baseDomain>``, and of Kubernetes object names)."""
AGS_PATTERN = r"^(0[1-9]|1[0-6])[0-9]{6}$"
DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
LABEL_VALUE_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
"""A non-empty Kubernetes label value: at most 63 characters, alphanumeric at both ends, ``-_.`` inside
(k8s.io/apimachinery pkg/util/validation/validation.go: ``labelValueFmt``, ``LabelValueMaxLength = 63``)."""
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

PATTERN_HINTS: dict[str, str] = {
    SLUG_PATTERN: "a short name of 3–30 lower-case letters, digits and '-', starting with a letter, like halle-westf",
    AGS_PATTERN: "the 8-digit Amtlicher Gemeindeschlüssel in quotes, Land code 01–16 first, like \"05754044\"",
    DOMAIN_PATTERN: "a host name like urbanstack.verl.example (lower case, no https://, no path)",
    LABEL_VALUE_PATTERN: ("up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit "
                          "(it becomes a Kubernetes label value), like VERL-1100"),
    SECRET_NAME_PATTERN: "a Kubernetes Secret name of lower-case letters, digits and '-', like backup-s3-credentials",
    CELL_NAME_PATTERN: ("a cell name of the shared config: up to 20 lower-case letters, digits and '-', starting "
                        "with a letter, like stadt-guetersloh"),
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$": "an S3 bucket name of 3–63 lower-case letters, digits, '.' and '-', like verl-backups",
    r"^[A-Za-z0-9_-]{1,40}$": "an ID of 1–40 letters, digits, '_' or '-', like bebauungsplaene",
}
"""What a ``pattern`` means, said for people: a pattern failure names the expectation and an example, never the
regular expression (``tests/test_tenant_problems.py`` holds every pattern of the tenant schema to it)."""

_NAMESPACE_REASON = "a namespace of the shared platform (catalogue/names.py)"
RESERVED_SLUGS: dict[str, str] = {
    **{ns: _NAMESPACE_REASON for ns in names.PLATFORM_NAMESPACES},
    "shared": "the name of the shared platform's stack and of its cost label",
    "master": "Keycloak's administration realm",
    "admin": "reserved for administration",
    "platform": "the shared Gateway's listener for platform hosts is https-platform (catalogue/names.py)",
    "default": "a namespace every Kubernetes cluster has",
    # Namespaces that the usual installations of the components we run (or of common cluster add-ons) create,
    # so that a cluster set up by hand or by a provider's defaults cannot clash with a municipality.
    **{ns: "a namespace that cluster add-ons create by default" for ns in (
        "cert-manager", "monitoring", "cnpg-system", "rook-ceph", "envoy-gateway-system", "keycloak",
        "ingress-nginx", "gateway-system", "opencost", "prometheus", "local-path-storage", "longhorn-system",
        "calico-system", "tigera-operator", "cilium", "metallb-system", "velero", "argocd", "flux-system",
        "gatekeeper-system", "kyverno", "istio-system", "istio-ingress", "istio-egress", "linkerd",
        "linkerd-viz", "kubernetes-dashboard", "nginx-gateway", "traefik", "external-dns", "sealed-secrets")},
}
"""Slugs a municipality may not take: the slug becomes a namespace, a realm and a stack name."""
RESERVED_SLUG_PREFIXES: dict[str, str] = {
    "kube-": "Kubernetes' own namespaces (kube-system, kube-public, kube-node-lease)",
    "urban-": "the shared platform's namespaces (catalogue/names.py), present and future",
    "openshift": "OpenShift's own namespaces",
    "istio-": "Istio's namespaces (istio-system, istio-ingress, ...)",
    # Names the platform derives from a slug in one namespace (urban-identity): a slug with these parts would
    # name another municipality's object (slug 'job-verl': realm Secret 'realm-job-verl' = verl's realm-job client
    # Secret, catalogue.names.realm_job_client). The plan check 'references' finds any other such clash.
    "job-": "its realm Secret realm-<slug> would be the realm-job-<slug> Secret of another municipality "
            "(catalogue/names.py)",
}
RESERVED_SLUG_SUFFIXES: dict[str, str] = {
    "-initial-passwords": ("its realm Secret realm-<slug> would be the realm-<slug>-initial-passwords Secret of "
                           "another municipality (components/tenant/identity.py)"),
}


def reserved_slug(slug: str) -> str | None:
    """Why ``slug`` is reserved, or None."""
    if slug in RESERVED_SLUGS:
        return RESERVED_SLUGS[slug]
    return next((why for prefix, why in RESERVED_SLUG_PREFIXES.items() if slug.startswith(prefix)), None) or next(
        (why for suffix, why in RESERVED_SLUG_SUFFIXES.items() if slug.endswith(suffix)), None)


def admin_key(address: str) -> str:
    """Key of an administrator's address in the Secret of first passwords (Secret keys allow ``-._`` and
    alphanumerics only, so other characters become ``_``): two addresses with one key are refused by
    validation (``catalogue/tenants.py``)."""
    return re.sub(r"[^-._a-zA-Z0-9]", "_", address.lower())


def _public_host(value: str) -> str:
    """A municipality's ``domain``: a public DNS name of its own (``catalogue/urls.py``: no cluster-internal or
    IDN name, no IP address) and not a public suffix (``co.uk``, ``github.io``: anyone may register below it)."""
    problem = host_problem(value)
    if problem:
        raise ValueError(problem.replace(f"host '{value}'", f"'{value}'"))
    if is_public_suffix(value):
        raise ValueError(f"'{value}' is a public suffix (Public Suffix List): anyone may register names below it; "
                         f"use a domain of the municipality's own, like urbanstack.verl.example")
    return value


def _ldaps_url(value: object, info: pydantic.ValidationInfo) -> str:
    return ldaps_url(value, (info.context or {}).get(CONTEXT_PLATFORM))


def platform_secret(name: str) -> str | None:
    """Why ``name`` is a Secret the platform creates or owns (so a municipality must not point at it), or None.

    Names as the stacks create them: database role secrets (``components/tenant/database.py``), CloudNativePG's
    own secrets of the cluster (``<cluster>-app``, ``-superuser``, ...), OIDC client secrets
    (``components/tenant/identity.py``), the certificate (``catalogue.names.tenant_tls_secret``), the bucket
    keys (``<slug>-bucket``, ``components/tenant/storage.py``), module secrets (``<module>-<part>``,
    ``components/module.py``) and the platform's own secrets (``catalogue/names.py``, shared config).
    """
    if name in (names.KEYCLOAK_ADMIN_SECRET, names.PLATFORM_TLS_SECRET, "external-s3-credentials"):
        return "a secret of the shared platform"
    prefixes = {
        names.role_secret_name("x")[:-1]: "the prefix of the platform's database role secrets",
        f"{names.DB_CLUSTER}-": "the prefix of the secrets CloudNativePG creates for the municipality's database",
        **{f"{m.name}-": f"the prefix of the {m.key} module's own objects" for m in CATALOGUE.values()},
    }
    suffixes = {
        names.oidc_secret_name("x")[1:]: "the suffix of the modules' OIDC client secrets",
        names.tenant_tls_secret("x")[1:]: "the suffix of the municipality's certificate secret",
        names.bucket_claim("x")[1:]: "the suffix of the municipality's bucket keys",
    }
    if name in {m.name for m in CATALOGUE.values()}:
        return "the name of a module's own objects"
    for prefix, why in prefixes.items():
        if name.startswith(prefix):
            return why
    for suffix, why in suffixes.items():
        if name.endswith(suffix):
            return why
    return None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, str_strip_whitespace=True)


Email = Annotated[pydantic.EmailStr, Field(description="An e-mail address.")]


class Contact(Strict):
    """Who the platform operator talks to about this municipality."""

    name: str = Field(min_length=1, max_length=200, description="Name of the responsible person or office.")
    email: pydantic.EmailStr = Field(description="E-mail address of the responsible person or office.")


VERIFIES_EMAIL = (
    "Whether the municipality's directory verifies every user's e-mail address (then Keycloak trusts the address "
    "it sends: `trustEmail`); default `false`: an address from the directory counts as unverified, so nobody can "
    "take over an account of the realm by entering its address at the directory.")


class OidcFederation(Strict):
    """Log in with the municipality's own OpenID Connect provider (e.g. its Entra ID or ADFS)."""

    type: Literal["oidc"] = Field(description="Federation protocol: OpenID Connect.")
    issuer: HttpsUrl = Field(description="Issuer URL of the municipality's OIDC provider (https).")
    clientId: str = Field(min_length=1, description="Client ID registered at the municipality's provider.")
    clientSecretRef: str = Field(
        min_length=1,
        description="Name of the Pulumi config secret (in `stacks/Pulumi.<slug>.yaml`) holding the client secret.",
    )
    authorizationUrl: HttpsUrl | None = Field(
        None, description="Authorization endpoint; default: `<issuer>/protocol/openid-connect/auth` (Keycloak layout)."
    )
    tokenUrl: HttpsUrl | None = Field(
        None, description="Token endpoint; default: `<issuer>/protocol/openid-connect/token`."
    )
    jwksUrl: HttpsUrl | None = Field(
        None, description="JWKS (signing keys) endpoint; default: `<issuer>/protocol/openid-connect/certs`."
    )
    verifiesEmail: bool = Field(False, description=VERIFIES_EMAIL)


class SamlFederation(Strict):
    """Log in with the municipality's own SAML 2.0 identity provider."""

    type: Literal["saml"] = Field(description="Federation protocol: SAML 2.0.")
    metadataUrl: HttpsUrl = Field(description="URL of the IdP's SAML metadata (https).")
    entityId: str = Field(min_length=1, description="Entity ID of the identity provider.")
    verifiesEmail: bool = Field(False, description=VERIFIES_EMAIL)


class LdapFederation(Strict):
    """Read users from the municipality's LDAP / Active Directory (user federation in Keycloak)."""

    type: Literal["ldap"] = Field(description="Federation protocol: LDAP (user federation).")
    url: Annotated[str, pydantic.BeforeValidator(_ldaps_url)] = Field(
        description="LDAP server URL: exactly one `ldaps://host[:port]` (TLS), no list of servers, no credentials, "
                    "a public host name (no IP address, no cluster-internal or platform name)."
    )
    usersDn: str = Field(min_length=1, description="Base DN under which users are found.")
    bindDn: str = Field(min_length=1, description="DN of the read-only bind account.")
    bindCredentialRef: str = Field(
        min_length=1, description="Name of the Pulumi config secret holding the bind password."
    )
    vendor: Literal["ad", "other"] = Field("ad", description="Directory vendor: `ad` (Active Directory) or `other`.")
    verifiesEmail: bool = Field(False, description=VERIFIES_EMAIL)


Federation = Annotated[OidcFederation | SamlFederation | LdapFederation, Field(discriminator="type")]


class Identity(Strict):
    """The municipality's realm in the shared Keycloak."""

    admins: list[pydantic.EmailStr] = Field(
        min_length=1, description="E-mail addresses of the realm's administrators (at least one; two "
        "addresses that differ only in characters a Secret key cannot hold, like `a+b@…` and `a_b@…`, are refused)."
    )
    federation: Federation | None = Field(
        None, description="Optional link to the municipality's own directory (`type: oidc|saml|ldap`)."
    )

    @field_validator("admins")
    @classmethod
    def _unique(cls, v):
        lowered = [str(a).lower() for a in v]
        if len(set(lowered)) != len(lowered):
            raise ValueError("admins contains the same address twice")
        return v


class BackupTarget(Strict):
    """The municipality's own S3-compatible storage for database backups."""

    endpoint: HttpsUrl = Field(description="S3 endpoint URL (https).")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="Bucket name.")
    region: str = Field("eu-central-1", min_length=1, description="S3 region.")
    credentialsSecret: str = Field(
        pattern=SECRET_NAME_PATTERN, max_length=253,
        description=(
            "Name of a Secret in the municipality's namespace with keys `ACCESS_KEY_ID` and "
            "`ACCESS_SECRET_KEY`, created by the municipality (never stored in this repository). "
            "Names of secrets the platform creates are refused (`db-…`, `postgis-…`, `<module>-…`, `…-oidc`, "
            "`…-tls`, `…-bucket`)."
        ),
    )

    @field_validator("credentialsSecret")
    @classmethod
    def _not_a_platform_secret(cls, v):
        why = platform_secret(v)
        if why:
            raise ValueError(f"'{v}' is a name the platform uses ({why}); name the municipality's own Secret, "
                             f"e.g. backup-s3-credentials")
        return v


class CellStay(Strict):
    """An earlier cell of the municipality and its last day there."""

    cell: str = Field(pattern=CELL_NAME_PATTERN, description="Name of the cell (shared config `cells`).")
    until: dt.date = Field(description="Last day in that cell (ISO date, included); the next cell from the day after.")


class Backup(Strict):
    """Backups of the municipality's database."""

    retentionDays: int = Field(30, ge=7, le=3650, description="How long backups are kept, in days (7–3650).")
    target: BackupTarget | None = Field(
        None, description="Own S3 target; omitted = the operator's off-site target (shared config `backup.offsite`: "
        "then the municipality's stack needs its off-site key pair as config secrets, `pulumi config set --secret "
        "urban-stack:offsiteAccessKeyId … -s <slug>` and `… urban-stack:offsiteSecretAccessKey …`, which it writes "
        "into Secret `backup-offsite`), or in dev the municipality's bucket on the platform."
    )


DATE_RANGE = (dt.date(2000, 1, 1), dt.date(2199, 12, 31))
"""Membership and booking dates must lie in this range (the months a cost report accepts)."""


def check_date_span(since: dt.date | None, until: dt.date | None, since_name: str, until_name: str) -> None:
    """``since``/``until`` (optional, both days included) inside :data:`DATE_RANGE`, ``until`` after ``since``."""
    first, last = DATE_RANGE
    for name, value in ((since_name, since), (until_name, until)):
        if value is not None and not first <= value <= last:
            raise ValueError(f"{name}: {value.isoformat()} lies outside {first.isoformat()}..{last.isoformat()}")
    if since is not None and until is not None and until <= since:
        raise ValueError(f"{until_name} ({until.isoformat()}) must be after {since_name} ({since.isoformat()})")


def _booking_dates(self):
    check_date_span(self.since, self.until, "since", "until")
    return self


def booking_model(options: type[BaseModel]) -> type[BaseModel]:
    """A module's options plus the booking dates ``since``/``until`` (read by finance, not by the module)."""
    return pydantic.create_model(
        options.__name__, __base__=options, __doc__=options.__doc__, __module__=options.__module__,
        __validators__={"_booking_dates": model_validator(mode="after")(_booking_dates)},
        since=(dt.date | None, Field(None, description=(
            "First day the module is booked (ISO date, e.g. 2026-07-01); omitted = booked for the whole "
            "membership. Finance splits the module's shared cost by the days booked in each month."))),
        until=(dt.date | None, Field(None, description=(
            "Last day the module is booked (ISO date, included; after `since`); omitted = still booked."))),
    )


def modules_model() -> type[BaseModel]:
    """``modules:`` as a model built from the catalogue: one optional field per module."""
    return _modules_model(tuple(CATALOGUE.items()))


@cache
def _modules_model(entries: tuple) -> type[BaseModel]:
    """``entries``: the catalogue's (key, module file) pairs."""
    fields = {
        key: (
            booking_model(mod.options) | None,
            Field(None, description=f"{mod.title}. {mod.description} Omitted = not booked."),
        )
        for key, mod in entries
    }
    return pydantic.create_model(
        "Modules",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="The booked modules; each is a mapping of its own options (`{}` for the defaults).",
        **fields,
    )


def tenant_model() -> type[BaseModel]:
    """The tenant file model for the current module catalogue (rebuilt only when the catalogue changes)."""
    return _tenant_model(modules_model())


@cache
def _tenant_model(Modules: type[BaseModel]) -> type[BaseModel]:

    class Tenant(Strict):
        """One municipality (Kommune) of the platform: `tenants/<slug>.yaml`.

        No value anywhere in the file may contain a line break or another control character; URLs carry no
        `user:pass@`. `slug`, `ags` and `domain` are unique across all files, and no `domain` may lie inside
        another municipality's domain or the platform's `baseDomain` (or contain one). A municipality is served
        either at its own `domain` or on a platform subdomain (`platformSubdomain: true`).
        """

        schemaVersion: Literal[1] = Field(description="Version of this file format. Always `1`.")
        slug: str = Field(
            pattern=SLUG_PATTERN,
            description=(
                "Short name: lower case letters, digits and '-', 3–30 characters, equal to the file name. "
                "Becomes the namespace, the Keycloak realm and the Pulumi stack name. Reserved: the platform's "
                "and Kubernetes' namespaces and those of common add-ons (`urban-…`, `kube-…`, `istio-…`, `default`, "
                "`cert-manager`, …), `shared`, `master`, and slugs whose derived names would be another "
                "municipality's (`job-…`, `…-initial-passwords`)."
            ),
        )
        name: str = Field(min_length=1, max_length=120, description="Display name, any UTF-8 (\"Schloß Holte-Stukenbrock\").")
        ags: str = Field(
            pattern=AGS_PATTERN,
            description=(
                "Amtlicher Gemeindeschlüssel: 8 digits as a string (quote it), the first two a Land code 01–16. "
                "Used as billing account on finance statements."
            ),
        )
        population: int = Field(
            gt=0, le=10_000_000, strict=True,
            description="Inhabitants (a whole number, no thousands separator: 25500); used by allocation keys.",
        )
        populationDate: dt.date = Field(description="Reference date of `population` (ISO date, e.g. 2024-12-31).")
        costCenter: str = Field(
            max_length=63, pattern=LABEL_VALUE_PATTERN,
            description="Kostenstelle printed on finance statements; also a Kubernetes label value (up to 63 "
                        "letters, digits, `-_.`, alphanumeric at both ends).",
        )
        contact: Contact = Field(description="Contact for operations and finance.")
        domain: str | None = Field(
            None, pattern=DOMAIN_PATTERN, max_length=200,
            description="DNS name of the municipality's own under which services are published as "
                        "`<module>.<domain>` (lower case): a public name, not a public suffix (`co.uk`, "
                        "`github.io`), no IDN (`xn--`) label, no cluster-internal name. Its certificate "
                        "(`*.<domain>` hosts, ACME HTTP-01) is the municipality's own. Give either `domain` or "
                        "`platformSubdomain: true`, never both.",
        )
        platformSubdomain: bool = Field(
            False, strict=True,
            description="`true`: the municipality has no domain of its own and is served below the platform's "
                        "`baseDomain` (shared config), each module at `<slug>-<module>.<baseDomain>` (e.g. "
                        "`verl-dashboards.urbanstack.kreis.example`), through the shared Gateway's one wildcard "
                        "listener and the one wildcard certificate `*.<baseDomain>` (no certificate of its own). "
                        "One label, not `<module>.<slug>.<baseDomain>`: a wildcard certificate covers exactly one "
                        "DNS label, and one certificate for the whole platform keeps new members clear of the "
                        "CA's weekly limit per registered domain (Let's Encrypt: 50). Slug first, so that a "
                        "municipality's hosts sort together. The shared config must offer it (`tls."
                        "platformSubdomains: true`). The hosts of every module (booked or not) are the "
                        "municipality's: two municipalities whose hosts would be equal (slug `a-b` with module "
                        "`c`, slug `a` with module `b-c`), or a host equal to the platform's own (`id`, "
                        "`id-admin`), are refused. Default `false`: `domain` is required.",
        )
        backchannelPort: int | None = Field(
            None, ge=20000, le=29999, strict=True,
            description="Port of the municipality's internal OIDC back channel on the shared Gateway's Envoy pods "
                        "(its ListenerSet's `backchannel` listener, its Service `backchannel-<slug>` in "
                        "`urban-gateway`, 20000-29999). Leave it out: the port is derived from the slug (a hash, "
                        "`catalogue/names.py` `backchannel_port`). Two municipalities on one port are refused, "
                        "naming both files; `urbanstack tenants new` writes a free port here when the derived one "
                        "is taken (about 1 in 25 joins at 400 municipalities). Never change it once deployed: "
                        "the module pods are configured with it.",
        )
        cell: str | None = Field(
            None, pattern=CELL_NAME_PATTERN,
            description="The cell the municipality lives in (shared config `cells`: a cluster with its own platform "
                        "stack). Omitted: the default cell, where its Pulumi stack is named `<slug>` (as before "
                        "cells); in any other cell it is `<slug>.<cell>`. A dedicated cluster for one municipality is "
                        "a cell with this one member. Changing it is a move to another cell, with all the data: "
                        "`urbanstack tenants move` (docs/operations.md); the stack in the old cell stays until the "
                        "move's release.",
        )
        cellHistory: list[CellStay] = Field(
            default_factory=list,
            description="Earlier cells, oldest first, each with its last day (`- {cell: kreis, until: 2026-10-14}`): "
                        "cost statements charge each day of a month to the cell the municipality was in that day "
                        "(its shared costs split among that cell's members). Add an entry when the municipality "
                        "moves, with the day before the cut-over. Dates strictly increasing; no entry names the "
                        "cell of the entry after it (or, for the last, the current cell).",
        )
        plan: Literal["small", "medium", "large"] = Field(
            "small", description="Size: quota, database instances and storage, module replicas (`catalogue/sizing.py`)."
        )
        modules: Modules | None = Field(  # type: ignore[valid-type]
            default_factory=Modules, description="Booked modules; omitted or empty = none booked."
        )
        identity: Identity = Field(description="The municipality's realm: admins and optional federation.")
        backup: Backup = Field(default_factory=Backup, description="Database backups: retention and optional own target.")
        memberSince: dt.date | None = Field(
            None, description=(
                "First day of membership in the consortium (ISO date); omitted = a member since before any "
                "reporting period. Finance splits shared costs by the days of membership in each month."
            ),
        )
        memberUntil: dt.date | None = Field(
            None, description="Last day of membership (ISO date, included; after `memberSince`) when leaving; omitted = still a member.",
        )

        @field_validator("slug")
        @classmethod
        def _not_reserved(cls, v):
            why = reserved_slug(v)
            if why:
                raise ValueError(f"'{v}' is reserved ({why}); choose the municipality's own short name")
            return v

        @field_validator("modules")
        @classmethod
        def _none_booked(cls, v):
            # `modules:` with every module line commented out is YAML null: no module booked.
            return Modules() if v is None else v

        @field_validator("populationDate")
        @classmethod
        def _not_future(cls, v):
            if v > dt.date.today():
                raise ValueError("populationDate lies in the future")
            return v

        @field_validator("domain")
        @classmethod
        def _domain_public(cls, v):
            return v if v is None else _public_host(v)

        @model_validator(mode="after")
        def _one_way_to_be_served(self):
            if self.domain is not None and self.platformSubdomain:
                raise ValueError("domain and platformSubdomain: true exclude each other: either the municipality's "
                                 "own domain or a platform subdomain (docs/tenant-file.md); remove one of the two")
            if self.domain is None and not self.platformSubdomain:
                raise ValueError("domain: required field is missing: add a line 'domain: …' (the municipality's "
                                 "own domain), or 'platformSubdomain: true' to be served below the platform's "
                                 "baseDomain (docs/tenant-file.md)")
            return self

        @model_validator(mode="after")
        def _cell_history(self):
            stays = self.cellHistory
            for i, (a, b) in enumerate(itertools.pairwise(stays)):
                if b.until <= a.until:
                    raise ValueError(f"cellHistory[{i + 1}].until: {b.until} is not after cellHistory[{i}].until "
                                     f"({a.until}); list the earlier cells oldest first")
                if a.cell == b.cell:
                    raise ValueError(f"cellHistory[{i + 1}].cell: {b.cell!r} is the cell of cellHistory[{i}] too; "
                                     "one entry per stay")
            if stays and self.cell is not None and stays[-1].cell == self.cell:
                raise ValueError(f"cellHistory[{len(stays) - 1}].cell: {self.cell!r} is the current cell (`cell`); "
                                 "the history lists the cells the municipality left")
            if stays and self.memberSince is not None and stays[0].until < self.memberSince:
                raise ValueError(f"cellHistory[0].until: {stays[0].until} lies before memberSince "
                                 f"({self.memberSince})")
            return self

        @model_validator(mode="after")
        def _membership_dates(self):
            check_date_span(self.memberSince, self.memberUntil, "memberSince", "memberUntil")
            return self

        def booked(self) -> dict[str, object]:
            """Booked modules in catalogue order: key -> options."""
            return {k: v for k, v in self.modules if v is not None}

        @property
        def backchannel_port(self) -> int:
            """Port of the internal back channel: ``backchannelPort``, or the one derived from the slug."""
            return names.backchannel_port(self.slug, self.backchannelPort)

    return Tenant


Tenant = tenant_model()
"""The tenant model of the shipped catalogue (for documentation and type hints; validation uses tenant_model())."""


def slug_ok(value: str) -> bool:
    return bool(re.match(SLUG_PATTERN, value))
