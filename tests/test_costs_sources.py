"""Cost sources: FOCUS files (CSV, gzip, Parquet, S3), AWS Cost Explorer, OpenCost; bad input is never dropped."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from moto import mock_aws

from finance.allocate import allocate
from finance.cli import make_source
from finance.model import FinanceError, Key, Member, parse_period
from finance.sources import CostSource
from finance.sources.aws import AwsCostExplorerSource
from finance.sources.focus import FocusSource
from finance.sources.opencost import OpenCostSource

MEMBERS = {
    "aa": Member("aa", "Alpha", "05754004", 60000, "A-1", "small", ("dashboards",)),
    "bb": Member("bb", "Beta", "05754008", 40000, "B-1", "small", ()),
}
OCT = parse_period("2026-10")
HEADER = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceName,Tags\n"


def row(cost: str, tags: str = '{"urban-stack/tenant": "aa"}', currency: str = "EUR", start: str = "2026-10-01T00:00:00Z",
        category: str = "Usage", service: str = "Compute") -> str:
    return f'{cost},{currency},{start},{category},{service},"{tags.replace(chr(34), chr(34) * 2)}"\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def alloc(source, members=MEMBERS, key=Key("equal")):
    return allocate(source, members, key, OCT)


def test_every_source_implements_the_one_interface(tmp_path):
    sources = [make_source("estimate", members=MEMBERS, prices=None), FocusSource([tmp_path / "x.csv"]),
               AwsCostExplorerSource(client=object()), OpenCostSource([tmp_path / "x.json"])]
    assert all(isinstance(s, CostSource) for s in sources)
    with pytest.raises(FinanceError, match="--source: 'gcp'"):
        make_source("gcp")


# -- FOCUS formats ----------------------------------------------------------------------------------------


def test_focus_csv_gzip_and_parquet_give_the_same_allocation(tmp_path):
    text = HEADER + row("10.50") + row("4.50", '{"urban-stack/tenant": "bb"}') + row("1.00", '{"urban-stack/tenant": "shared"}')
    csv_path = write(tmp_path / "bill.csv", text)
    gz_path = tmp_path / "bill.csv.gz"
    gz_path.write_bytes(gzip.compress(text.encode()))
    table = pa.table({
        "BilledCost": pa.array([10.5, 4.5, 1.0], pa.float64()),
        "BillingCurrency": ["EUR"] * 3,
        "ChargePeriodStart": pa.array([pa.scalar(1790812800, pa.timestamp("s", tz="UTC")).as_py()] * 3,
                                      pa.timestamp("s", tz="UTC")),  # 2026-10-01T00:00:00Z
        "ChargeCategory": ["Usage"] * 3,
        "ServiceName": ["Compute"] * 3,
        # FOCUS Parquet exports may carry Tags as a map
        "Tags": pa.array([[("urban-stack/tenant", "aa")], [("urban-stack/tenant", "bb")],
                          [("urban-stack/tenant", "shared")]], pa.map_(pa.string(), pa.string())),
    })
    pq_path = tmp_path / "bill.parquet"
    pq.write_table(table, pq_path)
    results = [alloc(FocusSource([p])) for p in (csv_path, gz_path, pq_path)]
    for a in results:
        assert (a.total_cents("aa"), a.total_cents("bb"), a.input_cents) == (1100, 500, 1600)


def test_several_files_are_read_as_one_input(tmp_path):
    a = write(tmp_path / "a.csv", HEADER + row("1.00"))
    b = write(tmp_path / "b.csv", HEADER + row("2.00", '{"urban-stack/tenant": "bb"}'))
    result = alloc(FocusSource([a, b]))
    assert result.total_cents("aa") == 100 and result.total_cents("bb") == 200 and result.input_rows == 2


def test_a_custom_x_column_can_carry_the_tenant(tmp_path):
    path = write(tmp_path / "x.csv", "BilledCost,BillingCurrency,ChargePeriodStart,ServiceName,x_Tenant\n"
                                     "3.00,EUR,2026-10-02T00:00:00Z,Compute,bb\n1.00,EUR,2026-10-02T00:00:00Z,Compute,\n")
    a = alloc(FocusSource([path], tag_column="x_Tenant"))
    assert a.total_cents("bb") == 350 and a.total_cents("aa") == 50  # the untagged euro split equally


def test_focus_from_s3_through_boto3(tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(Bucket="billing", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        s3.put_object(Bucket="billing", Key="focus/2026-10/part-0.csv.gz",
                      Body=gzip.compress((HEADER + row("12.34")).encode()))
        a = alloc(FocusSource(["s3://billing/focus/2026-10/part-0.csv.gz"], s3_client=s3))
        assert a.total_cents("aa") == 1234
        with pytest.raises(FinanceError, match=re.escape("s3://billing/missing.csv: cannot download")):
            alloc(FocusSource(["s3://billing/missing.csv"], s3_client=s3))


def test_idle_is_read_from_the_idle_tag_and_unused_commitments(tmp_path):
    path = write(tmp_path / "c.csv", "BilledCost,BillingCurrency,ChargePeriodStart,ServiceName,CommitmentDiscountStatus,Tags\n"
                                     '8.00,EUR,2026-10-01T00:00:00Z,Compute,Unused,"{}"\n'
                                     '2.00,EUR,2026-10-01T00:00:00Z,Compute,,"{""urban-stack/tenant"": ""__idle__""}"\n')
    a = alloc(FocusSource([path]))
    assert {ln.kind for ln in a.lines} == {"idle"} and a.total_cents() == 1000


# -- FOCUS bad input ----------------------------------------------------------------------------------------


def test_missing_focus_columns_are_named_with_the_file(tmp_path):
    path = write(tmp_path / "bad.csv", "BilledCost,ServiceName\n1.00,Compute\n")
    with pytest.raises(FinanceError, match=r"bad.csv: missing FOCUS column\(s\) BillingCurrency, ChargePeriodStart, Tags"):
        alloc(FocusSource([path]))


def test_non_numeric_costs_are_an_error_naming_the_lines_and_values(tmp_path):
    path = write(tmp_path / "nan.csv", HEADER + row("1.00") + row("zwölf") + row('"1,5"') + row("abc"))
    with pytest.raises(FinanceError, match=r"nan.csv: BilledCost: lines 3, 4, 5: not a number: 'zwölf', '1,5', 'abc'$"):
        alloc(FocusSource([path]))


def test_empty_costs_are_an_error(tmp_path):
    path = write(tmp_path / "empty-cost.csv", HEADER + row(""))
    with pytest.raises(FinanceError, match=r"empty-cost.csv: BilledCost: line 2: no value"):
        alloc(FocusSource([path]))


def test_negative_costs_are_an_error_unless_they_are_credits(tmp_path):
    bad = write(tmp_path / "neg.csv", HEADER + row("5.00") + row("-2.00"))
    with pytest.raises(FinanceError, match=r"neg.csv: BilledCost: line 3: a negative cost .*: '-2.00'"):
        alloc(FocusSource([bad]))
    credit = write(tmp_path / "credit.csv", HEADER + row("5.00") + row("-2.00", category="Credit"))
    assert alloc(FocusSource([credit])).total_cents("aa") == 300


def test_mixed_currencies_are_an_error_listing_each_amount(tmp_path):
    path = write(tmp_path / "cur.csv", HEADER + row("5.00") + row("7.00", currency="USD"))
    with pytest.raises(FinanceError, match=r"BillingCurrency: costs in several currencies \(EUR: 5, USD: 7\)"):
        alloc(FocusSource([path]))


def test_unreadable_charge_periods_are_an_error(tmp_path):
    path = write(tmp_path / "date.csv", HEADER + row("5.00", start="31.10.2026"))
    with pytest.raises(FinanceError, match=r"date.csv: ChargePeriodStart: line 2: not an ISO 8601 date-time: '31.10.2026'"):
        alloc(FocusSource([path]))


def test_an_empty_file_and_a_header_only_file_are_errors(tmp_path):
    with pytest.raises(FinanceError, match=re.escape("empty.csv: empty file")):
        alloc(FocusSource([write(tmp_path / "empty.csv", "")]))
    with pytest.raises(FinanceError, match=re.escape("header.csv: no cost rows")):
        alloc(FocusSource([write(tmp_path / "header.csv", HEADER)]))
    with pytest.raises(FinanceError, match=re.escape("nothing.csv: no such file")):
        alloc(FocusSource([tmp_path / "nothing.csv"]))
    with pytest.raises(FinanceError, match="unknown file type"):
        alloc(FocusSource([write(tmp_path / "bill.xlsx", "x")]))


def test_money_is_never_silently_dropped(tmp_path):
    """An unknown tenant tag is an unallocated line; rows of another month are left out with a warning that names
    them and their amount; the total of the period still reconciles."""
    text = (HEADER + row("1.11") + row("2.22", '{"urban-stack/tenant": "unknown-town"}')
            + row("3.33", start="2026-11-01T00:00:00Z") + row("4.44", start="2026-09-30T23:59:59Z"))
    source = FocusSource([write(tmp_path / "m.csv", text)])
    a = alloc(source)
    assert a.input_cents == 333
    assert a.total_cents("aa") + a.total_cents("bb") + sum(ln.cents for ln in a.unallocated) == 333
    [line] = a.unallocated
    assert line.cents == 222 and "unknown-town" in line.reason
    assert source.warnings == [f"{tmp_path / 'm.csv'}: ChargePeriodStart: lines 4, 5 lie outside 2026-10 "
                               "(charge months 2026-09..2026-11) and are left out: 7.77 EUR"]
    assert source.warnings[0] in a.warnings


def test_a_tags_cell_that_is_not_a_json_object_is_rejected_with_lines_and_values(tmp_path):
    text = HEADER + row("1.00") + row("2.00", "[1, 2]") + row("3.00", "team=gis") + row("4.00", "")
    with pytest.raises(FinanceError, match=re.escape("bad-tags.csv: Tags: lines 3, 4: not a JSON object "
                                                     "(FOCUS: Tags is a JSON object of key-value pairs): '[1, 2]', "
                                                     "'team=gis'")):
        alloc(FocusSource([write(tmp_path / "bad-tags.csv", text)]))


def test_the_same_file_twice_is_an_error(tmp_path):
    bill = write(tmp_path / "bill.csv", HEADER + row("1.00"))
    copy = write(tmp_path / "copy.csv", HEADER + row("1.00"))
    with pytest.raises(FinanceError, match=r"copy.csv: the same file as .*bill.csv \(identical content"):
        alloc(FocusSource([bill, copy]))
    with pytest.raises(FinanceError, match=r"bill.csv: the same file as .*bill.csv"):
        alloc(FocusSource([bill, bill]))


def test_the_same_rows_in_two_files_are_an_error_naming_both(tmp_path):
    october = write(tmp_path / "october.csv", HEADER + row("1.00") + row("2.00") + row("3.00"))
    overlap = write(tmp_path / "overlap.csv", HEADER + row("9.00") + row("3.00") + row("2.00"))
    with pytest.raises(FinanceError, match=r"the same rows .* in more than one file.*october.csv: lines 3, 4; "
                                           r".*overlap.csv: lines 3, 4"):
        alloc(FocusSource([october, overlap]))
    within = write(tmp_path / "within.csv", HEADER + row("1.00") + row("1.00"))  # two equal charges in one export
    assert alloc(FocusSource([within])).total_cents("aa") == 200


def test_a_period_without_rows_is_an_error_unless_asked_for(tmp_path):
    path = write(tmp_path / "sept.csv", HEADER + row("5.00", start="2026-09-01T00:00:00Z"))
    with pytest.raises(FinanceError, match=r"no cost records for 2026-10.*--allow-empty"):
        alloc(FocusSource([path]))
    empty = allocate(FocusSource([path]), MEMBERS, Key("equal"), OCT, allow_empty=True)
    assert empty.total_cents() == 0 and empty.input_cents == 0 and empty.lines == []
    assert "line 2 lies outside 2026-10 (charge months 2026-09) and is left out: 5 EUR" in empty.warnings[0]


# -- AWS Cost Explorer (moto, queued results) ------------------------------------------------------------------


def _group(tag: str, service: str, amount: str) -> dict:
    return {"Keys": [f"urban-stack/tenant${tag}", service],
            "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "EUR"}}}


def test_cost_explorer_results_are_read_across_pages():
    page1 = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"}, "Total": {},
                                "Groups": [_group("aa", "Amazon EKS", "100.00"), _group("bb", "Amazon EKS", "50.00")],
                                "Estimated": False}],
             "NextPageToken": "page-2"}
    page2 = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"}, "Total": {},
                                "Groups": [_group("", "Amazon S3", "30.00"), _group("shared", "Amazon EKS", "20.00")],
                                "Estimated": False}]}
    with mock_aws():
        resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                             json={"results": [page1, page2]}, timeout=10)
        assert resp.status_code == 201
        ce = boto3.client("ce", region_name="us-east-1")
        a = alloc(AwsCostExplorerSource(client=ce))
    assert a.input_cents == 20000
    assert a.total_cents("aa") == 10000 + 1500 + 1000  # direct + half of untagged + half of shared (equal key)
    assert a.total_cents("bb") == 5000 + 1500 + 1000  # the second page (untagged, shared) was read too
    assert {ln.kind for ln in a.lines} == {"direct", "untagged", "shared"}


def test_cost_explorer_without_results_has_nothing_to_allocate():
    with mock_aws():
        ce = boto3.client("ce", region_name="us-east-1")
        with pytest.raises(FinanceError, match="no cost records"):
            alloc(AwsCostExplorerSource(client=ce))


# -- OpenCost -----------------------------------------------------------------------------------------------


def _allocation(name: str, **costs) -> dict:
    return {"name": name, "start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z", **costs}


def test_opencost_allocations_by_tenant_label(tmp_path):
    doc = {"code": 200, "data": [{
        "aa": _allocation("aa", cpuCost=10.0, ramCost=5.0, pvCost=1.0, totalCost=16.5),  # 0.5 adjustment
        "bb": _allocation("bb", cpuCost=4.0, totalCost=4.0),
        "__idle__": _allocation("__idle__", cpuCost=6.0, ramCost=4.0, totalCost=10.0),
        "__unallocated__": _allocation("__unallocated__", cpuCost=2.0, totalCost=2.0),
    }]}
    path = tmp_path / "allocation.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    a = alloc(OpenCostSource([path]), key=Key("population"))
    assert a.input_cents == 3250
    assert {ln.kind for ln in a.lines} == {"direct", "idle", "untagged"}
    direct = sum(ln.exact for ln in a.lines_of("aa") if ln.kind == "direct")
    assert direct == Decimal("16.5")  # the components plus OpenCost's adjustment = totalCost
    assert a.total_cents("aa") == 1650 + 600 + 120 and a.total_cents("bb") == 400 + 400 + 80


def test_opencost_bad_files_are_named(tmp_path):
    with pytest.raises(FinanceError, match=re.escape("oc.json: expected an OpenCost answer")):
        (tmp_path / "oc.json").write_text("[]", encoding="utf-8")
        alloc(OpenCostSource([tmp_path / "oc.json"]))
    (tmp_path / "oc2.json").write_text(json.dumps({"code": 200, "data": [{"aa": _allocation("aa", cpuCost="x")}]}))
    with pytest.raises(FinanceError, match=r"oc2.json: data\[0\].aa.cpuCost: 'x' is not a number"):
        alloc(OpenCostSource([tmp_path / "oc2.json"]))
