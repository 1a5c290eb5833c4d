"""Platform subdomains: the hosts of municipalities without a domain of their own, and the rules that keep them apart.

A municipality with ``platformSubdomain: true`` (``catalogue/schema.py``) is served at ``<slug>-<module>.<baseDomain>``
(``catalogue.names.platform_subdomain_host``): one DNS label below ``baseDomain``, because the one wildcard
certificate ``*.<baseDomain>`` covers exactly one label. All such municipalities share one listener, so two rules
hold what a listener per municipality held before:

* :func:`host_collisions` (tenant validation, ``catalogue/tenants.py``): no two municipalities have a common host
  label, and none has a label of the platform's own hosts (``id``, ``id-admin``). Every module of the catalogue
  counts, booked or not, so booking a module later can never collide.
* :func:`route_claims` (a check over rendered objects): every HTTPRoute on the wildcard listener lies in the
  namespace of a municipality on a platform subdomain and claims only that municipality's hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from catalogue import names
from catalogue.modules import CATALOGUE
from catalogue.yamlsafe import Problem

PLATFORM_LABELS = {names.KEYCLOAK_HOST_PREFIX: "Keycloak's public host",
                   names.KEYCLOAK_ADMIN_HOST_PREFIX: "Keycloak's admin console"}
"""Labels below ``baseDomain`` that are the platform's own (``components/shared/certificates.py``,
``platform_hosts``)."""
MAX_LABEL = 63
"""Longest DNS label (RFC 1035 2.3.4)."""


def host_labels(slug: str) -> dict[str, str]:
    """Label below ``baseDomain`` -> module key, for every module of the catalogue (booked or not)."""
    return {names.platform_subdomain_label(slug, mod.name): key for key, mod in CATALOGUE.items()}


def hosts(slug: str, base_domain: str) -> set[str]:
    """Every host a municipality ``slug`` on a platform subdomain may serve."""
    return {f"{label}.{base_domain}" for label in host_labels(slug)}


def host_collisions(subdomain_slugs: Mapping[str, str], blame: Any = None) -> list[tuple[str, str, str]]:
    """``(file, field, message)`` for every host label of a municipality on a platform subdomain that another one
    (or the platform) has too. ``subdomain_slugs``: file -> slug of every such municipality. ``blame(files)``
    returns the files to report a conflict on (default: all); every message names both files."""
    blame = blame or (lambda files: files)
    owner: dict[str, list[tuple[str, str]]] = {}
    out: list[tuple[str, str, str]] = []
    for file, slug in sorted(subdomain_slugs.items()):
        for label, module in host_labels(slug).items():
            if len(label) > MAX_LABEL:
                out.append((file, "platformSubdomain", f"the host label '{label}' of module {module} is longer than "
                            f"{MAX_LABEL} characters (a DNS label); choose a shorter slug"))
            if label in PLATFORM_LABELS:
                out.append((file, "platformSubdomain", f"the host '{label}.<baseDomain>' of module {module} is "
                            f"{PLATFORM_LABELS[label]}; choose another slug"))
            owner.setdefault(label, []).append((file, module))
    for label, claims in owner.items():
        files = sorted({f for f, _ in claims})
        if len(files) < 2:
            continue
        for file in blame(files):
            mine = next(m for f, m in claims if f == file)
            others = ", ".join(f"module {m} of {f}" for f, m in claims if f != file)
            out.append((file, "platformSubdomain", f"the host '{label}.<baseDomain>' of module {mine} is also the "
                        f"host of {others}: on platform subdomains (<slug>-<module>) these two municipalities' "
                        f"hosts collide; one of them needs another slug"))
    return out


def route_claims(objects: Iterable[Mapping[str, Any]], subdomain_slugs: Iterable[str],
                 base_domain: str) -> list[str]:
    """One message per HTTPRoute attached to the wildcard listener (``sectionName`` ``https-subdomains`` of the
    shared Gateway) that lies outside the namespace of a municipality on a platform subdomain, has no hostname of
    its own, or claims a hostname that is not one of its municipality's (:func:`hosts`)."""
    slugs = set(subdomain_slugs)
    out: list[str] = []
    for obj in objects:
        if obj.get("kind") != "HTTPRoute":
            continue
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        on_wildcard = any(isinstance(p, Mapping) and p.get("sectionName") == names.PLATFORM_SUBDOMAINS_LISTENER
                          and p.get("name") == names.GATEWAY_NAME
                          and p.get("namespace", meta.get("namespace")) == names.NS_GATEWAY
                          for p in spec.get("parentRefs") or [])
        if not on_wildcard:
            continue
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        where = f"HTTPRoute {ns}/{name}"
        if ns not in slugs:
            out.append(f"{where}: attaches to the wildcard listener {names.PLATFORM_SUBDOMAINS_LISTENER}, but "
                       f"'{ns}' is not the namespace of a municipality on a platform subdomain")
            continue
        claimed = list(spec.get("hostnames") or [])
        if not claimed:
            out.append(f"{where}: has no hostnames, so it would answer for every name of *.{base_domain}, other "
                       "municipalities' included")
        own = hosts(ns, base_domain)
        for host in claimed:
            if host not in own:
                out.append(f"{where}: claims '{host}', which is not a host of municipality {ns} "
                           f"(<{ns}>-<module>.{base_domain})")
    return out


def problems(files: Mapping[str, Any], blame: Any = None) -> list[Problem]:
    """Tenant-validation problems (``catalogue/tenants.py``) of the files whose tenant is on a platform subdomain;
    ``files``: file -> (slug, line of ``platformSubdomain``)."""
    slugs = {file: slug for file, (slug, _) in files.items()}
    return [Problem(file, files[file][1], field, message) for file, field, message in host_collisions(slugs, blame)]
