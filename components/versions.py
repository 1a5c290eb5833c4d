"""Every image and Helm chart version, pinned in one place.

Bump a version here and nowhere else. Image tags are exact releases (never ``latest``); the policy
pack and the manifest checks reject untagged images. ``docs/versions.md`` is generated from this file.
"""

from __future__ import annotations

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
    """A container image pinned to an exact release tag."""

    repository: str
    tag: str
    homepage: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


CHARTS: dict[str, Chart] = {
    "cloudnative-pg": Chart("cloudnative-pg", "https://cloudnative-pg.github.io/charts", "0.26.1",
                            "https://cloudnative-pg.io"),
    "plugin-barman-cloud": Chart("plugin-barman-cloud", "https://cloudnative-pg.github.io/charts", "0.3.1",
                                 "https://cloudnative-pg.io/plugin-barman-cloud/"),
    "keycloak-operator": Chart("keycloak-operator", "https://charts.epam.com", "1.0.0",
                               "https://www.keycloak.org/operator/installation"),
    "cert-manager": Chart("cert-manager", "https://charts.jetstack.io", "v1.19.1", "https://cert-manager.io"),
    "envoy-gateway": Chart("oci://docker.io/envoyproxy/gateway-helm", "", "v1.5.4",
                           "https://gateway.envoyproxy.io"),
    "kube-prometheus-stack": Chart("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts",
                                   "79.5.0", "https://github.com/prometheus-community/helm-charts"),
    "opencost": Chart("opencost", "https://opencost.github.io/opencost-helm-chart", "2.4.0",
                      "https://www.opencost.io"),
    "rook-ceph": Chart("rook-ceph", "https://charts.rook.io/release", "v1.18.6", "https://rook.io"),
}

IMAGES: dict[str, Image] = {
    "keycloak": Image("quay.io/keycloak/keycloak", "26.4.5", "https://www.keycloak.org"),
    "keycloak-config-cli": Image("docker.io/adorsys/keycloak-config-cli", "6.4.0-26.1.0",
                                 "https://github.com/adorsys/keycloak-config-cli"),
    "postgis": Image("ghcr.io/cloudnative-pg/postgis", "17-3.5-system-trixie",
                     "https://github.com/cloudnative-pg/postgis-containers"),
    "postgresql": Image("ghcr.io/cloudnative-pg/postgresql", "17.6-system-trixie",
                        "https://github.com/cloudnative-pg/postgres-containers"),
    "ceph": Image("quay.io/ceph/ceph", "v19.2.3", "https://ceph.io"),
}
