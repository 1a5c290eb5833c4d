"""Loading and validating tenant files (``tenants/<slug>.yaml``), and writing a new one.

Every problem is reported as ``FILE:LINE: field.path: message``; :func:`load_all` collects every problem of
every file (field errors, values YAML cannot read, and the cross-file ones: duplicate ``slug``, ``ags`` or
``domain``, two slugs on one back-channel port, nested domains) before it raises, so one run shows everything that is wrong, and nothing is
deployed from a partly valid set. Whatever is wrong with a file, callers (``plan``, ``up``, the Pulumi program,
finance) only ever see :class:`TenantError`.

Messages teach: a pattern failure names the expectation with an example (``schema.PATTERN_HINTS``), an
unknown key names the closest valid one, a number written with a German thousands separator is pointed out.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import typing
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from catalogue import names, subdomains
from catalogue.modules import CATALOGUE
from catalogue.paths import ROOT, TENANTS
from catalogue.schema import PATTERN_HINTS, SLUG_PATTERN, Tenant, admin_key, reserved_slug, slug_ok, tenant_model
from catalogue.shared_config import DEFAULT_CELL, SHARED_CONFIG
from catalogue.urls import CONTEXT_PLATFORM
from catalogue.yamlsafe import LoadedYaml, Problem, YamlError, YamlValueError, load_yaml, parse_yaml_text

DEFAULT_DIR = TENANTS


def tenants_dir() -> Path:
    """The folder of tenant files the stacks read: ``$URBANSTACK_TENANTS`` or ``tenants/``."""
    return Path(os.environ.get("URBANSTACK_TENANTS", DEFAULT_DIR))
"""Where the platform's ``urban-stack:baseDomain`` is read from (no municipality may take a domain in it)."""
UNIQUE_FIELDS = ("slug", "ags", "domain")
MAX_PROBLEMS_PER_FILE = 100
"""Problems listed per file; more are counted in one last line."""


class TenantError(Exception):
    """Invalid tenant files; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# -- messages ---------------------------------------------------------------------------------------------

def _walk(data: Any, loc: tuple) -> tuple:
    """Keep the parts of a pydantic error location that exist in the document (drops union tags)."""
    out: list = []
    node = data
    for i, part in enumerate(loc):
        if (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 or not isinstance(node, dict):
            # The last part (e.g. a missing required field) is named as pydantic gives it.
            if isinstance(part, str | int) and not (isinstance(part, str) and "[" in part):
                out.append(part)
            break
    return tuple(out)


def _models_in(tp: Any) -> list[type[pydantic.BaseModel]]:
    """The pydantic models an annotation may hold (through Optional, unions, Annotated and lists)."""
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_in(arg)]


def _keys_at(path: tuple) -> list[str]:
    """The valid keys of the mapping at ``path`` of a tenant file (union of a discriminated union's members)."""
    models: list[type[pydantic.BaseModel]] = [tenant_model()]
    for part in path:
        if isinstance(part, int):
            continue
        models = [m for model in models if part in model.model_fields
                  for m in _models_in(model.model_fields[part].annotation)]
    return list(dict.fromkeys(k for m in models for k in m.model_fields))


def _closest(word: str, candidates: list[str]) -> str | None:
    by_lower = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def _shown(value: Any) -> str:
    """A value as the message quotes it; long ones shortened."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}…{text[-12:]}"


GERMAN_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")
GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


def _message(err: dict, doc: LoadedYaml, path: tuple) -> str:
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    written = doc.texts.get(path)
    got = _shown(written if written is not None else err.get("input"))
    if kind == "missing":
        key = str(path[-1]) if path else ""
        where = f" under '{'.'.join(str(x) for x in path[:-1])}'" if len(path) > 1 else ""
        return f"required field is missing: add a line '{key}: …'{where} (docs/tenant-file.md)"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type") and written is not None:
        german = GERMAN_DATE.fullmatch(written.strip())
        if german:
            return (f"{written} is a German date; write it as {german[3]}-{int(german[2]):02d}-"
                    f"{int(german[1]):02d} (YYYY-MM-DD)")
        return f"expected a date like 2024-12-31 (YYYY-MM-DD), got {got}"
    if kind == "bool_parsing" and written is not None:
        word = written.strip().lower()
        meant = {"ja": "true", "nein": "false", "j": "true", "n": "false", "wahr": "true", "falsch": "false"}
        if word in meant:
            return f"expected true or false, got {written}; for '{written}' write {meant[word]}"
        return f"expected true or false, got {got}"
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        valid = _keys_at(path[:-1])
        near = _closest(key, valid)
        hint = f"; did you mean '{near}'?" if near else ""
        if path[:1] == ("modules",) and len(path) == 2:
            return f"unknown module '{key}'{hint} The modules are: {', '.join(valid)}"
        return (f"unknown field '{key}'{hint} (not part of the tenant file format; valid here: "
                f"{', '.join(valid)})")
    if kind == "string_pattern_mismatch":
        expected = PATTERN_HINTS.get(err.get("ctx", {}).get("pattern", ""), "a value of the documented form "
                                     "(docs/tenant-file.md)")
        return f"expected {expected}, got {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        value = err.get("input")
        if isinstance(value, float) and written and GERMAN_THOUSANDS.match(written):
            digits = written.replace(".", "").lstrip("+")
            return (f"expected a whole number, got {written}, which YAML reads as the decimal number {value}; "
                    f"without the German thousands separator: {digits}")
        return f"expected a whole number (digits only, like 25500), got {got}"
    if kind == "string_type" and written is not None:
        if path == ("ags",) and re.fullmatch(r"\d{7}", written.strip()):
            # A spreadsheet or an unquoted YAML number drops the AGS's leading zero.
            return (f"expected text, got {written}, which has lost its leading zero: put the 8 digits in quotes: "
                    f"\"0{written.strip()}\"")
        return f"expected text, got {written}; put it in quotes: \"{written}\""
    if kind.startswith("literal_error") or kind == "enum":
        return f"expected {msg.removeprefix('Input should be ')}, got {got}"
    return msg


_CONTROL = {"Cc", "Zl", "Zp", "Cf"}
"""Control characters, line and paragraph separators, and invisible formatting characters (``Cf``: bidi
overrides such as U+202E, zero-width space and joiners, soft hyphen), which make a value read differently from
what it is."""


def _control_characters(data: Any, path: tuple = ()) -> Iterable[tuple[tuple, str]]:
    """(path, character) for every string value that holds a line break or another control character."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _control_characters(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _control_characters(value, (*path, i))
    elif isinstance(data, str):
        bad = next((c for c in data if unicodedata.category(c) in _CONTROL), None)
        if bad is not None:
            yield path, bad


# -- one file ---------------------------------------------------------------------------------------------

@dataclass
class Checked:
    """One tenant file after checking: its document (if it could be parsed), its tenant (if valid), its own
    problems and when it was last changed (duplicates are blamed on the later file)."""

    file: str
    doc: LoadedYaml | None = None
    tenant: Tenant | None = None
    problems: list[Problem] = field(default_factory=list)
    mtime: float = 0.0

    def raw(self, key: str) -> str | None:
        """The value of a top-level field as written (stripped; domains lower case), if it is text."""
        data = self.doc.data if self.doc else None
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, str) or not value.strip():
            return None
        return value.strip().lower().rstrip(".") if key == "domain" else value.strip()

    def pinned_port(self) -> int | None:
        """The file's ``backchannelPort`` when it is a whole number in range (else the schema reports it)."""
        data = self.doc.data if self.doc else None
        value = data.get("backchannelPort") if isinstance(data, dict) else None
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value if ok and names.BACKCHANNEL_PORT_BASE <= value < names.BACKCHANNEL_PORT_BASE + \
            names.BACKCHANNEL_PORT_SPAN else None

    def where(self, key: str) -> str:
        line = self.doc.line_of((key,)) if self.doc else None
        return f"{self.file}:{line}" if line else self.file


def _platform_names(doc: LoadedYaml, platform: PlatformDomain | None) -> list[tuple[str, str]]:
    """Names a URL of this file must not point into (``catalogue/urls.py``): the platform's ``baseDomain``
    (Keycloak's ``id.<baseDomain>`` and master realm included) and the municipality's own ``domain``."""
    out = []
    if platform is not None:
        out.append((platform.domain, f"the platform's domain ({platform.where}), where Keycloak and its master "
                                     "realm are served"))
    own = doc.data.get("domain") if isinstance(doc.data, dict) else None
    if isinstance(own, str) and own.strip():
        out.append((own.strip().lower().rstrip("."), "this municipality's own domain, served by the platform"))
    return out


def _admin_key_problems(doc: LoadedYaml) -> list[Problem]:
    """Two administrators whose addresses map to one key of the first-passwords Secret (``a+b@x``, ``a_b@x``)."""
    identity = doc.data.get("identity") if isinstance(doc.data, dict) else None
    admins = identity.get("admins") if isinstance(identity, dict) else None
    if not isinstance(admins, list):
        return []
    seen: dict[str, int] = {}
    problems = []
    for i, address in enumerate(admins):
        if not isinstance(address, str):
            continue
        key = admin_key(address.strip())
        if key in seen and admins[seen[key]].strip().lower() != address.strip().lower():
            first = seen[key]
            problems.append(Problem(doc.file, doc.line_of(("identity", "admins", i)), f"identity.admins.{i}",
                                    f"'{address.strip()}' and '{admins[first].strip()}' (line "
                                    f"{doc.line_of(('identity', 'admins', first))}) map to the same account key "
                                    f"'{key}' (characters other than letters, digits and '-._' become '_'); "
                                    "give each administrator an address of their own"))
        seen.setdefault(key, i)
    return problems


def check_document(doc: LoadedYaml, expected_slug: str | None, reported: Iterable[Problem] = (),
                   platform: PlatformDomain | None = None) -> Checked:
    """Every problem of one parsed document (never raises). ``reported``: problems found while reading it
    (values YAML could not construct); pydantic's view of those same fields is left out. ``platform``: the
    platform's domain, which no URL of the file may point into."""
    checked = Checked(file=doc.file, doc=doc, problems=list(reported))
    if not isinstance(doc.data, dict):
        checked.problems.append(Problem(doc.file, 1, "", f"expected a mapping of fields, found {type(doc.data).__name__}"))
        return checked
    taken = {p.path for p in checked.problems}
    for path, char in _control_characters(doc.data):
        dotted = ".".join(str(p) for p in path)
        if char in "\n\r\x85\u2028\u2029":
            what = "a line break"
        elif unicodedata.category(char) == "Cf":
            what = f"the invisible formatting character U+{ord(char):04X} (bidi or zero-width)"
        else:
            what = f"the control character U+{ord(char):04X}"
        rule = ("no value may hold invisible characters" if unicodedata.category(char) == "Cf"
                else "every value must be one line of text")
        checked.problems.append(Problem(doc.file, doc.line_of(path), dotted, f"contains {what}; {rule}"))
        taken.add(dotted)
    modules = doc.data.get("modules")
    for key, value in (modules.items() if isinstance(modules, dict) else ()):
        if value is None and key in CATALOGUE:
            # `dashboards:` with nothing after it is YAML null: it looks booked and books nothing.
            checked.problems.append(Problem(doc.file, doc.line_of(("modules", key)), f"modules.{key}",
                                            f"no value: write '{key}: {{}}' to book it with its defaults, or "
                                            f"remove the line (or comment it out) to not book it"))
            taken.add(f"modules.{key}")
    tenant, errors = None, []
    try:
        tenant = tenant_model().model_validate(doc.data, context={CONTEXT_PLATFORM: _platform_names(doc, platform)})
    except pydantic.ValidationError as exc:
        for err in exc.errors(include_url=False):
            path = _walk(doc.data, tuple(err["loc"]))
            dotted = ".".join(str(p) for p in path)
            if dotted not in taken:
                taken.add(dotted)
                # A missing field has no line of its own: a top-level one none at all (not the first key's line),
                # a nested one its parent's.
                line = (None if err["type"] == "missing" and len(path) <= 1 else doc.line_of(path))
                errors.append((line or 0, path, dotted, err))
    # Messages are worded for the first MAX_PROBLEMS_PER_FILE only (a file of 25,000 unknown keys is one mistake).
    errors.sort(key=lambda e: e[0])
    room = max(MAX_PROBLEMS_PER_FILE - len(checked.problems), 0)
    for line, path, dotted, err in errors[:room]:
        checked.problems.append(Problem(doc.file, line or None, dotted, _message(err, doc, path)))
    if len(errors) > room:
        checked.problems.append(Problem(doc.file, errors[room][0], "", f"… and {len(errors) - room} more problems "
                                        f"in this file from this line on (fix the ones above first)"))
    for problem in _admin_key_problems(doc):
        if problem.path not in taken:
            taken.add(problem.path)
            checked.problems.append(problem)
    slug = doc.data.get("slug")
    if expected_slug is not None and isinstance(slug, str) and "slug" not in taken and slug.strip() != expected_slug:
        checked.problems.append(Problem(doc.file, doc.line_of(("slug",)), "slug",
                                        f"'{slug.strip()}' must equal the file name '{expected_slug}'"))
    checked.problems.sort(key=lambda p: p.line or 0)
    checked.tenant = tenant if not checked.problems else None
    return checked


def check_file(path: Path | str, display: str | None = None, platform: PlatformDomain | None = None) -> Checked:
    """Read and check one tenant file; never raises: everything that is wrong is in ``problems``."""
    path = Path(path)
    file = display or str(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    try:
        try:
            doc, reported = load_yaml(path, display), []
        except YamlValueError as exc:
            doc, reported = exc.partial, exc.problems
        except YamlError as exc:
            return Checked(file=file, problems=list(exc.problems), mtime=mtime)
        checked = check_document(doc, Path(file).stem, reported, platform)
    except Exception as exc:  # callers must only ever see TenantError; one file must not stop all
        return Checked(file=file, mtime=mtime, problems=[Problem(file, None, "", f"cannot be checked ({type(exc).__name__}: "
                                                                  f"{_shown(str(exc))}); please report this")])
    checked.mtime = mtime
    return checked


def validate_document(doc: LoadedYaml, expected_slug: str | None) -> Tenant:
    """Validate a parsed document; raise :class:`TenantError` with line numbers."""
    checked = check_document(doc, expected_slug)
    if checked.problems:
        raise TenantError(checked.problems)
    return checked.tenant


def load_tenant(path: Path | str, display: str | None = None) -> Tenant:
    """Load and validate one tenant file; the slug must equal the file name (of ``display`` if given)."""
    checked = check_file(path, display)
    if checked.problems:
        raise TenantError(checked.problems)
    return checked.tenant


# -- all files --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlatformDomain:
    domain: str
    where: str
    subdomains: bool | None = None
    """Whether the shared config offers platform subdomains (``urban-stack:tls.platformSubdomains``)."""
    cells: tuple[tuple[str, str], ...] = ()
    """The shared config's cells as (name, base domain), the default cell first; ``cells_where`` its location."""
    cells_where: str = ""


def platform_domain(path: Path | None = SHARED_CONFIG) -> PlatformDomain | None:
    """The shared stack's ``urban-stack:baseDomain``, or None when there is none to read (the shared stack
    reports its own configuration's problems)."""
    if path is None:
        return None
    try:
        display = str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        display = str(path)
    try:
        doc = load_yaml(path, display)
    except YamlError:
        return None
    config = doc.data.get("config") if isinstance(doc.data, dict) else None
    value = config.get("urban-stack:baseDomain") if isinstance(config, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    line = doc.line_of(("config", "urban-stack:baseDomain"))
    tls = config.get("urban-stack:tls")
    offered = tls.get("platformSubdomains") is True if isinstance(tls, dict) else False
    base = value.strip().lower().rstrip(".")
    raw_cells = config.get("urban-stack:cells")
    cells = [(c["name"], (c.get("baseDomain") if isinstance(c.get("baseDomain"), str) else None)
              or (base if c.get("default") is True else f"{c['name']}.{base}"), c.get("default") is True)
             for c in raw_cells if isinstance(c, dict) and isinstance(c.get("name"), str)] \
        if isinstance(raw_cells, list) and raw_cells else [(DEFAULT_CELL, base, True)]
    cells.sort(key=lambda c: not c[2])
    cells_line = doc.line_of(("config", "urban-stack:cells"))
    return PlatformDomain(base, f"{display}:{line}, urban-stack:baseDomain", offered,
                          tuple((n, d) for n, d, _ in cells),
                          f"{display}:{cells_line}, urban-stack:cells" if cells_line else f"{display} (no cells)")


def _blamed(group: list[Checked]) -> list[Checked]:
    """Of files that conflict, those to blame: every file changed after the earliest one; when several share
    the earliest time, all of them."""
    first = min(c.mtime for c in group)
    earliest = [c for c in group if c.mtime == first]
    return [c for c in group if c.mtime != first or len(earliest) > 1]


def free_backchannel_port(taken: typing.Container[int], start: int) -> int:
    """The first back-channel port from ``start`` on (wrapping around the range) that ``taken`` does not hold."""
    span, base = names.BACKCHANNEL_PORT_SPAN, names.BACKCHANNEL_PORT_BASE
    for i in range(span):
        port = base + (start - base + i) % span
        if port not in taken:
            return port
    raise ValueError(f"all {span} back-channel ports ({base}-{base + span - 1}) are taken")


def cross_problems(checked: list[Checked], platform: PlatformDomain | None = None) -> list[Problem]:
    """Problems between files: duplicate slug, ags or domain; a domain inside another's or the platform's."""
    problems: list[Problem] = []
    for key in UNIQUE_FIELDS:
        groups: dict[str, list[Checked]] = {}
        for c in checked:
            if c.raw(key) is not None:
                groups.setdefault(c.raw(key), []).append(c)
        for value, group in groups.items():
            if len(group) < 2:
                continue
            for c in _blamed(group):
                others = ", ".join(o.where(key) for o in group if o is not c)
                problems.append(Problem(c.file, c.doc.line_of((key,)), key, f"'{value}' is already used by {others}"))
    by_port: dict[int, list[Checked]] = {}
    for c in checked:
        slug = c.raw("slug")
        if slug and slug_ok(slug):
            by_port.setdefault(names.backchannel_port(slug, c.pinned_port()), []).append(c)
    for port, group in by_port.items():
        if len({c.raw("slug") for c in group}) < 2:
            continue  # one slug in two files: reported as a duplicate slug above
        for c in _blamed(group):
            others = ", ".join(o.where("slug") for o in group if o is not c)
            problems.append(Problem(c.file, c.doc.line_of(("slug",)), "slug",
                                    f"its back-channel port {port} (its backchannelPort, or derived from the slug "
                                    f"by catalogue/names.py backchannel_port) is already that of {others}; the "
                                    "municipality's listener on the shared Gateway would conflict: set "
                                    f"backchannelPort to a free port, e.g. {free_backchannel_port(by_port, port)}"))
    by_domain = {c.raw("domain"): c for c in checked if c.raw("domain")}
    for domain, child in by_domain.items():
        labels = domain.split(".")
        for i in range(1, len(labels)):
            parent = by_domain.get(".".join(labels[i:]))
            if parent is None:
                continue
            for c in _blamed([child, parent]):
                if c is child:
                    msg = (f"'{domain}' lies inside '{parent.raw('domain')}', the domain of {parent.where('domain')}; "
                           f"every municipality needs a domain of its own")
                else:
                    msg = (f"'{parent.raw('domain')}' contains '{domain}', the domain of {child.where('domain')}; "
                           f"every municipality needs a domain of its own")
                problems.append(Problem(c.file, c.doc.line_of(("domain",)), "domain", msg))
    if platform is not None:
        zones = [(platform.domain, f"the platform's domain '{platform.domain}' ({platform.where})")]
        zones += [(d, f"the domain '{d}' of cell '{n}' ({platform.cells_where})") for n, d in platform.cells
                  if d != platform.domain]
        for domain, c in by_domain.items():
            for p, what in zones:
                if domain == p or domain.endswith(f".{p}"):
                    relation = "is" if domain == p else "lies inside"
                elif p.endswith(f".{domain}"):
                    relation = "contains"
                else:
                    continue
                problems.append(Problem(c.file, c.doc.line_of(("domain",)), "domain",
                                        f"'{domain}' {relation} {what}; use a domain of the municipality's own"))
                break
        problems += _cell_problems(checked, platform)
    problems += _subdomain_problems(checked, platform)
    return problems


def _cell_problems(checked: list[Checked], platform: PlatformDomain) -> list[Problem]:
    """A ``cell`` (or a ``cellHistory`` entry's cell) that the shared config does not list."""
    known = [n for n, _ in platform.cells]
    out = []
    for c in checked:
        if c.tenant is None:
            continue
        named = [(("cell",), "cell", c.tenant.cell)] if c.tenant.cell else []
        named += [(("cellHistory", i, "cell"), f"cellHistory[{i}].cell", s.cell)
                  for i, s in enumerate(c.tenant.cellHistory)]
        for loc, field_name, cell in named:
            if cell not in known:
                out.append(Problem(c.file, c.doc.line_of(loc), field_name,
                                   f"'{cell}' is not a cell of the platform ({platform.cells_where}: "
                                   f"{', '.join(known)})"))
        if c.tenant.cellHistory and c.tenant.cell is None and c.tenant.cellHistory[-1].cell == known[0]:
            out.append(Problem(c.file, c.doc.line_of(("cellHistory", len(c.tenant.cellHistory) - 1, "cell")),
                               f"cellHistory[{len(c.tenant.cellHistory) - 1}].cell",
                               f"'{known[0]}' is the current cell (the default cell: no `cell` given); the history "
                               "lists the cells the municipality left"))
    return out


def _subdomain_problems(checked: list[Checked], platform: PlatformDomain | None) -> list[Problem]:
    """Municipalities on a platform subdomain: hosts that collide (``catalogue/subdomains.py``), and a platform
    that does not offer subdomains."""
    on_subdomain = {c.file: (c.raw("slug"), c.doc.line_of(("platformSubdomain",))) for c in checked
                    if c.doc is not None and isinstance(c.doc.data, dict) and c.doc.data.get("platformSubdomain") is True
                    and c.raw("slug")}
    by_file = {c.file: c for c in checked}
    out = subdomains.problems(on_subdomain, lambda files: [c.file for c in _blamed([by_file[f] for f in files])])
    if platform is not None and platform.subdomains is False:
        config = platform.where.split(":", 1)[0]
        out += [Problem(file, line, "platformSubdomain", f"the platform does not offer platform subdomains "
                        f"({config}: urban-stack:tls.platformSubdomains is not true); set it there (with tls.dns01 "
                        f"for issuer acme), or give the municipality a domain of its own")
                for file, (_, line) in on_subdomain.items()]
    return out


def tenant_files(paths: Iterable[Path | str] | None = None) -> list[Path]:
    """Expand directories to their ``*.yaml`` files; default: the repository's ``tenants/``."""
    out: list[Path] = []
    for p in [Path(x) for x in (paths or [DEFAULT_DIR])]:
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml") and x.is_file()))
        else:
            out.append(p)
    return out


_CACHE: dict[tuple, dict[str, Tenant]] = {}


def _signature(files: list[Path]) -> tuple:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f.resolve()), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), None, None))
    return tuple(out)


def load_all(paths: Iterable[Path | str] | None = None, shared_config: Path | None = SHARED_CONFIG) -> dict[str, Tenant]:
    """Load every tenant file; raise :class:`TenantError` listing all problems, including the cross-file ones.

    ``shared_config``: the shared stack's config file, whose ``baseDomain`` no municipality may share.
    Results are cached per set of files (path, mtime, size), so planning many stacks in one process
    validates each file once.
    """
    files = tenant_files(paths)
    extra = [Path(shared_config)] if shared_config is not None else []
    key = (tuple(CATALOGUE), _signature(files), _signature(extra))
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _load_all(files, platform_domain(shared_config))
    return dict(_CACHE[key])


def _load_all(files: list[Path], platform: PlatformDomain | None) -> dict[str, Tenant]:
    problems: list[Problem] = []
    checked: list[Checked] = []
    for path in files:
        if path.suffix == ".yml":
            problems.append(Problem(str(path), None, "", "tenant files end in .yaml"))
            continue
        checked.append(check_file(path, platform=platform))
    cross = cross_problems(checked, platform)
    for c in checked:
        problems.extend(sorted([*c.problems, *(p for p in cross if p.file == c.file)], key=lambda p: p.line or 0))
    if problems:
        raise TenantError(problems)
    return {c.tenant.slug: c.tenant for c in sorted(checked, key=lambda c: c.tenant.slug)}


# -- a new file -------------------------------------------------------------------------------------------

class NotWritten(Exception):
    """``tenants new`` found problems; ``lines`` name the option or value at fault. Nothing was written."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


OPTION_OF = {"slug": "SLUG", "name": "--name", "ags": "--ags", "population": "--population",
             "populationDate": "--population-date", "costCenter": "--cost-center", "contact.name": "--contact-name",
             "contact.email": "--contact-email", "domain": "--domain", "platformSubdomain": "--platform-subdomain",
             "plan": "--plan", "identity.admins": "--admin",
             "identity.admins.0": "--admin", "memberSince": "--member-since"}
"""Field of the tenant file -> the option of ``urbanstack tenants new`` that sets it."""

TEMPLATE = """\
# {name_comment}: tenant file of the Urban Stack. Reference: docs/tenant-file.md
schemaVersion: 1
slug: {slug}
name: {name}
ags: {ags}               # Amtlicher Gemeindeschlüssel, 8 digits, in quotes
population: {population}        # inhabitants at populationDate, digits only (source: IT.NRW / Destatis)
populationDate: {population_date}
costCenter: {cost_center}      # Kostenstelle printed on finance statements
contact:
  name: {contact_name}
  email: {contact_email}
{served_line}
plan: {plan}                # small | medium | large (catalogue/sizing.py)
# cell: <name>               # another cell than the default one (shared config urban-stack:cells)
memberSince: {member_since}    # first day of membership: shared costs are billed from this day on
# Booked modules: remove the '#' in front of a module to book it; options per module: docs/modules.md.
modules:
{module_lines}
identity:
  admins:
    - {admin}
  # federation:             # optional: your own directory (type: oidc | saml | ldap)
backup:
  retentionDays: 30         # 7-3650
"""

_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9._@-]*$")


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as exactly this string (quoted unless plainly safe)."""
    import yaml

    if _PLAIN.match(value):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def module_lines() -> list[str]:
    """One commented line per module of the catalogue; removing the '#' books it with its defaults."""
    width = max(len(key) for key in CATALOGUE) + 4
    return [f"#  {f'{key}: {{}}':<{width}}  # {mod.title}" for key, mod in CATALOGUE.items()]


def template(*, slug: str, name: str, ags: str, population: int, domain: str = "", population_date: str = "",
             cost_center: str = "", contact_name: str = "IT", contact_email: str = "", admin: str = "",
             plan: str = "small", member_since: str = "", platform_subdomain: bool = False,
             backchannel_port: tuple[int, str] | None = None) -> str:
    """The text of a new tenant file (values quoted so that none can change the file's structure).
    ``member_since``: ISO date; default: the first day of next month (a new member is billed from the day it
    joins, never for a month before). ``platform_subdomain``: served below the platform's ``baseDomain`` instead of
    at ``domain`` (then ``contact_email`` has no default). ``backchannel_port``: ``(port, file)`` when the port
    derived from the slug is already that of ``file``: the free ``port`` is written as ``backchannelPort``."""
    email = contact_email or (f"it@{domain}" if domain else "")
    served = ("platformSubdomain: true   # no domain of its own: served as <slug>-<module>.<baseDomain>"
              if platform_subdomain else f"domain: {_scalar(domain)}      # services are published as <module>.<domain>")
    if backchannel_port is not None:
        port, other = backchannel_port
        served += (f"\nbackchannelPort: {port}   # the port derived from the slug is that of {Path(other).name}; "
                   "never change it once deployed")
    date = population_date or (dt.date.today().replace(month=1, day=1) - dt.timedelta(days=1)).isoformat()
    since = member_since or (dt.date.today().replace(day=28) + dt.timedelta(days=4)).replace(day=1).isoformat()
    return TEMPLATE.format(
        name_comment=" ".join(name.split()), slug=_scalar(slug), name=_scalar(name), ags=json.dumps(ags),
        population=population, population_date=date if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else _scalar(date),
        cost_center=_scalar(cost_center or slug.upper()), contact_name=_scalar(contact_name),
        contact_email=_scalar(email), served_line=served, plan=_scalar(plan), admin=_scalar(admin or email),
        member_since=since if re.fullmatch(r"\d{4}-\d{2}-\d{2}", since) else _scalar(since),
        module_lines="\n".join(module_lines()),
    )


def _option_line(problem: Problem) -> str:
    option = OPTION_OF.get(problem.path) or OPTION_OF.get(problem.path.split(".")[0]) or problem.path
    return f"{option}: {problem.message}" if option else problem.message


def _given_options_only(problems: list[Problem], values: dict[str, Any]) -> list[Problem]:
    """The problems of a new file as the options given cause them: an invalid ``--domain`` is reported once, not
    again through the e-mail addresses derived from it (``it@<domain>``) or as a clash with other domains; a
    7-digit ``--ags`` is told that its leading zero is missing (a shell or spreadsheet drops it), not to quote."""
    bad_domain = any(p.path == "domain" for p in problems if "already used" not in p.message
                     and "contains" not in p.message and "lies inside" not in p.message)
    derived = {"contact.email"} if not values.get("contact_email") else set()
    if not values.get("admin") and not values.get("contact_email"):
        derived |= {"identity.admins", "identity.admins.0"}
    out = []
    for p in problems:
        if bad_domain and (p.path in derived or (p.path == "domain" and ("contains" in p.message
                                                                         or "lies inside" in p.message))):
            continue
        ags = str(values.get("ags", ""))
        if p.path == "ags" and re.fullmatch(r"\d{7}", ags) and "already used" not in p.message:
            p = Problem(p.file, p.line, p.path, f"{ags!r} has 7 digits: the leading zero is missing (Land codes "
                                                f"01–09 start with 0); write --ags 0{ags}")
        out.append(p)
    return out


def new_tenant(directory: Path, slug: str, **values: Any) -> Path:
    """Write ``directory/<slug>.yaml`` from :func:`template`, checked first on its own and against the files
    already in ``directory`` (slug, ags, domain); raise :class:`NotWritten` and write nothing otherwise.

    The slug is checked before it is used in any path, so nothing outside ``directory`` is ever touched; an
    existing file is never overwritten; the problems of files already there are not reported here
    (``urbanstack tenants validate`` does that).
    """
    if bool(values.get("domain")) == bool(values.get("platform_subdomain")):
        raise NotWritten(["--domain / --platform-subdomain: give exactly one: the municipality's own domain, or "
                          "--platform-subdomain to be served below the platform's baseDomain; nothing was written"])
    if values.get("platform_subdomain") and not values.get("contact_email"):
        raise NotWritten(["--contact-email: required with --platform-subdomain (there is no domain for the default "
                          "it@<domain>); nothing was written"])
    if not slug_ok(slug):
        raise NotWritten([f"SLUG: expected {PATTERN_HINTS[SLUG_PATTERN]}, got {_shown(slug)}; nothing was written"])
    if reserved_slug(slug):
        raise NotWritten([f"SLUG: {slug!r} is reserved ({reserved_slug(slug)}); nothing was written"])
    target = Path(directory) / f"{slug}.yaml"
    if target.exists() or target.with_suffix(".yml").exists():
        raise NotWritten([f"{target}: exists already; refusing to overwrite"])
    existing = [check_file(p) for p in tenant_files([directory])] if Path(directory).is_dir() else []
    taken: dict[int, str] = {}
    for c in existing:
        other = c.raw("slug")
        if other and slug_ok(other):
            taken[names.backchannel_port(other, c.pinned_port())] = c.file
    derived = names.backchannel_port(slug)
    if derived in taken:  # pinned in the file, so that no later join can move it (schema: backchannelPort)
        values = {**values, "backchannel_port": (free_backchannel_port(taken, derived), taken[derived])}
    text = template(slug=slug, **values)
    display = str(target)
    try:
        doc, reported = parse_yaml_text(text, display), []
    except YamlValueError as exc:
        doc, reported = exc.partial, exc.problems
    except YamlError as exc:  # the template quotes every value, so this means a bug in the template
        raise NotWritten([f"cannot write a valid file: {p}" for p in exc.problems]) from None
    platform = platform_domain()
    new = check_document(doc, slug, reported, platform)
    new.mtime = float("inf")  # the file being made is the one changed last: conflicts are its own
    problems = new.problems + [p for p in cross_problems([*existing, new], platform) if p.file == display]
    problems = _given_options_only(problems, values)
    if problems:
        raise NotWritten([_option_line(p) for p in problems] + [f"{target} was not written"])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as f:  # "x": never replaces a file that appeared meanwhile
            f.write(text)
    except OSError as exc:
        raise NotWritten([f"{target}: cannot be written ({exc.strerror or exc}); nothing was written"]) from None
    return target
