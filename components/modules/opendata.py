"""openData: CKAN with DCAT-AP.de (open data portal)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.base import ModuleOptions, ModuleSpec
from components.sizing import Size, Workload


class Options(ModuleOptions):
    """Options of the `openData` module (CKAN with ckanext-dcat and ckanext-dcatde)."""

    siteTitle: str | None = Field(None, max_length=100, description="Portal title; default: 'Open Data <name>'.")
    locale: Literal["de", "en"] = Field("de", description="Default language of the portal.")
    contributorId: str | None = Field(
        None,
        pattern=r"^https?://",
        description="DCAT-AP.de contributor ID (URI from dcat-ap.de/def/contributors) that GovData harvests by.",
    )


SPEC = ModuleSpec(
    key="openData",
    name="opendata",
    title="Open data portal (CKAN, DCAT-AP.de)",
    description="A CKAN portal whose catalogue GovData can harvest (DCAT-AP.de), with datastore.",
    options=Options,
    workloads={
        "web": Workload(Size(500, 1024)),
        "solr": Workload(Size(250, 1024), replicas={"small": 1, "medium": 1, "large": 1},
                         storage_gi={"small": 5, "medium": 10, "large": 20}),
        "cache": Workload(Size(100, 256), replicas={"small": 1, "medium": 1, "large": 1},
                          storage_gi={"small": 1, "medium": 2, "large": 5}),
    },
    databases=("ckan", "datastore"),
    public=True,
    bucket=True,
)
