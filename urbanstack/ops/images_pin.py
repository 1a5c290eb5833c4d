"""Record image digests from the registries: ``urbanstack images pin [KEY ...] [--dry-run]``.

On a machine with network access this reads the digest of each selected image's tag from its registry with the OCI
Distribution API, the top-level manifest exactly as ``docker buildx imagetools inspect`` reports it (for a
multi-platform image the index or manifest list), and writes it into ``catalogue/versions.py`` as the 4th positional
argument of the ``Image(...)`` entry (the place ``renovate.json`` reads ``currentDigest`` from) together with
``digest_record="registry <host>, <media type> of <repository>:<tag>, read <YYYY-MM-DD> by urbanstack images pin"``.
The publisher's registry is itself the upstream record of the digest (``catalogue/versions.py``, digest policy).

* Selection: every ``IMAGES`` entry upstream publishes (not ``built_here``) that has no digest yet, or the ``KEY``s
  named. A named entry that already has a digest is compared with the registry: equal is "unchanged"; different is
  an error (the tag was pushed again, or the recorded digest is wrong), never overwritten.
* All or nothing: every selected image is resolved first; when one fails (unknown tag, refused, unreachable, a
  different recorded digest) each failure is reported and nothing is written.
* Requests: ``HEAD https://<host>/v2/<name>/manifests/<tag>`` accepting OCI index, Docker manifest list, OCI
  manifest and Docker manifest; a ``401`` with a ``Bearer`` challenge gets an anonymous pull token from the named
  realm; the digest is ``Docker-Content-Digest``, or without it the sha256 of the manifest's exact bytes (``GET``).
  Bounded: timeouts and an overall deadline per request, a maximum body size, a maximum number of redirects (the
  token is never sent to another host), ``https://`` only (plain ``http://`` for 127.0.0.1 and localhost: tests).
* The file is edited as text at the places Python's ``ast`` gives for the entry's ``Image(...)`` call, checked by
  importing the result (``Image``'s own validation) and replaced atomically.

Everything goes through a transport (``method, url, headers, max_body -> Response``) and a registry map (registry
-> base URL, ``URBANSTACK_REGISTRY_MAP`` on the command line), so tests run against a local fake registry.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import http.client
import importlib.util
import json
import re
import ssl
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from catalogue.paths import ROOT
from clikit.outdir import atomic_write

VERSIONS_FILE = ROOT / "catalogue" / "versions.py"
REGISTRY_MAP_ENV = "URBANSTACK_REGISTRY_MAP"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
"""What ``Accept`` lists, indexes first: the registry then answers with the top-level manifest of the tag."""

TIMEOUT = 30.0
"""Seconds for connecting and for each read."""
DEADLINE = 120.0
"""Seconds one request may take in all (a server sending a byte at a time is cut off)."""
MAX_BODY = 4 * 1024 * 1024
"""Largest manifest read (registries refuse larger manifests themselves: 4 MiB)."""
MAX_TOKEN_BODY = 256 * 1024
MAX_REDIRECTS = 5
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""The only hosts reached over plain ``http://`` (a registry on this machine, as in the tests)."""
LINE_LENGTH = 120

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NAME = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
RECORD = re.compile(r"registry (?P<host>[A-Za-z0-9.:\[\]-]+), (?P<media_type>[a-z0-9./+-]+) of "
                    r"(?P<repository>[^\s:]+(?::[0-9]+)?/[^\s:]+):(?P<tag>[A-Za-z0-9_.-]+), "
                    r"read (?P<day>\d{4}-\d{2}-\d{2}) by urbanstack images pin")
"""The form of a ``digest_record`` written by this command."""


class RegistryError(Exception):
    """One image's digest could not be read; the message says why."""


class PinError(Exception):
    """Nothing was written; ``problems`` holds one line per image (or per reason)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, list[str]]
    body: bytes
    url: str

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower()) or [""]
        return values[0].strip()


Transport = Callable[[str, str, Mapping[str, str], int], Response]


@dataclass(frozen=True)
class Registry:
    """Where an image reference lives: the registry as written, the host of its API, the repository name there."""

    registry: str
    host: str
    name: str


@dataclass(frozen=True)
class Pin:
    """One selected image and what its registry says."""

    key: str
    repository: str
    tag: str
    digest: str
    media_type: str
    host: str
    recorded: str = ""
    record: str = ""

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def unchanged(self) -> bool:
        return self.recorded == self.digest


@dataclass(frozen=True)
class PinResult:
    path: Path
    pins: list[Pin] = field(default_factory=list)
    diff: str = ""
    written: bool = False

    @property
    def new(self) -> list[Pin]:
        return [p for p in self.pins if not p.recorded]


# ---------------------------------------------------------------------------------------------------- names, URLs

def registry_of(repository: str) -> Registry:
    """The registry, API host and repository name of an image reference without tag (Docker Hub: its API host
    ``registry-1.docker.io``, a name without a namespace under ``library/``)."""
    first, sep, rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, name = first, rest
    else:
        registry, name = "docker.io", repository
    if registry in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        registry, host = "docker.io", "registry-1.docker.io"
        if "/" not in name:
            name = f"library/{name}"
    else:
        host = registry
    if not NAME.fullmatch(name):
        raise RegistryError(f"{repository}: {name!r} is not a repository name of the OCI Distribution API")
    return Registry(registry, host, name)


def check_url(url: str) -> None:
    """``https://`` anywhere, plain ``http://`` only on this machine; no credentials in the URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        raise RegistryError(f"{url}: a URL with credentials is refused")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise RegistryError(f"{url}: not a valid port") from None
    if not parts.hostname:
        raise RegistryError(f"{url}: no host")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        return
    raise RegistryError(f"{url}: only https:// is used (plain http:// only for 127.0.0.1 and localhost)")


def parse_registry_map(value: str | None) -> dict[str, str]:
    """``HOST=URL[,HOST=URL…]`` (``URBANSTACK_REGISTRY_MAP``): the registries' requests go to these base URLs."""
    out: dict[str, str] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        host, sep, url = item.strip().partition("=")
        if not sep or not host or not url:
            raise PinError([f"{REGISTRY_MAP_ENV}: {item.strip()!r} is not HOST=URL"])
        try:
            check_url(url)
        except RegistryError as exc:
            raise PinError([f"{REGISTRY_MAP_ENV}: {exc}"]) from None
        out[host.strip()] = url.strip().rstrip("/")
    return out


def record_text(host: str, media_type: str, repository: str, tag: str, day: date) -> str:
    return f"registry {host}, {media_type} of {repository}:{tag}, read {day.isoformat()} by urbanstack images pin"


# ------------------------------------------------------------------------------------------------------- requests

def http_request(method: str, url: str, headers: Mapping[str, str], max_body: int = MAX_BODY) -> Response:
    """One request, no redirects followed (see :func:`send`), bounded in time and size: the default transport."""
    check_url(url)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=TIMEOUT, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    deadline = time.monotonic() + DEADLINE
    try:
        conn.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=dict(headers))
        response = conn.getresponse()
        found: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            found.setdefault(name.lower(), []).append(value)
        body = b""
        if method != "HEAD":
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_body:
                raise RegistryError(f"{url}: the answer has {length} bytes, more than {max_body}: refused")
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(min(65536, max_body + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if size > max_body:
                    raise RegistryError(f"{url}: the answer is larger than {max_body} bytes: refused")
                if time.monotonic() > deadline:
                    raise RegistryError(f"{url}: no complete answer within {DEADLINE:.0f} s")
            body = b"".join(chunks)
        return Response(response.status, found, body, url)
    except (OSError, http.client.HTTPException) as exc:  # timeouts, refused connections, TLS errors
        raise RegistryError(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()


def send(method: str, url: str, headers: Mapping[str, str], transport: Transport,
         max_body: int | None = None) -> Response:
    """A request with at most :data:`MAX_REDIRECTS` redirects; ``Authorization`` never follows to another host.
    ``max_body`` defaults to :data:`MAX_BODY`."""
    max_body = MAX_BODY if max_body is None else max_body
    start = url
    headers = dict(headers)
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url)
        response = transport(method, url, headers, max_body)
        if response.status not in (301, 302, 303, 307, 308):
            return response
        location = response.header("Location")
        if not location:
            raise RegistryError(f"{url}: HTTP {response.status} without a Location")
        target = urllib.parse.urljoin(url, location)
        if urllib.parse.urlsplit(target).netloc != urllib.parse.urlsplit(url).netloc:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        url = target
    raise RegistryError(f"{start}: more than {MAX_REDIRECTS} redirects")


def parse_challenge(values: Iterable[str]) -> dict[str, str]:
    """The parameters of the ``Bearer`` challenge among ``WWW-Authenticate`` values (realm, service, scope)."""
    schemes = []
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        schemes.append(scheme or "(empty)")
        if scheme.lower() == "bearer":
            return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                    for m in re.finditer(r'([A-Za-z_]+)=(?:"([^"]*)"|([^\s,]*))', rest)}
    raise RegistryError(f"asks for {', '.join(schemes) or 'no'} authentication, not for an anonymous Bearer token")


def anonymous_token(challenge: Mapping[str, str], name: str, transport: Transport) -> str:
    """An anonymous pull token from the challenge's realm (``token`` or ``access_token`` of its JSON)."""
    realm = challenge.get("realm", "")
    if not realm:
        raise RegistryError("the Bearer challenge names no realm")
    query = {**({"service": challenge["service"]} if challenge.get("service") else {}),
             "scope": f"repository:{name}:pull"}
    url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query, safe=":/")
    response = send("GET", url, {"Accept": "application/json"}, transport, MAX_TOKEN_BODY)
    if response.status != 200:
        raise RegistryError(f"the token endpoint {realm} answered HTTP {response.status} (anonymous pull refused?)")
    try:
        data = json.loads(response.body)
    except ValueError:
        raise RegistryError(f"the token endpoint {realm} answered no JSON") from None
    token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"the token endpoint {realm} answered no token")
    return token


def _media_type(response: Response) -> str:
    return response.header("Content-Type").split(";")[0].strip().lower()


def resolve(repository: str, tag: str, registry_map: Mapping[str, str] | None = None,
            transport: Transport = http_request) -> tuple[str, str, str]:
    """``(digest, media type, registry host read)`` of the top-level manifest of ``repository:tag``."""
    if not TAG.fullmatch(tag):
        raise RegistryError(f"{tag!r} is not a tag")
    reg = registry_of(repository)
    mapping = registry_map or {}
    base = mapping.get(reg.registry) or mapping.get(reg.host) or f"https://{reg.host}"
    url = f"{base}/v2/{reg.name}/manifests/{tag}"
    headers = {"Accept": ", ".join(MEDIA_TYPES), "User-Agent": "urbanstack-images-pin"}

    def ask(method: str) -> Response:
        response = send(method, url, headers, transport)
        if response.status == 401 and "Authorization" not in headers:
            challenge = parse_challenge(response.headers.get("www-authenticate", []))
            headers["Authorization"] = f"Bearer {anonymous_token(challenge, reg.name, transport)}"
            response = send(method, url, headers, transport)
        if response.status == 404:
            raise RegistryError(f"the registry has no tag {tag} (HTTP 404 at {url})")
        if response.status in (401, 403):
            raise RegistryError(f"anonymous pull refused (HTTP {response.status} at {url})")
        if response.status != 200:
            raise RegistryError(f"HTTP {response.status} at {url}")
        return response

    head = ask("HEAD")
    digest, media_type = head.header("Docker-Content-Digest"), _media_type(head)
    if not digest or media_type not in MEDIA_TYPES:
        get = ask("GET")
        computed = "sha256:" + hashlib.sha256(get.body).hexdigest()
        for said in (digest, get.header("Docker-Content-Digest")):
            if said and said != computed:
                raise RegistryError(f"the registry's Docker-Content-Digest {said} is not the sha256 of the manifest "
                                    f"it sent ({computed}) at {url}: refused")
        digest = computed
        media_type = _media_type(get)
        if not media_type:
            try:
                media_type = str(json.loads(get.body).get("mediaType", ""))
            except (ValueError, AttributeError):
                media_type = ""
    if not DIGEST.fullmatch(digest):
        raise RegistryError(f"the registry's digest {digest!r} is not sha256:<64 hex digits> ({url})")
    if media_type not in MEDIA_TYPES:
        raise RegistryError(f"the registry answered with media type {media_type or '(none)'}, not an image index "
                            f"or manifest ({url})")
    return digest, media_type, urllib.parse.urlsplit(base).netloc


# ------------------------------------------------------------------------------------------------- the file edit

def load_images(text: str, path: Path) -> dict:
    """``IMAGES`` of a catalogue text, imported as a module of its own (``Image``'s validation runs)."""
    name = "_urbanstack_images_pin_catalogue"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses look their module up while the classes are made
    try:
        exec(compile(text, str(path), "exec"), module.__dict__)
    except Exception as exc:
        raise PinError([f"{path}: does not import: {type(exc).__name__}: {exc}"]) from None
    finally:
        sys.modules.pop(name, None)
    images = getattr(module, "IMAGES", None)
    if not isinstance(images, dict):
        raise PinError([f"{path}: defines no IMAGES dict"])
    return images


def _image_call(tree: ast.Module, key: str) -> ast.Call:
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else getattr(
            node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == "IMAGES" and isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == key:
                    func = v.func if isinstance(v, ast.Call) else None
                    if (isinstance(func, ast.Name) and func.id == "Image") or (
                            isinstance(func, ast.Attribute) and func.attr == "Image"):
                        return v
                    raise PinError([f"IMAGES[{key!r}] is not written as Image(...): add the digest by hand"])
    raise PinError([f"IMAGES[{key!r}]: no such entry in the IMAGES dict"])


def _wrap(text: str, first: int, rest: int, reserve: int) -> list[str]:
    """``text`` as string pieces (cut after spaces) for lines with ``first``/``rest`` characters before the quote,
    the last line also holding ``reserve`` characters after its closing quote."""
    words = re.findall(r"\S+\s*", text)
    room = [LINE_LENGTH - first - 2] + [LINE_LENGTH - rest - 2] * len(words)
    pieces: list[str] = []
    for word in words:
        if pieces and len(pieces[-1]) + len(word) <= room[len(pieces) - 1]:
            pieces[-1] += word
        else:
            pieces.append(word)
    while len(pieces) > 0 and len(pieces[-1]) + reserve > room[len(pieces) - 1]:
        last = re.findall(r"\S+\s*", pieces[-1])
        if len(last) < 2:
            break
        pieces[-1] = "".join(last[:-1])
        pieces.append(last[-1])
    return pieces


def add_digest(text: str, key: str, digest: str, record: str) -> str:
    """``text`` with ``IMAGES[key]``'s ``Image(repository, tag, homepage, …)`` given ``digest`` as its 4th
    positional argument and ``digest_record=record``, laid out like the entries that carry one (≤ 120 columns)."""
    if not DIGEST.fullmatch(digest) or '"' in record or "\\" in record:
        raise PinError([f"IMAGES[{key!r}]: refusing to write digest {digest!r} / record {record!r}"])
    call = _image_call(ast.parse(text), key)
    if (len(call.args) != 3 or any(isinstance(a, ast.Starred) for a in call.args)
            or any(kw.arg in (None, "digest", "digest_record") for kw in call.keywords)):
        raise PinError([f"IMAGES[{key!r}] is not written as Image(repository, tag, homepage, ...) without a digest: "
                        "add the digest by hand"])
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(lineno: int) -> str:
        end = text.find("\n", starts[lineno - 1])
        return text[starts[lineno - 1]:end if end >= 0 else len(text)]

    def column(lineno: int, col: int) -> int:  # ast columns count UTF-8 bytes
        return len(line_of(lineno).encode()[:col].decode())

    def offset(lineno: int, col: int) -> int:
        return starts[lineno - 1] + column(lineno, col)

    first, homepage = call.args[0], call.args[2]
    indent = len(line_of(call.lineno)) - len(line_of(call.lineno).lstrip())
    pad = column(first.lineno, first.col_offset)
    if pad + len(digest) + 3 > LINE_LENGTH or pad + len('digest_record="') + 40 > LINE_LENGTH:
        pad = indent + 4
    at = offset(homepage.end_lineno or homepage.lineno, homepage.end_col_offset or 0)
    line_end = text.find("\n", at)
    remainder = text[at:line_end if line_end >= 0 else len(text)]
    one_line = homepage.lineno == homepage.end_lineno
    if one_line and column(homepage.lineno, homepage.end_col_offset or 0) + 1 > LINE_LENGTH:
        # The homepage moves to a line of its own when the comma would push its line past the limit.
        gap_from = offset(call.args[1].end_lineno or call.args[1].lineno, call.args[1].end_col_offset or 0)
        gap_to = offset(homepage.lineno, homepage.col_offset)
        if re.fullmatch(r"[ \t]*,[ \t]*", text[gap_from:gap_to]):
            text = text[:gap_from] + ",\n" + " " * pad + text[gap_to:]
            at += len(",\n" + " " * pad) - (gap_to - gap_from)
    keyword = 'digest_record="'
    pieces = _wrap(record, pad + len(keyword) - 1, pad + len(keyword) - 1, len(remainder))
    quoted = ("\n" + " " * (pad + len(keyword) - 1)).join(f'"{p}"' for p in pieces)
    insertion = f',\n{" " * pad}"{digest}",\n{" " * pad}digest_record={quoted}'
    return text[:at] + insertion + text[at:]


# ------------------------------------------------------------------------------------------------------ the command

def select(images: Mapping, keys: Iterable[str]) -> list[str]:
    """The keys to read: the named ones (each checked), or every image upstream publishes without a digest."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return [k for k, i in images.items() if not i.built_here and not i.digest]
    problems = []
    for key in keys:
        if key not in images:
            problems.append(f"{key}: not an image of catalogue/versions.py (known: {', '.join(images)})")
        elif images[key].built_here:
            problems.append(f"{key}: built here (make images) and pulled from the operator's registry: no upstream "
                            "digest to record")
    if problems:
        raise PinError(problems)
    return keys


def pin_images(keys: Iterable[str] = (), *, dry_run: bool = False, path: Path = VERSIONS_FILE,
               registry_map: Mapping[str, str] | None = None, transport: Transport = http_request,
               today: date | None = None, echo: Callable[[str], None] | None = None) -> PinResult:
    """Read the digests of the selected images and record them in ``path``; all or nothing (:class:`PinError`)."""
    try:
        original = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PinError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    images = load_images(original, path)
    day = today or date.today()
    pins: list[Pin] = []
    problems: list[str] = []
    for key in select(images, keys):
        image = images[key]
        if echo:
            echo(f"reading {key}: {image.repository}:{image.tag}")
        try:
            digest, media_type, host = resolve(image.repository, image.tag, registry_map, transport)
        except RegistryError as exc:
            problems.append(f"{key} ({image.repository}:{image.tag}): {exc}")
            continue
        pin = Pin(key, image.repository, image.tag, digest, media_type, host, image.digest,
                  record_text(host, media_type, image.repository, image.tag, day))
        if pin.recorded and not pin.unchanged:
            problems.append(f"{key} ({pin.reference}): the registry's digest {digest} differs from the recorded "
                            f"{pin.recorded}: the tag was pushed again or the recorded digest is wrong: check "
                            "upstream, then remove the old digest (and its digest_record) by hand")
            continue
        pins.append(pin)
    if problems:
        raise PinError(problems)
    text = original
    for pin in pins:
        if not pin.recorded:
            text = add_digest(text, pin.key, pin.digest, pin.record)
    if text == original:
        return PinResult(path, pins)
    after = load_images(text, path)
    for key, image in images.items():
        expected = image
        pin = next((p for p in pins if p.key == key and not p.recorded), None)
        if pin:
            expected = dataclasses.replace(image, digest=pin.digest, digest_record=pin.record)
        if key not in after or dataclasses.astuple(after[key]) != dataclasses.astuple(expected):
            raise PinError([f"{path}: the edit of IMAGES[{key!r}] does not read back as intended: nothing written"])
    diff = "".join(difflib.unified_diff(original.splitlines(keepends=True), text.splitlines(keepends=True),
                                        str(path), str(path)))
    if dry_run:
        return PinResult(path, pins, diff)
    _replace(path, original, text)
    return PinResult(path, pins, diff, written=True)


def _replace(path: Path, original: str, text: str) -> None:
    """Write ``text`` over ``path`` atomically (its mode kept), unless the file changed since it was read."""
    if path.read_text(encoding="utf-8") != original:
        raise PinError([f"{path}: changed while the registries were read: nothing written, run again"])
    atomic_write(path, text)
