"""Configuration of the ``shared`` stack (``stacks/Pulumi.shared.yaml``), validated before anything is
registered. Every key is described here; ``docs/shared-config.md`` is generated from this model."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from catalogue.names import CONFIG_NS
from catalogue.paths import STACKS
from catalogue.schema import DOMAIN_PATTERN, LABEL_VALUE_PATTERN
from catalogue.spec import HttpsUrl
from catalogue.yamlsafe import load_yaml

IMAGE_REGISTRY_PATTERN = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
"""A registry host (optional port) and optional path, lower case, as image references spell them."""
SHARED_CONFIG = STACKS / "Pulumi.shared.yaml"
"""The shared stack's configuration file: read by the shared stack, and by municipality stacks and commands that
need the platform's settings (storage mode, image registry, mail relay, off-site backups)."""
ENCRYPTED = "offline-plan-placeholder"
"""Stands in for a ``secure:`` value: it is encrypted for its own stack and is never read outside it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tls(_Strict):
    """How certificates are issued for `*.<baseDomain>` and every municipality's `<module>.<domain>`."""

    issuer: Literal["acme", "internal-ca"] = Field(
        "acme", description="`acme` (e.g. Let's Encrypt, HTTP-01 through the Gateway) or `internal-ca` (self-signed CA)."
    )
    acmeServer: HttpUrl = Field(
        "https://acme-v02.api.letsencrypt.org/directory", description="ACME directory URL (issuer `acme`)."
    )


ADMIN_MIN_PREFIX = {4: 8, 6: 32}
"""The widest admin source range allowed: no IPv4 range shorter than /8, no IPv6 range shorter than /32, also for
the union of the list (adjacent ranges are merged before the bound is applied, so two /1 are one /0)."""


class KeycloakAdmin(_Strict):
    """Keycloak's admin console and master realm, served only at `id-admin.<baseDomain>`."""

    allowedSourceRanges: list[pydantic.IPvAnyNetwork] = Field(
        default_factory=list,
        description="Client address ranges (CIDR) that may reach the admin console and the master realm; "
        "empty (the default): nobody. The Gateway sees the client's own address (Envoy's Service keeps it: "
        "`externalTrafficPolicy: Local`). No range, and no union of adjacent ranges, wider than /8 (IPv4) or "
        "/32 (IPv6); none may overlap `network.podCidrs` or `network.serviceCidrs` (it would admit every pod).",
    )

    @model_validator(mode="after")
    def _not_everyone(self):
        problems = []
        for version, bound in ADMIN_MIN_PREFIX.items():
            nets = [n for n in self.allowedSourceRanges if n.version == version]
            for net in ipaddress.collapse_addresses(nets):
                if net.prefixlen < bound:
                    given = [str(n) for n in nets if n.subnet_of(net)]
                    what = f"{given[0]} is" if given == [str(net)] else f"{', '.join(given)} together cover {net},"
                    whom = "everyone" if net.prefixlen == 0 else "a large part of the internet"
                    problems.append(f"{what} wider than /{bound}: that opens the admin console to {whom} (at most "
                                    f"/{bound} per range and in union)")
        if problems:
            raise ValueError("allowedSourceRanges: " + "; ".join(problems))
        return self


class Network(_Strict):
    """The cluster's own address ranges. Egress rules towards "the internet" exclude them (besides the private,
    CGNAT, link-local, loopback and other special-purpose ranges they always exclude), and the pods that talk to
    the Kubernetes API reach it only here."""

    podCidrs: list[pydantic.IPvAnyNetwork] = Field(
        default_factory=list, description="The cluster's pod network(s) (e.g. `10.244.0.0/16`): never \"internet\", "
        "never an admin source range.")
    serviceCidrs: list[pydantic.IPvAnyNetwork] = Field(
        default_factory=list, description="The cluster's Service network(s) (e.g. `10.96.0.0/12`): never "
        "\"internet\", never an admin source range.")
    apiServerCidrs: list[pydantic.IPvAnyNetwork] = Field(
        default_factory=list, description="Addresses of the Kubernetes API server as pods reach it after Service "
        "translation (`kubectl get endpoints kubernetes`, e.g. `192.0.2.10/32`), on 443/6443. Only the operators, "
        "controllers and database instances reach them; every \"internet\" rule excludes them. Empty (the "
        "default): the private ranges (RFC 1918), where a self-managed control plane lives; a "
        "managed cluster whose API server has a public address must name it here.")


class ExternalS3(_Strict):
    """An S3-compatible provider outside the cluster (storage mode `external`)."""

    endpoint: HttpsUrl = Field(description="S3 endpoint URL (https).")
    region: str = Field("eu-central-1", description="S3 region.")
    credentialsSecret: str = Field(
        "external-s3-credentials",
        description="Secret in `urban-storage` with `ACCESS_KEY_ID`/`ACCESS_SECRET_KEY` of an account that may create buckets.",
    )
    egressCidr: str = Field("0.0.0.0/0", description="CIDR of the provider's endpoints, for NetworkPolicy egress rules "
                            "(HTTPS); `0.0.0.0/0` means the internet: never the cluster's, private or link-local "
                            "ranges (docs/operations.md, Egress).")
    platformBucket: str = Field(
        "urban-platform-backups", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="Existing bucket for the platform's own backups (Keycloak's database under `keycloak-db/`); "
        "the credentials Secret must also exist in `urban-identity`.",
    )


class Storage(_Strict):
    """Object storage for buckets and backups."""

    mode: Literal["rook-ceph", "external"] = Field(
        "rook-ceph", description="`rook-ceph` (Rook operator, Ceph RGW in the cluster) or `external` (an S3 provider)."
    )
    external: ExternalS3 | None = Field(None, description="The provider, required for mode `external`.")
    blockStorageClass: str = Field(
        "ceph-block", pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="StorageClass of every PVC (databases, module data). Mode `rook-ceph` creates it (Ceph RBD, "
        "`reclaimPolicy: Retain`); mode `external` creates none: name a StorageClass that exists in the cluster "
        "(required in that mode; prefer one with `reclaimPolicy: Retain`).",
    )

    @model_validator(mode="after")
    def _external_needs_provider(self):
        problems = []
        if self.mode == "external" and self.external is None:
            problems.append("storage.mode 'external' needs storage.external (endpoint, region, credentialsSecret)")
        if self.mode == "external" and "blockStorageClass" not in self.model_fields_set:
            problems.append("storage.mode 'external' creates no StorageClass: set storage.blockStorageClass to one "
                            "that exists in the cluster")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Smtp(_Strict):
    """Outgoing mail of every municipality's realm: e-mail verification and password reset (Keycloak realm
    `smtpServer`). Unauthenticated submission to a relay that admits the cluster's egress addresses."""

    host: str = Field(pattern=DOMAIN_PATTERN, description="Host name of the mail relay.")
    port: int = Field(587, ge=1, le=65535, description="Port of the mail relay (Keycloak's pods may reach it).")
    fromAddress: pydantic.EmailStr = Field(description="Sender address of the realms' e-mails.")
    fromDisplayName: str = Field("Urban Stack", min_length=1, description="Sender name of the realms' e-mails.")
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS.")
    ssl: bool = Field(False, description="Connect with TLS from the start (SMTPS, usually port 465).")
OFFSITE_SECRET = "backup-offsite"
"""Secret with the off-site key pair (``ACCESS_KEY_ID``/``ACCESS_SECRET_KEY``): in ``urban-identity`` (Keycloak's
database) and in each municipality's namespace (that municipality's own pair). Each stack creates it from its own
config secrets (:data:`OFFSITE_CREDENTIALS`) in the same ``pulumi up`` that creates the namespace, before the
database; municipality groups must not read it."""
OFFSITE_CREDENTIALS = {"ACCESS_KEY_ID": "offsiteAccessKeyId", "ACCESS_SECRET_KEY": "offsiteSecretAccessKey"}
"""Key of Secret :data:`OFFSITE_SECRET` -> the stack config secret (``urban-stack:<name>``) it is made from."""


class OffsiteBackup(_Strict):
    """The operator's off-site target for the database backups of Keycloak and of the municipalities: S3 storage
    outside the platform, so that losing the cluster (and its Ceph) does not lose the backups."""

    endpoint: HttpsUrl = Field(description="S3 endpoint URL (https) of a provider outside the platform.")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                        description="Bucket; each municipality's backups go below `<slug>/cnpg`.")
    region: str = Field("eu-central-1", min_length=1, description="S3 region.")
    egressCidr: str = Field("0.0.0.0/0", description="CIDR of the provider's endpoints: the municipalities' database "
                            "instances reach it on HTTPS (their backups); `0.0.0.0/0` means the internet: never the "
                            "cluster's, private or link-local ranges (docs/operations.md, Egress).")


class Backups(_Strict):
    """Where database backups are kept (a municipality's own `backup.target` takes precedence for its database)."""

    offsite: OffsiteBackup | None = Field(
        None,
        description="Operator's off-site target. Required for profile `production`. Keycloak's database is backed "
        "up below `urban-identity/cnpg` (key pair: config secrets `offsiteAccessKeyId`/`offsiteSecretAccessKey` of "
        "the shared stack), each municipality's below `<slug>/cnpg` (its own pair, allowed on `<slug>/` only: the "
        "same two config secrets in the municipality's stack). Each stack writes its pair into Secret "
        f"`{OFFSITE_SECRET}` of its namespace. Objects are written with server-side encryption (`AES256`); "
        "enable default bucket encryption, versioning and object lock at the provider (docs/operations.md, Backups).",
    )


class SharedConfig(_Strict):
    """The `shared` stack's settings, all under the `urban-stack:` namespace in `stacks/Pulumi.shared.yaml`."""

    profile: Literal["dev", "production"] = Field(
        "production", description="`dev`: one replica of everything, small. `production`: highly available."
    )
    baseDomain: str = Field(pattern=DOMAIN_PATTERN, description="DNS zone of platform services (Keycloak at `id.<baseDomain>`).")
    operatorName: str = Field(min_length=1, description="Name of the platform operator (issuer on statements).")
    operatorCostCenter: str = Field(
        pattern=LABEL_VALUE_PATTERN, description="Operator's cost centre: label on every shared object."
    )
    adminEmail: pydantic.EmailStr = Field(description="Operator's e-mail: ACME account and alert receiver.")
    imageRegistry: str = Field(
        pattern=IMAGE_REGISTRY_PATTERN,
        description="Registry (host and optional path, e.g. `registry.example.de/urban-stack`) that holds the images "
        "upstream does not publish (`images/`: ckan, masterportal, rei3). The operator publishes them there with "
        "`make images` (build and push, tags from `catalogue/versions.py`) before the first deployment and after "
        "every tag change; every pod pulls them from here, so the cluster must be able to pull from it.",
    )
    tls: Tls = Field(default_factory=Tls, description="Certificate issuing.")
    smtp: Smtp | None = Field(
        None, description="Mail relay of the municipalities' realms. Without it, realm administrators get a generated "
        "temporary password (docs/operations.md, first login) and no e-mail verification; with it, they also verify "
        "their address and can reset forgotten passwords by e-mail.")
    storage: Storage = Field(default_factory=Storage, description="Object and block storage.")
    keycloakAdmin: KeycloakAdmin = Field(
        default_factory=KeycloakAdmin, description="Who may reach Keycloak's admin console (closed by default)."
    )
    backup: Backups = Field(default_factory=Backups, description="Where database backups are kept.")
    pricesProvider: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9-]{1,30}$",
        description="Provider price list (`stackit`, `ionos`, `plusserver`, `hetzner`: "
        "`finance/prices/providers/<name>.yaml`) whose unit prices (vCPU, GiB memory, GiB block storage, egress) "
        "OpenCost meters usage with, in EUR, and which `urbanstack costs` uses when no `--provider` is given. "
        "Omitted: the unit prices of `finance/prices.yaml`. One price source for OpenCost and the statements "
        "(docs/finance.md).")

    @model_validator(mode="after")
    def _provider_file_exists(self):
        if self.pricesProvider is not None:
            from catalogue.prices import provider_names  # lazy: catalogue.prices builds the price models

            known = provider_names()
            if self.pricesProvider not in known:
                raise ValueError(f"{CONFIG_NS}:pricesProvider: no price list {self.pricesProvider!r} in "
                                 f"finance/prices/providers/ (known: {', '.join(known)})")
        return self
    offsiteAccessKeyId: pydantic.SecretStr | None = Field(
        None,
        description="Secret (`pulumi config set --secret urban-stack:offsiteAccessKeyId … -s shared`): access key "
        "of the off-site target for the platform's own backups (Keycloak's database, below `urban-identity/` of "
        f"`backup.offsite.bucket`). Required with `backup.offsite`; the stack writes it into Secret "
        f"`{OFFSITE_SECRET}` of `urban-identity`. Each municipality's stack has its own pair under the same two "
        "keys (docs/operations.md, Backups).",
    )
    offsiteSecretAccessKey: pydantic.SecretStr | None = Field(
        None,
        description="Secret (`pulumi config set --secret urban-stack:offsiteSecretAccessKey … -s shared`): the "
        "secret key belonging to `offsiteAccessKeyId`.",
    )

    network: Network = Field(default_factory=Network, description="The cluster's own address ranges (egress rules).")

    @model_validator(mode="after")
    def _admin_ranges_outside_the_cluster(self):
        cluster = [*self.network.podCidrs, *self.network.serviceCidrs]
        clashes = [f"{net} overlaps {c}" for net in self.keycloakAdmin.allowedSourceRanges for c in cluster
                   if net.version == c.version and net.overlaps(c)]
        if clashes:
            raise ValueError(f"{CONFIG_NS}:keycloakAdmin.allowedSourceRanges: {'; '.join(clashes)} (network.podCidrs/"
                             "serviceCidrs): a range of the cluster's own network would admit every pod")
        return self

    realmReapply: str = Field(
        "", max_length=40, pattern=r"^[A-Za-z0-9._-]*$",
        description="Re-apply the master realm: change this value (e.g. a date or a counter) to run its "
                    "keycloak-config-cli Job again although the realm document is unchanged, after a Keycloak "
                    "restore or a recreated Keycloak (docs/operations.md). Part of the Job's name; empty by default.")

    @model_validator(mode="after")
    def _production_keeps_backups_outside(self):
        # Every database, Keycloak's included, is backed up to the off-site target in production: storage mode
        # `external` alone is no second site (its provider may be the cluster's own), rook-ceph's RGW is in the
        # cluster and would be lost with it.
        if self.profile == "production" and self.backup.offsite is None:
            raise ValueError(
                f"{CONFIG_NS}:backup.offsite: required for profile 'production' (endpoint, bucket of S3 storage "
                "outside the platform): Keycloak's database and every municipality's database are backed up "
                "there; backups in the cluster's own storage would be lost with the platform"
            )
        return self


class ConfigError(Exception):
    """Invalid shared stack configuration; the message names the file and every bad key."""


def parse(raw: dict[str, Any], source: str = "stacks/Pulumi.shared.yaml") -> SharedConfig:
    """Validate raw config values (keys without namespace) or raise :class:`ConfigError`."""
    try:
        return SharedConfig.model_validate(raw)
    except pydantic.ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"])
            msg = "required key is missing" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling)"
            # Checks across keys (model validators) name their key in the message.
            lines.append(f"{source}: {CONFIG_NS}:{key}: {msg}" if key else f"{source}: {msg}")
        raise ConfigError("\n".join(lines)) from None



def stack_config(path: Path) -> dict[str, Any]:
    """The ``config:`` of a ``Pulumi.<stack>.yaml`` file as flat ``ns:key`` -> value (encrypted values: :data:`ENCRYPTED`)."""
    if not path.is_file():
        return {}
    data = load_yaml(path).data or {}
    config = data.get("config") or {}
    return {key: ENCRYPTED if isinstance(value, dict) and "secure" in value else value for key, value in config.items()}


def load_file(path: Path = SHARED_CONFIG) -> SharedConfig:
    """The shared stack's settings from its configuration file, validated (:class:`ConfigError` names file and key)."""
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(path).items() if k.startswith(f"{CONFIG_NS}:")}
    return parse(raw)
