"""openData: CKAN with DCAT-AP.de (open data portal).

What the catalogue knows of the module: its options in the tenant file and its spec. The component that
builds it is ``components/modules/opendata.py``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from catalogue.sizing import Size, Workload
from catalogue.spec import BACKCHANNEL_PUBLIC, DataStore, ModuleOptions, ModuleSpec

STORAGE_PATH = "/var/lib/ckan"

CONTRIBUTORS = "https://www.dcat-ap.de/def/contributors/"

CONTRIBUTOR_URI = re.compile(r"https?://(www\.)?dcat-ap\.de/def/contributors/[A-Za-z0-9]+")

class Options(ModuleOptions):
    """Options of the `openData` module (CKAN with ckanext-dcat and ckanext-dcatde)."""

    siteTitle: str | None = Field(None, max_length=100, description="Portal title; default: 'Open Data <name>'.")
    locale: Literal["de", "en"] = Field("de", description="Default language of the portal.")
    contributorId: str | None = Field(
        None,
        description="DCAT-AP.de contributor ID (URI from dcat-ap.de/def/contributors) that GovData harvests by; "
                    "stored on the municipality's CKAN organization.",
        json_schema_extra={"pattern": f"^{CONTRIBUTOR_URI.pattern}$"},
    )

    @field_validator("contributorId")
    @classmethod
    def _contributor_uri(cls, value: str | None) -> str | None:
        if value is not None and not CONTRIBUTOR_URI.fullmatch(value):
            raise ValueError(f"must be a contributor URI from {CONTRIBUTORS}, e.g. "
                             f"http://dcat-ap.de/def/contributors/stadtGuetersloh (got {value!r})")
        return value

SPEC = ModuleSpec(
    key="openData",
    name="opendata",
    title="Open data portal (CKAN, DCAT-AP.de)",
    description="A CKAN portal whose catalogue GovData can harvest (DCAT-AP.de), with datastore.",
    options=Options,
    workloads={
        "web": Workload(Size(500, 1024), replicas={"small": 1, "medium": 1, "large": 1},
                        storage_gi={"small": 5, "medium": 10, "large": 25}),
        "solr": Workload(Size(250, 1024), replicas={"small": 1, "medium": 1, "large": 1},
                         storage_gi={"small": 5, "medium": 10, "large": 20}),
        "cache": Workload(Size(100, 256), replicas={"small": 1, "medium": 1, "large": 1}),
    },
    databases=("ckan", "datastore"),
    readonly_roles=("datastore",),
    data_stores=(
        DataStore("database", "ckan", "the catalogue: datasets, resources, organisations, users"),
        DataStore("database", "datastore", "tabular resources loaded into the DataStore"),
        DataStore("volume", "storage", "uploaded resource files (CKAN's storage_path)",
                  workload="web", container="ckan", path=STORAGE_PATH),
        DataStore("volume", "data", "the Solr search index (rebuildable from the catalogue)",
                  workload="solr", container="solr", path="/var/solr"),
    ),
    public=True,
    # OIDC callback paths: ckanext-oidc-pkce's default ckanext.oidc_pkce.redirect_path.
    oidc_callbacks=("/user/login/oidc-pkce/callback",),
    # ckanext-oidc-pkce takes one base URL for browser and back channel.
    backchannel={"web": BACKCHANNEL_PUBLIC},
)
