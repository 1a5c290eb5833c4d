"""Strict YAML loading for files that people edit by hand.

Tenant files and stack configuration are read through :func:`load_yaml`, which

* refuses files that are empty, too large, binary or not UTF-8,
* refuses duplicate keys (PyYAML silently keeps the last one),
* refuses anchors, aliases and merge keys (no "billion laughs", no hidden sharing),
* refuses non-string mapping keys,
* refuses nesting deeper than :data:`MAX_DEPTH` levels before it gets expensive (PyYAML's pure-Python scanner
  is quadratic in the nesting depth, its composer recursive: 5000 nested brackets took 38 s and ended in a
  ``RecursionError``),
* reports values PyYAML cannot construct (an unquoted impossible date such as ``2023-13-45``, an integer
  with thousands of digits) as problems of that line instead of raising ``ValueError``, and
* remembers the line and source text of every mapping key, sequence item and scalar, so that validation
  errors can be reported as ``FILE:LINE: field.path: message`` and can quote what was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 256 * 1024
"""Largest accepted file. A tenant file is a few kilobytes; anything bigger is a mistake."""
MAX_DEPTH = 32
"""Deepest accepted nesting of mappings and sequences (block or flow). A tenant file nests five levels."""


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


class YamlValueError(YamlError):
    """Values that could not be constructed; ``partial`` is the document with each such value left as the
    text that was written, so that a validator can still report every other problem of the file."""

    def __init__(self, problems: list[Problem], partial: LoadedYaml):
        super().__init__(problems)
        self.partial = partial


@dataclass
class LoadedYaml:
    """The parsed document plus the line of every key path (``("modules", "dashboards")`` -> 12) and the
    source text of every scalar (``("population",)`` -> ``"25.500"``)."""

    file: str
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)
    texts: dict[tuple, str] = field(default_factory=dict)

    def line_of(self, path: tuple) -> int | None:
        """Line of ``path`` or of its closest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


class _TooDeep(Exception):
    def __init__(self, mark):
        super().__init__(mark)
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that stops at :data:`MAX_DEPTH` levels of nesting while scanning (before the scanner's
    per-level bookkeeping and the recursive composer get to see a deep document)."""

    def fetch_flow_collection_start(self, TokenClass):
        # yaml/scanner.py (PyYAML 6.0.3): every '[' or '{' raises flow_level by one.
        if self.flow_level + len(self.indents) >= MAX_DEPTH:
            raise _TooDeep(self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column):
        # yaml/scanner.py (PyYAML 6.0.3): every new block mapping or sequence pushes one entry onto indents.
        added = super().add_indent(column)
        if added and self.flow_level + len(self.indents) > MAX_DEPTH:
            raise _TooDeep(self.get_mark())
        return added


class _Replay(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """Composes and constructs from events already parsed (and checked), so the text is parsed only once.

    Implements the three event methods the Composer calls on its Parser (yaml/parser.py, PyYAML 6.0.3:
    ``check_event(*choices)``, ``peek_event()``, ``get_event()``).
    """

    def __init__(self, events: list):
        self._events, self._next = events, 0
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)

    def check_event(self, *choices):
        if self._next >= len(self._events):
            return False
        return not choices or isinstance(self._events[self._next], choices)

    def peek_event(self):
        return self._events[self._next]

    def get_event(self):
        self._next += 1
        return self._events[self._next - 1]


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"


def _value_message(node: ScalarNode, exc: Exception) -> str:
    """Why the scalar ``node`` cannot be read, said for people."""
    text = node.value if len(node.value) <= 40 else f"{node.value[:20]}…{node.value[-8:]}"
    if node.tag == _TIMESTAMP:
        return (f"{text!r} is not a real date ({exc}); write a date as YYYY-MM-DD, e.g. 2024-12-31, "
                f"or quote the value if it is not meant as a date")
    if node.tag == _INT:
        return f"a number with {len(node.value)} characters is far too large to be meant"
    return f"cannot read {text!r}: {exc}"


def _fail(file: str, node: Node | None, message: str, path: str = "") -> YamlError:
    line = node.start_mark.line + 1 if node is not None and node.start_mark else None
    return YamlError([Problem(file, line, path, message)])


def _build(file: str, node: Node, path: tuple, lines: dict, loader: _Replay,
           texts: dict | None = None, problems: list | None = None) -> Any:
    texts = {} if texts is None else texts
    problems = [] if problems is None else problems
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
            out[key] = _build(file, value_node, (*path, key), lines, loader, texts, problems)
        return out
    if isinstance(node, SequenceNode):
        return [_build(file, item, (*path, i), lines, loader, texts, problems) for i, item in enumerate(node.value)]
    if isinstance(node, ScalarNode):
        texts[path] = node.value
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        # PyYAML's SafeConstructor (yaml/constructor.py, 6.0.3) lets these escape for resolvable but
        # impossible values: datetime.date(2023, 13, 45), int() of more than 4300 digits.
        if not isinstance(node, ScalarNode):
            raise
        problems.append(Problem(file, node.start_mark.line + 1, dotted, _value_message(node, exc)))
        return node.value


HAVE_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))
"""PyYAML's wheels bundle libyaml; its C parser reads a 250 KB file in a fraction of the pure-Python time."""


def _parse_events(text: str, libyaml: bool | None = None) -> list:
    """Every parse event of ``text``; raise :class:`_TooDeep` past :data:`MAX_DEPTH` levels of nesting."""
    use_c = HAVE_LIBYAML if libyaml is None else libyaml
    # yaml.CSafeLoader (PyYAML's libyaml binding, yaml/_yaml.pyx CParser) emits events one by one and keeps its
    # own stacks; _Loader (pure Python) stops in its scanner before its per-level bookkeeping gets expensive.
    parser = yaml.CSafeLoader(text) if use_c else _Loader(text)
    events, depth = [], 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _TooDeep(event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            events.append(event)
    finally:
        parser.dispose()
    return events


def parse_yaml_text(text: str, file: str) -> LoadedYaml:
    """Parse one YAML document from ``text`` strictly (see module docstring)."""
    try:
        events = _parse_events(text)
        # Refuse anchors and aliases before composing anything: composing an alias bomb is the attack.
        for ev in events:
            anchor = getattr(ev, "anchor", None)
            if isinstance(ev, yaml.AliasEvent) or anchor:
                line = ev.start_mark.line + 1 if ev.start_mark else None
                raise YamlError([Problem(file, line, "", "anchors and aliases ('&', '*') are not allowed")])
        docs = sum(1 for ev in events if isinstance(ev, yaml.DocumentStartEvent))
        if docs > 1:
            raise YamlError([Problem(file, None, "", "exactly one YAML document expected, found several")])
        composer = _Replay(events)
        node = composer.get_single_node()
        if node is None:
            raise YamlError([Problem(file, None, "", "file is empty")])
        lines: dict[tuple, int] = {}
        texts: dict[tuple, str] = {}
        problems: list[Problem] = []
        data = _build(file, node, (), lines, composer, texts, problems)
        doc = LoadedYaml(file=file, data=data, lines=lines, texts=texts)
        if problems:
            raise YamlValueError(problems, doc)
        return doc
    except _TooDeep as exc:
        raise YamlError([Problem(file, exc.mark.line + 1, "",
                                 f"nested deeper than {MAX_DEPTH} levels (mappings and lists)")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        tab = _tab_indent(text, line)
        if tab:
            raise YamlError([Problem(file, tab, "", "indented with a tab; YAML indents with spaces only: replace "
                                                    "the tab by spaces (two per level, as in the lines above)")]) from None
        raise YamlError([Problem(file, line, "", f"YAML syntax error: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Problem(file, None, "", f"YAML error: {exc}")]) from None


def _tab_indent(text: str, near: int | None) -> int | None:
    """The line (1-based) indented with a tab that a syntax error at line ``near`` comes from, if any."""
    lines = text.splitlines()
    candidates = [near, *(range(1, len(lines) + 1))] if near else range(1, len(lines) + 1)
    for n in candidates:
        if n and n <= len(lines) and "\t" in lines[n - 1][: len(lines[n - 1]) - len(lines[n - 1].lstrip())]:
            return n
    return None


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> tuple[int, str]:
    """Where a file is not UTF-8, and what it most likely is (a German editor's Latin-1 / Windows-1252)."""
    line = raw[: exc.start].count(b"\n") + 1
    try:
        shown = raw[exc.start: exc.start + 1].decode("cp1252")
    except UnicodeDecodeError:
        shown = ""
    if shown and shown.isprintable():
        return line, (f"not UTF-8 text: byte {exc.start} is '{shown}' in Latin-1/Windows-1252; save the file as "
                      f"UTF-8 (in the editor, or: iconv -f windows-1252 -t utf-8 FILE > NEW)")
    return line, f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"


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
        line, message = _not_utf8(raw, exc)
        raise YamlError([Problem(file, line, "", message)]) from None
    if not text.strip():
        raise YamlError([Problem(file, None, "", "file is empty")])
    return parse_yaml_text(text, file)
