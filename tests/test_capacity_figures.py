"""docs/capacity.md states what the plan puts on the cluster; these tests keep its measured figures true.

The block between the markers is what ``scripts/capacity_figures.py`` prints for the shared stack and three synthetic
municipalities that book every module (plans medium, large, small), and the summary table at the top of the guide
quotes the scaled rows of that block. When the plan changes (a module, a size, a chart), run
``.venv/bin/python -m scripts.capacity_figures --write`` and update the summary rows it names.
"""

from __future__ import annotations

import re

import pytest

from catalogue.paths import ROOT
from scripts import capacity_figures as cf

GUIDE = ROOT / "docs" / "capacity.md"


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> list[cf.StackFigures]:
    return cf.figures(*cf.plan_synthetic(tmp_path_factory.mktemp("capacity")))


def test_the_guides_generated_block_is_what_the_plan_measures_today(planned):
    assert cf.generated_block(GUIDE) == cf.markdown(planned), (
        "docs/capacity.md: its measured figures no longer match the plan: run "
        "`.venv/bin/python -m scripts.capacity_figures --write` and check the summary table at its top")


def test_the_summary_table_quotes_the_scaled_rows_of_the_block():
    text = GUIDE.read_text(encoding="utf-8")
    block = cf.generated_block(GUIDE)
    for row in ("CPU requested", "memory requested", "pods running", "API objects in the plan"):
        line = next(x for x in text.splitlines() if x.startswith(f"| {row}"))
        numbers = re.findall(r"\d[\d,]*(?: (?:GiB|MiB))?", line.split("|", 2)[2].rsplit("|", 2)[0])
        assert numbers, line
        for number in numbers:
            assert f"| {number} |" in block or f"| {number} " in block, f"docs/capacity.md: {row}: {number}"


def test_a_pod_counts_its_app_containers_and_sidecars_or_its_largest_one_shot_init_container():
    def c(cpu, mem, **extra):
        return {"name": "x", "resources": {"requests": {"cpu": cpu, "memory": mem},
                                           "limits": {"cpu": cpu, "memory": mem}}, **extra}

    steady = cf.pod_resources({"containers": [c("500m", "1Gi")],
                               "initContainers": [c("100m", "64Mi", restartPolicy="Always")]})
    assert (steady.cpu_req, steady.mem_req) == (600, 1088)
    migration = cf.pod_resources({"containers": [c("200m", "256Mi")], "initContainers": [c("2", "128Mi")]})
    assert (migration.cpu_req, migration.mem_req) == (2000, 256)  # the init container's CPU, the app's memory


def test_quantities_are_read_as_kubernetes_writes_them():
    assert [cf.cpu_m(v) for v in ("250m", "1", "1.5", 2)] == [250, 1000, 1500, 2000]
    assert [cf.mib(v) for v in ("512Mi", "1Gi", "1048576")] == [512, 1024, 1]
    with pytest.raises(ValueError, match="not a CPU quantity"):
        cf.cpu_m("1Gi")
