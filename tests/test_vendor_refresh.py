"""``urbanstack vendor refresh``: a vendored chart copy comes from the published package of the pinned version,
checked against the repository index's digest, with its provenance written; never over an existing copy.
Exercised against a local ``file://`` chart repository (no network)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import date
from pathlib import Path

import pytest
import yaml

from catalogue.versions import Chart
from urbanstack.ops.vendor import RefreshError, refresh_chart

DAY = date(2026, 12, 6)


def package(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


DEMO = {"demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: v9.9.9\n",
        "demo/values.yaml": "replicas: 1\n",
        "demo/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n",
        "demo/LICENSE": "Apache License 2.0\n"}


def repository(tmp_path: Path, archive: bytes, digest: str | None = None) -> str:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "demo-1.2.3.tgz").write_bytes(archive)
    entry = {"name": "demo", "version": "1.2.3", "appVersion": "v9.9.9", "urls": ["demo-1.2.3.tgz"],
             "digest": digest or hashlib.sha256(archive).hexdigest(), "created": "2026-06-29T17:32:57Z"}
    (repo / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"demo": [entry]}}))
    return repo.as_uri()


def test_the_published_package_is_unpacked_into_a_new_folder_with_its_provenance(tmp_path):
    archive = package(DEMO)
    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / "PROVENANCE.md").write_text("# copies\n")
    folder = refresh_chart(Chart("demo", repository(tmp_path, archive), "1.2.3", ""), charts, today=DAY)
    assert folder == charts / "demo-1.2.3"
    assert (folder / "templates" / "cm.yaml").read_text() == DEMO["demo/templates/cm.yaml"]
    provenance = (charts / "PROVENANCE.md").read_text()
    assert provenance.startswith("# copies\n")
    assert "### demo 1.2.3 (published package, `urbanstack vendor refresh` on 2026-12-06)" in provenance
    assert f"sha256 `{hashlib.sha256(archive).hexdigest()}`" in provenance
    assert "demo-1.2.3.tgz" in provenance and "appVersion v9.9.9" in provenance
    assert {p.name for p in charts.iterdir()} == {"PROVENANCE.md", "demo-1.2.3"}  # no temporary folder left


def test_a_package_whose_digest_differs_from_the_index_is_refused_and_nothing_is_written(tmp_path):
    charts = tmp_path / "charts"
    repo = repository(tmp_path, package(DEMO), digest="0" * 64)
    with pytest.raises(RefreshError, match="is not the index's digest 0000"):
        refresh_chart(Chart("demo", repo, "1.2.3", ""), charts, today=DAY)
    assert not (charts / "demo-1.2.3").exists() and not (charts / "PROVENANCE.md").exists()


def test_an_existing_copy_is_never_overwritten(tmp_path):
    charts = tmp_path / "charts"
    (charts / "demo-1.2.3").mkdir(parents=True)
    (charts / "demo-1.2.3" / "mine.txt").write_text("assembled by hand")
    with pytest.raises(RefreshError, match="never overwrites"):
        refresh_chart(Chart("demo", repository(tmp_path, package(DEMO)), "1.2.3", ""), charts, today=DAY)
    assert (charts / "demo-1.2.3" / "mine.txt").read_text() == "assembled by hand"


def test_a_version_the_index_does_not_list_is_named_with_the_newest_listed(tmp_path):
    with pytest.raises(RefreshError, match=r"no demo 9\.0\.0 \(newest listed: 1\.2\.3\)"):
        refresh_chart(Chart("demo", repository(tmp_path, package(DEMO)), "9.0.0", ""), tmp_path / "c", today=DAY)


def test_a_package_with_a_path_outside_its_chart_folder_is_refused(tmp_path):
    evil = package({**DEMO, "../escape.txt": "x"})
    with pytest.raises(RefreshError, match="outside demo/"):
        refresh_chart(Chart("demo", repository(tmp_path, evil), "1.2.3", ""), tmp_path / "charts", today=DAY)
    assert not (tmp_path / "escape.txt").exists()
