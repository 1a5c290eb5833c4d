"""masterportal: the Masterportal geoportal as static files, configured from the tenant file, public.

Plans use tenant files written for each test (only this module booked) so that the statements hold
independently of the other modules; option validation goes through the real tenant loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from catalogue.modules.masterportal import SPEC
from catalogue.tenants import TenantError, load_all
from catalogue.versions import IMAGES
from components.modules.masterportal import germany_extent, to_utm32, zoom_levels
from tests.module_contract import check_module, tenant_document
from tests.plan_files import add_installed_crds
from urbanstack.checks import schemas
from urbanstack.checks.base import load_plan
from urbanstack.engine.plan import write_plan

SLUG = "contract"
WMS = {"id": "bplan", "name": "Bebauungspläne", "type": "WMS", "url": "https://geo.example.org/wms",
       "layers": "bplan", "visible": True}


def write_tenant(tmp_path, options: dict, key: str = "masterportal") -> Path:
    folder = tmp_path / "tenants"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SLUG}.yaml").write_text(yaml.safe_dump(tenant_document({key: options}), allow_unicode=True),
                                         encoding="utf-8")
    return folder


def plan_with(plan_stack, tmp_path, options: dict, key: str = "masterportal"):
    folder = write_tenant(tmp_path, options, key)
    return plan_stack(SLUG, tenants_dir=folder), load_all([folder])[SLUG]


def files(plan) -> dict:
    (cm,) = plan.find("ConfigMap", "masterportal-config")
    return cm.inputs["data"]


def pod(plan) -> dict:
    (dep,) = plan.find("Deployment", "masterportal-web")
    return dep.inputs["spec"]["template"]


@pytest.fixture
def portal(plan_stack, tmp_path):
    return plan_with(plan_stack, tmp_path, {
        "title": "Geoportal Testhausen", "center": [8.3834, 51.9066], "zoom": 12,
        "layers": [
            {"id": "dtk", "name": "DTK", "type": "WMTS", "url": "https://wmts.example.org/WMTSCapabilities.xml",
             "layers": "dtk", "baselayer": True, "visible": True},
            WMS,
            {"id": "trees", "name": "Bäume", "type": "WFS", "url": "https://geo.example.org/wfs",
             "layers": "baeume", "featureNS": "http://example.org/trees"},
        ],
    })


def test_the_module_honours_the_module_contract(portal):
    plan, tenant = portal
    assert check_module(plan, SPEC, tenant) == []


def test_a_municipality_without_masterportal_gets_no_geoportal(plan_stack, tmp_path):
    plan, _ = plan_with(plan_stack, tmp_path, {}, key="lowCode")
    assert not [r for r in plan.kube_objects()
                if (r.inputs["metadata"].get("labels") or {}).get("urban-stack/module") == "masterportal"]


def test_config_json_carries_the_title_and_the_map_centre_from_the_tenant_file(portal):
    plan, _ = portal
    config = json.loads(files(plan)["config.json"])
    assert config["portalConfig"]["mainMenu"]["title"]["text"] == "Geoportal Testhausen"
    view = config["portalConfig"]["map"]["mapView"]
    assert view["epsg"] == "EPSG:25832"
    # Reference: PROJ (pyproj 3.7) EPSG:4326 -> EPSG:25832 gives 457582.230 / 5750829.714 for this point.
    assert view["startCenter"] == [457582.23, 5750829.71]
    assert view["startZoomLevel"] == 12
    assert view["options"][12] == {"resolution": 156543.03392804097 / 2**12, "scale": 144448, "zoomLevel": 12}


def test_the_map_may_move_within_germany_only():
    west, south, east, north = germany_extent()
    for lon, lat in [(5.8, 47.2), (15.1, 55.1), (6.0, 54.9), (15.0, 47.3)]:
        x, y = to_utm32(lon, lat)
        assert west <= x <= east and south <= y <= north


def test_the_conversion_to_utm_32_matches_proj():
    # Reference values from PROJ (pyproj 3.7, EPSG:4326 -> EPSG:25832).
    for (lon, lat), (x, y) in {(9.0, 50.0): (500000.0, 5538630.7027), (13.4, 52.52): (798473.8018, 5827979.1881),
                               (5.8, 47.2): (257637.0214, 5232358.1927)}.items():
        got = to_utm32(lon, lat)
        assert abs(got[0] - x) < 0.001 and abs(got[1] - y) < 0.001


def test_zoom_levels_follow_common_web_maps_with_masterportal_96_dpi_scales():
    levels = zoom_levels()
    assert [lv["zoomLevel"] for lv in levels] == list(range(21))
    assert levels[8]["scale"] == 2311167  # upstream's config.json docs example for this resolution


def test_layers_become_services_json_entries_and_the_layer_tree(portal):
    plan, _ = portal
    services = {s["id"]: s for s in json.loads(files(plan)["services.json"])}
    assert services["bplan"]["typ"] == "WMS" and services["bplan"]["url"] == "https://geo.example.org/wms"
    assert services["bplan"]["layers"] == "bplan" and services["bplan"]["transparent"] is True
    assert services["trees"]["typ"] == "WFS" and services["trees"]["featureType"] == "baeume"
    assert services["trees"]["featureNS"] == "http://example.org/trees"
    assert services["dtk"] == {**{k: services["dtk"][k] for k in ("layerAttribution", "legendURL", "datasets")},
                               "id": "dtk", "name": "DTK", "typ": "WMTS", "layers": "dtk",
                               "capabilitiesUrl": "https://wmts.example.org/WMTSCapabilities.xml",
                               "optionsFromCapabilities": True}
    tree = json.loads(files(plan)["config.json"])["layerConfig"]
    assert [e["id"] for e in tree["baselayer"]["elements"]] == ["dtk"]
    assert [(e["id"], e["visibility"]) for e in tree["subjectlayer"]["elements"]] == [("bplan", True), ("trees", False)]


def test_without_a_base_map_the_portal_offers_basemap_de(plan_stack, tmp_path):
    plan, _ = plan_with(plan_stack, tmp_path, {"layers": [WMS]})
    tree = json.loads(files(plan)["config.json"])["layerConfig"]
    assert [e["id"] for e in tree["baselayer"]["elements"]] == ["basemap_de"]
    services = {s["id"]: s for s in json.loads(files(plan)["services.json"])}
    assert services["basemap_de"]["url"] == "https://sgx.geodatenzentrum.de/wms_basemapde"


def test_the_default_title_names_the_municipality(plan_stack, tmp_path):
    plan, tenant = plan_with(plan_stack, tmp_path, {})
    assert json.loads(files(plan)["config.json"])["portalConfig"]["mainMenu"]["title"]["text"] == f"Geoportal {tenant.name}"


def test_config_js_points_the_portal_at_the_generated_files(portal):
    plan, _ = portal
    js = files(plan)["config.js"]
    assert js.splitlines()[-1] == "};" and "const Config = {" in js
    config = json.loads(js.split("const Config = ", 1)[1].rstrip().rstrip(";"))
    assert config["layerConf"] == "./services.json"
    assert config["namedProjections"][0][0] == "EPSG:25832"


def test_the_static_build_is_copied_from_the_pinned_artifact_image_and_served_read_only(portal):
    plan, _ = portal
    spec = pod(plan)["spec"]
    (init,) = spec["initContainers"]
    registry = "registry.urbanstack.kreis-guetersloh.example/urban-stack"  # stacks/Pulumi.shared.yaml imageRegistry
    assert init["image"] == f"{registry}/masterportal:{IMAGES['masterportal'].tag}"
    assert "cp -R /masterportal/. /site/" in init["command"][-1]
    (web,) = spec["containers"]
    assert web["image"].startswith("docker.io/nginxinc/nginx-unprivileged:")
    assert web["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "site", "mountPath": "/usr/share/nginx/html", "readOnly": True} in web["volumeMounts"]
    assert {m["mountPath"] for m in web["volumeMounts"]} >= {"/tmp", "/var/cache/nginx"}
    assert web["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_a_change_of_the_options_rolls_the_pods(plan_stack, tmp_path):
    first, _ = plan_with(plan_stack, tmp_path / "a", {"zoom": 8})
    second, _ = plan_with(plan_stack, tmp_path / "b", {"zoom": 9})
    key = "urban-stack/config-sha256"
    assert pod(first)["metadata"]["annotations"][key] != pod(second)["metadata"]["annotations"][key]


def test_the_geoportal_is_public_without_login_and_needs_no_egress(portal):
    plan, tenant = portal
    assert SPEC.oidc is False and SPEC.public is True
    assert not plan.find("Secret", "masterportal-oidc")
    (route,) = plan.find("HTTPRoute", "masterportal")
    assert route.inputs["spec"]["hostnames"] == [f"masterportal.{tenant.domain}"]
    (policy,) = plan.find("NetworkPolicy", "masterportal-web")
    assert policy.inputs["spec"]["egress"] == []
    assert [p["port"] for p in policy.inputs["spec"]["ingress"][0]["ports"]] == [8080]


def test_every_object_validates_against_the_kubernetes_and_crd_schemas(portal, tmp_path, real_plan_dir):
    plan, _ = portal
    write_plan([plan], tmp_path / "plan")
    add_installed_crds(tmp_path / "plan", real_plan_dir)  # the CRDs shared installs
    mine = {f"{r.inputs['kind'].lower()}-{SLUG}-{r.inputs['metadata']['name']}" for r in plan.kube_objects()
            if (r.inputs["metadata"].get("labels") or {}).get("urban-stack/module") == "masterportal"}
    assert mine <= {p.stem for p in (tmp_path / "plan" / SLUG).glob("*.yaml")}
    failures = [f for f in schemas.run(load_plan(tmp_path / "plan")).failures if Path(f.file).stem in mine]
    assert failures == []


@pytest.mark.parametrize("options, field, message", [
    ({"center": [2.35, 48.85]}, "center", "lies outside Germany"),
    ({"zoom": 21}, "zoom", "less than or equal to 20"),
    ({"layers": [{**WMS, "url": "http://geo.example.org/wms"}]}, "layers.0.url", "must use https"),
    ({"layers": [dict(WMS), dict(WMS)]}, "layers", "layer ids must be unique"),
    ({"layers": [{**WMS, "type": "WFS"}]}, "layers.0", "needs featureNS"),
    ({"layers": [{**WMS, "featureNS": "http://x"}]}, "layers.0", "featureNS applies to WFS layers only"),
])
def test_bad_options_are_rejected_naming_the_file_and_field(tmp_path, options, field, message):
    folder = write_tenant(tmp_path, options)
    with pytest.raises(TenantError) as err:
        load_all([folder])
    text = str(err.value)
    assert f"{SLUG}.yaml:" in text and f"modules.masterportal.{field}" in text and message in text, text


def test_the_example_municipality_books_a_portal_centred_on_guetersloh_with_basemap_de_as_base_map():
    options = load_all()["guetersloh"].booked()["masterportal"]
    assert options.center == (8.3834, 51.9066)
    assert [(layer.id, layer.baselayer) for layer in options.layers] == [("basemap", True)]
