"""The hostile tenant files of the security reviews (issue 15 and issue 23): each one, the field it must be refused
on, and a word of the message. ``tests/test_hostile_tenants.py`` holds every one to it; ``bench/hostile_bench.py``
measures the slowest refusal (target: within 1 s).

Each case is a whole tenant file built from :func:`tests.tenant_texts.tenant_text` (valid on its own) with one
hostile change.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalogue import names
from tests.tenant_texts import tenant_text

VALID = tenant_text()
ADMINS = "identity:\n  admins: [admin@example.org]\n"


@dataclass(frozen=True)
class Hostile:
    """One hostile tenant file: ``text`` under ``<slug>.yaml`` must be refused with ``field`` and ``needle``
    (``field`` empty: the file cannot be read as YAML at all; the line is still named)."""

    name: str
    text: str
    field: str
    needle: str
    slug: str = "halle"


def _replace(name: str, old: str, new: str, field: str, needle: str) -> Hostile:
    assert old in VALID, old
    return Hostile(name, VALID.replace(old, new), field, needle)


def _slug(slug: str, needle: str = "is reserved") -> Hostile:
    return Hostile(f"slug {slug}", VALID.replace("slug: halle", f"slug: {slug}"), "slug", needle, slug=slug)


def _federation(name: str, body: str, field: str, needle: str) -> Hostile:
    return Hostile(name, VALID.replace(ADMINS, ADMINS + "  federation:\n" + body), field, needle)


def _oidc(name: str, field: str, value: str, needle: str, issuer: str = "https://login.example.org/realms/x") -> Hostile:
    lines = {"issuer": issuer, field: value}
    body = "    type: oidc\n" + "".join(f"    {k}: {v}\n" for k, v in lines.items())
    return _federation(name, body + "    clientId: urban\n    clientSecretRef: oidcSecret\n",
                       f"identity.federation.{field}", needle)


def _ldap(name: str, url: str, needle: str) -> Hostile:
    return _federation(name, f"    type: ldap\n    url: {url}\n    usersDn: dc=x\n    bindDn: cn=r\n"
                             "    bindCredentialRef: ldapPassword\n", "identity.federation.url", needle)


def _saml(name: str, url: str, needle: str) -> Hostile:
    return _federation(name, f"    type: saml\n    metadataUrl: {url}\n    entityId: urn:x\n",
                       "identity.federation.metadataUrl", needle)


def _backup(name: str, endpoint: str, needle: str, secret: str = "backup-s3") -> Hostile:
    return Hostile(name, VALID + f"backup:\n  target:\n    endpoint: {endpoint}\n    bucket: halle-backups\n"
                                 f"    credentialsSecret: {secret}\n", "backup.target.endpoint", needle)


def _module(name: str, text: str, field: str, needle: str) -> Hostile:
    return Hostile(name, VALID + "modules:\n" + text, field, needle)


PLATFORM = "urbanstack.kreis-guetersloh.example"
"""``urban-stack:baseDomain`` of ``stacks/Pulumi.shared.yaml`` (the tests read the platform domain from there)."""

CASES: list[Hostile] = [
    # -- issue 15: loader and value attacks -----------------------------------------------------------------
    _replace("impossible date", "populationDate: 2023-12-31", "populationDate: 2023-13-45", "populationDate",
             "is not a real date"),
    _replace("date with a time", "populationDate: 2023-12-31", "populationDate: 2023-02-30 10:00:00",
             "populationDate", "is not a real date"),
    _replace("huge integer", "population: 21000", "population: " + "9" * 5000, "population", "far too large"),
    _replace("nested flow brackets", "costCenter: KST-1", "costCenter: " + "[" * 5000 + "]" * 5000, "",
             "nested deeper than 32 levels"),
    _replace("nested block mappings", "costCenter: KST-1",
             "costCenter:\n" + "".join(" " * i + "k:\n" for i in range(1, 600)) + " " * 600 + "k: 1", "",
             "nested deeper than 32 levels"),
    _replace("nested block sequences", "costCenter: KST-1", "costCenter:\n  " + "- " * 5000 + "x", "",
             "nested deeper than 32 levels"),
    _replace("German thousands separator", "population: 21000", "population: 25.500", "population",
             "German thousands separator"),
    _replace("boolean population", "population: 21000", "population: true", "population", "whole number"),
    _replace("line break in the name", "name: Halle (Westf.)", 'name: "Verl\\nckan.auth.anon_create_dataset = true"',
             "name", "line break"),
    _replace("CR LF in the name", "name: Halle (Westf.)", 'name: "Verl\\r\\nx"', "name", "line break"),
    _replace("line separator in the name", "name: Halle (Westf.)", 'name: "Verl\\u2028x"', "name", "line break"),
    _replace("tab in the contact", "name: IT\n", 'name: "IT\\tDigital"\n', "contact.name", "control character"),
    _module("line break in the CKAN title", '  openData:\n    siteTitle: "Open Data\\nckan.auth.anon_create_dataset = '
            'true"\n', "modules.openData.siteTitle", "line break"),
    _module("NUL in the geoportal title", '  masterportal:\n    title: "Geoportal\\u0000"\n',
            "modules.masterportal.title", "control character"),
    _replace("cost centre ending in a dash", "costCenter: KST-1", "costCenter: EVIL-", "costCenter", "label value"),
    _replace("cost centre with a slash", "costCenter: KST-1", "costCenter: 'KST/1'", "costCenter", "label value"),
    _replace("cost centre of 64 characters", "costCenter: KST-1", "costCenter: " + "K" * 64, "costCenter", ""),
    _replace("URL as domain", "domain: halle.example.org", "domain: https://halle.example.org/", "domain", "host name"),
    _replace("cluster-internal domain", "domain: halle.example.org", "domain: halle.svc.cluster.local", "domain",
             "cluster-internal"),
    _replace("the platform's domain", "domain: halle.example.org", f"domain: {PLATFORM}", "domain",
             "the platform's domain"),
    _replace("inside the platform's domain", "domain: halle.example.org", f"domain: halle.{PLATFORM}", "domain",
             "lies inside"),
    _replace("around the platform's domain", "domain: halle.example.org", "domain: kreis-guetersloh.example",
             "domain", "contains"),
    *[_slug(s) for s in (*names.PLATFORM_NAMESPACES, "kube-system", "kube-public", "kube-node-lease", "kube-anything",
                         "default", "cert-manager", "shared", "master", "urban-future", "platform")],
    _slug("Halle_1", "short name"),
    _backup("user and password in the backup endpoint", "https://key:secret@s3.example.org", "user name or password"),
    _backup("user in the backup endpoint", "https://key@s3.example.org", "user name or password"),
    _oidc("user and password in the issuer", "issuer", "https://u:p@login.example.org/realms/x",
          "user name or password"),
    _ldap("credentials in the LDAP URL", "ldaps://cn=admin:pw@dc.example.org", "user name or password"),
    *[Hostile(f"backup secret {s}", VALID + f"backup:\n  target:\n    endpoint: https://s3.example.org\n"
                                          f"    bucket: halle-backups\n    credentialsSecret: {s}\n",
              "backup.target.credentialsSecret", "is a name the platform uses")
      for s in (names.role_secret_name("geodata"), names.oidc_secret_name("dashboards"), "halle-tls", "halle-bucket",
                f"{names.DB_CLUSTER}-superuser", "opendata-secrets", names.KEYCLOAK_ADMIN_SECRET)],
    Hostile("five thousand unknown keys", VALID + "".join(f"key{i}: 1\n" for i in range(5000)), "key0",
            "unknown field"),
    # -- issue 23, item 7: one LDAP URL, with TLS ------------------------------------------------------------
    _ldap("LDAP fail-over list with a plain second server", "ldaps://dc.example.org:636 ldap://evil.example",
          "one URL without spaces"),
    _ldap("LDAP list separated by a tab", '"ldaps://dc.example.org\\tldap://evil.example"', "U+0009"),
    _ldap("plain LDAP", "ldap://dc.example.org", "must use ldaps://"),
    _ldap("LDAP URL with a DN and a filter", "ldaps://dc.example.org/dc=x??sub?(uid=*)", "only the server"),
    # -- issue 23, item 8: URLs that point inward -------------------------------------------------------------
    _oidc("issuer on the API server", "issuer", "https://kubernetes.default.svc/realms/x", "cluster-internal",
          issuer="https://kubernetes.default.svc/realms/x"),
    _oidc("issuer on kubernetes.default", "issuer", "https://kubernetes.default/x", "cluster-internal",
          issuer="https://kubernetes.default/x"),
    _oidc("token URL on the API server's address", "tokenUrl", "https://10.96.0.1/token", "IP address"),
    _oidc("JWKS URL on an IPv6 literal", "jwksUrl", "https://[::1]/certs", "IP address"),
    _oidc("JWKS URL on a hex address", "jwksUrl", "https://0x7f.1/certs", "IP address"),
    _oidc("JWKS URL on a decimal address", "jwksUrl", "https://2130706433/certs", "IP address"),
    _oidc("authorization URL on localhost", "authorizationUrl", "https://localhost/auth", "cluster-internal"),
    _oidc("token URL on a cluster.local name", "tokenUrl", "https://keycloak.urban-identity.svc.cluster.local/t",
          "cluster-internal"),
    _oidc("token URL on service.namespace", "tokenUrl", "https://keycloak-service.urban-identity:8080/t",
          "no top-level domain"),
    _oidc("issuer on Keycloak's own master realm", "issuer", f"https://id.{PLATFORM}/realms/master",
          "the platform's domain", issuer=f"https://id.{PLATFORM}/realms/master"),
    _oidc("JWKS URL on the admin host", "jwksUrl", f"https://id-admin.{PLATFORM}/realms/master/certs",
          "the platform's domain"),
    _oidc("token URL on the municipality's own modules", "tokenUrl", "https://dashboards.halle.example.org/t",
          "this municipality's own domain"),
    _oidc("token URL on wildcard DNS to a private address", "tokenUrl", "https://10.0.0.1.nip.io/t",
          "spells the IP address"),
    _oidc("token URL on dashed wildcard DNS", "tokenUrl", "https://app-169-254-169-254.sslip.io/t",
          "spells the IP address"),
    _oidc("token URL over plain HTTP", "tokenUrl", "http://login.example.org/t", "must use https://"),
    _oidc("token URL with a backslash", "tokenUrl", '"https://login.example.org\\\\@10.0.0.1/t"', "backslash"),
    _oidc("token URL with an IDN host", "tokenUrl", "https://xn--lgin-2na.example.org/t", "IDN"),
    _oidc("two issuers in one", "issuer", "https://login.example.org/x https://evil.example/x", "one URL",
          issuer="https://login.example.org/x https://evil.example/x"),
    _saml("SAML metadata on the cloud metadata service", "https://169.254.169.254/latest/meta-data", "IP address"),
    _saml("SAML metadata on an internal name", "https://idp.corp/metadata", "cluster-internal"),
    _backup("backup endpoint on the cloud metadata service", "https://169.254.169.254", "IP address"),
    _backup("backup endpoint on the in-cluster RGW", "https://rook-ceph-rgw-urban-objects.urban-storage.svc",
            "cluster-internal"),
    _backup("backup endpoint in the platform's domain", f"https://s3.{PLATFORM}", "the platform's domain"),
    _module("geoportal layer on an internal address", "  masterportal:\n    layers:\n      - id: wms1\n"
            "        name: WMS\n        type: WMS\n        url: https://10.0.0.5/wms\n        layers: a\n",
            "modules.masterportal.layers.0.url", "IP address"),
    # -- issue 23, item 11: slugs whose derived names are another municipality's ---------------------------------
    _slug("job-verl"),
    _slug("verl-initial-passwords"),
    # -- issue 23, item 12: two admin addresses with one account key ---------------------------------------------
    _replace("admins a+b and a_b", "admins: [admin@example.org]", "admins: [a+b@example.org, a_b@example.org]",
             "identity.admins.1", "map to the same account key"),
    # -- issue 23, item 14: invisible characters, look-alikes, public suffixes, add-on namespaces -----------------
    _replace("right-to-left override in the name", "name: Halle (Westf.)", 'name: "Halle \\u202e(.ftseW)"', "name",
             "invisible formatting character U+202E"),
    _replace("zero-width space in the contact", "name: IT\n", 'name: "I\\u200bT"\n', "contact.name",
             "invisible formatting character U+200B"),
    _replace("zero-width joiner in the cost centre", "costCenter: KST-1", 'costCenter: "KST\\u200d1"', "costCenter",
             "invisible"),
    _replace("bidi isolate in the admin address", "admins: [admin@example.org]",
             'admins: ["admin\\u2066@example.org"]', "identity.admins.0", "invisible"),
    _slug("istio-system"),
    _slug("istio-ingress"),
    _replace("IDN look-alike domain", "domain: halle.example.org", "domain: xn--hlle-5qa.example.org", "domain",
             "IDN"),
    _replace("public suffix github.io", "domain: halle.example.org", "domain: github.io", "domain",
             "public suffix"),
    _replace("public suffix co.uk", "domain: halle.example.org", "domain: co.uk", "domain", "public suffix"),
    _replace("top-level domain only", "domain: halle.example.org", "domain: de", "domain", ""),
    _replace("domain on an IP address", "domain: halle.example.org", "domain: 10.0.0.1.example", "domain",
             "spells the IP address"),
]
"""Every hostile tenant file of the reviews; names are unique (they are the test ids)."""
