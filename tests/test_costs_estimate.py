"""The estimate source prices what the municipalities declared, from the same sizing catalogue as the plan."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from catalogue.prices import load_prices
from catalogue.sizing import TENANT_PLANS, Size, Workload
from catalogue.spec import ModuleOptions, ModuleSpec
from finance.allocate import allocate
from finance.model import Cells, Key, Member, load_members, parse_period
from finance.sources.estimate import Declared, EstimateSource, declared_for, declared_totals
from tests.plan_totals import cpu_millis, gibibytes, manifest_declared, mebibytes, plan_totals

VERL_SMALL = Member("verl", "Verl", "05754044", 26000, "VERL-1100", "small", ("dashboards", "urbandata"))

# A module of known size, so that the rules are tested independently of the catalogue's current numbers.
EXAMPLE_SPEC = ModuleSpec(
    key="example", name="example", title="Example", description="", options=ModuleOptions,
    workloads={
        "web": Workload(Size(500, 1024)),  # replicas small 1, medium 2, large 3
        "index": Workload(Size(250, 512), replicas={"small": 1, "medium": 1, "large": 2},
                          storage_gi={"small": 5, "medium": 10, "large": 20}),
    },
)


@pytest.fixture
def example_module(monkeypatch):
    import finance.sources.estimate

    real = finance.sources.estimate.by_name
    monkeypatch.setattr(finance.sources.estimate, "by_name",
                        lambda name: EXAMPLE_SPEC if name == "example" else real(name))


def test_declared_totals_are_replicas_times_per_replica_size_plus_one_volume_per_replica(example_module):
    small = declared_for(Member("a", "A", "05754004", 1, "X", "small", ("example",)))
    assert small["example"] == Declared(cpu_m=500 + 250, memory_mi=1024 + 512, storage_gi=5)
    # large: web 3 replicas at ×2.0 (1000m, 2048Mi), index 2 replicas at ×2.0 (500m, 1024Mi) with 20 GiB each
    large = declared_for(Member("a", "A", "05754004", 1, "X", "large", ("example",)))
    assert large["example"] == Declared(cpu_m=3 * 1000 + 2 * 500, memory_mi=3 * 2048 + 2 * 1024, storage_gi=2 * 20)


def test_every_municipality_has_a_priced_database_cluster_and_bucket_quota(example_module):
    for plan in ("small", "medium", "large"):
        tp = TENANT_PLANS[plan]
        d = declared_for(Member("a", "A", "05754004", 1, "X", plan, ()))
        assert d["database"] == Declared(tp.db_instances * tp.db_size.cpu_m, tp.db_instances * tp.db_size.memory_mi,
                                         tp.db_instances * (tp.db_storage_gi + tp.db_wal_storage_gi))
        assert d["storage"] == Declared(object_gi=tp.bucket_quota_gi)


def test_declared_totals_cover_every_booked_module_of_every_municipality():
    members = load_members()
    totals = declared_totals(members)
    for slug, m in members.items():
        assert {mod for (s, mod) in totals if s == slug} == {*m.modules, "database", "storage"}


def test_estimate_prices_declared_quantities_with_the_unit_prices(example_module):
    prices = load_prices()
    members = {"verl": Member("verl", "Verl", "05754044", 26000, "VERL-1100", "small", ("example",))}
    one = Cells()  # a cooperation of one cell (the platform once; tests/test_finance_cells.py: several)
    a = allocate(EstimateSource(members, prices, one), members, Key("equal"), parse_period("2026-10"), cells=one)
    direct = {(ln.module, ln.resource): ln.exact for ln in a.lines_of("verl") if ln.kind == "direct"}
    assert direct[("example", "cpu")] == Decimal("0.75") * prices.unitPrices.vcpuMonth
    assert direct[("example", "memory")] == Decimal("1.5") * prices.unitPrices.ramGibMonth
    assert direct[("example", "block-storage")] == 5 * prices.unitPrices.blockStorageGibMonth
    assert direct[("storage", "object-storage")] == 100 * prices.unitPrices.objectStorageGibMonth
    # a single member carries the whole platform: fixed costs, platform components, module shares
    base = sum((f.monthly for f in prices.platform.fixed), Decimal(0)) + sum(prices.platform.modules.values(), Decimal(0))
    modules = sum((prices.module_shared(m) for m in prices.modules), Decimal(0))
    assert a.input_exact == sum(direct.values(), Decimal(0)) + base + modules


def test_a_range_estimates_every_month():
    prices = load_prices()
    members = {"verl": VERL_SMALL}
    one = allocate(EstimateSource(members, prices), members, Key("equal"), parse_period("2026-10"))
    year = allocate(EstimateSource(members, prices), members, Key("equal"), parse_period("2026-01..2026-12"))
    assert year.input_exact == 12 * one.input_exact
    assert {ln.month.month for ln in year.lines} == set(range(1, 13))


# -- the plan side --------------------------------------------------------------------------------------------


def test_kubernetes_quantities_are_read_like_the_api_server_reads_them():
    assert cpu_millis("500m") == 500 and cpu_millis(1.5) == 1500 and cpu_millis("2") == 2000
    assert mebibytes("1Gi") == 1024 and mebibytes("512Mi") == 512
    assert gibibytes("5Gi") == 5 and gibibytes("100G") == 100
    with pytest.raises(ValueError):
        cpu_millis("lots")


def test_plan_totals_count_replicas_containers_volume_templates_and_database_instances():
    labels = {"urban-stack/tenant": "verl", "urban-stack/module": "dashboards"}
    sts = {"kind": "StatefulSet", "metadata": {"labels": labels}, "spec": {
        "replicas": 2.0,  # numbers arrive as floats under the mocks
        "template": {"spec": {"containers": [
            {"resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}},
            {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}},
        ]}},
        "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "5Gi"}}}}],
    }}
    cluster = {"kind": "Cluster", "apiVersion": "postgresql.cnpg.io/v1",
               "metadata": {"labels": {**labels, "urban-stack/module": "database"}},
               "spec": {"instances": 3, "resources": {"requests": {"cpu": "1000m", "memory": "2048Mi"}},
                        "storage": {"size": "50Gi"}, "walStorage": {"size": "10Gi"}}}
    totals = plan_totals([sts, cluster, {"kind": "ConfigMap", "metadata": {"labels": labels}}])
    assert totals[("verl", "dashboards")] == Declared(600, 1152, 10)
    assert totals[("verl", "database")] == Declared(3000, 6144, 180)
    assert manifest_declared({"kind": "Service"}) is None


def _compare(plan, members: dict[str, Member]) -> list[tuple[str, str]]:
    """Assert plan == estimate for every (tenant, module) the plan requests something for; return them."""
    planned = plan_totals([r.inputs for r in plan.kube_objects()])
    estimated = declared_totals(members)
    for key, got in planned.items():
        assert key in estimated, f"{key} requests {got} in the plan but the estimate does not price it"
        assert got == estimated[key], f"{key}: plan {got} != estimate {estimated[key]}"
    return sorted(planned)


def test_estimate_and_plan_agree_for_a_municipality_without_modules(tmp_path: Path, plan_stack):
    """Database cluster and bucket quota exist for every municipality: the plan must request what we price."""
    src = Path(__file__).resolve().parent.parent / "tenants" / "verl.yaml"
    doc = yaml.safe_load(src.read_text(encoding="utf-8"))
    doc["modules"] = {}
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "verl.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    plan = plan_stack("verl", tenants_dir=tenants)
    compared = _compare(plan, load_members([tenants]))
    assert ("verl", "database") in compared
    assert ("verl", "storage") in compared  # the bucket's quota (ObjectBucketClaim in rook-ceph mode)


def test_estimate_and_plan_agree_for_the_example_municipalities(plan_stack):
    """Every (municipality, module) that requests CPU, memory or storage in the plan is priced with exactly
    those quantities. Stays correct as more objects appear: it compares whatever the plan contains."""
    members = load_members()
    compared = []
    for slug in members:
        compared += _compare(plan_stack(slug), members)
    assert {m for _, m in compared} >= {"database"}
