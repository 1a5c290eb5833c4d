"""What the catalogue says about a module: its options model, its spec and where it keeps data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import pydantic

from catalogue.sizing import Workload
from catalogue.urls import CONTEXT_PLATFORM, https_url

BACKCHANNEL_INTERNAL = "internal"
"""A workload that calls its realm's OIDC back channel at the internal Gateway listener of its municipality
(``components/shared/gateway.py``, back channel): token, userinfo, keys and discovery of its own realm, nothing else."""
BACKCHANNEL_PUBLIC = "public"
"""A workload that can be given only one base URL for browser and back channel alike (CKAN, REI3): it calls the
realm at its public address ``https://id.<baseDomain>`` through the Gateway's HTTPS listener."""
BACKCHANNEL_KINDS = (BACKCHANNEL_INTERNAL, BACKCHANNEL_PUBLIC)


def _require_https(url: pydantic.HttpUrl) -> pydantic.HttpUrl:
    if url.scheme != "https":
        raise ValueError("must use https")
    if url.username is not None or url.password is not None:
        raise ValueError("must not contain a user name or password ('user:pass@'); credentials belong in a Secret")
    return url


def _parsed_https(value: object, info: pydantic.ValidationInfo) -> object:
    """Parse the URL as written with the catalogue's one URL parser (``catalogue/urls.py``) before pydantic
    reads it: one URL, https, a public host name, not a platform name (validation context)."""
    return https_url(value, (info.context or {}).get(CONTEXT_PLATFORM))


HttpsUrl = Annotated[pydantic.HttpUrl, pydantic.BeforeValidator(_parsed_https), pydantic.AfterValidator(_require_https)]
"""An https URL to a service outside the platform, parsed by ``catalogue/urls.py`` (one URL, a public host name,
no IP literal, no cluster-internal or platform name, no ``user:pass@``): tenant files, module options, shared
config."""


class ModuleOptions(pydantic.BaseModel):
    """Base of every module's options in the tenant file (``modules.<key>: {...}``).

    Unknown keys are errors; every field must carry a description (the docs are generated from it).
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True)
class DataStore:
    """One place where a module keeps a municipality's data; offboarding exports each of them.

    ``kind``:

    * ``database`` – ``name`` is a database of the municipality's CloudNativePG cluster (``pg_dump``);
    * ``volume`` – ``name`` is the volume claim template of StatefulSet workload ``workload``, mounted at
      ``path`` in container ``container`` (exported as a tar stream of that folder, per replica);
    * ``bucket`` – ``name`` is a key prefix in the municipality's bucket (the whole bucket is exported).
    """

    kind: str
    name: str
    description: str
    workload: str = ""
    container: str = ""
    path: str = ""

    def __post_init__(self):
        if self.kind not in ("database", "volume", "bucket"):
            raise ValueError(f"data store {self.name}: unknown kind {self.kind!r}")
        if self.kind == "volume" and not (self.workload and self.container and self.path.startswith("/")):
            raise ValueError(f"volume data store {self.name}: workload, container and an absolute path are needed")


@dataclass(frozen=True, eq=False)
class ModuleSpec:
    """What the catalogue knows about one module, read by the schema, the stacks, the docs and finance.

    Compared by identity (each module has one spec), so specs can key caches.

    Attributes:
        key: key under ``modules:`` in the tenant file (camelCase, e.g. ``lowCode``).
        name: DNS-safe name: label value ``urban-stack/module``, Kubernetes name prefix and host name
            (``<name>.<domain>``).
        title: one line for people (docs, statements).
        description: what a municipality gets when it books the module.
        options: pydantic model of the module's options in the tenant file.
        workloads: sizing per workload (the component and the cost estimate both read it).
        databases: databases the module needs in the municipality's CloudNativePG cluster.
        oidc: whether the module gets an OIDC client in the municipality's realm.
        public: whether anonymous users may read it (e.g. open data portal, geoportal).
        bucket: whether it stores files in the municipality's bucket.
        db_extensions: PostgreSQL extensions per database (``{"sensorthings": ("postgis",)}``), created by
            the database component (module owner roles may not create them).
        readonly_roles: databases (of ``databases``) that also get a login role ``<db>_readonly`` without
            privileges; the module grants it SELECT where it needs (e.g. CKAN's datastore reader).
        client_roles: roles of the module's OIDC client and the realm groups granted each
            (``{"read": ("admins", "editors", "viewers")}``), for apps that check client roles.
        oidc_callbacks: the exact paths on ``https://<name>.<domain>`` to which the realm may send a browser back
            after login (the client's ``redirectUris``; no wildcard). Empty for a module with an OIDC client but no
            browser login (its client gets no authorization-code flow).
        data_stores: every place the module keeps the municipality's data (:class:`DataStore`): its
            databases, volumes and bucket prefixes. Offboarding exports each; the module contract holds
            the declaration to what the module really creates.
        backchannel: workloads (keys of ``workloads``) whose pods call their realm's OIDC back channel, and how
            (:data:`BACKCHANNEL_INTERNAL` or :data:`BACKCHANNEL_PUBLIC`). Their pods, and only theirs, carry the
            label ``urban-stack/oidc-backchannel`` with that value (``catalogue.labels.OIDC_BACKCHANNEL``), which
            the network policies of the Gateway admit; no module pod reaches Keycloak's pods directly. The
            module contract holds the declaration to what the module's pods and policies really do.
    """

    key: str
    name: str
    title: str
    description: str
    options: type[ModuleOptions]
    workloads: dict[str, Workload]
    databases: tuple[str, ...] = ()
    oidc: bool = True
    public: bool = False
    bucket: bool = False
    db_extensions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    readonly_roles: tuple[str, ...] = ()
    client_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    data_stores: tuple[DataStore, ...] = ()
    oidc_callbacks: tuple[str, ...] = ()
    backchannel: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for workload, kind in self.backchannel.items():
            if workload not in self.workloads:
                raise ValueError(f"module {self.key}: backchannel names {workload!r}, which is not one of its workloads")
            if kind not in BACKCHANNEL_KINDS:
                raise ValueError(f"module {self.key}: backchannel of {workload!r} is {kind!r}, "
                                 f"not one of {', '.join(BACKCHANNEL_KINDS)}")
        if self.backchannel and not self.oidc:
            raise ValueError(f"module {self.key}: a back channel needs an OIDC client (oidc=True)")

    @property
    def component_type(self) -> str:
        """Pulumi type token of the module's component (part of every URN below it: never change it). Who pays
        for what the component creates is ``name`` (``catalogue.modules.cost_modules``), not this token."""
        return f"urbanstack:modules:{self.name}"
