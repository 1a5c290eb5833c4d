"""``urbanstack images pin``: each image's digest comes from its publisher's registry (OCI Distribution API, the
top-level manifest as ``docker buildx imagetools inspect`` reports it) and is written into the catalogue with its
record, all or nothing, never over a recorded digest. Exercised against a fake registry on 127.0.0.1 (a Bearer
challenge, an anonymous token endpoint, manifests with and without ``Docker-Content-Digest``) and a temporary copy
of ``catalogue/versions.py``; no network."""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import threading
import urllib.parse
from dataclasses import astuple
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.paths import ROOT
from catalogue.versions import IMAGES
from urbanstack.cli import app
from urbanstack.ops import images_pin
from urbanstack.ops.images_pin import (
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    RECORD,
    PinError,
    RegistryError,
    check_url,
    load_images,
    pin_images,
    registry_of,
)

DAY = date(2026, 12, 7)
TOKEN = "anonymous-pull-token"


def manifest(name: str, tag: str, media_type: str) -> bytes:
    """A manifest body: its exact bytes (the odd spacing included) are what the digest is taken of."""
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": [], "x": f"{name}:{tag}"},
                      indent=3).encode() + b"\n"


def sha(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class FakeRegistry(ThreadingHTTPServer):
    """``/v2/<name>/manifests/<tag>`` behind a Bearer challenge, ``/token`` handing out an anonymous token."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.manifests: dict[tuple[str, str], tuple[str, bytes, bool]] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[tuple[str, str, str]] = []  # method, path with query, Authorization

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve(self, name: str, tag: str, media_type: str = OCI_INDEX, digest_header: bool = True,
              body: bytes | None = None) -> str:
        body = manifest(name, tag, media_type) if body is None else body
        self.manifests[(name, tag)] = (media_type, body, digest_header)
        return sha(body)


class Handler(BaseHTTPRequestHandler):
    server: FakeRegistry

    def log_message(self, *args) -> None:  # quiet
        pass

    def answer(self, status: int, headers: dict[str, str], body: bytes = b"", send_body: bool = True) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def handle_request(self, send_body: bool) -> None:
        auth = self.headers.get("Authorization", "")
        self.server.requests.append((self.command, self.path, auth))
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            query = dict(urllib.parse.parse_qsl(url.query))
            ok = query.get("service") == "fake-registry" and re.fullmatch(r"repository:[a-z0-9/._-]+:pull",
                                                                           query.get("scope", ""))
            self.answer(200 if ok else 400, {"Content-Type": "application/json"},
                        json.dumps({"token": TOKEN} if ok else {"error": "bad request"}).encode(), send_body)
            return
        # /cdn/...: where a registry may redirect to (another host, no token needed), like a blob CDN.
        match = re.fullmatch(r"/(?:v2|cdn)/(?P<name>.+)/manifests/(?P<tag>[^/]+)", url.path)
        if not url.path.startswith("/cdn/") and auth != f"Bearer {TOKEN}":
            scope = f"repository:{match['name']}:pull" if match else ""
            self.answer(401, {"WWW-Authenticate": f'Bearer realm="{self.server.base}/token",'
                                                  f'service="fake-registry",scope="{scope}"'}, b"", send_body)
            return
        if url.path in self.server.redirects:
            self.answer(307, {"Location": self.server.redirects[url.path]}, b"", send_body)
            return
        found = self.server.manifests.get((match["name"], match["tag"])) if match else None
        if not found:
            self.answer(404, {"Content-Type": "application/json"},
                        b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}', send_body)
            return
        media_type, body, digest_header = found
        accepted = [a.strip() for a in self.headers.get("Accept", "").split(",")]
        assert media_type in accepted, accepted
        headers = {"Content-Type": media_type, **({"Docker-Content-Digest": sha(body)} if digest_header else {})}
        self.answer(200, headers, body, send_body)

    def do_HEAD(self) -> None:
        self.handle_request(send_body=False)

    def do_GET(self) -> None:
        self.handle_request(send_body=True)


@pytest.fixture
def registry():
    server = FakeRegistry()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def catalogue(tmp_path) -> Path:
    """A copy of catalogue/versions.py; the real one is never written by these tests."""
    copy = tmp_path / "versions.py"
    shutil.copyfile(ROOT / "catalogue" / "versions.py", copy)
    return copy


def every_registry(server: FakeRegistry) -> dict[str, str]:
    return {"docker.io": server.base, "quay.io": server.base, "ghcr.io": server.base}


def test_an_image_without_a_digest_gets_the_registrys_digest_and_record_and_the_catalogue_still_imports(
        registry, catalogue):
    digest = registry.serve("valkey/valkey", "9.1.1-alpine", DOCKER_MANIFEST_LIST)
    result = pin_images(["valkey"], path=catalogue, registry_map=every_registry(registry), today=DAY)
    assert result.written and [p.key for p in result.new] == ["valkey"]
    image = load_images(catalogue.read_text(), catalogue)["valkey"]
    host = registry.base.removeprefix("http://")
    assert image.digest == digest
    assert image.digest_record == (f"registry {host}, {DOCKER_MANIFEST_LIST} of docker.io/valkey/valkey:9.1.1-alpine, "
                                   "read 2026-12-07 by urbanstack images pin")
    assert RECORD.fullmatch(image.digest_record)
    assert image.ref == f"docker.io/valkey/valkey:9.1.1-alpine@{digest}"
    # The anonymous Bearer flow: challenged, a token for exactly this repository, then the manifest with it.
    methods = [(m, p.split("?")[0], a) for m, p, a in registry.requests]
    assert methods[:3] == [("HEAD", "/v2/valkey/valkey/manifests/9.1.1-alpine", ""), ("GET", "/token", ""),
                           ("HEAD", "/v2/valkey/valkey/manifests/9.1.1-alpine", f"Bearer {TOKEN}")]
    assert "scope=repository:valkey/valkey:pull" in registry.requests[1][1]
    assert len(registry.requests) == 3, "the digest header of HEAD is enough: no GET of the manifest"


def test_the_written_entry_reads_like_the_entries_with_digests_and_is_what_renovate_reads(registry, catalogue):
    from tests.test_supply_chain import custom_matches

    before = catalogue.read_text()
    digest = registry.serve("oauth2-proxy/oauth2-proxy", "v7.15.4")
    pin_images(["oauth2-proxy"], path=catalogue, registry_map=every_registry(registry), today=DAY)
    text = catalogue.read_text()
    changed = [ln for ln in text.splitlines() if ln not in before.splitlines()]
    assert changed and all(len(ln) <= 120 for ln in changed), changed
    assert any(ln.strip() == f'"{digest}",' for ln in changed), "the digest is the 4th positional argument"
    found = {m["depName"]: m for m in custom_matches(text)}
    assert found["quay.io/oauth2-proxy/oauth2-proxy"]["currentValue"] == "v7.15.4"
    assert found["quay.io/oauth2-proxy/oauth2-proxy"]["currentDigest"] == digest
    # Only that entry changed: the rest of the file is byte for byte what it was.
    start = before.index('    "oauth2-proxy": Image(')
    end = before.index("\n", start) + 1
    assert text.startswith(before[:start]) and text.endswith(before[end:])
    ast.parse(text)


def test_an_index_served_without_the_digest_header_is_pinned_to_the_sha256_of_its_exact_bytes(registry, catalogue):
    digest = registry.serve("library/eclipse-mosquitto", "2.1.2", OCI_INDEX, digest_header=False)
    text = catalogue.read_text().replace('"docker.io/library/eclipse-mosquitto", "2.0.22"',
                                         '"docker.io/library/eclipse-mosquitto", "2.1.2"')
    text = re.sub(r'("https://mosquitto.org"),\n\s+"sha256:[0-9a-f]{64}",\n\s+digest_record="[^"]*"\n\s+"[^"]*"\)',
                  r"\1)", text)
    catalogue.write_text(text)
    assert not load_images(text, catalogue)["mosquitto"].digest
    result = pin_images(["mosquitto"], path=catalogue, registry_map=every_registry(registry), today=DAY)
    [pin] = result.pins
    assert (pin.digest, pin.media_type) == (digest, OCI_INDEX)
    assert [m for m, p, _ in registry.requests if p.startswith("/v2/")] == ["HEAD", "HEAD", "GET"]
    assert load_images(catalogue.read_text(), catalogue)["mosquitto"].digest == digest


def test_docker_hub_names_map_to_its_api_host_and_official_images_live_under_library():
    assert registry_of("docker.io/valkey/valkey") == images_pin.Registry("docker.io", "registry-1.docker.io",
                                                                         "valkey/valkey")
    assert registry_of("docker.io/library/eclipse-mosquitto").name == "library/eclipse-mosquitto"
    assert registry_of("docker.io/nginx").name == "library/nginx"
    assert registry_of("nginx") == images_pin.Registry("docker.io", "registry-1.docker.io", "library/nginx")
    assert registry_of("fraunhoferiosb/frost-server-http").name == "fraunhoferiosb/frost-server-http"
    assert registry_of("quay.io/keycloak/keycloak") == images_pin.Registry("quay.io", "quay.io", "keycloak/keycloak")
    assert registry_of("ghcr.io/cloudnative-pg/postgis").host == "ghcr.io"
    assert registry_of("localhost:5000/team/app") == images_pin.Registry("localhost:5000", "localhost:5000",
                                                                         "team/app")
    with pytest.raises(RegistryError, match="not a repository name"):
        registry_of("docker.io/Upper/Case")


def test_plain_http_is_refused_except_for_this_machine():
    check_url("https://registry-1.docker.io/v2/")
    check_url("http://127.0.0.1:5000/v2/")
    check_url("http://localhost:5000/v2/")
    for url in ("http://registry.example/v2/", "ftp://registry.example/", "https://user:pw@registry.example/",
                "http://127.0.0.1:port/"):
        with pytest.raises(RegistryError):
            check_url(url)
    with pytest.raises(PinError, match="URBANSTACK_REGISTRY_MAP"):
        images_pin.parse_registry_map("docker.io=http://mirror.example")


def test_a_missing_tag_names_key_and_reference_and_leaves_the_file_byte_identical(registry, catalogue):
    registry.serve("valkey/valkey", "9.1.1-alpine")  # resolvable: still not written, all or nothing
    before = catalogue.read_bytes()
    with pytest.raises(PinError) as caught:
        pin_images(["valkey", "superset"], path=catalogue, registry_map=every_registry(registry), today=DAY)
    [problem] = caught.value.problems
    assert problem.startswith("superset (docker.io/apache/superset:6.1.0-dev): the registry has no tag 6.1.0-dev")
    assert "HTTP 404" in problem
    assert catalogue.read_bytes() == before
    assert [p.name for p in catalogue.parent.iterdir()] == ["versions.py"], "no temporary file left"


def test_a_registry_that_cannot_be_reached_is_an_error_for_that_image(catalogue):
    before = catalogue.read_bytes()
    with pytest.raises(PinError) as caught:  # port 9 on this machine: nothing listens (connection refused)
        pin_images(["keycloak"], path=catalogue, registry_map={"quay.io": "http://127.0.0.1:9"}, today=DAY)
    assert caught.value.problems[0].startswith("keycloak (quay.io/keycloak/keycloak:26.8.0): http://127.0.0.1:9/v2/")
    assert catalogue.read_bytes() == before


def test_a_different_recorded_digest_is_refused_and_nothing_is_written(registry, catalogue):
    registry.serve("library/eclipse-mosquitto", "2.0.22")  # pushed again: another digest than the recorded one
    registry.serve("valkey/valkey", "9.1.1-alpine")
    before = catalogue.read_bytes()
    with pytest.raises(PinError) as caught:
        pin_images(["valkey", "mosquitto"], path=catalogue, registry_map=every_registry(registry), today=DAY)
    [problem] = caught.value.problems
    assert problem.startswith("mosquitto (docker.io/library/eclipse-mosquitto:2.0.22): the registry's digest sha256:")
    assert f"differs from the recorded {IMAGES['mosquitto'].digest}" in problem
    assert "the tag was pushed again or the recorded digest is wrong: check upstream" in problem
    assert catalogue.read_bytes() == before


def test_an_equal_recorded_digest_is_reported_unchanged_and_the_file_is_not_rewritten(registry, catalogue):
    recorded = IMAGES["mosquitto"].digest
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    registry.serve("library/eclipse-mosquitto", "2.0.22", body=body)
    # The fake serves the digest of its body; make it the recorded one by recording the body's digest in the copy.
    catalogue.write_text(catalogue.read_text().replace(recorded, sha(body)))
    before = catalogue.read_bytes()
    mtime = catalogue.stat().st_mtime_ns
    result = pin_images(["mosquitto"], path=catalogue, registry_map=every_registry(registry), today=DAY)
    [pin] = result.pins
    assert pin.unchanged and not result.written and not result.new
    assert catalogue.read_bytes() == before and catalogue.stat().st_mtime_ns == mtime


def test_dry_run_reads_the_digests_shows_the_change_and_writes_nothing(registry, catalogue):
    digest = registry.serve("valkey/valkey", "9.1.1-alpine")
    before = catalogue.read_bytes()
    result = pin_images(["valkey"], dry_run=True, path=catalogue, registry_map=every_registry(registry), today=DAY)
    assert not result.written and [p.digest for p in result.new] == [digest]
    assert f'+                    "{digest}",' in result.diff
    assert catalogue.read_bytes() == before


def test_an_image_built_here_or_an_unknown_key_is_refused_before_any_request(registry, catalogue):
    with pytest.raises(PinError) as caught:
        pin_images(["ckan", "nosuch"], path=catalogue, registry_map=every_registry(registry), today=DAY)
    assert caught.value.problems[0].startswith("ckan: built here")
    assert caught.value.problems[1].startswith("nosuch: not an image of catalogue/versions.py")
    assert registry.requests == []


def test_the_token_is_never_sent_to_another_host_on_a_redirect(registry, catalogue):
    body = manifest("valkey/valkey", "9.1.1-alpine", OCI_INDEX)
    other = registry.base.replace("127.0.0.1", "localhost")
    registry.redirects["/v2/valkey/valkey/manifests/9.1.1-alpine"] = f"{other}/cdn/valkey/valkey/manifests/9.1.1-alpine"
    registry.manifests[("valkey/valkey", "9.1.1-alpine")] = (OCI_INDEX, body, True)
    [pin] = pin_images(["valkey"], path=catalogue, registry_map=every_registry(registry), today=DAY).pins
    assert pin.digest == sha(body)
    assert ("HEAD", "/v2/valkey/valkey/manifests/9.1.1-alpine", f"Bearer {TOKEN}") in registry.requests
    cdn = [auth for _, path, auth in registry.requests if path.startswith("/cdn/")]
    assert cdn == [""], "the token stays with the registry that issued it"


def test_a_manifest_larger_than_the_limit_is_refused(registry, catalogue, monkeypatch):
    monkeypatch.setattr(images_pin, "MAX_BODY", 1000)
    registry.serve("valkey/valkey", "9.1.1-alpine", digest_header=False, body=b"{" + b" " * 5000 + b"}")
    with pytest.raises(PinError, match="more than 1000"):
        pin_images(["valkey"], path=catalogue, registry_map=every_registry(registry), today=DAY)


def test_a_digest_header_that_is_not_the_sha256_of_the_manifest_is_refused(registry, catalogue):
    class Lying(Handler):
        def answer(self, status, headers, body=b"", send_body=True):
            if "Docker-Content-Digest" in headers:
                headers = {**headers, "Docker-Content-Digest": "sha256:" + "0" * 64, "Content-Type": ""}
            super().answer(status, headers, body, send_body)

    registry.RequestHandlerClass = Lying
    registry.serve("valkey/valkey", "9.1.1-alpine", OCI_MANIFEST)
    with pytest.raises(PinError, match="is not the sha256 of the manifest it sent"):
        pin_images(["valkey"], path=catalogue, registry_map=every_registry(registry), today=DAY)


runner = CliRunner()


def test_the_command_pins_every_published_image_without_a_digest_and_names_the_next_steps(
        registry, catalogue, monkeypatch):
    before = load_images(catalogue.read_text(), catalogue)
    wanted = [k for k, i in before.items() if not i.built_here and not i.digest]
    served = {k: registry.serve(registry_of(before[k].repository).name, before[k].tag) for k in wanted}
    monkeypatch.setenv("URBANSTACK_REGISTRY_MAP", ",".join(f"{h}={u}" for h, u in every_registry(registry).items()))
    result = runner.invoke(app, ["images", "pin", "--file", str(catalogue)])
    assert result.exit_code == 0, result.output
    after = load_images(catalogue.read_text(), catalogue)
    assert {k: after[k].digest for k in wanted} == served
    assert all(astuple(after[k]) == astuple(before[k]) for k in before if k not in wanted), \
        "entries not selected stay as they were"
    assert f"wrote {len(wanted)} digest(s) to {catalogue}" in result.stdout
    for step in ("urbanstack docs write", "urbanstack plan --out build/plan --compare", "docs/upgrades.md"):
        assert step in result.stdout
    assert all(len(ln) <= 120 for ln in catalogue.read_text().splitlines()
               if "by urbanstack images pin" in ln or "sha256:" in ln)
    # Run again: nothing is left to read.
    again = runner.invoke(app, ["images", "pin", "--file", str(catalogue)])
    assert again.exit_code == 0 and "nothing to read" in again.stdout


def test_the_command_reports_each_failing_image_on_its_own_line_and_exits_1(registry, catalogue, monkeypatch):
    registry.serve("valkey/valkey", "9.1.1-alpine")
    monkeypatch.setenv("URBANSTACK_REGISTRY_MAP", f"docker.io={registry.base},quay.io={registry.base}")
    before = catalogue.read_bytes()
    result = runner.invoke(app, ["images", "pin", "valkey", "superset", "keycloak", "--file", str(catalogue)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(ln.startswith("superset (docker.io/apache/superset:6.1.0-dev): the registry has no tag") for ln in lines)
    assert any(ln.startswith("keycloak (quay.io/keycloak/keycloak:26.8.0): the registry has no tag") for ln in lines)
    assert lines[-1] == f"nothing was written to {catalogue}"
    assert catalogue.read_bytes() == before


def test_the_command_dry_run_prints_the_diff_and_leaves_the_file(registry, catalogue, monkeypatch):
    digest = registry.serve("valkey/valkey", "9.1.1-alpine")
    monkeypatch.setenv("URBANSTACK_REGISTRY_MAP", f"docker.io={registry.base}")
    before = catalogue.read_bytes()
    result = runner.invoke(app, ["images", "pin", "valkey", "--dry-run", "--file", str(catalogue)])
    assert result.exit_code == 0, result.output
    assert f'"{digest}",' in result.stdout and "dry run: 1 digest(s) not written" in result.stdout
    assert catalogue.read_bytes() == before
