"""Configuration of the ``shared`` stack (``stacks/Pulumi.shared.yaml``), validated before anything is
registered. Every key is described here; ``docs/shared-config.md`` is generated from this model."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from catalogue.labels import GLOBAL_CELL
from catalogue.names import CONFIG_NS
from catalogue.paths import STACKS
from catalogue.schema import CELL_NAME_PATTERN, DOMAIN_PATTERN, LABEL_VALUE_PATTERN
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


DNS01_CREDENTIAL = "dns01Credential"
DNS01_KEY_ID = "dns01KeyId"
"""The shared stack's config secrets (``urban-stack:<name>``) holding the DNS provider's credentials of the DNS-01
solver; the stack writes them into Secret ``catalogue.names.DNS01_SECRET`` of cert-manager's namespace."""
_CREDENTIALS_HINT = (f"the stack writes it from config secret `{DNS01_CREDENTIAL}` (`pulumi config set --secret "
                     f"urban-stack:{DNS01_CREDENTIAL} … -s shared`) into Secret `urban-dns01-credentials` of "
                     "`urban-cert-manager`")


class Rfc2136(_Strict):
    """DNS-01 by RFC 2136 dynamic updates to an authoritative name server, signed with a TSIG key (BIND, Knot,
    PowerDNS; common with municipal IT service providers that run their own DNS). cert-manager v1.21.1 solver
    `dns01.rfc2136`; the TSIG secret is key `tsig-secret` of the credentials Secret."""

    provider: Literal["rfc2136"] = Field(description="RFC 2136 dynamic DNS updates.")
    nameserver: str = Field(
        pattern=r"^(\[[0-9a-fA-F:]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:[0-9]{1,5})?$",
        description="The authoritative server that accepts the updates, `host[:port]` (an IPv6 address in "
                    "brackets, `[2001:db8::53]:53`; port 53 if omitted).")
    tsigKeyName: str = Field(
        min_length=1, max_length=253, pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9.])?$",
        description="Name of the TSIG key the server accepts updates of the zone with. Required: unsigned updates "
                    f"would let anyone who reaches the server change the zone. Its secret: {_CREDENTIALS_HINT}.")
    tsigAlgorithm: Literal["HMACSHA256", "HMACSHA512", "HMACSHA1", "HMACMD5"] = Field(
        "HMACSHA256", description="TSIG algorithm of the key (cert-manager's own default, `HMACMD5`, is not used).")
    protocol: Literal["TCP", "UDP"] | None = Field(
        None, description="Transport of the updates; omitted: cert-manager's default (UDP).")
    egressCidr: str = Field(
        "0.0.0.0/0", description="Address range of `nameserver`, for the NetworkPolicy of cert-manager's "
        "controller (port 53, TCP and UDP); `0.0.0.0/0` means the internet (never the cluster's own ranges). A name "
        "server in a private network (a municipal IT provider's) must be named here, e.g. `10.20.0.53/32`.")

    @model_validator(mode="after")
    def _cidr(self):
        ipaddress.ip_network(self.egressCidr, strict=False)
        return self


class Cloudflare(_Strict):
    """DNS-01 through Cloudflare's API with an API token (zone `DNS:Edit` of the platform's zone only).
    cert-manager v1.21.1 solver `dns01.cloudflare.apiTokenSecretRef`; the token is key `api-token`."""

    provider: Literal["cloudflare"] = Field(description=f"Cloudflare DNS; the API token: {_CREDENTIALS_HINT}.")


class Route53(_Strict):
    """DNS-01 through AWS Route 53 with an IAM user's key pair. cert-manager v1.21.1 solver `dns01.route53`
    (`accessKeyIDSecretRef`, `secretAccessKeySecretRef`): keys `access-key-id` and `secret-access-key`."""

    provider: Literal["route53"] = Field(
        description=f"AWS Route 53. The access key ID comes from config secret `{DNS01_KEY_ID}`, the secret access "
                    f"key from `{DNS01_CREDENTIAL}` (both `pulumi config set --secret … -s shared`).")
    region: str = Field("eu-central-1", pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$", description="AWS region (a hint for "
                        "the credential scope; Route 53 itself is global).")
    hostedZoneID: str | None = Field(
        None, pattern=r"^[A-Z0-9]{1,32}$",
        description="The hosted zone of `baseDomain`; omitted: cert-manager looks it up (needs "
                    "`route53:ListHostedZonesByName`).")


_SECRET_LOOKING = ("password", "token", "secret", "apikey", "apitoken", "privatekey", "secretkey", "accesskey",
                   "credential", "credentials")


class Webhook(_Strict):
    """DNS-01 through an external webhook solver (a separately installed cert-manager webhook for the provider's
    API, e.g. STACKIT, IONOS or Hetzner). cert-manager v1.21.1 solver `dns01.webhook` (`groupName`, `solverName`,
    `config`); cert-manager hands the webhook `urban-cert-manager` as the namespace of the secrets it names
    (pkg/issuer/acme/dns/dns.go, `ResourceNamespace` of a ClusterIssuer), so the webhook's `config` points at
    Secret `urban-dns01-credentials`: key `credential` (config secret `dns01Credential`) and, with `keyId: true`,
    key `key-id` (config secret `dns01KeyId`). The webhook itself, its APIService and its RBAC to read that Secret
    come from the provider's chart, installed by the operator."""

    provider: Literal["webhook"] = Field(description="An external cert-manager webhook solver.")
    groupName: str = Field(pattern=DOMAIN_PATTERN, description="API group the webhook serves (its chart's "
                           "`groupName`, e.g. `acme.stackit.de`).")
    solverName: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$",
                            description="Solver name the webhook implements (e.g. `stackit`, `ionos`, `hetzner`).")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The webhook's own settings, passed to it unchanged (its documentation says which), e.g. the "
                    "zone or project and the Secret reference `{name: urban-dns01-credentials, key: credential}`. "
                    "Never a secret value: a key that names a password, token or key with a text value is refused "
                    f"({_CREDENTIALS_HINT}).")
    keyId: bool = Field(False, description=f"The provider needs a second value (an access key ID or public key) "
                        f"besides the secret: config secret `{DNS01_KEY_ID}` becomes key `key-id` of the Secret.")

    @model_validator(mode="after")
    def _no_secret_values(self):
        def walk(node: Any, path: str):
            if isinstance(node, dict):
                for key, value in node.items():
                    where = f"{path}.{key}" if path else str(key)
                    normal = str(key).lower().replace("-", "").replace("_", "")
                    if isinstance(value, str) and normal in _SECRET_LOOKING:
                        yield where
                    yield from walk(value, where)
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    yield from walk(value, f"{path}.{i}")
        found = list(walk(self.config, ""))
        if found:
            raise ValueError(f"config.{', config.'.join(found)}: looks like a secret value in plain configuration; "
                             f"{_CREDENTIALS_HINT}, and config names that Secret instead")
        return self


Dns01 = Annotated[Rfc2136 | Cloudflare | Route53 | Webhook, Field(discriminator="provider")]


class Tls(_Strict):
    """How certificates are issued for `*.<baseDomain>` and every municipality's `<module>.<domain>`."""

    issuer: Literal["acme", "internal-ca"] = Field(
        "acme", description="`acme` (e.g. Let's Encrypt, HTTP-01 through the Gateway) or `internal-ca` (self-signed CA)."
    )
    acmeServer: HttpUrl = Field(
        "https://acme-v02.api.letsencrypt.org/directory", description="ACME directory URL (issuer `acme`)."
    )
    platformSubdomains: bool = Field(
        False, description="Offer platform subdomains to municipalities without a domain of their own (tenant file "
        "`platformSubdomain: true`, hosts `<slug>-<module>.<baseDomain>`): one HTTPS listener `*.<baseDomain>` "
        "(`https-subdomains`) on the shared Gateway and one wildcard certificate `*.<baseDomain>` (Secret "
        "`platform-subdomains-tls` in `urban-gateway`) for all of them, requested once; a municipality joining "
        "changes neither. Issuer `acme` needs `dns01` (a wildcard certificate can only be validated by DNS-01); "
        "`internal-ca` signs it directly.")
    dns01: Dns01 | None = Field(
        None, description="The DNS provider's DNS-01 solver for the wildcard certificate (`provider: rfc2136 | "
        "cloudflare | route53 | webhook`), selected by the ACME ClusterIssuer for `*.<baseDomain>` only (every "
        "other name keeps HTTP-01). Its credentials are never written here: they are config secrets of the shared "
        f"stack (`{DNS01_CREDENTIAL}`, and `{DNS01_KEY_ID}` where the provider needs a second value), which the "
        "stack writes into Secret `urban-dns01-credentials` of `urban-cert-manager` (the namespace cert-manager "
        "reads a ClusterIssuer's secrets from). The controller may then reach name servers on port 53 (the "
        "DNS-01 self check asks the zone's authoritative servers).")

    @model_validator(mode="after")
    def _dns01_for_the_wildcard(self):
        if self.platformSubdomains and self.issuer == "acme" and self.dns01 is None:
            raise ValueError(f"{CONFIG_NS}:tls.dns01: required with tls.platformSubdomains and issuer 'acme': the "
                             "wildcard certificate *.<baseDomain> can only be validated by DNS-01 (provider "
                             "rfc2136, cloudflare, route53 or webhook; docs/shared-config.md)")
        if self.dns01 is not None and not (self.platformSubdomains and self.issuer == "acme"):
            raise ValueError(f"{CONFIG_NS}:tls.dns01: used only for the wildcard certificate of platform subdomains "
                             "with issuer 'acme'; set tls.platformSubdomains: true (and issuer acme) or remove it")
        return self

    def dns01_credentials(self) -> dict[str, str]:
        """Key of Secret ``urban-dns01-credentials`` -> the shared stack's config secret it is made from."""
        match self.dns01:
            case Rfc2136():
                return {"tsig-secret": DNS01_CREDENTIAL}
            case Cloudflare():
                return {"api-token": DNS01_CREDENTIAL}
            case Route53():
                return {"access-key-id": DNS01_KEY_ID, "secret-access-key": DNS01_CREDENTIAL}
            case Webhook(keyId=key_id):
                return {"credential": DNS01_CREDENTIAL, **({"key-id": DNS01_KEY_ID} if key_id else {})}
        return {}


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


DEFAULT_CELL = "default"
"""The name of the one implicit cell when the shared config lists no ``cells``."""


class SecretKeyRef(_Strict):
    """A key of a Secret."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", description="Name of the Secret.")
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$", description="Key in the Secret.")


class CellKubernetes(_Strict):
    """How the cell's cluster is reached: by `pulumi up` and the operators' commands (a context of their kubeconfig),
    and by the GitOps path (a kubeconfig in a Secret of the management cluster)."""

    context: str | None = Field(
        None, min_length=1, max_length=253, pattern=r"^[^\s]+$",
        description="Context of the kubeconfig that names the cell's cluster: the Pulumi Kubernetes provider's "
        "`context` of every stack of the cell, and `kubectl --context` of `urbanstack tenants move`. Required for "
        "every cell but the default one, so that no stack of another cell ever reaches the cluster that happens to "
        "be the current context. Omitted for the default cell: the kubeconfig's current context (as before cells).")
    kubeconfigSecret: SecretKeyRef | None = Field(
        None, description="GitOps path (`urbanstack gitops render`): the Secret in the management cluster's "
        "namespace of the Pulumi Kubernetes Operator that holds a kubeconfig of the cell's cluster (mounted into the "
        "cell's workspace pods as `KUBECONFIG`). Omitted: Secret `kubeconfig-<cell>`, key `kubeconfig`.")


class Cell(_Strict):
    """One cell: a Kubernetes cluster with its own platform stack (identity, gateway, operators, monitoring,
    storage) and the municipalities that live in it (tenant file `cell`). What a cell does not set here is the
    shared config's value; what is per cell and what is global: decision record 0015."""

    name: str = Field(pattern=CELL_NAME_PATTERN, description="Name of the cell (a DNS label of at most 20 "
                      "characters, starting with a letter; `global` is reserved for costs of no single cell): its "
                      "platform stack is `shared.<name>` (the default cell's: `shared`), a member's stack "
                      "`<slug>.<name>` (in the default cell: `<slug>`).")
    default: bool = Field(False, description="The default cell: every municipality whose tenant file names no "
                          "`cell` lives here, and its stacks keep the names they had before cells (`shared`, "
                          "`<slug>`). Exactly one cell is the default.")
    profile: Literal["dev", "production"] | None = Field(None, description="The cell's profile; omitted: `profile`.")
    baseDomain: str | None = Field(
        None, pattern=DOMAIN_PATTERN,
        description="DNS zone of the cell's platform services (its Keycloak at `id.<baseDomain>`, platform "
        "subdomains `<slug>-<module>.<baseDomain>`). Omitted: the shared `baseDomain` for the default cell, "
        "`<name>.<baseDomain>` for every other. No two cells share one.")
    kubernetes: CellKubernetes = Field(default_factory=CellKubernetes, description="How the cluster is reached.")
    storage: Storage | None = Field(None, description="The cluster's object and block storage; omitted: `storage`.")
    network: Network | None = Field(None, description="The cluster's own address ranges; omitted: `network`.")
    backup: Backups | None = Field(
        None, description="The cell's off-site backup target (its Keycloak's database and its members' databases); "
        "omitted: `backup`. A move between two cells reads the source's off-site backups from the target cell.")
    objectStorageEndpoint: HttpsUrl | None = Field(
        None, description="Where the operators' commands (`urbanstack tenants move`: the bucket copy) reach the "
        "cell's object storage (S3 API, https), e.g. the Ceph RGW's external endpoint. Omitted: "
        "`storage.external.endpoint` in storage mode `external`; required for a move in mode `rook-ceph`.")


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

    dns01Credential: pydantic.SecretStr | None = Field(
        None,
        description=f"Secret (`pulumi config set --secret urban-stack:{DNS01_CREDENTIAL} … -s shared`): the DNS "
        "provider's secret for `tls.dns01`: the TSIG key's secret (base64, as the name server has it; rfc2136), the "
        "API token (cloudflare), the secret access key (route53), or what the webhook's `config` names as key "
        "`credential`. Required with `tls.dns01`; refused in plain text.")
    dns01KeyId: pydantic.SecretStr | None = Field(
        None,
        description=f"Secret (`pulumi config set --secret urban-stack:{DNS01_KEY_ID} … -s shared`): the second value "
        "of a provider that needs two: the access key ID (route53), or key `key-id` of a webhook with `keyId: true`. "
        "Refused in plain text.")

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

    cells: list[Cell] = Field(
        default_factory=list,
        description="The cells: one cluster each, with its own platform stack, its own Keycloak, Gateway and "
        "operators, and its own members (tenant file `cell`). Omitted: one cell, `default`, whose platform stack is "
        "`shared` (the setup before cells). A dedicated cluster for one municipality is a cell with one member. "
        "Each cell's platform stack is configured by this file; a stack `shared.<cell>` keeps only its own "
        "secrets in `stacks/Pulumi.shared.<cell>.yaml` (docs/operations.md, Cells; decision record 0015).")

    @model_validator(mode="after")
    def _cells_consistent(self):
        if not self.cells:
            return self
        problems, seen, domains = [], set(), {}
        for i, cell in enumerate(self.cells):
            if cell.name in seen:
                problems.append(f"{CONFIG_NS}:cells[{i}].name: cell {cell.name!r} is listed twice")
            if cell.name == GLOBAL_CELL:
                problems.append(f"{CONFIG_NS}:cells[{i}].name: {GLOBAL_CELL!r} is reserved: billing data tags the "
                                "costs of no single cell so (urban-stack/cell: global, docs/finance.md); name the "
                                "cell otherwise")
            seen.add(cell.name)
            if not cell.default and cell.kubernetes.context is None:
                problems.append(f"{CONFIG_NS}:cells[{i}].kubernetes.context: required for a cell that is not the "
                                "default one (the kubeconfig context of its cluster), so that its stacks never reach "
                                "another cell's cluster")
            domain = self.cell_domain(cell)
            if domain in domains:
                problems.append(f"{CONFIG_NS}:cells[{i}].baseDomain: {domain!r} is already the domain of cell "
                                f"{domains[domain]!r}; every cell serves its Keycloak at id.<its baseDomain>")
            domains.setdefault(domain, cell.name)
        defaults = [c.name for c in self.cells if c.default]
        if len(defaults) != 1:
            problems.append(f"{CONFIG_NS}:cells: exactly one cell must be the default (`default: true`); "
                            + (f"found {', '.join(defaults)}" if defaults else "none is"))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cell_domain(self, cell: Cell) -> str:
        return cell.baseDomain or (self.baseDomain if cell.default else f"{cell.name}.{self.baseDomain}")

    @property
    def cell_list(self) -> list[Cell]:
        """The cells, the implicit one (:data:`DEFAULT_CELL`) when none are listed."""
        return list(self.cells) or [Cell(name=DEFAULT_CELL, default=True)]

    @property
    def default_cell(self) -> str:
        return next(c.name for c in self.cell_list if c.default)

    def cell(self, name: str) -> Cell:
        for c in self.cell_list:
            if c.name == name:
                return c
        raise KeyError(name)

    def in_cell(self, name: str) -> SharedConfig:
        """The settings as cell ``name``'s platform stack and members see them: the cell's own values in place of
        the shared ones (profile, baseDomain, storage, network, backup), validated again as a whole."""
        cell = self.cell(name)
        update: dict[str, Any] = {k: getattr(cell, k) for k in ("profile", "storage", "network", "backup")
                                  if getattr(cell, k) is not None}
        if self.cell_domain(cell) != self.baseDomain:
            update["baseDomain"] = self.cell_domain(cell)
        if not update:
            return self
        return type(self).model_validate({**{k: getattr(self, k) for k in type(self).model_fields}, **update})

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
        cfg = SharedConfig.model_validate(raw)
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
    problems = []
    for i, cell in enumerate(cfg.cells):
        try:
            cfg.in_cell(cell.name)
        except pydantic.ValidationError as exc:
            for err in exc.errors(include_url=False):
                key = ".".join(str(p) for p in err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{source}: {CONFIG_NS}:cells[{i}] ({cell.name}): with the cell's own values, "
                                f"{f'{CONFIG_NS}:{key}: ' if key else ''}{msg}")
    if problems:
        raise ConfigError("\n".join(problems))
    return cfg


def stack_config(path: Path) -> dict[str, Any]:
    """The ``config:`` of a ``Pulumi.<stack>.yaml`` file as flat ``ns:key`` -> value (encrypted values: :data:`ENCRYPTED`)."""
    if not path.is_file():
        return {}
    data = load_yaml(path).data or {}
    config = data.get("config") or {}
    return {key: ENCRYPTED if isinstance(value, dict) and "secure" in value else value for key, value in config.items()}


SECRET_ONLY = (DNS01_CREDENTIAL, DNS01_KEY_ID)
"""Config keys that must be ``secure:`` values (``pulumi config set --secret``), never plain text in the file."""


def plain_secrets(path: Path, source: str = "stacks/Pulumi.shared.yaml") -> list[str]:
    """One line per key of :data:`SECRET_ONLY` that ``path`` holds in plain text (not as a ``secure:`` value)."""
    if not path.is_file():
        return []
    config = (load_yaml(path).data or {}).get("config") or {}
    return [f"{source}: {CONFIG_NS}:{name}: written in plain text; a credential must be a stack secret: "
            f"`pulumi config rm {CONFIG_NS}:{name} -s shared`, then `pulumi config set --secret {CONFIG_NS}:{name} "
            f"… -s shared`, and rotate the credential (it was readable in the file)"
            for name in SECRET_ONLY
            if f"{CONFIG_NS}:{name}" in config and not (isinstance(config[f"{CONFIG_NS}:{name}"], dict)
                                                       and "secure" in config[f"{CONFIG_NS}:{name}"])]


def load_file(path: Path = SHARED_CONFIG) -> SharedConfig:
    """The shared stack's settings from its configuration file, validated (:class:`ConfigError` names file and key;
    a credential of :data:`SECRET_ONLY` in plain text is refused)."""
    plain = plain_secrets(path)
    if plain:
        raise ConfigError("\n".join(plain))
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(path).items() if k.startswith(f"{CONFIG_NS}:")}
    return parse(raw)
