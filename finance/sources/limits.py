"""Bounds on what a cost source reads, checked before anything is parsed (docs/finance.md, "Input limits").

A billing export is a file someone hands in; a wrong or hostile one must be refused quickly with a readable line,
not parsed for minutes: a CSV with one 50 MB cell took 50 s to be refused and a 1 MB gzip that inflates to 1 GiB
44 s, and the errors quoted whole values (200 KB lines). So, before DuckDB sees a file:

* its size on disk (for ``s3://``: the object's size, asked before the download) is at most :data:`MAX_FILE_BYTES`;
* a CSV (plain or gzip) is read once as a stream: at most :data:`MAX_INFLATED_BYTES` after inflating (the stream
  stops at the cap, so a gzip bomb costs the time of the cap, never of its full size), at most :data:`MAX_LINES`
  lines, and no line longer than :data:`MAX_LINE_BYTES` (so no cell either); DuckDB then reads with the same
  ``max_line_size`` (a quoted cell with line breaks counts as one line there);
* a Parquet file's footer says its rows and its uncompressed size: the same limits on rows and inflated bytes;
* :data:`ENV_MAX_INPUT_MIB` raises the size limits for a run that reads larger exports on purpose;
* an OpenCost JSON document is at most :data:`MAX_JSON_BYTES`;
* every value an error quotes is cut to :data:`MAX_SHOWN_CHARS` characters (:func:`shown`), every error line
  to :data:`MAX_ERROR_CHARS`.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from finance.model import FinanceError

MAX_FILE_BYTES = 128 * 1024 * 1024
"""Largest input file (CSV, gzip CSV or Parquet as stored; an ``s3://`` object before it is downloaded)."""
MAX_INFLATED_BYTES = 128 * 1024 * 1024
"""Largest CSV after inflating a gzip, and largest uncompressed Parquet data. A month of FOCUS rows of this platform
is a few megabytes; larger exports are split by month or filtered to the platform's accounts first."""
MAX_LINE_BYTES = 64 * 1024
"""Longest CSV line (so the longest cell). A FOCUS row with its Tags is a few kilobytes."""
MAX_LINES = 5_000_000
"""Most CSV lines, or Parquet rows, per file."""
ENV_MAX_INPUT_MIB = "URBANSTACK_MAX_INPUT_MIB"
"""Environment variable that raises (or lowers) both size limits, in MiB, for a run that reads larger exports on
purpose (``make bench`` reads 10 million rows); lines are then allowed in proportion (one per 64 bytes)."""
MAX_JSON_BYTES = 64 * 1024 * 1024
"""Largest OpenCost allocation document (file or HTTP answer)."""
MAX_SHOWN_CHARS = 60
"""Longest value an error line quotes (longer ones are cut in the middle, with their length)."""
MAX_ERROR_CHARS = 400
"""Longest message taken over from a library (DuckDB, JSON), which may quote the input."""
CHUNK = 1024 * 1024


def shown(value: object) -> str:
    """``repr(value)``, cut to :data:`MAX_SHOWN_CHARS` with the full length said."""
    text = repr(value)
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:40]}…{text[-12:]} ({len(str(value))} characters)"


def cut(message: str) -> str:
    """The first line of a library's message, at most :data:`MAX_ERROR_CHARS` characters."""
    first = (message.splitlines() or [""])[0]
    return first if len(first) <= MAX_ERROR_CHARS else f"{first[:MAX_ERROR_CHARS]}… (cut)"


def _size(n: int) -> str:
    """A size as people read it: whole MiB or KiB when it is one (the limits), else bytes."""
    if n and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n:,} bytes"


def _caps() -> tuple[int, int, int]:
    """``(file bytes, inflated bytes, lines)`` in force: the constants, or :data:`ENV_MAX_INPUT_MIB`."""
    raw = os.environ.get(ENV_MAX_INPUT_MIB, "").strip()
    if not raw:
        return MAX_FILE_BYTES, MAX_INFLATED_BYTES, MAX_LINES
    try:
        mib = int(raw)
        if mib <= 0:
            raise ValueError
    except ValueError:
        raise FinanceError(f"{ENV_MAX_INPUT_MIB}={raw!r}: expected a whole number of MiB, like 4096") from None
    size = mib * 1024 * 1024
    return size, size, max(MAX_LINES, size // 64)


def check_size(ref: str, size: int) -> None:
    """A file (or ``s3://`` object) of ``size`` bytes may be read."""
    cap = _caps()[0]
    if size > cap:
        raise FinanceError(f"{ref}: {_size(size)} is larger than the limit of {_size(cap)} per input file; split "
                           f"the export by month or filter it to the platform's accounts (or set {ENV_MAX_INPUT_MIB})")


def _chunks(path: Path, compressed: bool):
    """The file's bytes (inflated when ``compressed``: gzip, members one after another) in pieces of at most
    :data:`CHUNK`, produced on demand: inflating stops as soon as the caller stops asking."""
    with open(path, "rb") as fh:
        if not compressed:
            while chunk := fh.read(CHUNK):
                yield chunk
            return
        inflater, started, pending = zlib.decompressobj(wbits=31), False, b""
        while True:
            if not pending:
                pending = fh.read(CHUNK)
                if not pending:
                    if started and not inflater.eof:
                        raise EOFError("the compressed file ends before its end-of-stream marker")
                    return
            if not started and not pending.startswith(b"\x1f\x8b"):
                raise zlib.error("not a gzip file (or data after its end)")
            started = True
            out = inflater.decompress(pending, CHUNK)
            pending = inflater.unconsumed_tail
            if inflater.eof:
                pending = inflater.unused_data + pending
                inflater, started = zlib.decompressobj(wbits=31), False
            if out:
                yield out


def _too_long(ref: str, line: int) -> FinanceError:
    return FinanceError(f"{ref}: line {line} is longer than {_size(MAX_LINE_BYTES)} (the limit per line and cell); "
                        "is this a FOCUS export?")


def scan_csv(ref: str, path: Path, compressed: bool) -> int:
    """Stream the CSV once (inflating a gzip) and refuse it at the first limit it breaks; returns its lines.

    Inflates at most :data:`MAX_INFLATED_BYTES` + one :data:`CHUNK`, whatever the file would inflate to. Long lines
    are found without splitting: a line longer than :data:`MAX_LINE_BYTES` covers a whole aligned block of half that
    size without a line break, and only such blocks are looked at closely."""
    half = max(MAX_LINE_BYTES // 2, 1)
    _, max_inflated, max_lines = _caps()
    total = lines = current = 0
    try:
        for chunk in _chunks(path, compressed):
            total += len(chunk)
            if total > max_inflated:
                what = "inflates to more than" if compressed else "is larger than"
                raise FinanceError(f"{ref}: {what} {_size(max_inflated)} (the limit per input file); split the "
                                   f"export by month or filter it to the platform's accounts (or set "
                                   f"{ENV_MAX_INPUT_MIB})")
            first = chunk.find(b"\n")
            if first == -1:
                current += len(chunk)
                if current > MAX_LINE_BYTES:
                    raise _too_long(ref, lines + 1)
                continue
            if current + first > MAX_LINE_BYTES:
                raise _too_long(ref, lines + 1)
            for block in range(first + 1, len(chunk), half):
                if chunk.find(b"\n", block, block + half) != -1:
                    continue
                begin = chunk.rfind(b"\n", 0, block) + 1
                end = chunk.find(b"\n", block + half)
                if end != -1 and end - begin > MAX_LINE_BYTES:
                    raise _too_long(ref, lines + chunk.count(b"\n", 0, begin) + 1)
            lines += chunk.count(b"\n")
            current = len(chunk) - chunk.rfind(b"\n") - 1
            if current > MAX_LINE_BYTES:
                raise _too_long(ref, lines + 1)
            if lines > max_lines:
                raise FinanceError(f"{ref}: more than {max_lines:,} lines (the limit per input file); split the "
                                   "export by month")
    except (OSError, EOFError, zlib.error) as exc:
        raise FinanceError(f"{ref}: cannot read{' as gzip' if compressed else ''}: {cut(str(exc))}") from None
    return lines + (1 if current else 0)


def check_parquet(ref: str, path: Path) -> None:
    """The Parquet footer's rows and uncompressed size within the limits (the footer only is read)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises several kinds for a broken footer
        raise FinanceError(f"{ref}: cannot read as Parquet: {cut(str(exc))}") from None
    inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    _, max_inflated, max_lines = _caps()
    if meta.num_rows > max_lines:
        raise FinanceError(f"{ref}: {meta.num_rows:,} rows, more than the limit of {max_lines:,} per input file; "
                           "split the export by month")
    if inflated > max_inflated:
        raise FinanceError(f"{ref}: {_size(inflated)} of uncompressed data, more than the limit of "
                           f"{_size(max_inflated)} per input file; split the export by month")


def read_json_bytes(ref: str, stream) -> bytes:
    """At most :data:`MAX_JSON_BYTES` of ``stream`` (a file or an HTTP response); refuse anything larger."""
    data = stream.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise FinanceError(f"{ref}: larger than {_size(MAX_JSON_BYTES)} (the limit per OpenCost document)")
    return data
