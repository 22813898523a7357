"""YAML -> position-keeping nodes.

We compose (never construct) with ``yaml.SafeLoader`` so every node keeps its line and
column, and so scalars arrive as the text the user wrote: the DSL decides what ``0``,
``true`` or ``OPEN`` mean from the type it expects, not YAML's resolver.

Whatever the text, ``load_yaml`` returns nodes or located errors, never raises: characters
YAML forbids (control characters, even in a comment), lone surrogates written as escapes
(``"\\ud800"``, which no UTF-8 file can hold) and nesting deeper than ``MAX_YAML_DEPTH``
are reported at their line and column. The depth is checked before PyYAML's recursive
composer runs, so it never meets Python's recursion limit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

from esgen.dsl.limits import MAX_YAML_DEPTH, too_deep
from esgen.errors import DefinitionError, Location, quote
from esgen.sources import position

_STD = "tag:yaml.org,2002:"
# Tags a definition may carry, explicitly or by YAML's implicit resolution.
_ALLOWED_TAGS = {
    _STD + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}
# What YAML 1.1 lets a file contain (PyYAML's reader refuses the rest, without a line).
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CATEGORIES = {"Cc": "a control character", "Cs": "a lone surrogate"}


@dataclass(frozen=True)
class Scalar:
    text: str  # the scalar's value as written (quotes removed, escapes applied)
    tag: str  # YAML's resolved tag: tells a plain ``0`` (int) from a quoted ``"0"`` (str)
    style: str | None  # None: plain; "'", '"', "|", ">"
    location: Location
    end_line: int  # 1-based line of the scalar's end, to tell multi-line scalars apart

    @property
    def kind(self) -> str:
        """``str``, ``int``, ``float``, ``bool``, ``null`` or ``timestamp``."""
        return self.tag.removeprefix(_STD)

    @property
    def is_null(self) -> bool:
        return self.kind == "null"


@dataclass(frozen=True)
class Sequence:
    items: tuple[Node, ...]
    location: Location


@dataclass(frozen=True)
class Mapping:
    items: tuple[tuple[Scalar, Node], ...]
    location: Location
    flow: bool = False  # written as {...}
    _index: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for key, value in self.items:
            self._index.setdefault(key.text, value)

    def get(self, key: str) -> Node | None:
        return self._index.get(key)

    def __iter__(self) -> Iterator[tuple[Scalar, Node]]:
        return iter(self.items)


Node = Scalar | Sequence | Mapping


def describe(node: Node) -> str:
    """What a node is, for messages: 'a mapping', 'a list', 'a number'..."""
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    return {
        "int": "a number",
        "float": "a number",
        "bool": "a boolean",
        "null": "null",
    }.get(node.kind, f"'{node.text}'")


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases: they hide where a value came from and can blow up."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not supported in definitions; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def _loc(path: str, mark: yaml.Mark | yaml._yaml.Mark) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


def _implicit_null(node: yaml.Node) -> bool:
    """A key written without ':' in a flow mapping: ``{a, b: c}`` gives ``a`` this value."""
    return (
        isinstance(node, yaml.ScalarNode)
        and node.value == ""
        and node.style is None
        and node.start_mark.index == node.end_mark.index
    )


def _unbalanced(node: yaml.Node) -> bool:
    return (
        isinstance(node, yaml.ScalarNode)
        and node.style is None
        and node.value.count("(") > node.value.count(")")
    )


def _rejoin_flow(node: yaml.Node, text: str) -> None:
    """Undo YAML's split of ``{type: decimal(18,2)}`` at the comma inside parentheses.

    In a flow collection a plain scalar ends at ','. ``decimal(18,2)`` and
    ``max(a, b)`` would otherwise become a value ``decimal(18`` plus a stray key ``2)``.
    We join them back from the source text while the parentheses are unbalanced.
    """
    if isinstance(node, yaml.MappingNode) and node.flow_style:
        pairs = list(node.value)
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key, value in pairs:
            if (
                merged
                and _unbalanced(merged[-1][1])
                and _implicit_null(value)
                and isinstance(key, yaml.ScalarNode)
                and key.style is None
            ):
                prev_key, prev = merged[-1]
                joined = yaml.ScalarNode(
                    prev.tag,
                    text[prev.start_mark.index : key.end_mark.index],
                    prev.start_mark,
                    key.end_mark,
                    style=None,
                )
                merged[-1] = (prev_key, joined)
                continue
            merged.append((key, value))
        node.value = merged
    elif isinstance(node, yaml.SequenceNode) and node.flow_style:
        items: list[yaml.Node] = []
        for item in node.value:
            if (
                items
                and _unbalanced(items[-1])
                and isinstance(item, yaml.ScalarNode)
                and item.style is None
            ):
                prev = items[-1]
                items[-1] = yaml.ScalarNode(
                    prev.tag,
                    text[prev.start_mark.index : item.end_mark.index],
                    prev.start_mark,
                    item.end_mark,
                    style=None,
                )
                continue
            items.append(item)
        node.value = items


def _compose_fast(text: str) -> yaml.Node | bool | None:
    """Compose with libyaml when PyYAML has it (about 10x faster than pure Python).

    Returns False when the pure-Python loader must run instead: the text is malformed,
    uses aliases or nests too deeply, and only that loader reports those with the exact
    position.
    """
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None:
        return False
    loader = loader_class(text)
    try:
        root: yaml.Node | None = loader.get_single_node()
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()
    return False if root is not None and _shared_deep_or_unify(root) else root


def _shared_deep_or_unify(root: yaml.Node) -> bool:
    """Make libyaml's nodes look like PyYAML's; True if a node appears twice or the tree
    nests deeper than MAX_YAML_DEPTH.

    An alias (``*name``) makes libyaml return one node object in two places. libyaml
    also spells a plain scalar's style ``''`` where PyYAML says ``None``.
    """
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or depth > MAX_YAML_DEPTH:
            return True
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) and node.style == "":
            node.style = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
    return False


def _unreadable(text: str, path: str) -> DefinitionError | None:
    """A character YAML does not allow in a file, at its place."""
    match = _NOT_YAML.search(text)
    if match is None:
        return None
    char = match.group()
    what = _CATEGORIES.get(unicodedata.category(char), "a noncharacter")
    return DefinitionError(
        f"the character U+{ord(char):04X} ({what}) is not allowed anywhere in a YAML "
        "file, comments included",
        Location(path, *position(text, match.start())),
        f'remove it; inside a double-quoted string write the escape "\\x{ord(char):02x}"'
        if ord(char) < 0x100
        else "remove it",
    )


def _too_deep(text: str, path: str) -> DefinitionError | None:
    """Nesting past MAX_YAML_DEPTH, found from the parser's events (the parser, unlike the
    composer, is not recursive). Malformed YAML is left to the composer to report."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    where = (
                        _loc(path, event.start_mark) if event.start_mark else Location(path, 1, 1)
                    )
                    return DefinitionError(too_deep("the YAML", MAX_YAML_DEPTH), where)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


def _empty(path: str) -> tuple[None, list[DefinitionError]]:
    return None, [
        DefinitionError("the file is empty; expected an entity definition", Location(path, 1, 1))
    ]


def load_yaml(text: str, path: str) -> tuple[Node | None, list[DefinitionError]]:
    """Parse one file. Malformed YAML gives one error at the parser's mark."""
    unreadable = _unreadable(text, path)
    if unreadable is not None:
        return None, [unreadable]
    fast = _compose_fast(text)
    if fast is None:
        return _empty(path)
    if isinstance(fast, yaml.Node):
        found: list[DefinitionError] = []
        return _convert(fast, path, text, found), found
    deep = _too_deep(text, path)
    if deep is not None:
        return None, [deep]
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _loc(path, mark) if mark else Location(path, 1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem and "alias" not in exc.problem:
            problem = f"{exc.context}, {exc.problem}"
        hint = None
        if mark and exc.context and "flow" in exc.context and "'?'" in problem:
            # PyYAML ends a plain scalar at '?' inside {...} and [...]
            hint = 'inside {...} or [...] quote optional types: "string?"'
        return None, [DefinitionError(f"invalid YAML: {problem}", where, hint)]
    except yaml.YAMLError as exc:
        return None, [DefinitionError(f"invalid YAML: {exc}", Location(path, 1, 1))]
    finally:
        loader.dispose()
    if root is None:
        return _empty(path)
    errors: list[DefinitionError] = []
    return _convert(root, path, text, errors), errors


def _convert(node: yaml.Node, path: str, text: str, errors: list[DefinitionError]) -> Node:
    location = _loc(path, node.start_mark)
    _rejoin_flow(node, text)
    if node.tag not in _ALLOWED_TAGS:
        errors.append(
            DefinitionError(
                f"the YAML tag '{node.tag}' is not allowed in definitions",
                location,
                "remove the tag",
            )
        )
        node.tag = _STD + "str"  # reported once; read on as plain text to avoid follow-ups
    if isinstance(node, yaml.MappingNode):
        items: list[tuple[Scalar, Node]] = []
        seen: dict[str, Location] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                errors.append(
                    DefinitionError(
                        "merge keys ('<<') are not supported in definitions; write the keys out",
                        _loc(path, key_node.start_mark),
                    )
                )
                continue
            key = _convert(key_node, path, text, errors)
            if not isinstance(key, Scalar):
                errors.append(
                    DefinitionError(
                        "a key must be a plain name, not " + describe(key), key.location
                    )
                )
                continue
            if key.text in seen:
                first = seen[key.text]
                errors.append(
                    DefinitionError(
                        f"duplicate key '{key.text}' (first defined at line {first.line})",
                        key.location,
                    )
                )
                continue
            seen[key.text] = key.location
            items.append((key, _convert(value_node, path, text, errors)))
        return Mapping(tuple(items), location, bool(node.flow_style))
    if isinstance(node, yaml.SequenceNode):
        return Sequence(tuple(_convert(item, path, text, errors) for item in node.value), location)
    assert isinstance(node, yaml.ScalarNode)
    text = str(node.value)
    if _SURROGATE.search(text):  # "\ud83d\ude00" escapes a pair that means one character
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        errors.append(
            DefinitionError(
                f"the text {quote(text)} holds the lone surrogate "
                f"U+{ord(surrogate.group()):04X}, which UTF-8 cannot encode",
                location,
                'write the character itself, or escape it whole: "\\U0001F600"',
            )
        )
        text = _SURROGATE.sub("\ufffd", text)  # reported once; read on without it
    return Scalar(text, node.tag, node.style, location, node.end_mark.line + 1)
