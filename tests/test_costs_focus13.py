"""FOCUS 1.3 allocation columns of the allocation dataset, each requirement of the specification one test.

The requirements are quoted from FOCUS_Spec 1.3, ``specification/columns/allocatedmethodid.md``,
``allocatedmethoddetails.md``, ``allocatedresourceid.md``, ``allocatedresourcename.md``, ``allocatedtags.md``.
focus-validator 1.0.0 (the only release on PyPI) knows no 1.3 column, so these tests are the 1.3 check; the 1.2
validation keeps running on a copy without them (``tests/test_costs_focus_validator.py``).
Input: the sample provider export that ships for a first ``--source focus`` try (``finance/samples/``), which has
direct, shared, untagged and idle cost, a credit and a municipality that is not a member.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import pytest

from finance import focus_export
from finance.allocate import allocate
from finance.cli import make_source
from finance.model import Key, load_members, parse_period
from finance.sources.focus import FocusSource

SAMPLE = "finance/samples/focus-2026-10.csv"
COLUMNS = focus_export.FOCUS_13_COLUMNS


@pytest.fixture(scope="module", params=["hybrid", "population", "equal", "usage"])
def dataset(request):
    members = load_members()
    a = allocate(FocusSource([SAMPLE]), members, Key(request.param), parse_period("2026-10"))
    return a, focus_export.rows(a, "Urban Stack Betrieb")


def _allocated(rows):
    return [r for r in rows if r["AllocatedMethodId"] is not None]


def _details(row) -> dict:
    return json.loads(row["AllocatedMethodDetails"], parse_float=Decimal)


def test_the_sample_export_allocates_with_shared_untagged_idle_and_an_unallocated_remainder(dataset):
    a, rows = dataset
    kinds = {e["x_PoolKind"] for r in _allocated(rows) for e in _details(r)["Elements"]}
    if a.key.name != "usage":
        assert kinds == {"shared", "untagged", "idle"}
    assert any(r["BillingAccountId"] == focus_export.UNALLOCATED_ACCOUNT for r in rows)


def test_allocatedmethodid_must_not_be_null_when_a_charge_is_related_to_a_split_cost_allocation(dataset):
    _, rows = dataset
    for r in rows:
        split = any(r[f"x_{k}Cost"] for k in ("Shared", "Untagged", "Idle"))
        assert (r["AllocatedMethodId"] is not None) == split


def test_allocatedmethodid_must_be_null_when_a_charge_is_not_related_to_a_split_cost_allocation(dataset):
    _, rows = dataset
    direct_only = [r for r in rows if r["x_DirectCost"] and not (r["x_SharedCost"] or r["x_UntaggedCost"] or r["x_IdleCost"])]
    remainder = [r for r in rows if r["BillingAccountId"] == focus_export.UNALLOCATED_ACCOUNT]
    assert remainder
    for r in [*direct_only, *remainder]:
        assert all(r[c] is None for c in COLUMNS), r


def test_allocatedmethodid_is_one_stable_documented_id_per_key(dataset):
    a, rows = dataset
    assert {r["AllocatedMethodId"] for r in _allocated(rows)} == {f"urban-stack/{a.key.name}"}
    assert {k: f"urban-stack/{k}" for k in ("equal", "population", "usage", "hybrid")} == focus_export.METHOD_IDS


def test_allocatedmethoddetails_must_have_a_top_level_key_elements_which_contains_an_array_of_objects(dataset):
    _, rows = dataset
    for r in _allocated(rows):
        details = _details(r)
        assert isinstance(details["Elements"], list) and details["Elements"]
        assert all(isinstance(e, dict) for e in details["Elements"])


def test_allocatedratio_must_be_included_in_each_element_as_a_decimal_number(dataset):
    _, rows = dataset
    for r in _allocated(rows):
        for e in _details(r)["Elements"]:
            assert isinstance(e["AllocatedRatio"], Decimal) and 0 <= e["AllocatedRatio"] <= 1


def test_allocatedratio_across_all_allocated_records_of_one_origin_charge_must_sum_to_1(dataset):
    _, rows = dataset
    ratios = defaultdict(Decimal)
    for r in _allocated(rows):
        for e in _details(r)["Elements"]:
            ratios[e["x_OriginId"]] += e["AllocatedRatio"]
    assert ratios and all(total == 1 for total in ratios.values()), ratios


def test_data_generator_defined_allocation_properties_must_begin_with_x_(dataset):
    _, rows = dataset
    for r in _allocated(rows):
        details = _details(r)
        assert all(k == "Elements" or k.startswith("x_") for k in details)
        for e in details["Elements"]:
            assert all(k == "AllocatedRatio" or k.startswith("x_") for k in e)


def test_the_details_name_the_municipalitys_share_and_the_keys_inputs(dataset):
    a, rows = dataset
    for r in _allocated(rows):
        slug = r["SubAccountId"]
        for e in _details(r)["Elements"]:
            weights = a.weights[(a.period.first, e["x_Basis"])]
            assert Decimal(e["x_MemberShare"]) == weights[slug]
            assert e["x_Members"] == len(weights)
            if e["x_Basis"].startswith("population"):
                assert e["x_Population"] == a.members[slug].population
                assert e["x_PopulationTotal"] == sum(a.members[s].population for s in weights)


def test_allocatedresourceid_must_not_be_null_for_the_allocated_portion_and_names_the_municipality(dataset):
    _, rows = dataset
    for r in _allocated(rows):
        assert r["AllocatedResourceId"] == f"urban-stack/tenant/{r['SubAccountId']}"


def test_allocatedresourceid_must_be_null_for_the_unallocated_portion(dataset):
    _, rows = dataset
    for r in rows:
        if r["BillingAccountId"] == focus_export.UNALLOCATED_ACCOUNT:
            assert r["AllocatedResourceId"] is None


def test_allocatedresourcename_must_be_null_exactly_when_allocatedresourceid_is_null(dataset):
    a, rows = dataset
    for r in rows:
        assert (r["AllocatedResourceName"] is None) == (r["AllocatedResourceId"] is None)
        if r["AllocatedResourceId"]:
            assert r["AllocatedResourceName"] == a.members[r["SubAccountId"]].name


def test_allocatedtags_must_conform_to_keyvalueformat_and_not_include_tags_already_present_in_tags(dataset):
    _, rows = dataset
    for r in _allocated(rows):
        allocated, tags = json.loads(r["AllocatedTags"]), json.loads(r["Tags"])
        assert isinstance(allocated, dict) and allocated
        assert not set(allocated) & set(tags)


def test_the_allocated_parts_add_back_to_the_billed_totals_to_the_cent(dataset):
    a, rows = dataset
    # each row: BilledCost = its direct part + the x_AllocatedCost of every pool element
    for r in rows:
        parts = sum((Decimal(e["x_AllocatedCost"]) for e in _details(r)["Elements"]), Decimal(0)) if r[
            "AllocatedMethodDetails"] else Decimal(0)
        if r["BillingAccountId"] != focus_export.UNALLOCATED_ACCOUNT:
            assert Decimal(str(r["x_DirectCost"])) + parts == Decimal(str(r["BilledCost"]))
    # each pool: the allocated parts of all municipalities = what the allocation split of it, to the cent
    split = defaultdict(int)
    for ln in a.lines:
        if ln.tenant is not None and ln.kind != "direct":
            split[ln.kind] += ln.cents
    exported = defaultdict(int)
    for r in _allocated(rows):
        for e in _details(r)["Elements"]:
            exported[e["x_PoolKind"]] += int(Decimal(e["x_AllocatedCost"]) * 100)
    assert exported == split
    # and the dataset adds up to the input total
    assert sum(Decimal(str(r["BilledCost"])) for r in rows) * 100 == a.input_cents


def test_the_estimate_dataset_carries_the_allocation_columns_too():
    from catalogue.prices import load_prices

    members = load_members()
    a = allocate(make_source("estimate", members=members, prices=load_prices()), members, Key(),
                 parse_period("2026-10"))
    rows = focus_export.rows(a, "x")
    assert _allocated(rows) and all(r["AllocatedMethodId"] == "urban-stack/hybrid" for r in _allocated(rows))


def test_the_shipped_sample_export_works_for_a_first_source_focus_try(tmp_path):
    from typer.testing import CliRunner

    from finance.cli import app

    result = CliRunner().invoke(app, ["report", "--period", "2026-10", "--source", "focus", "--input", SAMPLE,
                                      "--format", "json,focus", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    over = json.loads((tmp_path / "out" / "overview.json").read_text(encoding="utf-8"))
    assert over["reconciled"] is True and over["inputTotalCents"] == 189962
    assert over["unallocatedCents"] == 1999  # the sample's municipality that is not a member
