"""masterportal: the Masterportal geoportal (static web application)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, field_validator

from components.base import ModuleOptions, ModuleSpec
from components.sizing import Size, Workload

GERMANY_BOUNDS = (5.8, 47.2, 15.1, 55.1)
"""Longitude/latitude bounding box of Germany (WGS84): west, south, east, north."""


class Layer(ModuleOptions):
    """One map layer offered by the geoportal."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Layer ID, unique within the portal.")
    name: str = Field(min_length=1, max_length=100, description="Name shown in the layer tree.")
    type: Literal["WMS", "WFS", "WMTS"] = Field("WMS", description="OGC service type.")
    url: HttpUrl = Field(description="Service URL; must be https.")
    layers: str = Field(min_length=1, description="Layer name(s) in the service (comma-separated for WMS).")
    visible: bool = Field(False, description="Shown when the portal opens.")

    @field_validator("url")
    @classmethod
    def _https(cls, v):
        if v.scheme != "https":
            raise ValueError("layer URLs must use https")
        return v


class Options(ModuleOptions):
    """Options of the `masterportal` module."""

    title: str | None = Field(None, max_length=100, description="Portal title; default: 'Geoportal <name>'.")
    center: tuple[float, float] = Field(
        (8.38, 51.9), description="Map centre as [longitude, latitude] (WGS84), within Germany."
    )
    zoom: int = Field(6, ge=0, le=20, description="Initial zoom level (0–20).")
    layers: list[Layer] = Field(default_factory=list, max_length=200, description="Layers of the portal.")

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
)
