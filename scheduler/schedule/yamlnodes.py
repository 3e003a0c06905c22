"""YAML text -> a tree of nodes that know their position, read safely and strictly.

Built from the events of PyYAML's C parser in one pass, without recursion. Plain scalars
resolve by the YAML 1.2 core schema (``10:30`` and ``no`` stay text, ``010`` is 10);
only the core tags are accepted; duplicate keys, nesting past 64 levels, alias bombs,
several documents and non-text input are reported as problems with line and column.
Aliases share the anchored node (nothing is copied); YAML 1.1 merge keys
(``<<: *defaults``) are supported for mappings. A caller may take each entry of the
mappings under the root as it completes (``Visit``), so a large document never has to
exist whole as a tree.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Hashable
from typing import Any, TypeAlias, TypeGuard, cast

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from ..errors import Problem

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000

_CORE = "tag:yaml.org,2002:"
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_WORDS: dict[str, Any] = {
    "": None,
    "~": None,
    "null": None,
    "true": True,
    "false": False,
    ".inf": float("inf"),
    "+.inf": float("inf"),
    "-.inf": float("-inf"),
    ".nan": float("nan"),
}
_MAYBE_NOT_TEXT = frozenset("0123456789+-.~nNtTfF")
_MAX_INT_DIGITS = 4000
_UNSET: Any = object()
_TAG_TYPES: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "float": (int, float),
    "bool": bool,
    "null": type(None),
}


def resolve_plain(text: str) -> Any:
    """The value of a plain scalar by the YAML 1.2 core schema; anything else is text."""
    if not text:
        return None
    if text[0] not in _MAYBE_NOT_TEXT:
        return text
    low = text.lower()
    if low in _WORDS:
        return _WORDS[low]
    if _INT.fullmatch(text):
        return _to_int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _to_int(text: str) -> int | float:
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    if len(text) > _MAX_INT_DIGITS:
        return float("inf")
    return int(text, 10)


class _Placed:
    """A node's position, from the parser's mark of its first character. The marks are
    kept as they are: most nodes are never asked where they are."""

    __slots__ = ("start",)
    start: Any  # line and column from 0

    @property
    def line(self) -> int:
        """Line of the node's first character, from 1."""
        return int(self.start.line) + 1

    @property
    def column(self) -> int:
        """Column of the node's first character, from 1."""
        return int(self.start.column) + 1


class Scalar(_Placed):
    """A scalar: its text as written (after quoting and escapes) and its position."""

    __slots__ = ("_value", "end", "plain", "style", "text")
    end: Any

    def __init__(self, event: ScalarEvent, plain: bool | None = None, value: Any = _UNSET) -> None:
        self.text: str = event.value
        self.style = event.style
        self.plain = not self.style if plain is None else plain
        self.start = event.start_mark
        self.end = event.end_mark
        self._value = value

    @property
    def value(self) -> Any:
        """The scalar's value: str, int, float, bool or None."""
        if self._value is not _UNSET:
            return self._value
        return resolve_plain(self.text) if self.plain else self.text

    def text_column(self, offset: int) -> int | None:
        """Column of character ``offset`` of the text, if it is written on one line as is."""
        start, end = self.start, self.end
        quote = 1 if self.style in ("'", '"') else 0
        exact = end.line == start.line and end.column - start.column == len(self.text) + 2 * quote
        return self.column + quote + offset if exact else None


class Collection(_Placed):
    """Common part of mappings and sequences: position, height and expanded size."""

    __slots__ = ("anchor", "height", "members", "size")

    def __init__(self, event: NodeEvent, size: int = 1) -> None:
        self.start = event.start_mark
        self.anchor: str | None = event.anchor
        self.height = 1
        self.size = size
        self.members: list[Node] = []


class Mapping(Collection):
    """A mapping; ``items`` maps each key's text to its (key, value) nodes, in file order.

    While it is being read, its keys and values arrive in ``members``, one after the
    other; ``items`` is filled when it ends.
    """

    __slots__ = ("items",)
    items: dict[str, tuple[Scalar, Node]]

    @property
    def key(self) -> Node | None:
        """The key whose value is being read, if any."""
        return self.members[-1] if len(self.members) % 2 else None

    def pairs(self) -> dict[str, tuple[Scalar, Node]]:
        """The entries read so far (the first of duplicate keys), before ``items`` is filled."""
        found: dict[str, tuple[Scalar, Node]] = {}
        members = self.members
        for i in range(1, len(members), 2):
            key = members[i - 1]
            if isinstance(key, Scalar) and key.text not in found:
                found[key.text] = (key, members[i])
        return found


class Sequence(Collection):
    """A sequence of nodes."""

    __slots__ = ()

    @property
    def items(self) -> list[Node]:
        """The nodes, in file order."""
        return self.members


Node: TypeAlias = "Scalar | Mapping | Sequence"


def content(node: Node) -> Hashable | None:
    """What a scalar or a list of scalars holds, as a key (nodes with equal keys read
    alike wherever they are), or None for anything else."""
    if isinstance(node, Scalar):
        return node.text, node.plain, node._value, type(node._value)
    if isinstance(node, Sequence) and all(isinstance(item, Scalar) for item in node.items):
        return tuple(content(item) for item in node.items)
    return None


Scope = Callable[[tuple[str, ...]], "str | None"]
Visit = Callable[[Mapping, Mapping, Scalar, Node], bool]
"""Called with (root, parent, key, value) as each entry of a mapping under the root mapping
completes with a collection value; True takes the value (the parent keeps only the key)."""


def compose(
    data: str | bytes, path: str, scope: Scope | None = None, visit: Visit | None = None
) -> tuple[Node | None, list[Problem]]:
    """The document's root node (None for an empty file) and the problems found reading it.

    A fatal problem (not text, syntax, too big, too deep, alias bomb) is the only one and
    comes with no root. ``scope`` names the job of a problem from the keys leading to it.
    """
    composer = _Composer(path, scope, visit)
    # The tree is acyclic; cyclic collections while it grows only cost time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        source = _checked(data, path)
        root = composer.run(source)
    except _Fatal as fatal:
        return None, [fatal.problem]
    except yaml.MarkedYAMLError as error:
        return None, [_first_of(_text(source), error, path, scope)]
    except yaml.YAMLError as error:
        return None, [Problem(path, 1, 1, f"invalid YAML: {error}")]
    finally:
        if collecting:
            gc.enable()
    return root, composer.problems


class _Fatal(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _checked(data: str | bytes, path: str) -> str | bytes:
    """``data`` without its byte order mark, if it is UTF-8 text within the size limit.
    Bytes stay bytes (the parser decodes them itself), which spares a copy of a large file.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    too_big = size_problem(size, path)
    if too_big is not None:
        raise _Fatal(too_big)
    if isinstance(data, bytes) and data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Fatal(Problem(path, 1, 1, "the file is UTF-16 text; save it as UTF-8"))
    if isinstance(data, str):
        _check_text(data, path)
        return data.removeprefix("\ufeff")
    try:
        _check_text(data.decode("utf-8"), path)
    except UnicodeDecodeError as error:
        line, column = _position(data[: error.start].decode("utf-8", "replace"))
        raise _Fatal(
            Problem(path, line, column, "the file is not UTF-8 text (invalid byte)")
        ) from None
    return data.removeprefix("\ufeff".encode())


def _check_text(data: str, path: str) -> None:
    bad = _FORBIDDEN.search(data)
    if bad is not None:
        line, column = _position(data[: bad.start()])
        char = f"U+{ord(bad.group()):04X}"
        raise _Fatal(Problem(path, line, column, f"the file is not text (character {char})"))


def _text(source: str | bytes) -> str:
    """The text the parser was given, to re-read part of it."""
    return source.decode("utf-8") if isinstance(source, bytes) else source


def _position(before: str) -> tuple[int, int]:
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


def _first_of(text: str, error: yaml.MarkedYAMLError, path: str, scope: Scope | None) -> Problem:
    """The library's syntax error, unless the text before it already breaks our own limits.

    YAML libraries scan ahead and may stop on limits of their own (PyYAML 6.0.4 refuses a
    thousand open brackets) before the composer has seen the 65th level; re-reading the
    text up to the library's error applies this loader's limits whatever the library does.
    """
    mark = error.problem_mark
    if mark is not None and mark.index > 0:
        try:
            _Composer(path, scope, None).run(text[: mark.index])
        except _Fatal as fatal:
            return fatal.problem
        except yaml.YAMLError:
            pass
    return _syntax_problem(error, path)


def _syntax_problem(error: yaml.MarkedYAMLError, path: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = f"invalid YAML: {error.problem or error.context}"
    if error.context and error.problem and error.context_mark is not None:
        where = f"{error.context_mark.line + 1}:{error.context_mark.column + 1}"
        message += f" ({error.context} at {where})"
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    if "alias" in message or "cannot start any token" in message:
        message += '; quote a value that starts with * or @, e.g. "*/5 * * * *"'
    return Problem(path, line, column, message)


class _Composer:
    """Turns parser events into nodes; one instance per document."""

    def __init__(self, path: str, scope: Scope | None, visit: Visit | None) -> None:
        self.path = path
        self.scope = scope
        self.visit = visit
        self.problems: list[Problem] = []
        self.anchors: dict[str, Node] = {}
        self.stack: list[Mapping | Sequence] = []
        # The document's root lands in ``roots``; a bound method of the composer kept
        # on itself would be a reference cycle, freed only by the garbage collector.
        self.roots: list[Node] = []
        self.add: Callable[[Node], None] = self.roots.append
        self.documents = 0
        self.collections = 0
        self.expanded = 0
        self.bomb: AliasEvent | None = None

    def run(self, source: str | bytes) -> Node | None:
        parser = yaml.CSafeLoader(source)
        get = parser.get_event
        scalars = 0
        try:
            # Scalars are most of the events: the common ones are handled right here.
            event: Any = get()
            while event.__class__ is not StreamEndEvent:
                kind = event.__class__
                if kind is ScalarEvent:
                    scalars += 1
                    if event.tag is None and event.anchor is None:
                        self.add(Scalar(event))
                    else:
                        self.special_scalar(event)
                elif kind is MappingStartEvent or kind is SequenceStartEvent:
                    self.open(event, scalars)
                elif kind is MappingEndEvent or kind is SequenceEndEvent:
                    self.close(scalars)
                elif kind is AliasEvent:
                    self.alias(event)
                elif kind is DocumentStartEvent:
                    self.document(event)
                event = get()
        finally:
            parser.dispose()
        if self.bomb is not None and self.expanded > scalars + self.collections:
            self.fatal(self.bomb, f"aliases expand to over {MAX_ALIAS_NODES} nodes; write it out")
        return self.roots[0] if self.roots else None

    def document(self, event: DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            self.fatal(event, "several YAML documents (---); a schedule is one document")

    def special_scalar(self, event: ScalarEvent) -> None:
        node = Scalar(event) if event.tag is None else self.tagged_scalar(event)
        if event.anchor is not None:
            self.anchors[event.anchor] = node
        self.add(node)

    def tagged_scalar(self, event: ScalarEvent) -> Scalar:
        tag = event.tag or ""
        name = tag.removeprefix(_CORE)
        if tag in ("!", _CORE + "str"):
            return Scalar(event, False)
        value = resolve_plain(event.value)
        wanted = _TAG_TYPES.get(name)
        if wanted is None:
            self.problem(event, _tag_message(tag, "a scalar"))
            return Scalar(event, False)
        if not isinstance(value, wanted) or (name != "bool" and isinstance(value, bool)):
            self.problem(event, f"{_short(tag)} does not fit {event.value!r}")
            return Scalar(event, False)
        return Scalar(event, True, float(cast(float, value)) if name == "float" else value)

    def open(self, event: MappingStartEvent | SequenceStartEvent, scalars: int) -> None:
        self.collections += 1
        is_map = event.__class__ is MappingStartEvent
        tag = event.tag
        if tag is not None and tag not in ("!", _CORE + ("map" if is_map else "seq")):
            self.problem(event, _tag_message(tag, "a mapping" if is_map else "a list"))
        if len(self.stack) >= MAX_DEPTH:
            self.fatal(event, f"nested deeper than {MAX_DEPTH} levels")
        size = scalars + self.collections + self.expanded
        node = Mapping(event, size) if is_map else Sequence(event, size)
        self.stack.append(node)
        self.add = node.members.append

    def close(self, scalars: int) -> None:
        node = self.stack.pop()
        node.size = scalars + self.collections + self.expanded - node.size + 1
        if isinstance(node, Mapping):
            self.finish(node)
        if node.anchor is not None:
            self.anchors[node.anchor] = node
        self.add = self.stack[-1].members.append if self.stack else self.roots.append
        self.attach(node)

    def finish(self, node: Mapping) -> None:
        members, node.members = node.members, []
        keys, values = members[0::2], members[1::2]
        texts = [getattr(key, "text", None) for key in keys]
        found = dict(zip(texts, zip(keys, values, strict=True), strict=True))
        if len(found) == len(keys) and None not in found:
            node.items = cast("dict[str, tuple[Scalar, Node]]", found)
        else:
            node.items = self.checked_items(keys, values)
        if "<<" in node.items:
            self.merge(node)

    def checked_items(self, keys: list[Node], values: list[Node]) -> dict[str, tuple[Scalar, Node]]:
        """The entries of a mapping with a collection as a key or a key written twice."""
        items: dict[str, tuple[Scalar, Node]] = {}
        for key, value in zip(keys, values, strict=True):
            if not isinstance(key, Scalar):
                self.problem(key, "a mapping key must be a single value, not a collection")
            elif key.text in items:
                first = items[key.text][0]
                where = f"{first.line}:{first.column}"
                message = f"duplicate key {first.text!r} (first at {where})"
                self.problem(key, message, (key.text,))
            else:
                items[key.text] = (key, value)
        return items

    def alias(self, event: AliasEvent) -> None:
        anchor = event.anchor or ""
        node = self.anchors.get(anchor)
        if node is None:
            self.problem(event, self.unknown_alias(anchor))
            mark = event.start_mark
            node = Scalar(ScalarEvent(None, None, (True, False), "", mark, mark))
        elif isinstance(node, Collection):
            self.expand(event, node)
            self.attach(node)
            return
        self.expanded += 1
        self.add(node)

    def expand(self, event: AliasEvent, node: Collection) -> None:
        self.expanded += node.size
        if self.expanded > MAX_ALIAS_NODES and self.bomb is None:
            self.bomb = event
        if len(self.stack) + node.height > MAX_DEPTH:
            self.fatal(event, f"aliases nest deeper than {MAX_DEPTH} levels")

    def unknown_alias(self, anchor: str) -> str:
        if any(node.anchor == anchor for node in self.stack):
            return f"alias *{anchor} is inside its own anchor &{anchor}"
        return f"unknown alias *{anchor} (define &{anchor} before using it)"

    def attach(self, node: Mapping | Sequence) -> None:
        if not self.stack:
            self.roots.append(node)
            return
        parent = self.stack[-1]
        if node.height >= parent.height:
            parent.height = node.height + 1
        if self.visit is not None and len(self.stack) == 2 and self.visited(parent, node):
            return
        self.add(node)

    def visited(self, parent: Mapping | Sequence, node: Mapping | Sequence) -> bool:
        """Whether the visitor took ``node``, the value of an entry under the root mapping."""
        root = self.stack[0]
        key = parent.key if isinstance(parent, Mapping) else None
        if not isinstance(root, Mapping) or not isinstance(key, Scalar) or self.visit is None:
            return False
        if not self.visit(root, cast(Mapping, parent), key, node):
            return False
        parent.members.append(key)
        return True

    def merge(self, node: Mapping) -> None:
        key, value = node.items["<<"]
        if not key.plain:
            return
        del node.items["<<"]
        sources = value.items if isinstance(value, Sequence) else [value]
        for source in sources:
            if not isinstance(source, Mapping):
                self.problem(source, "<< (merge) takes a mapping or a list of mappings")
                continue
            for name, pair in source.items.items():
                node.items.setdefault(name, pair)

    def problem(self, at: yaml.Event | Node, message: str, more: tuple[str, ...] = ()) -> None:
        where = _where(at) if isinstance(at, yaml.Event) else (at.line, at.column)
        job = None
        if self.scope is not None:
            keys = [m.key.text for m in self.stack if isinstance(m, Mapping) and _is_scalar(m.key)]
            job = self.scope((*keys, *more))
        self.problems.append(Problem(self.path, *where, message, job))

    def fatal(self, event: yaml.Event, message: str) -> None:
        raise _Fatal(Problem(self.path, *_where(event), message))


def _where(event: yaml.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (1, 1) if mark is None else (mark.line + 1, mark.column + 1)


def _is_scalar(node: Node | None) -> TypeGuard[Scalar]:
    return isinstance(node, Scalar)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _tag_message(tag: str, what: str) -> str:
    allowed = "!!str !!int !!float !!bool !!null !!seq !!map"
    return f"tag {_short(tag)} is not allowed on {what} (only {allowed})"


def size_problem(size: int, path: str) -> Problem | None:
    """The problem with a file of ``size`` bytes, if it is over the limit."""
    if size <= MAX_BYTES:
        return None
    return Problem(path, 1, 1, f"the file is {size / 1024 / 1024:.1f} MiB; the limit is 16 MiB")
