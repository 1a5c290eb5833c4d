"""Every image and Helm chart version, pinned in one place.

Bump a version here and nowhere else. Image tags are exact releases (never ``latest``); the policy
pack and the manifest checks reject untagged images. ``docs/versions.md`` is generated from this file.

Where upstream publishes immutable build tags (CloudNativePG's ``<version>-<timestamp>-<type>-<os>``, Ceph's
``vX.Y.Z-YYYYMMDD``) the build tag is pinned, and its digest is recorded (``Image.digest``) when upstream's own
published list carries it: whoever bumps a version fills the digest in from the same source or from the
registry with ``urbanstack images pin KEY`` (network; see below). Images are pulled ``IfNotPresent``; the policy
check reports every image still referenced without a digest (a figure, not a failure).

A digest is only recorded from an upstream record that publishes the digest of exactly that tag (never a
third-party copy: other projects' pins of one tag disagree with each other), and ``Image.digest_record`` names it:
repository, file, commit or URL, and the date of the build it lists. Upstream records used: the image catalogs of
CloudNativePG (postgis, postgresql) and docker-library/repo-info ``repos/<name>/remote/<tag>.md`` for Docker
Official Images (``docker.io/library/...``; the manifest-list digest on its first line). The base images of
``images/*/Dockerfile`` are pinned the same way, the record named above each ``FROM``.
The publisher's own registry is such a record too (the registry the image is published to, not a third-party
copy): ``urbanstack images pin [KEY ...]`` reads the tag's top-level manifest there with the OCI Distribution API
(what ``docker buildx imagetools inspect <ref>`` reports: for a multi-platform image the index or manifest list)
and writes its digest with ``digest_record="registry <host>, <media type> of <repository>:<tag>, read <date> by
urbanstack images pin"``: the registry read, what was read and the day. It never overwrites a recorded digest; the
records above stay as they are.
Searched on 2026-12-06 and not found (no upstream record of the tag's digest readable here, and no network to ask
the registries: ``urbanstack images pin`` records those of ``IMAGES`` on a machine with network access): the images of
Keycloak and its operator, keycloak-config-cli, Node-RED, oauth2-proxy, Superset, Valkey (``valkey/valkey`` is not
the Official Image), ckan-solr, FROST, nginx-unprivileged, Ceph, and the chart-rendered images of cert-manager,
Envoy Gateway, CloudNativePG and its Barman plugin (the operator's OLM bundle, community-operators
``operators/cloudnative-pg/1.30.0``, names a different digest than the tag's: not the same image), Rook, and
kube-prometheus-stack (kubernetes/k8s.io's promoter manifest for kube-state-metrics is too large to read here).
The cert-manager and kube-prometheus-stack charts take a digest (``image.digest``; ``image.sha``) once one is
recorded; the CloudNativePG, Barman plugin and Rook charts only a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Chart:
    """A Helm chart: name in its repository, the repository URL and the exact chart version."""

    chart: str
    repo: str
    version: str
    homepage: str


@dataclass(frozen=True)
class Image:
    """A container image pinned to an exact release tag and, where recorded, to its digest.

    ``digest`` (``sha256:<64 hex>``) is filled in by whoever bumps the version, from upstream's published list
    of builds or the registry; empty when not (yet) recorded. ``ref`` then names tag and digest: the digest is
    what the runtime pulls, the tag stays for people reading the manifest.

    ``built_here``: upstream publishes no image; ``images/<key>/Dockerfile`` builds it, ``make images`` pushes it
    as ``<imageRegistry>/<repository>:<tag>`` (shared config ``imageRegistry``), and the pods pull it from there.

    ``digest_record``: the upstream record the digest was read from (repository, file, commit or URL, date of the
    build it lists; or the publisher's registry, day and media type, as ``urbanstack images pin`` writes it);
    required with a digest, so no digest enters without its source named.
    """

    repository: str
    tag: str
    homepage: str
    digest: str = ""
    built_here: bool = False
    digest_record: str = ""

    def __post_init__(self) -> None:
        if self.digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", self.digest):
            raise ValueError(f"{self.repository}:{self.tag}: digest {self.digest!r} is not sha256:<64 hex digits>")
        if self.digest and not self.digest_record.strip():
            raise ValueError(f"{self.repository}:{self.tag}: digest {self.digest} names no digest_record (the "
                             "upstream record it was read from: repository, file, commit or URL, date)")
        if self.digest_record and not self.digest:
            raise ValueError(f"{self.repository}:{self.tag}: a digest_record without a digest")

    def ref_from(self, registry: str | None) -> str:
        """The reference pods pull; an image built here comes from ``registry`` (shared config ``imageRegistry``)."""
        repository = self.repository
        if self.built_here:
            if not registry:
                raise ValueError(f"image {self.repository} is built here: its reference needs the registry "
                                 "(urban-stack:imageRegistry in stacks/Pulumi.shared.yaml)")
            repository = f"{registry.rstrip('/')}/{self.repository}"
        return f"{repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    @property
    def ref(self) -> str:
        """The reference of an image upstream publishes (one built here: :meth:`ref_from` with the registry)."""
        return self.ref_from(None)


def built_images(registry_name: str) -> dict[str, str]:
    """Key -> full reference (``<registry>/<name>:<tag>``) of every image built from ``images/<key>/``."""
    return {key: f"{registry_name.rstrip('/')}/{img.repository}:{img.tag}"
            for key, img in IMAGES.items() if img.built_here}


CHARTS: dict[str, Chart] = {
    "cloudnative-pg": Chart("cloudnative-pg", "https://cloudnative-pg.github.io/charts", "0.29.0",
                            "https://cloudnative-pg.io"),
    "plugin-barman-cloud": Chart("plugin-barman-cloud", "https://cloudnative-pg.github.io/charts", "0.7.0",
                                 "https://cloudnative-pg.io/plugin-barman-cloud/"),
    "cert-manager": Chart("cert-manager", "https://charts.jetstack.io", "v1.21.1", "https://cert-manager.io"),
    "envoy-gateway": Chart("oci://docker.io/envoyproxy/gateway-helm", "", "v1.9.0",
                           "https://gateway.envoyproxy.io"),
    "kube-prometheus-stack": Chart("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts",
                                   "88.5.3", "https://github.com/prometheus-community/helm-charts"),
    "opencost": Chart("opencost", "https://opencost.github.io/opencost-helm-chart", "2.5.17",
                      "https://www.opencost.io"),
    "rook-ceph": Chart("rook-ceph", "https://charts.rook.io/release", "v1.19.10", "https://rook.io"),
}


@dataclass(frozen=True)
class Manifests:
    """Upstream manifests applied as they are published (for software without a maintained Helm chart).

    ``files`` are paths below ``{base}/{version}/``; the version is part of every URL, so nothing floats.
    """

    base: str
    version: str
    files: tuple[str, ...]
    homepage: str

    @property
    def urls(self) -> list[str]:
        return [f"{self.base}/{self.version}/{f}" for f in self.files]


MANIFESTS: dict[str, Manifests] = {
    # The Keycloak project publishes no Helm chart of its own for the operator. Its release's published install is
    # the OLM bundle in k8s-operatorhub/community-operators (operators/keycloak-operator/<version>/), pinned here by
    # commit: the stack applies the bundle's CRD files from these URLs and the ServiceAccount, RBAC and Deployment
    # derived from the bundle's ClusterServiceVersion (vendor/keycloak-operator-<version>/, PROVENANCE.md;
    # components/shared/operators.py keycloak_operator_objects). docs/decisions/0011.
    "keycloak-operator": Manifests(
        "https://raw.githubusercontent.com/k8s-operatorhub/community-operators/"
        "a663065dea7635fd889b5837d664188458d1f627/operators/keycloak-operator", "26.8.0",
        ("manifests/keycloaks.k8s.keycloak.org-v1.crd.yml", "manifests/keycloakrealmimports.k8s.keycloak.org-v1.crd.yml",
         # Owned by the 26.8.0 CSV and watched by its controllers (its RBAC and *_NAMESPACES variables); OLM only
         # installs a bundle that ships every owned CRD. Not listed by the code index under 26.8.0/ (deduplicated):
         # vendor/keycloak-operator-26.8.0/PROVENANCE.md.
         "manifests/keycloakoidcclients.k8s.keycloak.org-v1.crd.yml",
         "manifests/keycloaksamlclients.k8s.keycloak.org-v1.crd.yml"),
        "https://www.keycloak.org/operator/installation"),
}

KEYCLOAK_CONFIG_CLI_PAIRINGS: dict[str, tuple[str, str]] = {
    # Keycloak release line -> (keycloak-config-cli tag, why this build).
    "26.8": ("6.5.1-26.5.5",
             "No build for 26.6, 26.7 or 26.8 is published: 6.5.1 is the newest release ('the latest release "
             "(6.5.1) supports Keycloak up to 26.5.5', adorsys/keycloak-config-cli#1668, 2026-09-20; that pull "
             "request for Keycloak 26.7.4 is still open). Its release CI (.github/workflows/ci.yaml at main 9cc8593, "
             "2026-04-16, version 6.5.1-SNAPSHOT; the v6.5.1 tag itself is not in the snapshot readable here) builds "
             "and pushes `<version>-<KEYCLOAK_VERSION>` for Keycloak 26.0.5, 26.1.0 and 26.5.5 on a v* tag; 26.5.5 is "
             "the nearest line. It talks to the admin REST API only and reads newer servers' responses leniently "
             "(FAIL_ON_UNKNOWN_PROPERTIES=false). Offline-only choice: confirm on a first real deployment "
             "(docs/operations.md), and move to a 26.8 build once one is published."),
}
"""Recorded pairings of keycloak-config-cli with a Keycloak release line for which no build of that line exists.
When the tag's Keycloak part names the line of ``IMAGES["keycloak"]`` no entry is needed."""

IMAGES: dict[str, Image] = {
    # Keycloak, its operator (MANIFESTS) and keycloak-config-cli move together: docs/decisions/0011 (CR version served
    # by the operator, the pairing to move to and what it waits for).
    "keycloak": Image("quay.io/keycloak/keycloak", "26.8.0", "https://www.keycloak.org"),
    # Tag `<release>-<Keycloak version it is built against>`; see KEYCLOAK_CONFIG_CLI_PAIRINGS.
    "keycloak-config-cli": Image("docker.io/adorsys/keycloak-config-cli", "6.5.1-26.5.5",
                                 "https://github.com/adorsys/keycloak-config-cli"),
    # CloudNativePG's `MM-x.y-TYPE-OS` and `MM.mm-TYPE-OS` tags are rolling (their READMEs, "Rolling Tags");
    # each build also gets an immutable `...-<timestamp>-...` tag, listed with its digest in upstream's image
    # catalogs: postgis from cloudnative-pg/postgis-containers image-catalogs/postgis-system-trixie.yaml (commit
    # db39ba5, 2026-08-03: PostgreSQL 18 line), postgresql from cloudnative-pg/artifacts
    # image-catalogs/catalog-system-trixie.yaml (commit 6093183, 2025-11-15: last build of 17.6).
    "postgis": Image("ghcr.io/cloudnative-pg/postgis", "18.4-3.6.4-202608031108-system-trixie",
                     "https://github.com/cloudnative-pg/postgis-containers",
                     "sha256:1e3eb1d83406d4a83157293bf0c1a5cf3b3217ca9ebb49f479881b9ad19fbe25",
                     digest_record="cloudnative-pg/postgis-containers image-catalogs/postgis-system-trixie.yaml, "
                                   "commit db39ba5, 2026-08-03"),
    "postgresql": Image("ghcr.io/cloudnative-pg/postgresql", "17.6-202511100807-system-trixie",
                        "https://github.com/cloudnative-pg/postgres-containers",
                        "sha256:6ae4a22c14bdc66e5feaafd38d12c3956fabf9ce9582189e6aa4ee767d981d1b",
                        digest_record="cloudnative-pg/artifacts image-catalogs/catalog-system-trixie.yaml, "
                                      "commit 6093183, 2025-11-15"),
    # Ceph's `vX.Y.Z-YYYYMMDD` tags name one build (Rook Documentation/CRDs/Cluster/ceph-cluster-crd.md);
    # v20.2.4-20260818 (Tentacle) is the build Rook v1.19.10 itself uses (images/ceph/Makefile CEPH_VERSION); Rook
    # v1.19 supports Squid v19.2.0+ and Tentacle v20.2.1+ (Documentation/Upgrade/ceph-upgrade.md). Digest not recorded.
    "ceph": Image("quay.io/ceph/ceph", "v20.2.4-20260818", "https://ceph.io"),
    # Modules
    # 4.1.15 (node-red/node-red#5940, 2026-09-09), the newest 4.1 maintenance release; `-22`: the Node.js 22 build
    # (node-red/node-red-docker .github/workflows/main.yml tags `<version>-<node>`; v4.1.13 builds node 18, 20, 22).
    "node-red": Image("docker.io/nodered/node-red", "4.1.15-22", "https://nodered.org"),
    # v7.15.4: https://github.com/oauth2-proxy/oauth2-proxy/releases/tag/v7.15.4 (the newest v7.15 patch on 2026-08-24,
    # after the v7.15.2 security-audit release and v7.15.3, 2026-06; oauth2-proxy/manifests#412 bumps the chart to it).
    "oauth2-proxy": Image("quay.io/oauth2-proxy/oauth2-proxy", "v7.15.4", "https://oauth2-proxy.github.io/oauth2-proxy/"),
    # Superset's plain release tags ("lean") ship neither psycopg2 nor Authlib; the -dev variant of the same
    # release ships both (see components/modules/dashboards.py).
    "superset": Image("docker.io/apache/superset", "6.1.0-dev", "https://superset.apache.org"),
    "valkey": Image("docker.io/valkey/valkey", "9.1.1-alpine", "https://valkey.io"),
    # openData: no maintained public image carries ckanext-dcatde for a supported CKAN release; this project
    # builds ckan/ckan-base 2.11.4 + ckanext-dcatde (with its pinned ckanext-dcat) + ckanext-oidc-pkce
    # (images/ckan/Dockerfile; the tag is <CKAN release>-<build revision>). ckan-solr publishes no release tags:
    # `2.11-solr9` and `2.11-solr9.8` are both rebuilt from the dev-v2.11 branch (ckan/ckan-solr solr-9/Makefile,
    # README); `2.11-solr9.8` at least fixes the Solr minor. Only a digest can pin it (not recorded yet).
    # The three images built here (built_here=True) live in the operator's registry: shared config imageRegistry.
    "ckan": Image("ckan", "2.11.4-1", "https://ckan.org", built_here=True),
    "ckan-solr": Image("docker.io/ckan/ckan-solr", "2.11-solr9.8", "https://github.com/ckan/ckan-solr"),
    # urbanData: FROST-Server HTTP and MQTT (same release), Mosquitto as the message bus between them.
    "frost-http": Image("docker.io/fraunhoferiosb/frost-server-http", "2.8.0",
                        "https://fraunhoferiosb.github.io/FROST-Server/"),
    "frost-mqtt": Image("docker.io/fraunhoferiosb/frost-server-mqtt", "2.8.0",
                        "https://fraunhoferiosb.github.io/FROST-Server/"),
    # A Docker Official Image: its tags are pushed again when the base image is rebuilt
    # (docker-library/official-images#16164); only a digest pins it: the manifest list (12 platforms) that
    # docker-library/repo-info lists for the tag.
    "mosquitto": Image("docker.io/library/eclipse-mosquitto", "2.0.22", "https://mosquitto.org",
                       "sha256:199ea8ef2e35ec2b1b37e59cfd1dbae538ed4dfa4a2251a121a52215a6248a21",
                       digest_record="docker-library/repo-info repos/eclipse-mosquitto/remote/2.0.22.md, commit "
                                     "8520bf7bda0e1bb4938818a73e639ea54ff7d54b, build of 2026-09-17 (Alpine 3.23.6)"),
    # masterportal: static web server; the Masterportal build itself comes from an artifact image that this
    # project builds from the upstream release tag (images/masterportal/Dockerfile): upstream publishes none.
    # nginx's stable branch 1.30 (mainline 1.29 ended 2026-05-13): nginx/docker-nginx-unprivileged#424 (merged
    # 2026-09-15, "Update nginx mainline to 1.31.6, stable to 1.30.5") moves stable/alpine to NGINX_VERSION 1.30.5
    # (1.30.4 since #421, 2026-07-15); .github/workflows/alpine-stable.yml tags it `<major>.<minor>.<patch>-alpine`.
    "nginx-unprivileged": Image("docker.io/nginxinc/nginx-unprivileged", "1.30.5-alpine",
                                "https://github.com/nginx/docker-nginx-unprivileged"),
    "masterportal": Image("masterportal", "3.7.0", "https://www.masterportal.org", built_here=True),
    # rei3: upstream publishes no image, only release archives (no published checksums) and a dev/test Dockerfile
    # (r3-team/r3_docker); this project builds the exact release from its tagged source, the tag checked against its
    # commit, as a non-root image (images/rei3/Dockerfile).
    "rei3": Image("rei3", "3.12.7", "https://rei3.de", built_here=True),
    # GitOps (docs/gitops.md, decision 0014): the Pulumi Kubernetes Operator on the management cluster, not part of any
    # stack. Its Stack CRD of this release is vendored (vendor/pulumi-kubernetes-operator-<version without v>/); the
    # workspace image is pulumi/pulumi:<the pulumi pin of pyproject.toml>-nonroot (urbanstack/engine/gitops.py).
    "pulumi-kubernetes-operator": Image("docker.io/pulumi/pulumi-kubernetes-operator", "v2.9.0",
                                        "https://github.com/pulumi/pulumi-kubernetes-operator"),
}


# --------------------------------------------------------------------------------------------------------------
# Supported releases: upstream's end of support of every pin above, with the record it was read from
# --------------------------------------------------------------------------------------------------------------

REVIEW_INTERVAL_DAYS = 183
"""Records of pins without a published end date (upstream supports only its newest release, or gives no window) are
re-read at least this often: the ``support`` check fails on a record older than that (``Support.review_by``)."""


@dataclass(frozen=True)
class Support:
    """Upstream's end of support of one pin, as one upstream record states it.

    ``version`` is the pin the record was made for (a test holds it equal to the pin: bump both together).
    ``ends`` is the last day of upstream support, stated by ``source`` or following from its ``rule``; ``None`` when
    upstream names no date yet (a newest release or a line whose end starts only with its successor). ``says`` is
    what the record says, ``as_of`` the date of the newest upstream record read. An open record must be re-read by
    ``review_by`` (default ``as_of`` + :data:`REVIEW_INTERVAL_DAYS`; earlier where the rule's grace period is
    shorter). ``newer``: a newer release the record names that replaces the pin under the rule (only the newest
    release is supported): the pin is then unsupported. ``waiver``: who moves a pin that is past support, reported
    and not failed until ``waiver_until``.
    """

    version: str
    ends: date | None
    rule: str
    source: str
    says: str
    as_of: date
    newer: str = ""
    review_by: date | None = None
    waiver: str = ""
    waiver_until: date | None = None

    def __post_init__(self) -> None:
        if self.ends is None and self.review_by is None:
            object.__setattr__(self, "review_by", self.as_of + timedelta(days=REVIEW_INTERVAL_DAYS))
        if self.waiver and self.waiver_until is None:
            raise ValueError(f"support record {self.version}: a waiver needs waiver_until (a date)")


def pinned_versions() -> dict[str, str]:
    """Key -> pinned version of every chart, manifest set and image (the keys of ``SUPPORT``)."""
    pins: dict[str, str] = {}
    for table in (CHARTS, MANIFESTS, IMAGES):
        for key, pin in table.items():
            if key in pins:
                raise ValueError(f"catalogue/versions.py: key {key!r} is used by two tables")
            pins[key] = pin.tag if isinstance(pin, Image) else pin.version
    return pins


SUPPORT: dict[str, Support] = {
    # ---- charts
    "cloudnative-pg": Support(
        "0.29.0", None,
        "a minor is supported until 3 months after the next minor's .0; only its last patch release",
        "https://github.com/cloudnative-pg/cloudnative-pg/blob/main/docs/src/supported_releases.md",
        "docs/src/supported_releases.md at the newest readable commit (main a95a534d, 2026-08-21; unchanged since "
        "0c0a736, 2026-06-27; the same table on release-1.30 74be434): 1.30.x currently supported, released 29 Jun "
        "2026, end of life '~  Dec 2026'; 1.29.x 29 Sep 2026 (= 1.30.0 + 3 months); upcoming 1.31.0 '~ Sep, 2026'. "
        "The newest release records readable (re-read 2026-12-06) are cloudnative-pg#11502/#11508 (2026-09-18 to "
        "09-22: 1.30.1 and 1.29.3, no 1.31.0), and cloudnative-pg/charts (to 2026-07-24) has no chart newer than "
        "0.29.0. So 1.30 ends 3 months after a 1.31.0 released after 2026-09-22, not before 2026-12-22; nothing "
        "newer could be read here, so review_by is not extended",
        date(2026, 9, 22), review_by=date(2026, 12, 21)),
    "plugin-barman-cloud": Support(
        "0.7.0", None,
        "no published support window (pre-1.0); the chart installs only the newest plugin release",
        "https://github.com/cloudnative-pg/charts/blob/main/charts/plugin-barman-cloud/README.md",
        "'this chart supports only the latest point release of the plugin'; 0.7.0 (plugin v0.13.0, needs "
        "CloudNativePG 1.26 or later: plugin-barman-cloud v0.13.0 web/docs/intro.md) is the newest chart in the "
        "repository index (gh-pages, 2026-07-20). The plugin tagged v0.14.0 on 2026-07-29; no chart of it read yet. "
        "Re-read 2026-12-06: the snapshot of cloudnative-pg/charts (to 2026-07-24) has no tag after "
        "plugin-barman-cloud-v0.7.0; a third party's chart update (linode/apl-core#3624, 2026-09-05/17) reports "
        "chart 0.8.0 with plugin v0.14.0 and then v0.15.0: not an upstream record, so review_by stays; re-read the "
        "index with network access and move chart and plugin together (docs/upgrades.md)",
        date(2026, 7, 20)),
    "cert-manager": Support(
        "v1.21.1", None,
        "each minor is supported until the release of the minor after next (1.21 until 1.23.0)",
        "https://cert-manager.io/docs/releases/",
        "1.19: end of life 'Release of 1.21' (1.21.0 released Jul 8, 2026: cert-manager/website#2202); 1.21 is "
        "supported until 1.23 is released; 1.22 was 'due around November 2026' (Rusty-Gopher/kupre v0.3.0, "
        "2026-10-22, running v1.21.2). v1.21.1 (tag 2026-07-29) is the newest tag read (cert-manager/cert-manager, "
        "2026-08-22)", date(2026, 10, 22), newer=""),
    "envoy-gateway": Support(
        "v1.9.0", date(2027, 2, 14),
        "a dated end of life per minor (compatibility matrix)",
        "https://gateway.envoyproxy.io/news/releases/matrix",
        "v1.9: Envoy Proxy distroless-v1.39.0, Gateway API v1.6.1, Kubernetes v1.33-v1.36, End of Life 2027/02/14 "
        "(envoyproxy/gateway site/content/en/news/releases/matrix.md at v1.9.0 and on main, 2026-08-21); v1.9.0 "
        "(tag 2026-08-15) is the newest release tag read; v1.8 ends 2026/11/08, v1.5 ended 2026/02/13",
        date(2026, 8, 21)),
    "kube-prometheus-stack": Support(
        "88.5.3", None,
        "no published support window: only the newest chart release gets fixes",
        "https://github.com/prometheus-community/helm-charts/releases",
        "kube-prometheus-stack-88.5.3 (2026-08-21, prometheus-operator v0.93.1, grafana 12.11.1 from "
        "grafana-community/helm-charts) is the newest tag of the snapshot read here; later releases are quoted in "
        "their release notes: 90.2.0 (2026-09-06, ocf/kubernetes#165), 91.2.1 (2026-09-13, AndreiGavriliu/homelab#7310; "
        "prometheus-operator v0.94.0, prometheus-community/helm-charts#7156) and 91.5.0 (ocf/kubernetes#166); their tags "
        "could not be read, so the copy could not be assembled", date(2026, 9, 13),
        newer="91.5.0 or later (prometheus-operator v0.94.0)",
        waiver="the newest tags (91.x) cannot be read offline here; 88.5.3, the newest readable, was assembled "
               "(docs/upgrades.md). Retried 2026-12-06: the snapshot of prometheus-community/helm-charts still "
               "ends 2026-08-22 (newest kube-prometheus-stack tag 88.5.3), and the code index keeps one copy per "
               "file, not the 91.x tree; move with `urbanstack vendor refresh kube-prometheus-stack` on a machine "
               "with network access", waiver_until=date(2027, 1, 15)),
    "opencost": Support(
        "2.5.17", None,
        "no published support window: only the newest chart release gets fixes",
        "https://github.com/opencost/opencost-helm-chart/releases",
        "opencost-2.5.17 (OpenCost 1.120.1, tagged 2026-04-28) is the newest tag of the snapshot read here; later "
        "charts: OpenCost v1.120.2 (opencost-helm-chart#355, merged 2026-05-19, chart 2.5.21), v1.120.3 (#357), "
        "v1.121.1 (#377, 2026-08-05; charts/opencost/Chart.yaml version 2.5.29, appVersion 1.121.1) and v1.121.2 "
        "(#384); their tags are not in any snapshot that can be had here, so the copy could not be assembled",
        date(2026, 8, 5), newer="opencost-2.5.29 or later (OpenCost 1.121.x)",
        waiver="the newest tags (2.5.29) cannot be read offline here; 2.5.17, the newest readable, was assembled "
               "(docs/upgrades.md). Retried 2026-12-06: the snapshot of opencost/opencost-helm-chart still ends "
               "2026-04-30 (newest tag opencost-2.5.17); the code index has charts/opencost/Chart.yaml at 2.5.29 "
               "(commit 0370517, appVersion 1.121.1) but each other file of the chart only as one stored version of "
               "unknown commit, so no tree of the tag can be assembled; move with `urbanstack vendor refresh "
               "opencost` on a machine with network access",
        waiver_until=date(2027, 1, 15)),
    "rook-ceph": Support(
        "v1.19.10", None,
        "no dated window is published; release-1.19 still gets patch releases (v1.19.10 the same day as v1.20.6); "
        "upgrades go one minor at a time (Upgrade/rook-upgrade.md)",
        "https://github.com/rook/rook/releases",
        "v1.19.10 tagged 2026-08-20 (release-1.19 still patched, the same day as v1.20.6; rook/rook read 2026-08-21). "
        "Rook v1.19 runs Ceph Tentacle v20.2 (images/ceph/Makefile: v20.2.4-20260818). v1.20 needs the new "
        "ceph-csi-drivers chart besides rook-ceph (rook-upgrade.md v1.20.6: 'new requirement in v1.20') and an upgrade "
        "from at least v1.19.5", date(2026, 8, 21)),
    # ---- release manifests
    "keycloak-operator": Support(
        "26.8.0", None,
        "the Keycloak community supports the most recent release only",
        "https://www.keycloak.org/docs/latest/upgrading/",
        "'The Keycloak community supports the most recent release'; 26.8.0 is the newest operator bundle in "
        "k8s-operatorhub/community-operators (operators/keycloak-operator/26.8.0, commit a663065, replaces 26.7.5; "
        "no 26.8.1 bundle in the code index, re-read 2026-12-06). keycloak/keycloak already carries the upgrade notes "
        "of a 26.8.1 (docs/documentation/upgrading/topics/changes/changes-26_8_1.adoc, commit 0d0be1e: Kerberos "
        "service-ticket round trip, ';' no longer a query delimiter, Conditional OTP header rule needs a trusted "
        "proxy): no release record of it could be read; when it is published it replaces 26.8.0",
        date(2026, 12, 6), review_by=date(2027, 1, 6)),
    # ---- images
    "keycloak": Support(
        "26.8.0", None,
        "the Keycloak community supports the most recent release only",
        "https://www.keycloak.org/docs/latest/upgrading/",
        "'The Keycloak community supports the most recent release' (SECURITY.md: fixes land in the current "
        "major.minor or the next one); 26.8.0 is the release of the newest operator bundle (RELATED_IMAGE_KEYCLOAK "
        "of its CSV). Re-read 2026-12-06: keycloak/keycloak holds release notes up to 26_8_0.adoc (27_0_0 in "
        "development) and the upgrade notes of a coming 26.8.1 (changes-26_8_1.adoc, commit 0d0be1e, security "
        "fixes); no 26.8.1 release record (tag, bundle) could be read: move with it when it is published",
        date(2026, 12, 6), review_by=date(2027, 1, 6)),
    "keycloak-config-cli": Support(
        "6.5.1-26.5.5", None,
        "no published support window; releases follow Keycloak's lines (see KEYCLOAK_CONFIG_CLI_PAIRINGS)",
        "https://github.com/adorsys/keycloak-config-cli/releases",
        "6.5.1 is the newest release (adorsys/keycloak-config-cli#1668, comment of 2026-09-20: 'the latest release "
        "(6.5.1) supports Keycloak up to 26.5.5'; #1668, support for Keycloak 26.7.4, still open); its CI builds it "
        "for Keycloak 26.0.5, 26.1.0 and 26.5.5, no build for 26.6-26.8 exists (docs/decisions/0011); 6.5.1 carries "
        "the dependency security updates of CHANGELOG.md [Unreleased] at main 9cc8593 (jackson, logback, "
        "nimbus-jose-jwt, rhino CVEs); paired with the Keycloak pin", date(2026, 9, 20), review_by=date(2027, 1, 6)),
    "postgis": Support(
        "18.4-3.6.4-202608031108-system-trixie", date(2030, 11, 14),
        "PostgreSQL supports a major version for five years; CloudNativePG rebuilds its images weekly",
        "https://www.postgresql.org/support/versioning/",
        "PostgreSQL 18: first release September 25, 2025, final release November 14, 2030",
        date(2026, 8, 3)),
    "postgresql": Support(
        "17.6-202511100807-system-trixie", date(2029, 11, 8),
        "PostgreSQL supports a major version for five years",
        "https://www.postgresql.org/support/versioning/",
        "PostgreSQL 17: first release September 26, 2024, final release November 8, 2029",
        date(2025, 11, 15)),
    "ceph": Support(
        "v20.2.4-20260818", date(2027, 6, 1),
        "each Ceph stable release is maintained for about two years; dated end of life per release",
        "https://docs.ceph.com/en/latest/releases/",
        "Tentacle (20.2): initial release 2025-11-18, end of life (estimated) 2027-06-01 (endoflife.date/ceph, "
        "generated 2026-11-18, also 2027-06-01); Squid (19.2): 2026-10-31 (endoflife.date: 2026-12-02)",
        date(2026, 11, 18)),
    "node-red": Support(
        "4.1.15-22", None,
        "only the newest release of a maintained line gets fixes (4.1 maintenance releases continue beside 5.0)",
        "https://github.com/node-red/node-red/releases",
        "maintenance releases 4.1.10 (2026-05-08) to 4.1.15 (2026-09-09, node-red/node-red#5940 'Bump for 4.1.15 "
        "release'); 5.0.4 is the newest 5.0 (node-red/node-red-docker, 2026-07-30)", date(2026, 9, 9)),
    "oauth2-proxy": Support(
        "v7.15.4", None, "no published support window: only the newest release gets fixes",
        "https://github.com/oauth2-proxy/oauth2-proxy/releases",
        "v7.15.4 is the newest release cited on 2026-08-24 (l10178/idaas-book#202: production baseline v7.15.4, after "
        "the v7.15.2 security-audit release and v7.15.3 of 2026-06)", date(2026, 8, 24)),
    "superset": Support(
        "6.1.0-dev", None, "no published support window: fixes land in the newest release",
        "https://github.com/apache/superset/releases",
        "6.1.0 is the latest release on 2026-05-28 (apache/superset#40479: 'Now latest version is 6.1.0, prior is "
        "6.0.0'); pinned in commit fd798b3 (2026-11-28); no newer release record read since", date(2026, 11, 28)),
    "valkey": Support(
        "9.1.1-alpine", None, "the newest patch release of the current minor gets fixes",
        "https://github.com/valkey-io/valkey/releases",
        "9.1 is GA; Docker Hub publishes 9.1.1 as the newest 9.1 tag on 2026-07-14 (langchain4j/langchain4j#5768: "
        "'9', '9.1', '9.1.1', 'latest', all sharing one digest). Re-read 2026-12-06: no upstream record of a later "
        "9.1 patch found (valkey-io/valkey-container's newest release pull request read is #144, 9.1.0); a third "
        "party lists 9.1.2 as released on 2026-09-01 (shogo82148/actions-setup-redis#1456): check valkey-io/valkey "
        "releases with network access and move", date(2026, 7, 14)),
    "ckan": Support(
        "2.11.4-1", None,
        "security fixes for the 2 most recent minor releases, 'only the latest patch release contains all security "
        "patches'", "https://github.com/ckan/ckan/blob/master/SECURITY.md",
        "docs.ckan.org releases page: 'The currently supported CKAN version is CKAN 2.11.5'",
        date(2026, 12, 1), newer="2.11.5",
        waiver="no ckan/ckan-base 2.11.5 image is traced to an upstream record (ckan-docker-base builds 2.11.4; "
               "docs/upgrades.md). Retried 2026-12-06: ckan/ckan-docker-base's newest snapshot (to 2026-02-14, "
               "newest tag v20251029) has ckan-2.11/VERSION.txt 2.11.4 on main and every branch; the code index's "
               "copy says dev-v2.11: move when upstream publishes 2.11.5", waiver_until=date(2027, 1, 15)),
    "ckan-solr": Support(
        "2.11-solr9.8", None, "rebuilt from the dev-v2.11 branch while CKAN 2.11 is supported",
        "https://github.com/ckan/ckan-solr", "no release tags; `2.11-solr9.8` follows the CKAN 2.11 line",
        date(2026, 12, 1)),
    "frost-http": Support(
        "2.8.0", None, "no published support window: only the newest release gets fixes",
        "https://github.com/FraunhoferIOSB/FROST-Server/releases",
        "pinned in commit a4e4a32 (2026-11-28) as the newest release then; no newer release record read since", date(2026, 11, 28)),
    "frost-mqtt": Support(
        "2.8.0", None, "no published support window: only the newest release gets fixes",
        "https://github.com/FraunhoferIOSB/FROST-Server/releases",
        "pinned in commit a4e4a32 (2026-11-28) as the newest release then; no newer release record read since", date(2026, 11, 28)),
    "mosquitto": Support(
        "2.0.22", None, "the official image builds the newest release of each maintained line",
        "https://github.com/docker-library/official-images/blob/master/library/eclipse-mosquitto",
        "library/eclipse-mosquitto (commit 37079fb336, 2026-08-21): Tags 2.1.2-alpine (latest) and 2.0.22, 2.0 (the "
        "2.0 line, still built)", date(2026, 8, 21)),
    "nginx-unprivileged": Support(
        "1.30.5-alpine", None,
        "nginx maintains the current mainline and the current stable branch; a stable branch ends with the next "
        "stable (each April)",
        "https://endoflife.date/api/nginx.json",
        "1.30 (stable, released 2026-04-14): maintained; 1.29 (mainline): end of life 2026-05-13. Re-read "
        "2026-12-06: nginx/docker-nginx-unprivileged#424 (merged 2026-09-15) updates stable to 1.30.5 (mainline "
        "1.31.6), after #421 (1.30.4, 2026-07-15); no later stable update found",
        date(2026, 9, 15)),
    "masterportal": Support(
        "3.7.0", None, "no published support window: only the newest release gets fixes",
        "https://bitbucket.org/geowerkstatt-hamburg/masterportal/src/dev/",
        "pinned in commit a4e4a32 (2026-11-28) as the newest release then; no newer release record read since", date(2026, 11, 28)),
    "rei3": Support(
        "3.12.7", None,
        "the main branch carries the current minor release and its patches; a new minor gets a branch until released",
        "https://github.com/r3-team/r3/blob/main/README.md",
        "'The branch main will contain the currently released minor version of REI3; patches for this version can "
        "directly be submitted for the main branch.' v3.12 was tagged 2026-04-17 (3.11 left main then), v3.12.7 on "
        "2026-07-20, the newest tag on 2026-07-22", date(2026, 7, 22)),
    "pulumi-kubernetes-operator": Support(
        "v2.9.0", None, "no published support window: fixes land in the newest release",
        "https://github.com/pulumi/pulumi-kubernetes-operator/releases",
        "v2.9.0 (tag on commit b713fae, 'Prepare release v2.9.0', 2026-07-29) is the newest tag of the repository "
        "snapshot read 2026-12-06 (newest commit 475dbc6c, 2026-08-21); 1.x is the previous major (v1.16.0)",
        date(2026, 12, 6)),
}
"""Upstream's end of support of every pin, keyed like CHARTS, MANIFESTS and IMAGES (``urbanstack check --only
support`` fails on a pin past it on the day of the run; ``docs/upgrades.md`` says how to move one)."""

RELEASE_RECORDS: dict[str, str] = {
    "keycloak": "keycloak/keycloak tag 26.8.0 (https://github.com/keycloak/keycloak/releases/tag/26.8.0); the "
                "operator's 26.8.0 OLM bundle names this image (CSV RELATED_IMAGE_KEYCLOAK, vendor/keycloak-operator-26.8.0)",
    "keycloak-config-cli": "adorsys/keycloak-config-cli release 6.5.1 (#1668, 2026-09-20: 'the latest release "
                           "(6.5.1) supports Keycloak up to 26.5.5'); .github/workflows/ci.yaml (main 9cc8593, "
                           "6.5.1-SNAPSHOT) pushes <version>-<KEYCLOAK_VERSION> for 26.5.5, hence 6.5.1-26.5.5 "
                           "(see KEYCLOAK_CONFIG_CLI_PAIRINGS)",
    "postgis": "cloudnative-pg/postgis-containers image-catalogs/postgis-system-trixie.yaml (commit db39ba5, "
               "2026-08-03): 18.4-3.6.4-202608031108-system-trixie with its digest",
    "postgresql": "cloudnative-pg/artifacts image-catalogs/catalog-system-trixie.yaml (commit 6093183, 2025-11-15): "
                  "17.6-202511100807-system-trixie with its digest",
    "ceph": "rook/rook v1.19.10 images/ceph/Makefile: CEPH_VERSION v20.2.4-20260818, the Ceph build Rook v1.19.10 "
            "itself uses",
    "node-red": "node-red/node-red release 4.1.15 (node-red/node-red#5940, 2026-09-09); node-red/node-red-docker "
                ".github/workflows/main.yml tags <version>-<node> (v4.1.13: node 18, 20, 22), hence 4.1.15-22",
    "oauth2-proxy": "https://github.com/oauth2-proxy/oauth2-proxy/releases/tag/v7.15.4",
    "superset": "apache/superset release 6.1.0; its docker workflow publishes the `-dev` variant of each release tag",
    "valkey": "valkey-io/valkey-container (Valkey-Release-Automation; 9.1.0 in #144, 2026-05-19); Docker Hub tags "
              "9.1.1 for the newest 9.1 patch (langchain4j/langchain4j#5768, 2026-07-14)",
    "ckan": "images/ckan/Dockerfile: ckan/ckan-base 2.11.4 (ckan/ckan-docker-base ckan-2.11/VERSION.txt) + revision 1",
    "ckan-solr": "ckan/ckan-solr solr-9/Makefile: `2.11-solr9.8`, rebuilt from the dev-v2.11 branch (no release tags)",
    "frost-http": "FraunhoferIOSB/FROST-Server release v2.8.0: the release build pushes fraunhoferiosb/frost-server-http "
                  "with the version tag",
    "frost-mqtt": "FraunhoferIOSB/FROST-Server release v2.8.0: the release build pushes fraunhoferiosb/frost-server-mqtt "
                  "with the version tag",
    "mosquitto": "docker-library/official-images library/eclipse-mosquitto (commit 37079fb336, 2026-08-21): Tags 2.0.22",
    "nginx-unprivileged": "nginx/docker-nginx-unprivileged#424 (merged 2026-09-15): stable/alpine NGINX_VERSION "
                          "1.30.5; .github/workflows/alpine-stable.yml tags <version>-alpine",
    "masterportal": "images/masterportal/Dockerfile: Masterportal release tag v3.7.0 (bitbucket.org/geowerkstatt-hamburg) "
                    "= commit 0104bc156cea304d5b4a9985e97842b4300c013e (checked in the build; npm ci of its lock file)",
    "rei3": "images/rei3/Dockerfile: r3-team/r3 tag v3.12.7 = commit aed80bb0b9551d43d339116a452fe5cfe80e04c1",
    "pulumi-kubernetes-operator": "pulumi/pulumi-kubernetes-operator tag v2.9.0 (commit b713fae): "
                                  "deploy/quickstart/install.yaml names pulumi/pulumi-kubernetes-operator:v2.9.0, the Helm "
                                  "chart 2.9.0 its appVersion v2.9.0",
}
"""Every image tag traced to the upstream record it was read from (a tag, release notes, a catalog, a chart's or
release manifests' default), keyed like IMAGES; images rendered by a pinned chart are traced by the chart itself."""
