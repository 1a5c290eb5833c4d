"""Custom resources as the API server treats them, judged by the CustomResourceDefinition the plan installs.

The API server of the Kubernetes version we target (``urbanstack.checks.schemas.KUBERNETES_VERSION``) does four things to a custom resource before it stores it
(k8s.io/apiextensions-apiserver at that release: ``pkg/apiserver/customresource_handler.go``,
``pkg/apiserver/schema/pruning``, ``.../schema/defaulting``, ``pkg/apiserver/validation``,
``k8s.io/apiserver/pkg/cel``); this module does the same offline, with the CRD's own ``versions[]`` entry:

1. **Version**: the CR's ``apiVersion`` must be a version the CRD serves (``served: true``), else "no matches for
   kind" on a real cluster.
2. **Pruning**: a field the structural schema does not name (not in ``properties``, not allowed by
   ``additionalProperties``, not below ``x-kubernetes-preserve-unknown-fields: true``) is dropped silently; here it
   is reported with its full path. ``apiVersion``, ``kind`` and ``metadata`` are kept at the root and in
   ``x-kubernetes-embedded-resource`` objects. A ``null`` where the schema is not ``nullable`` is dropped too
   (``PruneNonNullableNullsWithoutDefaults``), not reported: it changes nothing.
3. **Defaulting** (``structuraldefaulting.Default``): a property with ``default`` that is absent (or a non-nullable
   ``null``) gets a copy of the default, recursively (a defaulted object gets its own properties' defaults).
   :func:`defaulted` is the one function the cluster model reads CRs through.
4. **Validation** of the pruned, defaulted object: the OpenAPI v3 schema with JSON schema (``nullable``,
   ``x-kubernetes-int-or-string``, ``x-kubernetes-embedded-resource`` as Kubernetes reads them; the string
   formats listed in :data:`FORMATS`), then every ``x-kubernetes-validations`` CEL rule with ``cel-python``
   (``self`` the value at the rule's place; rules that use ``oldSelf`` are transition rules, which the API server
   runs only on update, so they are counted as such on create). The Kubernetes CEL library functions our CRDs'
   rules use and ``cel-python`` lacks are implemented in :data:`K8S_FUNCTIONS`; a rule that still cannot be
   evaluated is reported by CRD, field path and rule text and counted as not evaluated, never passed.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

Obj = dict[str, Any]

BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
    "rbac.authorization.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "resource.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "internal.apiserver.k8s.io", "storagemigration.k8s.io",
})
"""API groups the API server serves itself (Kubernetes 1.34); every other group is a CRD's."""


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def is_custom(obj: Obj) -> bool:
    """Whether ``obj`` is a custom resource (its API group is not one Kubernetes serves itself)."""
    return bool(obj.get("apiVersion")) and group_of(str(obj["apiVersion"])) not in BUILTIN_GROUPS


# ------------------------------------------------------------------------------------------------------------------
# The CRDs a plan installs
# ------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InstalledCrd:
    """One CustomResourceDefinition and where it comes from (a chart's folder in the plan, release manifests, or a
    documented cluster prerequisite)."""

    crd: Obj
    source: str

    @property
    def spec(self) -> Obj:
        return self.crd.get("spec") or {}

    @property
    def name(self) -> str:
        return str((self.crd.get("metadata") or {}).get("name", ""))

    @property
    def key(self) -> tuple[str, str]:
        return str(self.spec.get("group", "")), str((self.spec.get("names") or {}).get("kind", ""))

    @property
    def served(self) -> list[str]:
        return [str(v.get("name")) for v in self.spec.get("versions") or [] if v.get("served")]

    def version(self, name: str) -> Obj | None:
        return next((v for v in self.spec.get("versions") or [] if v.get("name") == name), None)

    def schema(self, version: str) -> Obj | None:
        v = self.version(version) or {}
        return (v.get("schema") or {}).get("openAPIV3Schema")


def index_crds(crds: Iterable[tuple[Obj, str]]) -> tuple[dict[tuple[str, str], InstalledCrd], list[str]]:
    """``(group, kind) -> InstalledCrd`` of every ``CustomResourceDefinition`` among ``crds`` (object, source), and one
    problem per CRD that two sources install differently (the second create would fail on a real cluster)."""
    out: dict[tuple[str, str], InstalledCrd] = {}
    problems = []
    for obj, source in crds:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        found = InstalledCrd(obj, source)
        before = out.get(found.key)
        if before is not None and before.source != source and before.spec != found.spec:
            problems.append(f"CRD {found.name} is installed by {before.source} and, differently, by {source}")
            continue
        out.setdefault(found.key, found)
    return out, problems


# ------------------------------------------------------------------------------------------------------------------
# Structural schema: pruning and defaulting
# ------------------------------------------------------------------------------------------------------------------

_ROOT_KEYS = ("apiVersion", "kind", "metadata")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def prune(value: Any, schema: Obj | None, path: str = "", root: bool = True) -> list[str]:
    """Remove (in place) what the API server prunes from ``value``; returns the full paths of the unknown fields
    removed (``structuralpruning.PruneWithOptions``). Non-nullable ``null`` values without a default are removed
    too, unreported."""
    pruned: list[str] = []
    _prune(value, schema, path, root, pruned)
    return pruned


def _prune(value: Any, schema: Obj | None, path: str, root: bool, pruned: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or extra is True
        embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
        for key in list(value):
            if embedded and key in _ROOT_KEYS and key not in props:
                continue
            sub = props.get(key) if key in props else (extra if isinstance(extra, dict) else None)
            if key not in props and not isinstance(extra, dict) and not keep_unknown:
                pruned.append(_join(path, key))
                del value[key]
                continue
            if value[key] is None and sub is not None and not sub.get("nullable") and "default" not in sub:
                del value[key]
                continue
            if embedded and key == "metadata":
                continue  # ObjectMeta: the API server keeps it as ObjectMeta (checked separately)
            _prune(value[key], sub, _join(path, key), False, pruned)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune(item, schema["items"], _join(path, i), False, pruned)


def apply_defaults(value: Any, schema: Obj | None) -> None:
    """``structuraldefaulting.Default``, in place: absent properties (and non-nullable nulls) that have a
    ``default`` get a deep copy of it; then every property, additional property and list item is visited, so the
    properties of a defaulted object get their own defaults."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, prop in props.items():
            if not isinstance(prop, dict) or "default" not in prop:
                continue
            if key not in value or (value[key] is None and not prop.get("nullable")):
                value[key] = copy.deepcopy(prop["default"])
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                apply_defaults(sub, props[key])
            elif isinstance(extra, dict):
                apply_defaults(sub, extra)
    elif isinstance(value, list):
        for item in value:
            apply_defaults(item, schema.get("items"))


@dataclass
class Admitted:
    """A custom resource after the API server's decoding: the object it stores, and what happened on the way."""

    obj: Obj
    crd: InstalledCrd | None = None
    version: str = ""
    problems: list[str] = field(default_factory=list)
    """Why the API server would refuse the object (no CRD, version not served): nothing else is checked then."""
    pruned: list[str] = field(default_factory=list)


def admit(obj: Obj, crds: dict[tuple[str, str], InstalledCrd]) -> Admitted:
    """The CRD and version of ``obj``, and the object as stored: a pruned, defaulted deep copy."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(obj.get("kind", ""))
    crd = crds.get((group, kind))
    out = Admitted(copy.deepcopy(obj), crd, version)
    if crd is None:
        out.problems.append(f"no CustomResourceDefinition for {kind} in group {group!r} is installed by the plan "
                            f"or documented as a cluster prerequisite")
        return out
    if version not in crd.served:
        out.problems.append(f"version not served: {api_version} {kind}; CRD {crd.name} ({crd.source}) serves "
                            f"{', '.join(crd.served) or 'no version'}")
        return out
    schema = crd.schema(version)
    out.pruned = prune(out.obj, schema)
    apply_defaults(out.obj, schema)
    return out


def defaulted(obj: Obj, crds: dict[tuple[str, str], InstalledCrd]) -> Obj:
    """``obj`` as the API server stores it (pruned and defaulted by its installed CRD); ``obj`` unchanged when it is
    no custom resource, or its CRD is missing or does not serve its version (the check reports those)."""
    if not is_custom(obj):
        return obj
    admitted = admit(obj, crds)
    return obj if admitted.problems else admitted.obj


# ------------------------------------------------------------------------------------------------------------------
# OpenAPI v3 schema validation
# ------------------------------------------------------------------------------------------------------------------

def _is_date_time(s: str) -> bool:
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", s) is not None


def _is_cidr(s: str) -> bool:
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "/" in s


def _is_uuid(s: str) -> bool:
    try:
        uuid.UUID(s)
    except ValueError:
        return False
    return True


def _is_byte(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except ValueError:
        return False
    return True


def _is_ip(version: int) -> Callable[[str], bool]:
    def check(s: str) -> bool:
        try:
            return ipaddress.ip_address(s).version == version
        except ValueError:
            return False
    return check


FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_date_time, "datetime": _is_date_time,
    "date": lambda s: re.fullmatch(r"\d{4}-\d{2}-\d{2}", s) is not None,
    "byte": _is_byte, "ipv4": _is_ip(4), "ipv6": _is_ip(6), "cidr": _is_cidr, "uuid": _is_uuid,
    "mac": lambda s: re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}", s) is not None,
}
"""String formats checked as the API server checks them (``apiextensions-apiserver/pkg/apiserver/validation/
formats.go`` lists the supported ones; formats not listed here are not checked, as for unknown formats there)."""


def json_schema(schema: Any) -> Any:
    """A structural schema as a draft-4 JSON schema with Kubernetes' readings: ``nullable`` admits ``null``,
    ``x-kubernetes-int-or-string`` admits an integer or a string, ``x-kubernetes-embedded-resource`` requires
    ``apiVersion`` and ``kind``."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: Obj = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = json_schema(value)
        elif key in ("default", "example", "x-kubernetes-validations", "description"):
            continue
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string") and "type" not in out:
        out["allOf"] = [*out.get("allOf", []), {"type": ["integer", "string"]}]
    if schema.get("x-kubernetes-embedded-resource"):
        out["required"] = sorted({*out.get("required", []), "apiVersion", "kind"})
    if schema.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


_VALIDATORS: dict[int, tuple[Obj, Any]] = {}
_VALIDATORS_LIMIT = 512


def schema_validator(schema: Obj):
    """The cached JSON-schema validator of one CRD version's ``openAPIV3Schema`` (kept per schema object)."""
    import jsonschema

    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    checker = jsonschema.FormatChecker(formats=())
    for name, check in FORMATS.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    validator = jsonschema.Draft4Validator(json_schema(schema), format_checker=checker)
    if len(_VALIDATORS) >= _VALIDATORS_LIMIT:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def schema_errors(obj: Obj, schema: Obj) -> list[str]:
    """Every OpenAPI schema error of the (pruned, defaulted) object, each as ``path: message``."""
    errors = sorted(schema_validator(schema).iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    out = []
    for e in errors:
        where = ""
        for p in e.absolute_path:
            where = _join(where, p)
        out.append(f"{where or '(top level)'}: {e.message}")
    return out + list(list_type_errors(obj, schema))


def _fields(value: Obj, schema: Obj, path: str) -> Iterator[tuple[Any, Obj, str]]:
    """``(field value, its schema, its path)`` of every field of an object that its schema describes (a named
    property, or ``additionalProperties`` when that is a schema)."""
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key, sub in value.items():
        if key in props:
            yield sub, props[key], _join(path, key)
        elif isinstance(extra, dict):
            yield sub, extra, _join(path, key)


def list_type_errors(value: Any, schema: Obj | None, path: str = "") -> Iterator[str]:
    """Duplicates in lists of ``x-kubernetes-list-type: set`` (equal items) or ``map`` (equal values of the
    ``x-kubernetes-list-map-keys``), which the API server refuses ("Duplicate value", apiextensions-apiserver
    ``pkg/apiserver/schema/listtype``)."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        for sub, sub_schema, sub_path in _fields(value, schema, path):
            yield from list_type_errors(sub, sub_schema, sub_path)
    elif isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: set[str] = set()
        for i, item in enumerate(value):
            if list_type in ("set", "map"):
                ident = repr([item.get(k) for k in keys] if list_type == "map" and isinstance(item, dict)
                             else item)
                if ident in seen:
                    what = ", ".join(f"{k}={item.get(k)!r}" for k in keys) if list_type == "map" else repr(item)
                    yield f"{_join(path, i)}: Duplicate value: {what} (x-kubernetes-list-type: {list_type})"
                seen.add(ident)
            yield from list_type_errors(item, schema.get("items"), _join(path, i))


# ------------------------------------------------------------------------------------------------------------------
# CEL rules (x-kubernetes-validations)
# ------------------------------------------------------------------------------------------------------------------

CEL_RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
                          "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void",
                          "while"})


def cel_property_name(name: str) -> str | None:
    """How a rule names a property (k8s.io/apiserver ``pkg/cel/escaping.go`` ``Escape``): reserved words as
    ``__word__``; ``__``, ``.``, ``-``, ``/`` as ``__underscores__``, ``__dot__``, ``__dash__``, ``__slash__``; a name
    with any other character is not accessible (``None``)."""
    if name in CEL_RESERVED:
        return f"__{name}__"
    if not re.fullmatch(r"[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*", name):
        return None
    return (name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__")
            .replace("/", "__slash__"))


_GO_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> dt.timedelta:
    """Go's ``time.ParseDuration`` (what CEL-go's ``duration()`` uses): ``1h30m``, ``100ms``, ``-1.5s``, ``0``."""
    s = text.strip()
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s == "0":
        return dt.timedelta(0)
    pos, total = 0, 0.0
    for m in _GO_DURATION.finditer(s):
        if m.start() != pos or m.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"invalid duration {text!r}")
    return dt.timedelta(seconds=sign * total)


def _k8s_functions() -> dict[str, Callable[..., Any]]:
    """The Kubernetes CEL functions the rules of our installed CRDs use that ``cel-python`` 0.5.0 lacks or reads
    differently (inventory: ``tests/test_crds.py::test_every_function_the_installed_crds_rules_call_is_known``).

    * ``split`` (Kubernetes' strings extension, cel-go ``ext.Strings``: ``<string>.split(<string>) -> list``,
      ``<string>.split(<string>, <int>)`` with a limit);
    * ``duration`` (CEL standard, but cel-python 0.5.0 reads ``100ms`` as 0 s): Go's ``time.ParseDuration``;
    * ``substring``, ``lowerAscii``, ``upperAscii`` (strings extension, cel-go ``ext/strings.go``: ``substring``
      counts code points and errors when an index is out of range or ``end < start``; the case functions change
      ASCII letters only), used by the Gateway API v1.6.1 and Envoy Gateway v1.9.0 CRDs;
    * ``isIP`` (k8s.io/apiserver ``pkg/cel/library/ip.go``: ``netip.ParseAddr`` without a zone and not an
      IPv4-mapped IPv6 address; IPv4 with leading zeros is refused), used by the Gateway API v1.6.1 CRDs.

    Not implemented: the format library (``format.dns1123Label().validate(s)``, k8s.io/apiserver
    ``pkg/cel/library/format.go``), called only by the experimental ``XBackend`` CRD of Gateway API v1.6.1, which
    the plan creates no object of. A rule calling it is reported by name and counted as not evaluated.
    """
    from celpy import celtypes

    def split(text: Any, sep: Any, limit: Any = None) -> Any:
        s, p = str(text), str(sep)
        if limit is None or int(limit) < 0:
            parts = s.split(p) if p else list(s)
        elif int(limit) == 0:
            parts = []
        else:
            parts = s.split(p, int(limit) - 1) if p else [*list(s[: int(limit) - 1]), s[int(limit) - 1:]]
        return celtypes.ListType([celtypes.StringType(x) for x in parts])

    def duration(value: Any) -> Any:
        if isinstance(value, celtypes.DurationType):
            return value
        return celtypes.DurationType(parse_go_duration(str(value)))

    def substring(text: Any, start: Any, end: Any = None) -> Any:
        s = str(text)
        begin, stop = int(start), len(s) if end is None else int(end)
        if begin < 0 or begin > len(s):
            raise ValueError(f"index out of range: {begin}")
        if stop < 0 or stop > len(s):
            raise ValueError(f"index out of range: {stop}")
        if stop < begin:
            raise ValueError(f"invalid substring range. start: {begin}, end: {stop}")
        return celtypes.StringType(s[begin:stop])

    def ascii_case(upper: bool) -> Callable[[Any], Any]:
        table = str.maketrans(*(("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")[::1 if upper else -1]))
        return lambda text: celtypes.StringType(str(text).translate(table))

    def is_ip(text: Any) -> Any:
        s = str(text)
        if "%" in s:  # a zone is refused
            return celtypes.BoolType(False)
        try:
            addr = ipaddress.ip_address(s)
        except ValueError:
            return celtypes.BoolType(False)
        return celtypes.BoolType(not (addr.version == 6 and addr.ipv4_mapped is not None))

    return {"split": split, "duration": duration, "substring": substring, "lowerAscii": ascii_case(False),
            "upperAscii": ascii_case(True), "isIP": is_ip}


K8S_FUNCTIONS = ("split", "duration", "substring", "lowerAscii", "upperAscii", "isIP")
"""Names of the functions :func:`_k8s_functions` adds or replaces."""


@cache
def _cel_environment():
    import celpy

    return celpy.Environment(), _k8s_functions()


@lru_cache(maxsize=4096)
def cel_program(rule: str):
    """The compiled program of one rule text (cached: the same rule stands in many CRDs and is run per object)."""
    env, functions = _cel_environment()
    return env.program(env.compile(rule), functions=functions)


def _type_of(schema: Obj | None) -> str:
    return str((schema or {}).get("type", ""))


def to_cel(value: Any, schema: Obj | None) -> Any:
    """A JSON value as the CEL value Kubernetes gives a rule (k8s.io/apiserver ``pkg/cel/common/values.go``):
    declared properties under their escaped names, maps of ``additionalProperties`` with their keys, integers and
    numbers by the schema's type, strings of format ``date-time``/``date`` as timestamps, ``duration`` as durations,
    ``byte`` as bytes."""
    from celpy import celtypes, json_to_cel

    schema = schema if isinstance(schema, dict) else {}
    if value is None:
        return None
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {}
        for key, sub in value.items():
            if key in props:
                name = cel_property_name(key)
                if name is not None:
                    out[celtypes.StringType(name)] = to_cel(sub, props[key])
            elif isinstance(extra, dict) or extra is True:
                out[celtypes.StringType(key)] = to_cel(sub, extra if isinstance(extra, dict) else None)
            elif not props:
                out[celtypes.StringType(key)] = json_to_cel(sub)
        return celtypes.MapType(out)
    if isinstance(value, list):
        return celtypes.ListType([to_cel(v, schema.get("items")) for v in value])
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float):
        if _type_of(schema) == "number":
            return celtypes.DoubleType(float(value))
        if isinstance(value, float) and not value.is_integer():
            return celtypes.DoubleType(value)
        return celtypes.IntType(int(value))
    if isinstance(value, str):
        fmt = schema.get("format")
        try:
            if fmt in ("date-time", "datetime"):
                return celtypes.TimestampType(value)
            if fmt == "date":
                return celtypes.TimestampType(f"{value}T00:00:00Z")
            if fmt == "duration":
                return celtypes.DurationType(parse_go_duration(value))
            if fmt == "byte":
                return celtypes.BytesType(base64.b64decode(value))
        except (ValueError, TypeError):
            pass  # a malformed value already fails its format
        return celtypes.StringType(value)
    return json_to_cel(value)


@dataclass(frozen=True)
class RuleOutcome:
    """One rule at one place of one object: ``status`` is ``passed``, ``failed``, ``transition`` (uses ``oldSelf``:
    the API server runs it only on update) or ``not-evaluated`` (``reason`` says why)."""

    path: str
    rule: str
    status: str
    message: str = ""
    reason: str = ""


_OLD_SELF = re.compile(r"\boldSelf\b")


def _rule_message(rule: Obj, activation: dict[str, Any]) -> str:
    expression = rule.get("messageExpression")
    if expression:
        try:
            result = cel_program(str(expression)).evaluate(activation)
            if isinstance(result, str) and result.strip():
                return str(result)
        except Exception:  # the API server falls back to message the same way
            pass
    return str(rule.get("message") or f"failed rule: {rule.get('rule')}")


def _is_cel_error(result: Any) -> bool:
    from celpy.evaluation import CELEvalError

    return isinstance(result, CELEvalError)


def evaluate_rule(rule: Obj, value: Any, schema: Obj, path: str, frozen: Any = None) -> RuleOutcome:
    """One ``x-kubernetes-validations`` entry with ``self`` = ``value`` (the object at ``path``).

    ``frozen`` is :func:`_frozen` of ``value`` when the caller has it. A rule's outcome depends only on the rule, the
    value and the schema (CEL has no side effects, and the functions added here none either), so it is computed once
    per ``(schema, rule, value)`` (:data:`_OUTCOMES`): N municipalities repeat the same values (ports, path matches,
    backend references) in every custom resource, and evaluating CEL in Python was most of the schemas check."""
    text = str(rule.get("rule", ""))
    if _OLD_SELF.search(text) and not rule.get("optionalOldSelf"):
        return RuleOutcome(path, text, "transition")
    try:
        key = (id(schema), _frozen(rule), _frozen(value) if frozen is None else frozen)
        hit = _OUTCOMES.get(key)
    except TypeError:  # an unhashable value of an unexpected type: evaluate, do not remember
        key, hit = None, None
    if hit is None or hit[0] is not schema:
        hit = (schema, _evaluate(rule, text, value, schema))
        if key is not None:
            if len(_OUTCOMES) >= _MAX_OUTCOMES:
                _OUTCOMES.clear()
            _OUTCOMES[key] = hit
    status, where, message, reason = hit[1]
    if where == "error":  # an evaluation error: reported at fieldPath when the rule names one
        at = (_join(path, str(rule.get("fieldPath", "")).lstrip(".")) if rule.get("fieldPath") else path) \
            or "(top level)"
    elif where == "failed":
        field_path = str(rule.get("fieldPath", ""))
        at = (path + field_path if field_path.startswith((".", "[")) else _join(path, field_path) if field_path
              else path) or "(top level)"
    else:
        at = path
    return RuleOutcome(at, text, status, message=message, reason=reason)


_OUTCOMES: dict[tuple[int, Any, Any], tuple[Obj, tuple[str, str, str, str]]] = {}
"""``(id(schema), rule, value)`` -> ``(schema, outcome)``. The entry holds its schema, so the ``id`` cannot be reused
by another schema while the entry lives (a hit is also checked to be that very schema)."""
_MAX_OUTCOMES = 50_000


def _frozen(value: Any) -> Any:
    """A hashable image of a JSON-like value that tells apart what :func:`to_cel` tells apart (``1``, ``1.0`` and
    ``True``; key order kept). ``TypeError`` for unhashable values of other types."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple((_frozen(k), _frozen(v)) for k, v in value.items()))
    if kind is list:
        return (list, tuple(_frozen(v) for v in value))
    if kind is float:
        return (float, repr(value))  # -0.0 and nan by their text
    hash(value)
    return (kind, value)


def _evaluate(rule: Obj, text: str, value: Any, schema: Obj) -> tuple[str, str, str, str]:
    """``(status, where, message, reason)`` of one rule for one value; ``where`` says how :func:`evaluate_rule` places
    it: ``path`` (the value's place), ``error`` (an evaluation error, at ``fieldPath``) or ``failed`` (``fieldPath``)."""
    try:
        program = cel_program(text)
    except Exception as exc:
        return "not-evaluated", "path", "", "cannot compile: " + " ".join(str(exc).split())
    if _OLD_SELF.search(text):
        return "not-evaluated", "path", "", "optionalOldSelf (optional types) not supported"
    activation = {"self": to_cel(value, schema)}
    try:
        result = program.evaluate(activation)
    except Exception as exc:
        result = exc
    if _is_cel_error(result) or isinstance(result, Exception):
        detail = str(result.args[0]) if getattr(result, "args", None) else str(result)
        if "no such key" in detail or "no such member" in detail:
            return "failed", "error", f"evaluation error: {detail.splitlines()[0][:200]}", ""
        undeclared = re.search(r"undeclared reference to '([^']+)'", detail)
        reason = (f"{undeclared.group(1)!r} is not implemented here" if undeclared
                  else detail.splitlines()[0][:200] if detail else type(result).__name__)
        return "not-evaluated", "path", "", reason
    if not isinstance(result, bool | int):
        return "not-evaluated", "path", "", f"rule returned {type(result).__name__}, not a bool"
    if bool(result):
        return "passed", "path", "", ""
    reason = f" ({rule['reason']})" if rule.get("reason") else ""
    return "failed", "failed", _rule_message(rule, activation) + reason, ""


def rule_outcomes(value: Any, schema: Obj | None, path: str = "") -> Iterator[RuleOutcome]:
    """Every CEL rule of ``schema`` that applies to ``value``: at each place the value has, with ``self`` that
    value (properties, ``additionalProperties`` values, list items; a rule of an absent field does not run)."""
    if not isinstance(schema, dict) or value is None:
        return
    rules = [rule for rule in schema.get("x-kubernetes-validations") or [] if isinstance(rule, dict)]
    if rules:
        try:
            frozen = _frozen(value)
        except TypeError:
            frozen = None
        for rule in rules:
            yield evaluate_rule(rule, value, schema, path, frozen)
    if isinstance(value, dict):
        for sub, sub_schema, sub_path in _fields(value, schema, path):
            yield from rule_outcomes(sub, sub_schema, sub_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from rule_outcomes(item, schema["items"], _join(path, i))


def rules_of(schema: Any, path: str = "") -> Iterator[tuple[str, Obj]]:
    """Every ``(path, rule)`` of a schema (for the inventory of functions the rules use)."""
    if not isinstance(schema, dict):
        return
    for rule in schema.get("x-kubernetes-validations") or []:
        yield path, rule
    for key, sub in (schema.get("properties") or {}).items():
        yield from rules_of(sub, _join(path, key))
    if isinstance(schema.get("items"), dict):
        yield from rules_of(schema["items"], path + "[*]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from rules_of(schema["additionalProperties"], path + "[*]")


# ------------------------------------------------------------------------------------------------------------------
# One custom resource, judged
# ------------------------------------------------------------------------------------------------------------------

@dataclass
class Judgement:
    """What the API server would do with one custom resource."""

    admitted: Admitted
    schema_errors: list[str] = field(default_factory=list)
    rules: list[RuleOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rules if r.status == status)

    @property
    def failures(self) -> list[tuple[str, str]]:
        """``(rule, message)`` per failure: ``crd-installed``, ``crd-version``, ``crd-pruned``, ``crd-schema``,
        ``crd-cel``, ``crd-cel-not-evaluated``."""
        a = self.admitted
        out = [("crd-version" if p.startswith("version not served") else "crd-installed", p) for p in a.problems]
        out += [("crd-pruned", f"{p}: unknown field, the API server would prune it (not in CRD {a.crd.name} "
                               f"{a.version})") for p in a.pruned if a.crd]
        out += [("crd-schema", e) for e in self.schema_errors]
        out += [("crd-cel", f"{r.path}: {r.message} (rule: {r.rule})") for r in self.rules if r.status == "failed"]
        out += [("crd-cel-not-evaluated", f"{r.path}: rule {r.rule!r} of CRD {a.crd.name if a.crd else '?'} "
                                          f"could not be evaluated: {r.reason}")
                for r in self.rules if r.status == "not-evaluated"]
        return out


def judge(obj: Obj, crds: dict[tuple[str, str], InstalledCrd]) -> Judgement:
    """Version, pruning, defaults, OpenAPI schema and CEL rules of one custom resource against its installed CRD."""
    admitted = admit(obj, crds)
    out = Judgement(admitted)
    if admitted.problems or admitted.crd is None:
        return out
    schema = admitted.crd.schema(admitted.version)
    if not isinstance(schema, dict):
        out.schema_errors.append(f"CRD {admitted.crd.name} {admitted.version} has no openAPIV3Schema")
        return out
    out.schema_errors = schema_errors(admitted.obj, schema)
    out.rules = list(rule_outcomes(admitted.obj, schema))
    return out
