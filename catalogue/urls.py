"""One parser for every host name and URL a person writes into a tenant file (and the shared config's URLs).

Tenant-supplied URLs are fetched by the platform (Keycloak fetches a federation's issuer, token, JWKS and SAML
metadata URLs and binds to the LDAP URL with the directory's password; the database pods send backups with the
operator's off-site keys to ``backup.target.endpoint``). A URL that points inward would turn those requests
against the cluster itself, so every URL field is **parsed**, not pattern-matched:

* one URL: no white space (Keycloak reads ``"ldaps://a ldap://b"`` as a fail-over list and would send the bind
  password in clear to the second host), printable ASCII only, no backslash;
* the allowed scheme (``https``, ``ldaps``), no ``user:pass@``, an optional numeric port;
* a host **name** (:func:`host_problem`): no IP literal in any spelling (``10.96.0.1``, ``[::1]``,
  ``0x7f.1``, ``2130706433``), two labels or more, a top-level domain that exists (from the Public Suffix List,
  ``vendor/publicsuffix/``; ``.example`` of RFC 2606 is kept for documentation), so no cluster-internal name
  (``kubernetes.default``, ``*.svc``, ``*.cluster.local``, ``<service>.<namespace>``, ``localhost``,
  ``*.internal``, ``*.local``), no IP address spelled into the name (``10.0.0.1.nip.io``), no IDN label
  (``xn--``: look-alike names);
* not a platform name: the platform's ``baseDomain`` and everything below it (Keycloak's own
  ``id.<baseDomain>`` with its master realm) and the municipality's own ``domain`` (served by the platform's
  Gateway). These come from the validation context (:data:`CONTEXT_PLATFORM`), set by ``catalogue/tenants.py``.

What cannot be decided offline (a public name whose DNS answer is a private address) is the NetworkPolicies'
part: Keycloak's and the databases' egress excludes private, link-local and shared ranges.
"""

from __future__ import annotations

import ipaddress
import re
import string
from functools import cache
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

PSL_FILE = Path(__file__).resolve().parent.parent / "vendor" / "publicsuffix" / "public_suffix_list.dat"
"""The Public Suffix List (vendored copy with provenance: ``vendor/publicsuffix/PROVENANCE.md``)."""
DOCUMENTATION_TLDS = frozenset({"example"})
"""Top-level domains that are no TLD of the DNS but stand for one in documentation and tests (RFC 2606)."""
INTERNAL_TLDS = frozenset({"svc", "local", "cluster", "localhost", "internal", "localdomain", "lan", "home",
                           "corp", "intranet", "private", "default"})
"""Last labels that mark a name as cluster-internal or private (said so in the message)."""
CONTEXT_PLATFORM = "platform_names"
"""Key of the pydantic validation context: a list of ``(domain, why)`` a URL's host must not be or lie in."""

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_URL_CHARS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
MAX_URL_LENGTH = 2000


# -- the Public Suffix List ----------------------------------------------------------------------------------

@cache
def _psl() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """``(rules, wildcard parents, exceptions, ICANN top-level domains)`` of the vendored list."""
    rules: set[str] = set()
    wildcards: set[str] = set()
    exceptions: set[str] = set()
    tlds: set[str] = set()
    icann = False
    for raw in PSL_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("// ===BEGIN ICANN"):
            icann = True
        elif line.startswith("// ===END ICANN"):
            icann = False
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0].lower()
        try:
            rule = rule.encode("idna").decode("ascii") if not rule.isascii() else rule
        except UnicodeError:
            continue
        if rule.startswith("!"):
            exceptions.add(rule[1:])
        elif rule.startswith("*."):
            wildcards.add(rule[2:])
        else:
            rules.add(rule)
        if icann and "." not in rule.lstrip("*.!"):
            tlds.add(rule.lstrip("*.!"))
    return frozenset(rules), frozenset(wildcards), frozenset(exceptions), frozenset(tlds)


def is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` itself is a public suffix (``de``, ``co.uk``, ``github.io``), under which anyone may
    register names: a municipality's domain must be a name of its own, below one."""
    rules, wildcards, exceptions, _ = _psl()
    domain = domain.lower().rstrip(".")
    if domain in exceptions:
        return False
    if domain in rules or "." not in domain:
        return True
    parent = domain.split(".", 1)[1]
    return parent in wildcards


def is_tld(label: str) -> bool:
    """Whether ``label`` is a top-level domain of the DNS (ICANN section of the list) or of documentation."""
    return label in _psl()[3] or label in DOCUMENTATION_TLDS


# -- host names ------------------------------------------------------------------------------------------------

def _ip_literal(host: str) -> bool:
    """An IP address in any spelling resolvers accept (dotted, decimal, hex, octal, shortened: ``0x7f.1``)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    parts = host.split(".")
    return all(re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", p) for p in parts if p) and 1 <= len(parts) <= 4


def _embedded_ipv4(labels: list[str]) -> str | None:
    """``10.0.0.1`` in ``10.0.0.1.nip.io`` or ``10-0-0-1.sslip.io``: wildcard DNS that answers with that address."""
    for i in range(len(labels) - 3):
        if all(re.fullmatch(r"[0-9]{1,3}", x) for x in labels[i:i + 4]):
            return ".".join(labels[i:i + 4])
    for label in labels:
        m = re.search(r"(?:^|[^0-9])([0-9]{1,3}(?:-[0-9]{1,3}){3})(?:$|[^0-9])", label)
        if m:
            return m.group(1).replace("-", ".")
    return None


def host_problem(host: str) -> str | None:
    """What is wrong with ``host`` as a public DNS host name of a service outside the platform, or None."""
    if not host:
        return "has no host name"
    if host.startswith("[") or ":" in host:
        return f"host '{host}' is an IP address; give the service's DNS name"
    if _ip_literal(host):
        return f"host '{host}' is an IP address; give the service's DNS name"
    if host.endswith("."):
        return f"host '{host}' ends in a dot; write it without"
    if len(host) > 253:
        return "host name is longer than 253 characters"
    labels = host.split(".")
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if bad is not None:
        return (f"host '{host}': '{bad}' is no DNS label (lower-case letters, digits and '-' inside, at most 63 "
                f"characters)")
    ace = next((label for label in labels if label[2:4] == "--"), None)
    if ace is not None:
        return (f"host '{host}': '{ace}' is an internationalised (IDN, '{ace[:4]}') label, which can imitate "
                f"another name; use the ASCII name")
    if host.startswith("kubernetes.default") or labels[-1] in INTERNAL_TLDS or len(labels) < 2:
        return f"host '{host}' is a cluster-internal or private name; give the service's public DNS name"
    if not is_tld(labels[-1]):
        return (f"host '{host}': '{labels[-1]}' is no top-level domain (a cluster-internal "
                f"'<service>.<namespace>' name?); give the service's public DNS name")
    embedded = _embedded_ipv4(labels)
    if embedded is not None:
        return f"host '{host}' spells the IP address {embedded} (wildcard DNS); give the service's own DNS name"
    return None


def platform_problem(host: str, platform: list[tuple[str, str]] | None) -> str | None:
    """``host`` is or lies in a name the platform serves (``(domain, why)`` pairs), or None."""
    for domain, why in platform or ():
        if domain and (host == domain or host.endswith(f".{domain}")):
            relation = "is" if host == domain else "lies in"
            return f"host '{host}' {relation} '{domain}', {why}; a URL here must point outside the platform"
    return None


# -- URLs --------------------------------------------------------------------------------------------------------

def parse_url(value: object, scheme: str, *, platform: list[tuple[str, str]] | None = None,
              path: bool = True) -> SplitResult:
    """Parse one URL of ``scheme``; raise ``ValueError`` with a message for people (see the module doc).

    ``path=False``: nothing may follow the host and port (an LDAP server URL).
    """
    example = {"https": "https://login.verl.example/realms/verwaltung",
               "ldaps": "ldaps://dc1.verl.example:636"}.get(scheme, f"{scheme}://host.example")
    if not isinstance(value, str):
        raise ValueError(f"expected one {scheme}:// URL as text, like {example}")
    text = value
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"a URL of {len(text)} characters is far too long (at most {MAX_URL_LENGTH})")
    if any(c.isspace() for c in text):
        listed = " (Keycloak reads a space-separated list as fail-over servers)" if scheme == "ldaps" else ""
        raise ValueError(f"must be one URL without spaces{listed}; give exactly one, like {example}")
    odd = next((c for c in text if c not in _URL_CHARS), None)
    if odd is not None:
        shown = repr(odd) if odd.isprintable() else f"U+{ord(odd):04X}"
        raise ValueError(f"contains {shown}, which a URL may not hold (ASCII only, no backslash; percent-encode "
                         f"other characters), like {example}")
    if "://" not in text:
        raise ValueError(f"expected a {scheme}:// URL, like {example}")
    given = text.split("://", 1)[0].lower()
    if given != scheme:
        plain = {"https": "http", "ldaps": "ldap"}.get(scheme)
        why = " (without TLS)" if given == plain else ""
        raise ValueError(f"must use {scheme}://, not {given}://{why}, like {example}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is no valid URL ({exc}), like {example}") from None
    if "@" in parts.netloc:
        raise ValueError("must not contain a user name or password ('user:pass@'); credentials belong in a Secret")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    netloc_host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    host = netloc_host.lower()
    problem = host_problem(host) or platform_problem(host, platform)
    if problem:
        raise ValueError(problem)
    if not path and (parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ValueError(f"must name only the server (scheme, host and port), like {example}")
    return parts


def https_url(value: object, platform: list[tuple[str, str]] | None = None) -> object:
    """Check ``value`` as an https URL (pydantic then reads it as ``HttpUrl``); returns it unchanged."""
    parse_url(value, "https", platform=platform)
    return value


def ldaps_url(value: object, platform: list[tuple[str, str]] | None = None) -> str:
    """Check ``value`` as an ``ldaps://`` server URL; returns it unchanged."""
    parse_url(value, "ldaps", platform=platform, path=False)
    return str(value)
