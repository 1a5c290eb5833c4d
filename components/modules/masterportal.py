"""masterportal: the Masterportal geoportal (static web application)."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components import k8s as kb
from components.base import HttpsUrl, ModuleOptions, ModuleSpec
from components.module import ModuleComponent
from components.sizing import Size, Workload
from components.tenant import netpol

GERMANY_BOUNDS = (5.8, 47.2, 15.1, 55.1)
"""Longitude/latitude bounding box of Germany (WGS84): west, south, east, north."""

PORT = 8080
"""nginx-unprivileged listens on 8080 (it cannot bind ports below 1024)."""
SITE = "/usr/share/nginx/html"
PORTAL_DIR = "portal"
"""Folder of the portal inside the site (next to ``mastercode/``, which its index.html loads from ``../``)."""
ARTIFACT_DIR = "/masterportal"
"""Where the Masterportal artifact image keeps the built portal (``portal/``) and ``mastercode/``."""

EPSG = "EPSG:25832"
UTM32_PROJ4 = "+title=ETRS89/UTM 32N +proj=utm +zone=32 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"
MAX_ZOOM = 20
XYZ_RESOLUTION_0 = 156543.03392804097
"""Resolution (m/px) of zoom level 0 of common web maps (OpenStreetMap/XYZ tiles); each level halves it."""
METERS_PER_INCH = 0.0254
DPI = 96
DEFAULT_BASEMAP = {
    "id": "basemap_de", "name": "basemap.de Web Raster", "type": "WMS",
    "url": "https://sgx.geodatenzentrum.de/wms_basemapde", "layers": "de_basemapde_web_raster_farbe",
    "visible": True, "baselayer": True,
}
"""Base map when the tenant file names none: basemap.de (BKG, open data, nationwide)."""


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


# -- coordinates ----------------------------------------------------------------------------------------

_A = 6378137.0
_F = 1 / 298.257222101
"""GRS80 ellipsoid (ETRS89)."""


def to_utm32(lon: float, lat: float) -> tuple[float, float]:
    """ETRS89 geographic → ETRS89 / UTM zone 32N (EPSG:25832) with Krüger's series (sub-millimetre in Germany)."""
    n = _F / (2 - _F)
    big_a = _A / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    alpha = (n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16, 13 * n**2 / 48 - 3 * n**3 / 5, 61 * n**3 / 240)
    phi, lam = math.radians(lat), math.radians(lon - 9.0)
    e = math.sqrt(_F * (2 - _F))
    t = math.sinh(math.atanh(math.sin(phi)) - e * math.atanh(e * math.sin(phi)))
    xi, eta = math.atan2(t, math.cos(lam)), math.atanh(math.sin(lam) / math.sqrt(1 + t * t))
    xi_sum = xi + sum(a * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, a in enumerate(alpha, 1))
    eta_sum = eta + sum(a * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, a in enumerate(alpha, 1))
    k0 = 0.9996
    return 500000.0 + k0 * big_a * eta_sum, k0 * big_a * xi_sum


def germany_extent() -> list[float]:
    """Germany's bounding box in EPSG:25832 (the map may not be moved outside it)."""
    w, s, e, n = GERMANY_BOUNDS
    points = [to_utm32(lon, lat) for lon in (w, (w + e) / 2, e) for lat in (s, n)]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))]


def zoom_levels() -> list[dict]:
    """The portal's zoom levels 0–20: the resolutions of common web maps, with the 96-dpi scale Masterportal uses."""
    out = []
    for z in range(MAX_ZOOM + 1):
        resolution = XYZ_RESOLUTION_0 / 2**z
        out.append({"resolution": resolution, "scale": round(resolution * DPI / METERS_PER_INCH), "zoomLevel": z})
    return out


# -- Masterportal configuration ------------------------------------------------------------------------

def service_entry(layer: Layer) -> dict:
    """One entry of ``services.json`` (Masterportal's global layer list), per upstream's services.json docs."""
    common = {"id": layer.id, "name": layer.name, "typ": layer.type, "layerAttribution": "nicht vorhanden",
              "legendURL": "", "datasets": False}
    if layer.type == "WMS":
        return {**common, "url": str(layer.url), "layers": layer.layers, "format": "image/png", "version": "1.3.0",
                "singleTile": False, "transparent": not layer.baselayer, "tilesize": "512", "gutter": "0",
                "minScale": "0", "maxScale": "100000000", "infoFormat": "text/xml", "gfiAttributes": "showAll",
                "gfiTheme": "default", "featureCount": "1"}
    if layer.type == "WFS":
        return {**common, "url": str(layer.url), "featureType": layer.layers, "featureNS": layer.featureNS,
                "version": "2.0.0", "gfiAttributes": "showAll", "gfiTheme": "default"}
    return {**common, "capabilitiesUrl": str(layer.url), "layers": layer.layers, "optionsFromCapabilities": True}


def portal_files(options: Options, municipality: str) -> dict[str, str]:
    """The portal's configuration files, generated from the module's options in the tenant file."""
    layers = list(options.layers)
    if not any(layer.baselayer for layer in layers):
        layers.insert(0, Layer(**DEFAULT_BASEMAP))
    title = options.title or f"Geoportal {municipality}"
    easting, northing = to_utm32(*options.center)

    def element(layer: Layer) -> dict:
        return {"id": layer.id, "name": layer.name, "visibility": layer.visible, "showInLayerTree": True}

    config = {
        "portalConfig": {
            "map": {
                "controls": {"zoom": True, "orientation": {"zoomMode": "once"}, "fullScreen": True},
                "mapView": {
                    "epsg": EPSG,
                    "startCenter": [round(easting, 2), round(northing, 2)],
                    "extent": germany_extent(),
                    "startZoomLevel": options.zoom,
                    "options": zoom_levels(),
                },
            },
            "mainMenu": {
                "expanded": True,
                "title": {"text": title},
                "searchBar": {"searchInterfaces": [{"type": "topicTree"}]},
                "sections": [[{"type": "fileImport"}, {"type": "shareView"}]],
            },
            "secondaryMenu": {"expanded": False, "sections": [[{"type": "legend"}, {"type": "measure"}]]},
        },
        "layerConfig": {
            "baselayer": {"elements": [element(layer) for layer in layers if layer.baselayer]},
            "subjectlayer": {"elements": [element(layer) for layer in layers if not layer.baselayer]},
        },
    }
    config_js = {
        "namedProjections": [[EPSG, UTM32_PROJ4]],
        "layerConf": "./services.json",
        "restConf": "./rest-services.json",
        "styleConf": "./style.json",
        "portalLanguage": {"enabled": True, "debug": False, "languages": {"de": "Deutsch", "en": "English"},
                           "fallbackLanguage": "de",
                           "changeLanguageOnStartWhen": ["querystring", "localStorage", "htmlTag"]},
    }
    return {
        "config.json": json.dumps(config, indent=2, ensure_ascii=False) + "\n",
        "services.json": json.dumps([service_entry(layer) for layer in layers], indent=2, ensure_ascii=False) + "\n",
        "rest-services.json": "[]\n",
        "style.json": "[]\n",
        "config.js": "// Generated by Urban Stack (components/modules/masterportal.py).\n"
                     f"// eslint-disable-next-line no-unused-vars\nconst Config = {json.dumps(config_js, indent=4)};\n",
    }


NGINX_CONF = f"""\
# Generated by Urban Stack (components/modules/masterportal.py): static files only.
server {{
    listen {PORT};
    server_name _;
    root {SITE};
    absolute_redirect off;
    server_tokens off;
    add_header X-Content-Type-Options nosniff always;
    add_header Referrer-Policy strict-origin-when-cross-origin always;

    location = / {{ return 302 /{PORTAL_DIR}/; }}
    location = /healthz {{ access_log off; default_type text/plain; return 200 "ok\\n"; }}
    location ~ \\.(json|js)$ {{ add_header Cache-Control "no-cache" always; try_files $uri =404; }}
    location / {{ try_files $uri $uri/ =404; }}
}}
"""


class Component(ModuleComponent):
    """The Masterportal, served as static files by nginx (``nginxinc/nginx-unprivileged``, port 8080).

    * **The build**: an artifact image this project builds from the pinned upstream release
      (``images/masterportal/Dockerfile``; why: ``docs/decisions/0003-images-built-by-the-platform.md``) holds
      ``/masterportal/portal`` (the built example portal) and ``/masterportal/mastercode/<version>``. An init
      container copies it into an ``emptyDir`` and adds the generated configuration; nothing is downloaded at run
      time.
    * **Configuration** from the tenant file: ``config.json`` (title, map centre, zoom, layer tree with
      base and subject layers), ``services.json`` (one entry per layer: WMS/WFS/WMTS per upstream's
      services.json docs), ``config.js`` (paths, projection) in a ConfigMap. The map is in ETRS89/UTM 32N
      (EPSG:25832), Masterportal's default; the centre is converted from WGS84 here, the extent is
      Germany, and zoom levels are those of common web maps. Without a base map in the tenant file the
      portal offers basemap.de (BKG). The pod template carries a hash of the configuration, so a change of
      the tenant file rolls the pods.
    * **Access**: public read, no login (``SPEC.oidc=False``). The browser loads map layers directly from
      the services (HTTPS only, validated), so the pods need no egress at all.
    * nginx runs as UID 10001 with a read-only root filesystem; ``/tmp`` and ``/var/cache/nginx`` are
      ``emptyDir``s, the site is mounted read-only.
    """

    SPEC = SPEC

    def build(self) -> None:
        files = portal_files(self.options, self.ctx.tenant.name)
        self.config_map("config", files)
        self.config_map("nginx", {"default.conf": NGINX_CONF})
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode() + NGINX_CONF.encode()).hexdigest()
        site = {"site": (SITE, True, None)}
        copy = kb.Container(
            name="copy-portal", image="masterportal", size=Size(50, 64),
            command=["sh", "-c", f"cp -R {ARTIFACT_DIR}/. /site/ && cp /config/* /site/{PORTAL_DIR}/"],
            mounts={"site": ("/site", False, None), "config": ("/config", True, None)},
        )
        web = kb.Container(
            name="nginx", image="nginx-unprivileged", size=self.size("web"), ports={"http": PORT},
            mounts={**site, "nginx": ("/etc/nginx/conf.d", True, None)},
            writable=["/tmp", "/var/cache/nginx"],
            liveness=kb.Probe(port="http", path="/healthz", initial_delay=5),
            readiness=kb.Probe(port="http", path=f"/{PORTAL_DIR}/config.json", initial_delay=2),
        )
        self.workload(
            "web", [web], init=[copy], annotations={"urban-stack/config-sha256": digest},
            volumes=[
                {"name": "site", "emptyDir": {"sizeLimit": "512Mi"}},
                {"name": "config", "configMap": {"name": self.name("config")}},
                {"name": "nginx", "configMap": {"name": self.name("nginx")}},
            ],
        )
        self.service("web", {"http": PORT})
        self.route("web", PORT)
        self.policy("web", ingress=[netpol.from_gateway(PORT)], egress=[])
