"""Archive statements in S3: ``--upload s3://bucket/prefix`` stores every written file under
``<prefix>/<period>/<file>`` with the object tags ``tenant`` (slug, or ``consortium`` for the overview and the
FOCUS dataset) and ``period``."""

from __future__ import annotations

import mimetypes
import urllib.parse
from pathlib import Path

from finance.model import FinanceError
from finance.outputs import Written

CONSORTIUM = "consortium"
CONTENT_TYPES = {".csv": "text/csv; charset=utf-8", ".json": "application/json", ".html": "text/html; charset=utf-8",
                 ".pdf": "application/pdf", ".parquet": "application/vnd.apache.parquet",
                 ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def parse_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise FinanceError(f"--upload: {url!r} must look like s3://bucket/prefix")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise FinanceError(f"--upload: {url!r} names no bucket")
    return bucket, prefix.strip("/")


def upload(written: list[Written], url: str, period_label: str, client=None) -> list[str]:
    """Upload ``written`` files; return the object keys."""
    bucket, prefix = parse_s3_url(url)
    if client is None:
        import boto3

        client = boto3.client("s3")
    keys = []
    for w in written:
        path = Path(w.path)
        key = "/".join(p for p in (prefix, period_label, path.name) if p)
        tagging = urllib.parse.urlencode({"tenant": w.tenant or CONSORTIUM, "period": period_label})
        content_type = CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            with open(path, "rb") as fh:
                client.put_object(Bucket=bucket, Key=key, Body=fh, Tagging=tagging, ContentType=content_type)
        except Exception as exc:  # botocore raises many kinds; name the object either way
            raise FinanceError(f"--upload: cannot store s3://{bucket}/{key}: {exc}") from None
        keys.append(key)
    return keys
