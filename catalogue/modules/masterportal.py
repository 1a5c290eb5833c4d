"""masterportal: the Masterportal geoportal (static web application).

What the catalogue knows of the module: its options in the tenant file and its spec. The component that
builds it is ``components/modules/masterportal.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from catalogue.sizing import Size, Workload
from catalogue.spec import HttpsUrl, ModuleOptions, ModuleSpec

GERMANY_BOUNDS = (5.8, 47.2, 15.1, 55.1)
"""Longitude/latitude bounding box of Germany (WGS84): west, south, east, north."""

MAX_ZOOM = 20

class Layer(ModuleOptions):
    """One map layer offered by the geoportal."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Layer ID, unique within the portal.")
    name: str = Field(min_length=1, max_length=100, description="Name shown in the layer tree.")
    type: Literal["WMS", "WFS", "WMTS"] = Field("WMS", description="OGC service type.")
    url: HttpsUrl = Field(description="Service URL; must be https. For WMTS: the URL of the capabilities document.")
    layers: str = Field(min_length=1, description="Layer name(s) in the service (comma-separated for WMS; "
                                                  "the feature type for WFS).")
    visible: bool = Field(False, description="Shown when the portal opens.")
    baselayer: bool = Field(False, description="Offer as a base map (background) instead of a subject layer.")
    featureNS: str | None = Field(None, min_length=1, description="WFS only (required there): the feature type's "
                                                                  "namespace URI from the service's capabilities.")

    @model_validator(mode="after")
    def _wfs_namespace(self):
        if self.type == "WFS" and not self.featureNS:
            raise ValueError("a WFS layer needs featureNS (the namespace URI of its feature type)")
        if self.type != "WFS" and self.featureNS:
            raise ValueError("featureNS applies to WFS layers only")
        return self

class Options(ModuleOptions):
    """Options of the `masterportal` module."""

    title: str | None = Field(None, max_length=100, description="Portal title; default: 'Geoportal <name>'.")
    center: tuple[float, float] = Field(
        (8.38, 51.9), description="Map centre as [longitude, latitude] (WGS84), within Germany."
    )
    zoom: int = Field(6, ge=0, le=MAX_ZOOM, description="Initial zoom level (0–20), as on common web maps "
                                                        "(OpenStreetMap): 6 shows Germany, 12 a town.")
    layers: list[Layer] = Field(default_factory=list, max_length=200,
                                description="Layers of the portal. Without a base map, basemap.de is offered.")

    @field_validator("center")
    @classmethod
    def _in_germany(cls, v):
        lon, lat = v
        w, s, e, n = GERMANY_BOUNDS
        if not (w <= lon <= e and s <= lat <= n):
            raise ValueError(f"centre ({lon}, {lat}) lies outside Germany ({w}–{e} E, {s}–{n} N)")
        return v

    @field_validator("layers")
    @classmethod
    def _unique_ids(cls, v):
        ids = [layer.id for layer in v]
        if len(set(ids)) != len(ids):
            raise ValueError("layer ids must be unique")
        return v

SPEC = ModuleSpec(
    key="masterportal",
    name="masterportal",
    title="Geoportal (Masterportal)",
    description="The Masterportal geoportal with the municipality's map layers, public read access.",
    options=Options,
    workloads={"web": Workload(Size(50, 64))},
    oidc=False,
    public=True,
    data_stores=(),  # map layers come from the tenant file and external services; nothing is stored
)
