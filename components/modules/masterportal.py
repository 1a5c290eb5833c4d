"""masterportal: the Masterportal geoportal (static web application)."""

from __future__ import annotations

import hashlib
import json
import math

from catalogue.modules.masterportal import GERMANY_BOUNDS, MAX_ZOOM, SPEC, Layer, Options
from catalogue.sizing import Size
from components import k8s as kb
from components.module import ModuleComponent
from components.tenant import netpol

PORT = 8080
"""nginx-unprivileged listens on 8080 (it cannot bind ports below 1024)."""
SITE = "/usr/share/nginx/html"
PORTAL_DIR = "portal"
"""Folder of the portal inside the site (next to ``mastercode/``, which its index.html loads from ``../``)."""
ARTIFACT_DIR = "/masterportal"
"""Where the Masterportal artifact image keeps the built portal (``portal/``) and ``mastercode/``."""

EPSG = "EPSG:25832"
UTM32_PROJ4 = "+title=ETRS89/UTM 32N +proj=utm +zone=32 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs"
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
