"""Finance input is bounded: sizes before parsing (as stored and inflated, streamed with a cap), line and cell
limits, error lines cut to a readable length (issue 23, item 16). Speed is measured in bench/, not here."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from finance.model import FinanceError
from finance.sources import limits
from finance.sources.focus import FocusSource
from finance.sources.opencost import OpenCostSource
from tests.test_costs_sources import HEADER, OCT, alloc, row, write


def refused(path: Path | str, **kwargs) -> str:
    with pytest.raises(FinanceError) as exc:
        alloc(FocusSource([path], **kwargs))
    return str(exc.value)


def gzip_bomb(path: Path, inflated: int) -> Path:
    """A gzip file of about ``inflated / 1000`` bytes that inflates to ``inflated`` bytes of valid-looking FOCUS
    lines: one compressed member of 1 MiB, repeated (a gzip file may hold many members, read one after another)."""
    block = (row("1.00") * (limits.CHUNK // len(row("1.00")) + 1)).encode()[:limits.CHUNK]
    block = block[:block.rindex(b"\n") + 1]
    member = gzip.compress(block, compresslevel=9)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(HEADER.encode()))
        for _ in range(inflated // len(block) + 1):
            fh.write(member)
    return path


class CountingReads:
    """Counts the inflated bytes the scan asks for, to show it stops at the cap."""

    def __init__(self, monkeypatch):
        self.inflated = 0
        real = limits._chunks

        def chunks(path, compressed):
            for chunk in real(path, compressed):
                self.inflated += len(chunk)
                yield chunk

        monkeypatch.setattr(limits, "_chunks", chunks)


def test_a_gzip_that_inflates_to_a_gibibyte_is_refused_after_reading_only_the_cap(tmp_path, monkeypatch):
    bomb = gzip_bomb(tmp_path / "bomb.csv.gz", 1024 ** 3)
    assert bomb.stat().st_size < 4 * 1024 * 1024
    counted = CountingReads(monkeypatch)
    message = refused(bomb)
    assert message == (f"{bomb}: inflates to more than 128 MiB (the limit per input file); split the export by "
                       "month or filter it to the platform's accounts (or set URBANSTACK_MAX_INPUT_MIB)")
    assert counted.inflated <= limits.MAX_INFLATED_BYTES + limits.CHUNK


def test_a_csv_with_one_cell_of_fifty_megabytes_is_refused_at_that_line_without_reading_it_all(tmp_path):
    path = tmp_path / "big-cell.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(HEADER + row("1.00") + row("2.00", tags="x" * (50 * 1024 * 1024)))
    message = refused(path)
    assert message == f"{path}: line 3 is longer than 64 KiB (the limit per line and cell); is this a FOCUS export?"


@pytest.mark.parametrize("compressed", [False, True], ids=["csv", "gzip"])
def test_the_first_line_longer_than_the_limit_is_named_wherever_it_lies(tmp_path, monkeypatch, compressed):
    """Small limit and chunks, so that long lines start, end and lie inside chunks and cross their borders."""
    import random

    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 40)
    monkeypatch.setattr(limits, "CHUNK", 64)
    rng = random.Random(23)
    for attempt in range(300):
        lengths = [rng.choice([0, 5, 39, 40, 41, 60, 90, 130]) for _ in range(rng.randint(1, 12))]
        text = b"".join(b"x" * n + b"\n" for n in lengths)
        path = tmp_path / f"{attempt}.csv{'.gz' if compressed else ''}"
        path.write_bytes(gzip.compress(text) if compressed else text)
        first_long = next((i + 1 for i, n in enumerate(lengths) if n > 40), None)
        if first_long is None:
            assert limits.scan_csv("f", path, compressed) == len(lengths)
        else:
            with pytest.raises(FinanceError, match=f"^f: line {first_long} is longer than 40 bytes"):
                limits.scan_csv("f", path, compressed)


def test_a_quoted_cell_with_line_breaks_is_bounded_by_duckdbs_line_size_too(tmp_path):
    path = write(tmp_path / "multiline.csv", HEADER + row("1.00", tags="a\n" * 40_000))
    message = refused(path)
    assert message.startswith(f"{path}: cannot read") and len(message) < limits.MAX_ERROR_CHARS + 100


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = write(tmp_path / "large.csv", HEADER + row("1.00") * 100)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1024)
    assert refused(path) == (f"{path}: {path.stat().st_size:,} bytes is larger than the limit of 1 KiB per input "
                             "file; split the export by month or filter it to the platform's accounts (or set "
                             "URBANSTACK_MAX_INPUT_MIB)")


def test_a_run_that_reads_larger_exports_on_purpose_raises_the_size_limits(tmp_path, monkeypatch):
    path = write(tmp_path / "large.csv", HEADER + row("1.00") * 100)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1024)
    monkeypatch.setattr(limits, "MAX_INFLATED_BYTES", 1024)
    monkeypatch.setenv(limits.ENV_MAX_INPUT_MIB, "1")
    assert alloc(FocusSource([path])) is not None
    monkeypatch.setenv(limits.ENV_MAX_INPUT_MIB, "viel")
    assert "URBANSTACK_MAX_INPUT_MIB='viel': expected a whole number of MiB" in refused(path)


def test_too_many_lines_are_refused(tmp_path, monkeypatch):
    path = write(tmp_path / "long.csv", HEADER + row("1.00") * 50)
    monkeypatch.setattr(limits, "MAX_LINES", 20)
    assert "more than 20 lines (the limit per input file)" in refused(path)


def test_a_parquet_file_whose_footer_promises_too_much_is_refused_from_the_footer(tmp_path, monkeypatch):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(io.BytesIO((HEADER + row("1.00") * 30).encode()))
    pq.write_table(table, tmp_path / "bill.parquet")
    monkeypatch.setattr(limits, "MAX_LINES", 10)
    assert "30 rows, more than the limit of 10 per input file" in refused(tmp_path / "bill.parquet")


def test_an_error_quotes_a_long_bad_value_cut_to_a_readable_length(tmp_path):
    path = write(tmp_path / "long-value.csv", HEADER + row("1.00") + row("9" * 30_000 + "x"))
    message = refused(path)
    assert re.fullmatch(rf"{re.escape(str(path))}: BilledCost: line 3: not a number: '9+…9+x' \(30001 characters\)",
                        message), message
    assert len(message) < 200


def test_a_header_of_many_long_column_names_is_listed_shortly(tmp_path):
    header = ",".join(f"x_{'c' * 500}{i}" for i in range(100)) + "\n"
    message = refused(write(tmp_path / "wide.csv", header + ",".join("1" * 100) + "\n"))
    assert "missing FOCUS column(s) BilledCost" in message and "and 70 more" in message and len(message) < 3000


def test_an_s3_object_larger_than_the_limit_is_refused_before_the_download(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1024)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(Bucket="billing", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        s3.put_object(Bucket="billing", Key="big.csv", Body=(HEADER + row("1.00") * 100).encode())
        downloads = []
        monkeypatch.setattr(s3, "download_file", lambda *a, **k: downloads.append(a))
        size = len((HEADER + row("1.00") * 100).encode())
        assert f"s3://billing/big.csv: {size:,} bytes is larger than the limit of 1 KiB" in refused(
            "s3://billing/big.csv", s3_client=s3)
        assert downloads == []


def test_a_broken_gzip_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress((HEADER + row("1.00")).encode())[:30])
    assert refused(path).startswith(f"{path}: cannot read as gzip: ")


def test_an_opencost_document_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 100)
    path = write(tmp_path / "alloc.json", '{"code": 200, "data": [' + "{}, " * 100 + "{}]}")
    with pytest.raises(FinanceError, match=re.escape(f"{path}: larger than 100 bytes (the limit per OpenCost document)")):
        OpenCostSource([path]).records(OCT)


def test_inputs_within_the_limits_are_read_as_before(tmp_path):
    path = tmp_path / "ok.csv.gz"
    path.write_bytes(gzip.compress((HEADER + row("10.50") + row("4.50", '{"urban-stack/tenant": "bb"}')).encode()))
    assert alloc(FocusSource([path])) is not None
