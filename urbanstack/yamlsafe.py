"""Strict YAML loading for files that people edit by hand.

Tenant files and stack configuration are read through :func:`load_yaml`, which

* refuses files that are empty, too large, binary or not UTF-8,
* refuses duplicate keys (PyYAML silently keeps the last one),
* refuses anchors, aliases and merge keys (no "billion laughs", no hidden sharing),
* refuses non-string mapping keys, and
* remembers the line of every mapping key and sequence item, so that validation
  errors can be reported as ``FILE:LINE: field.path: message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 256 * 1024
"""Largest accepted file. A tenant file is a few kilobytes; anything bigger is a mistake."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, printable as ``FILE:LINE: field.path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        where = f" {self.path}:" if self.path else ""
        return f"{loc}:{where} {self.message}"


class YamlError(Exception):
    """Raised with a list of :class:`Problem`."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class LoadedYaml:
    """The parsed document plus the line of every key path (``("modules", "dashboards")`` -> 12)."""

    file: str
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, path: tuple) -> int | None:
        """Line of ``path`` or of its closest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


class _Loader(yaml.SafeLoader):
    pass


def _fail(file: str, node: Node | None, message: str, path: str = "") -> YamlError:
    line = node.start_mark.line + 1 if node is not None and node.start_mark else None
    return YamlError([Problem(file, line, path, message)])


def _build(file: str, node: Node, path: tuple, lines: dict, loader: _Loader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    dotted = ".".join(str(p) for p in path)
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _fail(file, key_node, "merge keys ('<<') are not allowed", dotted)
            if not isinstance(key_node, ScalarNode):
                raise _fail(file, key_node, "mapping keys must be plain strings", dotted)
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key_node.value)
            if key in out:
                raise _fail(
                    file,
                    key_node,
                    f"duplicate key '{key}' (first on line {lines[(*path, key)]})",
                    ".".join(str(p) for p in (*path, key)),
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(file, value_node, (*path, key), lines, loader)
        return out
    if isinstance(node, SequenceNode):
        return [_build(file, item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml_text(text: str, file: str) -> LoadedYaml:
    """Parse one YAML document from ``text`` strictly (see module docstring)."""
    loader = _Loader(text)
    try:
        # Refuse anchors and aliases before composing anything: composing an alias bomb is the attack.
        events = list(yaml.parse(text, Loader=yaml.SafeLoader))
        for ev in events:
            anchor = getattr(ev, "anchor", None)
            if isinstance(ev, yaml.AliasEvent) or anchor:
                line = ev.start_mark.line + 1 if ev.start_mark else None
                raise YamlError([Problem(file, line, "", "anchors and aliases ('&', '*') are not allowed")])
        docs = sum(1 for ev in events if isinstance(ev, yaml.DocumentStartEvent))
        if docs > 1:
            raise YamlError([Problem(file, None, "", "exactly one YAML document expected, found several")])
        node = loader.get_single_node()
        if node is None:
            raise YamlError([Problem(file, None, "", "file is empty")])
        lines: dict[tuple, int] = {}
        data = _build(file, node, (), lines, loader)
        return LoadedYaml(file=file, data=data, lines=lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise YamlError([Problem(file, line, "", f"YAML syntax error: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Problem(file, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()


def load_yaml(path: Path | str, display: str | None = None) -> LoadedYaml:
    """Read and strictly parse one YAML file; raise :class:`YamlError` naming the file."""
    path = Path(path)
    file = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise YamlError([Problem(file, None, "", f"file is {size} bytes, larger than the {MAX_BYTES} allowed")])
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlError([Problem(file, None, "", f"cannot read file: {exc.strerror or exc}")]) from None
    if b"\x00" in raw:
        raise YamlError([Problem(file, None, "", "binary file (contains NUL bytes), expected YAML text")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlError([Problem(file, None, "", f"not UTF-8 text (byte {exc.start})")]) from None
    if not text.strip():
        raise YamlError([Problem(file, None, "", "file is empty")])
    return parse_yaml_text(text, file)
