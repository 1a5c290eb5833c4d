"""Every image and Helm chart version, pinned in one place.

Bump a version here and nowhere else. Image tags are exact releases (never ``latest``); the policy
pack and the manifest checks reject untagged images. ``docs/versions.md`` is generated from this file.

Where upstream publishes immutable build tags (CloudNativePG's ``<version>-<timestamp>-<type>-<os>``, Ceph's
``vX.Y.Z-YYYYMMDD``) the build tag is pinned, and its digest is recorded (``Image.digest``) when upstream's own
published list carries it: whoever bumps a version fills the digest in from the same source or from
``docker buildx imagetools inspect <ref>``. Images are pulled ``IfNotPresent``; the policy check reports every
image still referenced without a digest (a figure, not a failure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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
    """

    repository: str
    tag: str
    homepage: str
    digest: str = ""
    built_here: bool = False

    def __post_init__(self) -> None:
        if self.digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", self.digest):
            raise ValueError(f"{self.repository}:{self.tag}: digest {self.digest!r} is not sha256:<64 hex digits>")

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
    "cloudnative-pg": Chart("cloudnative-pg", "https://cloudnative-pg.github.io/charts", "0.26.1",
                            "https://cloudnative-pg.io"),
    "plugin-barman-cloud": Chart("plugin-barman-cloud", "https://cloudnative-pg.github.io/charts", "0.4.0",
                                 "https://cloudnative-pg.io/plugin-barman-cloud/"),
    "cert-manager": Chart("cert-manager", "https://charts.jetstack.io", "v1.19.1", "https://cert-manager.io"),
    "envoy-gateway": Chart("oci://docker.io/envoyproxy/gateway-helm", "", "v1.5.4",
                           "https://gateway.envoyproxy.io"),
    "kube-prometheus-stack": Chart("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts",
                                   "79.7.1", "https://github.com/prometheus-community/helm-charts"),
    "opencost": Chart("opencost", "https://opencost.github.io/opencost-helm-chart", "2.4.1",
                      "https://www.opencost.io"),
    "rook-ceph": Chart("rook-ceph", "https://charts.rook.io/release", "v1.18.6", "https://rook.io"),
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
    # components/shared/operators.py keycloak_operator_objects). docs/decisions/0008.
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
    "26.8": ("6.5.0-26.5.4",
             "No build for 26.6, 26.7 or 26.8 is published: 6.5.0 (2026-03-12) is the newest release (tags of "
             "adorsys/keycloak-config-cli; its main branch to 2026-04-16 is unreleased and tests Keycloak 26.5.5 "
             "at most), and its release CI (.github/workflows/ci.yaml at v6.5.0) builds it for Keycloak 26.0.5, "
             "26.1.0 and 26.5.4; 26.5.4 is the nearest line. It talks to the admin REST API only and reads newer "
             "servers' responses leniently (FAIL_ON_UNKNOWN_PROPERTIES=false). Offline-only choice: confirm on a "
             "first real deployment (docs/operations.md), and move to a 26.8 build once one is published."),
}
"""Recorded pairings of keycloak-config-cli with a Keycloak release line for which no build of that line exists.
When the tag's Keycloak part names the line of ``IMAGES["keycloak"]`` no entry is needed."""

IMAGES: dict[str, Image] = {
    # Keycloak, its operator (MANIFESTS) and keycloak-config-cli move together: docs/decisions/0008 (CR version served
    # by the operator, the pairing to move to and what it waits for).
    "keycloak": Image("quay.io/keycloak/keycloak", "26.8.0", "https://www.keycloak.org"),
    # Tag `<release>-<Keycloak version it is built against>`; see KEYCLOAK_CONFIG_CLI_PAIRINGS.
    "keycloak-config-cli": Image("docker.io/adorsys/keycloak-config-cli", "6.5.0-26.5.4",
                                 "https://github.com/adorsys/keycloak-config-cli"),
    # CloudNativePG's `MM-x.y-TYPE-OS` and `MM.mm-TYPE-OS` tags are rolling (their READMEs, "Rolling Tags");
    # each build also gets an immutable `...-<timestamp>-...` tag, listed with its digest in upstream's image
    # catalogs: postgis from cloudnative-pg/postgis-containers image-catalogs/postgis-system-trixie.yaml (commit
    # db39ba5, 2026-08-03: PostgreSQL 18 line), postgresql from cloudnative-pg/artifacts
    # image-catalogs/catalog-system-trixie.yaml (commit 6093183, 2025-11-15: last build of 17.6).
    "postgis": Image("ghcr.io/cloudnative-pg/postgis", "18.4-3.6.4-202608031108-system-trixie",
                     "https://github.com/cloudnative-pg/postgis-containers",
                     "sha256:1e3eb1d83406d4a83157293bf0c1a5cf3b3217ca9ebb49f479881b9ad19fbe25"),
    "postgresql": Image("ghcr.io/cloudnative-pg/postgresql", "17.6-202511100807-system-trixie",
                        "https://github.com/cloudnative-pg/postgres-containers",
                        "sha256:6ae4a22c14bdc66e5feaafd38d12c3956fabf9ce9582189e6aa4ee767d981d1b"),
    # Ceph's `vX.Y.Z-YYYYMMDD` tags name one build (Rook v1.18.6 Documentation/CRDs/Cluster/ceph-cluster-crd.md;
    # v19.2.3-20250717 is the build Rook v1.18.6 itself uses, images/ceph/Makefile). Digest not recorded yet.
    "ceph": Image("quay.io/ceph/ceph", "v19.2.3-20250717", "https://ceph.io"),
    # Modules
    "node-red": Image("docker.io/nodered/node-red", "4.1.10-22", "https://nodered.org"),
    "oauth2-proxy": Image("quay.io/oauth2-proxy/oauth2-proxy", "v7.15.2", "https://oauth2-proxy.github.io/oauth2-proxy/"),
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
    # (docker-library/official-images#16164); only a digest pins it (not recorded yet).
    "mosquitto": Image("docker.io/library/eclipse-mosquitto", "2.0.22", "https://mosquitto.org"),
    # masterportal: static web server; the Masterportal build itself comes from an artifact image that this
    # project builds from the upstream release tag (images/masterportal/Dockerfile): upstream publishes none.
    "nginx-unprivileged": Image("docker.io/nginxinc/nginx-unprivileged", "1.29.8-alpine",
                                "https://github.com/nginx/docker-nginx-unprivileged"),
    "masterportal": Image("masterportal", "3.7.0", "https://www.masterportal.org", built_here=True),
    # rei3: upstream publishes no image, only release archives and a dev/test Dockerfile (r3-team/r3_docker);
    # this project builds the same from the release archive as a non-root image (images/rei3/Dockerfile).
    "rei3": Image("rei3", "3.11", "https://rei3.de", built_here=True),
}
