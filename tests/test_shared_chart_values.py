"""Chart values of the shared stack read against the pinned charts themselves (``vendor/charts/<chart>-<version>``).

Helm merges our values over the chart's ``values.yaml``; what a template renders depends on the merged result.
These tests merge the way Helm does (maps deep, everything else replaced, ``null`` deletes) and apply the
template's own condition, quoted next to each test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.versions import CHARTS

ROOT = Path(__file__).resolve().parent.parent


def chart_dir(key: str) -> Path:
    spec = CHARTS[key]
    return ROOT / "vendor" / "charts" / f"{spec.chart.rsplit('/', 1)[-1]}-{spec.version}"


def helm_merge(defaults: Any, values: Any) -> Any:
    """Helm's coalescing of user values over chart defaults."""
    if not (isinstance(defaults, dict) and isinstance(values, dict)):
        return values
    out = dict(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = helm_merge(defaults.get(key), value)
    return out


def merged_values(plan, key: str) -> dict:
    found = [r for r in plan.of_type("kubernetes:helm.sh/v4:Chart") if r.name == key]
    assert len(found) == 1
    defaults = yaml.safe_load((chart_dir(key) / "values.yaml").read_text(encoding="utf-8"))
    return helm_merge(defaults, found[0].inputs["values"])


def truthy(value: Any) -> bool:
    """Go template truthiness (``{{ if x }}``): nil, false, 0, "" and empty collections are false."""
    return bool(value)


@pytest.fixture(scope="module")
def production(plan_stack):
    return plan_stack("shared")


def test_the_pinned_charts_are_the_ones_read_here():
    for key in ("kube-prometheus-stack", "opencost"):
        meta = yaml.safe_load((chart_dir(key) / "Chart.yaml").read_text(encoding="utf-8"))
        assert meta["version"].lstrip("v") == CHARTS[key].version.lstrip("v")


@pytest.mark.parametrize("section", ["prometheus", "alertmanager"])
def test_prometheus_and_alertmanager_budgets_set_exactly_one_of_min_available_and_max_unavailable(production,
                                                                                                    section):
    # templates/{prometheus,alertmanager}/podDisruptionBudget.yaml of kube-prometheus-stack 79.7.1:
    #   {{- if .Values.<section>.podDisruptionBudget.minAvailable }} minAvailable: ...
    #   {{- if .Values.<section>.podDisruptionBudget.maxUnavailable }} maxUnavailable: ...
    # The API server rejects a PodDisruptionBudget that sets both.
    template = (chart_dir("kube-prometheus-stack") / "templates" / section / "podDisruptionBudget.yaml").read_text()
    assert f"if .Values.{section}.podDisruptionBudget.minAvailable" in template
    assert f"if .Values.{section}.podDisruptionBudget.maxUnavailable" in template
    pdb = merged_values(production, "kube-prometheus-stack")[section]["podDisruptionBudget"]
    assert pdb["enabled"] is True, "production runs several replicas behind a budget"
    rendered = [field for field in ("minAvailable", "maxUnavailable") if truthy(pdb.get(field))]
    assert rendered == ["maxUnavailable"]
    assert pdb["maxUnavailable"] == 1


def test_opencost_writes_its_config_path_on_a_writable_volume_under_a_read_only_root(production):
    # templates/deployment.yaml of opencost 2.4.1: CONFIG_PATH = customPricing.configPath, the pricing file is
    # mounted read-only into it by subPath; extraVolumeMounts/extraVolumes are added as they are.
    values = merged_values(production, "opencost")
    exporter = values["opencost"]["exporter"]
    assert exporter["securityContext"]["readOnlyRootFilesystem"] is True
    config_path = values["opencost"]["customPricing"]["configPath"]
    mounts = {m["mountPath"]: m["name"] for m in exporter["extraVolumeMounts"]}
    assert config_path in mounts, "CONFIG_PATH has a volume of its own"
    volumes = {v["name"]: v for v in values["extraVolumes"]}
    assert "emptyDir" in volumes[mounts[config_path]]
