"""Loading and validating tenant files (``tenants/<slug>.yaml``).

Every problem is reported as ``FILE:LINE: field.path: message``; :func:`load_all` collects the problems of
all files (and the cross-file ones: duplicate ``slug``, ``ags`` or ``domain``) before it raises, so one run
shows everything that is wrong, and nothing is deployed from a partly valid set.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pydantic

from urbanstack.schema import Tenant, tenant_model
from urbanstack.yamlsafe import LoadedYaml, Problem, YamlError, load_yaml

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "tenants"


class TenantError(Exception):
    """Invalid tenant files; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


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


def _message(err: dict) -> str:
    msg = err["msg"]
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "extra_forbidden":
        return "unknown field (not part of the tenant file format; check the spelling)"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "string_pattern_mismatch" and "input" in err:
        return f"{err['input']!r} does not match the required pattern {err['ctx']['pattern']}"
    if err["type"].startswith("literal_error") and "input" in err:
        return f"{err['input']!r}: {msg}"
    return msg


def validate_document(doc: LoadedYaml, expected_slug: str | None) -> Tenant:
    """Validate a parsed document; raise :class:`TenantError` with line numbers."""
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        raise TenantError([Problem(doc.file, 1, "", f"expected a mapping of fields, found {type(doc.data).__name__}")])
    try:
        tenant = tenant_model().model_validate(doc.data)
    except pydantic.ValidationError as exc:
        for err in exc.errors(include_url=False):
            path = _walk(doc.data, tuple(err["loc"]))
            problems.append(Problem(doc.file, doc.line_of(path), ".".join(str(p) for p in path), _message(err)))
        raise TenantError(problems) from None
    if expected_slug is not None and tenant.slug != expected_slug:
        raise TenantError([Problem(doc.file, doc.line_of(("slug",)), "slug",
                                   f"'{tenant.slug}' must equal the file name '{expected_slug}'")])
    return tenant


def load_tenant(path: Path | str, display: str | None = None) -> Tenant:
    """Load and validate one tenant file; the slug must equal the file name (of ``display`` if given)."""
    path = Path(path)
    try:
        doc = load_yaml(path, display)
    except YamlError as exc:
        raise TenantError(exc.problems) from None
    return validate_document(doc, Path(display).stem if display else path.stem)


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


def load_all(paths: Iterable[Path | str] | None = None) -> dict[str, Tenant]:
    """Load every tenant file; raise :class:`TenantError` listing all problems, including duplicates.

    Results are cached per set of files (path, mtime, size), so planning many stacks in one process
    validates each file once.
    """
    from components.modules import CATALOGUE

    files = tenant_files(paths)
    key = (tuple(CATALOGUE), _signature(files))
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _load_all(files)
    return dict(_CACHE[key])


def _load_all(files: list[Path]) -> dict[str, Tenant]:
    problems: list[Problem] = []
    tenants: dict[str, tuple[Path, Tenant]] = {}
    seen: dict[str, dict[str, Path]] = {"slug": {}, "ags": {}, "domain": {}}
    for path in files:
        if path.suffix == ".yml":
            problems.append(Problem(str(path), None, "", "tenant files end in .yaml"))
            continue
        try:
            tenant = load_tenant(path)
        except TenantError as exc:
            problems.extend(exc.problems)
            continue
        dup = False
        for field in ("slug", "ags", "domain"):
            value = getattr(tenant, field)
            if value in seen[field]:
                dup = True
                problems.append(Problem(str(path), None, field,
                                        f"'{value}' is already used by {seen[field][value]}"))
            else:
                seen[field][value] = path
        if not dup:
            tenants[tenant.slug] = (path, tenant)
    if problems:
        raise TenantError(problems)
    return {slug: t for slug, (_, t) in sorted(tenants.items())}
