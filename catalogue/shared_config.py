"""Configuration of the ``shared`` stack (``stacks/Pulumi.shared.yaml``), validated before anything is
registered. Every key is described here; ``docs/shared-config.md`` is generated from this model."""

from __future__ import annotations

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


class KeycloakAdmin(_Strict):
    """Keycloak's admin console and master realm, served only at `id-admin.<baseDomain>`."""

    allowedSourceRanges: list[pydantic.IPvAnyNetwork] = Field(
        default_factory=list,
        description="Client address ranges (CIDR) that may reach the admin console and the master realm; "
        "empty (the default): nobody. The Gateway sees the client's own address (Envoy's Service keeps it: "
        "`externalTrafficPolicy: Local`).",
    )

    @model_validator(mode="after")
    def _not_everyone(self):
        for net in self.allowedSourceRanges:
            if net.prefixlen == 0:
                raise ValueError(f"keycloakAdmin.allowedSourceRanges: {net} would open the admin console to everyone")
        return self


class ExternalS3(_Strict):
    """An S3-compatible provider outside the cluster (storage mode `external`)."""

    endpoint: HttpsUrl = Field(description="S3 endpoint URL (https).")
    region: str = Field("eu-central-1", description="S3 region.")
    credentialsSecret: str = Field(
        "external-s3-credentials",
        description="Secret in `urban-storage` with `ACCESS_KEY_ID`/`ACCESS_SECRET_KEY` of an account that may create buckets.",
    )
    egressCidr: str = Field("0.0.0.0/0", description="CIDR of the provider's endpoints, for NetworkPolicy egress rules.")
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
"""Secret in each municipality's namespace with the operator's off-site key pair for that municipality
(``ACCESS_KEY_ID``/``ACCESS_SECRET_KEY``), created by the operator; municipality groups must not read it."""


class OffsiteBackup(_Strict):
    """The operator's off-site target for municipalities' database backups: S3 storage outside the platform,
    so that losing the cluster (and its Ceph) does not lose the backups."""

    endpoint: HttpsUrl = Field(description="S3 endpoint URL (https) of a provider outside the platform.")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                        description="Bucket; each municipality's backups go below `<slug>/cnpg`.")
    region: str = Field("eu-central-1", min_length=1, description="S3 region.")
    egressCidr: str = Field("0.0.0.0/0", description="CIDR of the provider's endpoints (database egress, HTTPS).")


class Backups(_Strict):
    """Where municipalities' database backups are kept (a municipality's own `backup.target` takes precedence)."""

    offsite: OffsiteBackup | None = Field(
        None,
        description="Operator's off-site target. Required for profile `production` with storage mode `rook-ceph` "
        f"(the in-cluster bucket would be lost with the platform). Key pair per municipality in Secret "
        f"`{OFFSITE_SECRET}` of its namespace (`ACCESS_KEY_ID`/`ACCESS_SECRET_KEY`, allowed on `<slug>/` only). "
        "Enable versioning and object lock on the bucket at the provider (docs/operations.md, Backups).",
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
    realmReapply: str = Field(
        "", max_length=40, pattern=r"^[A-Za-z0-9._-]*$",
        description="Re-apply the master realm: change this value (e.g. a date or a counter) to run its "
                    "keycloak-config-cli Job again although the realm document is unchanged, after a Keycloak "
                    "restore or a recreated Keycloak (docs/operations.md). Part of the Job's name; empty by default.")

    @model_validator(mode="after")
    def _production_keeps_backups_outside(self):
        if self.profile == "production" and self.storage.mode == "rook-ceph" and self.backup.offsite is None:
            raise ValueError(
                f"{CONFIG_NS}:backup.offsite: required for profile 'production' with storage.mode 'rook-ceph' "
                "(endpoint, bucket of S3 storage outside the platform): database backups in the cluster's own "
                "Ceph would be lost with the platform"
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
