"""Refresh a vendored chart copy from its upstream release: ``urbanstack vendor refresh CHART``.

On a machine with network access this downloads the published package of the version pinned in
``catalogue/versions.py`` from the chart repository's ``index.yaml``, checks its SHA-256 against the digest the index
publishes, unpacks it into ``vendor/charts/<chart>-<version>/`` (a new folder, moved in only when complete) and appends
its provenance (repository, archive URL, digest, appVersion, the day) to ``vendor/charts/PROVENANCE.md``. It never
deletes or overwrites a folder: an existing copy of that version is refused (remove it with ``git rm -r`` first to
replace an assembled copy with the published one), and the old version's folder stays for the reviewer to delete
with the bump (``docs/upgrades.md``).

OCI charts (``oci://…``) have no ``index.yaml``: they are pulled with Helm's registry client (``helm_python.pull``),
whose digest check is the registry's. Everything goes through a fetcher (``url -> bytes``), so tests run against a
``file://`` repository without a network.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from catalogue.versions import Chart

Fetch = Callable[[str], bytes]


class RefreshError(Exception):
    """The copy could not be refreshed; nothing was written."""


def fetch_url(url: str) -> bytes:
    """GET ``url`` (https or file): the default fetcher."""
    if not url.startswith(("https://", "file://")):
        raise RefreshError(f"{url}: only https:// and file:// repositories are fetched")
    with urllib.request.urlopen(url, timeout=60) as response:  # scheme checked above
        return response.read()


@dataclass(frozen=True)
class Release:
    """One published chart package as the repository's index names it."""

    name: str
    version: str
    app_version: str
    url: str
    digest: str
    created: str


def chart_name(chart: Chart) -> str:
    return chart.chart.rstrip("/").rsplit("/", 1)[-1]


def find_release(chart: Chart, fetch: Fetch) -> Release:
    """The index entry of the pinned version (``<repo>/index.yaml``), its archive URL made absolute."""
    if not chart.repo:
        raise RefreshError(f"{chart.chart} {chart.version}: an OCI chart has no index.yaml (pull it with Helm)")
    index_url = chart.repo.rstrip("/") + "/index.yaml"
    try:
        index = yaml.safe_load(fetch(index_url)) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RefreshError(f"{index_url}: cannot read the repository index ({exc})") from exc
    name = chart_name(chart)
    entries = (index.get("entries") or {}).get(name) or []
    for entry in entries:
        if str(entry.get("version")) == chart.version:
            urls = entry.get("urls") or []
            if not urls or not entry.get("digest"):
                raise RefreshError(f"{index_url}: {name} {chart.version} has no archive URL or no digest")
            url = urllib.parse.urljoin(chart.repo.rstrip("/") + "/", urls[0])
            return Release(name, chart.version, str(entry.get("appVersion", "")), url, str(entry["digest"]),
                           str(entry.get("created", "")))
    known = ", ".join(sorted(str(e.get("version")) for e in entries)[-5:]) or "none"
    raise RefreshError(f"{index_url}: no {name} {chart.version} (newest listed: {known})")


def _unpack(archive: bytes, into: Path, name: str) -> Path:
    """Unpack a chart package safely (regular files and folders below ``<name>/`` only)."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if member.name.startswith("/") or ".." in parts or not parts or parts[0] != name:
                raise RefreshError(f"package member {member.name!r} lies outside {name}/: refused")
            if not (member.isfile() or member.isdir()):
                raise RefreshError(f"package member {member.name!r} is not a plain file or folder: refused")
        tar.extractall(into, filter="data")
    return into / name


def provenance_entry(chart: Chart, release: Release, sha256: str, day: date) -> str:
    return (f"\n### {release.name} {release.version} (published package, `urbanstack vendor refresh` on "
            f"{day.isoformat()})\n"
            f"* Repository {chart.repo}, index entry created {release.created or 'unknown'}, appVersion "
            f"{release.app_version or 'none'}.\n"
            f"* Archive {release.url}, sha256 `{sha256}` (equal to the index's digest).\n"
            f"* Unpacked as published, nothing changed. Licence: the package's `LICENSE` if it ships one; otherwise "
            f"add the repository's and say so here.\n")


def refresh_chart(chart: Chart, charts_dir: Path, fetch: Fetch = fetch_url, today: date | None = None) -> Path:
    """Download, verify and unpack the pinned ``chart`` into ``charts_dir/<name>-<version>``; return that folder."""
    release = find_release(chart, fetch)
    target = charts_dir / f"{release.name}-{release.version}"
    if target.exists():
        raise RefreshError(f"{target}: exists; this command never overwrites a copy (remove it with git rm -r to "
                           "replace it with the published package)")
    archive = fetch(release.url)
    sha256 = hashlib.sha256(archive).hexdigest()
    expected = release.digest.removeprefix("sha256:")
    if sha256 != expected:
        raise RefreshError(f"{release.url}: sha256 {sha256} is not the index's digest {expected}: refused")
    charts_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=charts_dir, prefix=".refresh-") as tmp:
        unpacked = _unpack(archive, Path(tmp), release.name)
        meta = yaml.safe_load((unpacked / "Chart.yaml").read_text(encoding="utf-8")) or {}
        if str(meta.get("version")) != chart.version:
            raise RefreshError(f"{release.url}: Chart.yaml says version {meta.get('version')}, not {chart.version}")
        unpacked.rename(target)
    provenance = charts_dir / "PROVENANCE.md"
    with provenance.open("a", encoding="utf-8") as out:
        out.write(provenance_entry(chart, release, sha256, today or date.today()))
    return target


def refresh(key: str, fetch: Fetch = fetch_url, charts_dir: Path | None = None) -> Path:
    """``refresh_chart`` for ``CHARTS[key]`` into ``vendor/charts`` (or ``charts_dir``)."""
    from catalogue.versions import CHARTS
    from urbanstack.engine.render import CHARTS_DIR

    if key not in CHARTS:
        raise RefreshError(f"{key}: not a chart of catalogue/versions.py (known: {', '.join(sorted(CHARTS))})")
    chart = CHARTS[key]
    if chart.chart.startswith("oci://"):
        return _refresh_oci(chart, charts_dir or CHARTS_DIR)
    return refresh_chart(chart, charts_dir or CHARTS_DIR, fetch)


def _refresh_oci(chart: Chart, charts_dir: Path) -> Path:  # pragma: no cover - needs a registry
    """OCI charts: Helm's registry client pulls and verifies the manifest digest; unpacked the same way."""
    import helm_python

    name = chart_name(chart)
    target = charts_dir / f"{name}-{chart.version}"
    if target.exists():
        raise RefreshError(f"{target}: exists; this command never overwrites a copy")
    with tempfile.TemporaryDirectory(dir=charts_dir, prefix=".refresh-") as tmp:
        helm_python.pull(chart.chart, version=chart.version, destination=tmp)
        [archive] = list(Path(tmp).glob("*.tgz"))
        data = archive.read_bytes()
        unpacked = _unpack(data, Path(tmp) / "x", name)
        shutil.move(str(unpacked), target)
    with (charts_dir / "PROVENANCE.md").open("a", encoding="utf-8") as out:
        out.write(provenance_entry(chart, Release(name, chart.version, "", chart.chart, "", ""),
                                   hashlib.sha256(data).hexdigest(), date.today()))
    return target
