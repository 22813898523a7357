"""Avro schema JSON parsed into a small typed graph, with Java's parse-time checks.

Named types are resolved to the same node object wherever they are referenced, so recursive
schemas become cyclic graphs (the resolution checker memoizes on node identity). Logical types
are kept as an annotation only: like Confluent, the checker ignores them.

Parsing follows Apache Avro Java's ``Schema.Parser``: a name reference is looked up in the
enclosing namespace, then in the null namespace; types must be defined before they are used
(a record may refer to itself); aliases without a dot are qualified with the namespace of the
type that declares them. Problems are collected rather than raised, so a user sees them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from esgen.compat import rules
from esgen.compat.dialect import STRICT, Dialect
from esgen.compat.rules import Rule
from esgen.model import AVRO_PRIMITIVES, is_avro_name

PRIMITIVES = frozenset(AVRO_PRIMITIVES)
NAMED_KINDS = frozenset({"record", "enum", "fixed"})
ORDERS = frozenset({"ascending", "descending", "ignore"})

_MISSING: Any = object()


@dataclass(eq=False)
class Node:
    """A schema node. ``kind`` is the Avro type: a primitive, record, enum, fixed, array,
    map or union (``error`` records have kind ``record``)."""

    kind: str
    logical_type: str | None = None

    def display(self) -> str:
        """Short human name of the type, e.g. ``long``, ``array<string>``, ``com.x.Card``."""
        return self.kind


@dataclass(eq=False)
class Named(Node):
    name: str = ""
    namespace: str | None = None
    aliases: frozenset[str] = frozenset()  # full names, resolved against ``namespace``

    @property
    def fullname(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name

    def display(self) -> str:
        return self.fullname


@dataclass(eq=False)
class Field:
    name: str
    type: Node
    pos: int
    aliases: tuple[str, ...] = ()
    default: Any = _MISSING  # the JSON value; ``None`` is a real ``null`` default

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


@dataclass(eq=False)
class Record(Named):
    fields: list[Field] = field(default_factory=list)

    def field_named(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(eq=False)
class Enum(Named):
    symbols: tuple[str, ...] = ()
    default: str | None = None


@dataclass(eq=False)
class Fixed(Named):
    size: int = 0


@dataclass(eq=False)
class Array(Node):
    items: Node = field(default_factory=lambda: Node("null"))

    def display(self) -> str:
        return f"array<{self.items.display()}>"


@dataclass(eq=False)
class Map(Node):
    values: Node = field(default_factory=lambda: Node("null"))

    def display(self) -> str:
        return f"map<{self.values.display()}>"


@dataclass(eq=False)
class Union(Node):
    branches: list[Node] = field(default_factory=list)

    def display(self) -> str:
        return "[" + ", ".join(b.display() for b in self.branches) + "]"


def branch_key(node: Node) -> str:
    """What makes union branches distinct: the full name of named types, else the kind."""
    if isinstance(node, Named | _Pending):
        return node.fullname
    return node.kind


@dataclass(frozen=True)
class Issue:
    """A problem found in one schema on its own (``steps`` lead from its root to the spot)."""

    rule: Rule
    steps: tuple[str, ...]
    message: str


@dataclass
class Parsed:
    """The result of parsing: the root node (``None`` when unusable) and the issues found."""

    root: Node | None
    issues: list[Issue]
    named: dict[str, Named]

    @property
    def root_name(self) -> str:
        return root_display(self.root)


def root_display(root: Node | None) -> str:
    if root is None:
        return "<invalid>"
    if isinstance(root, Named):
        return root.fullname
    return root.display()


def valid_identifier(text: str) -> bool:
    """Java's default name check: a letter or ``_``, then letters, digits or ``_`` (Unicode
    letters and digits count; the strict dialect uses ``esgen.model.is_avro_name``)."""
    if not text:
        return False
    first, rest = text[0], text[1:]
    if not (first.isalpha() or first == "_"):
        return False
    return all(c.isalnum() or c == "_" for c in rest)


def split_fullname(name: str, namespace: str | None) -> tuple[str, str | None]:
    """Apply Avro's rule: a dotted name carries its own namespace; ``""`` is the null one."""
    if "." in name:
        space, _, short = name.rpartition(".")
        return short, space or None
    return name, namespace or None


def qualify(name: str, namespace: str | None) -> str:
    short, space = split_fullname(name, namespace)
    return f"{space}.{short}" if space else short


@dataclass(eq=False)
class _Pending(Node):
    """A reference to a named type not defined yet (allowed by the avro-1.12 dialect)."""

    fullname: str = ""
    steps: tuple[str, ...] = ()


class _Parser:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.valid_name = is_avro_name if dialect.spec_names else valid_identifier
        self.named: dict[str, Named] = {}
        self.issues: list[Issue] = []
        self.pending: list[_Pending] = []

    def issue(self, rule: Rule, steps: list[str], message: str) -> None:
        self.issues.append(Issue(rule, tuple(steps), message))

    # -- entry point -------------------------------------------------------------------------

    def parse(self, js: Any, namespace: str | None, steps: list[str]) -> Node:
        if isinstance(js, str):
            return self.reference(js, namespace, steps)
        if isinstance(js, list):
            return self.union(js, namespace, steps)
        if isinstance(js, dict):
            kind = js.get("type", _MISSING)
            if kind is _MISSING:
                self.issue(rules.MALFORMED_SCHEMA, steps, "schema object has no `type`")
                return Node("null")
            if not isinstance(kind, str):
                self.issue(
                    rules.MALFORMED_SCHEMA,
                    steps,
                    f"`type` must be a type name, got {json_text(kind)} (a nested type goes in a "
                    "field's `type`, not in a schema object's)",
                )
                return Node("null")
            logical = js.get("logicalType")
            logical = logical if isinstance(logical, str) else None
            if kind in PRIMITIVES:
                return Node(kind, logical)
            if kind in ("record", "error"):
                return self.record(js, namespace, steps, logical)
            if kind == "enum":
                return self.enum(js, namespace, steps, logical)
            if kind == "fixed":
                return self.fixed(js, namespace, steps, logical)
            if kind == "array":
                if "items" not in js:
                    self.issue(rules.MALFORMED_SCHEMA, steps, "array has no `items`")
                    return Array("array", logical)
                return Array("array", logical, self.parse(js["items"], namespace, [*steps, "[]"]))
            if kind == "map":
                if "values" not in js:
                    self.issue(rules.MALFORMED_SCHEMA, steps, "map has no `values`")
                    return Map("map", logical)
                return Map("map", logical, self.parse(js["values"], namespace, [*steps, "{}"]))
            return self.reference(kind, namespace, steps)
        self.issue(rules.MALFORMED_SCHEMA, steps, f"{json_text(js)} is not a schema")
        return Node("null")

    def reference(self, name: str, namespace: str | None, steps: list[str]) -> Node:
        if name in PRIMITIVES:
            return Node(name)
        found = self.named.get(qualify(name, namespace)) or self.named.get(qualify(name, None))
        if found is None and self.dialect.forward_references:
            pending = _Pending("pending", None, qualify(name, namespace), tuple(steps))
            self.pending.append(pending)
            return pending
        if found is None:
            hint = ""
            if name in NAMED_KINDS or name in ("array", "map"):
                hint = f' (`{name}` needs the object form: {{"type": "{name}", ...}})'
            self.issue(
                rules.UNKNOWN_TYPE,
                steps,
                f"undefined type `{name}`{hint}; named types must be defined before use",
            )
            return Node("null")
        return found

    def union(self, js: list[Any], namespace: str | None, steps: list[str]) -> Union:
        branches: list[Node] = []
        seen: set[str] = set()
        for i, item in enumerate(js):
            branch = self.parse(item, namespace, [*steps, f"<{i}>"])
            if isinstance(branch, Union) or isinstance(item, list):
                self.issue(rules.INVALID_UNION, steps, "a union cannot contain a union directly")
                continue
            key = branch_key(branch)
            if key in seen:
                self.issue(rules.INVALID_UNION, steps, f"union has `{key}` twice")
                continue
            seen.add(key)
            branches.append(branch)
        return Union("union", None, branches)

    # -- named types -------------------------------------------------------------------------

    def name_of(
        self, js: dict[str, Any], namespace: str | None, steps: list[str]
    ) -> tuple[str, str | None] | None:
        name = js.get("name")
        if not isinstance(name, str):
            self.issue(rules.MALFORMED_SCHEMA, steps, f"{js.get('type')} has no `name`")
            return None
        space = js.get("namespace", _MISSING)
        if space is _MISSING or space is None:
            space = namespace
        elif not isinstance(space, str):
            self.issue(rules.MALFORMED_SCHEMA, steps, f"`namespace` of `{name}` is not a string")
            space = namespace
        short, resolved = split_fullname(name, space)
        ok = self.valid_name(short)
        if resolved and self.dialect.validate_namespaces:
            ok = ok and all(self.valid_name(part) for part in resolved.split("."))
        if not ok:
            self.issue(
                rules.INVALID_NAME, steps, f"`{qualify(short, resolved)}` is not a valid name"
            )
        full = qualify(short, resolved)
        if (short if self.dialect.spec_names else full) in PRIMITIVES:
            self.issue(
                rules.INVALID_NAME, steps, f"a type cannot be named after the primitive `{short}`"
            )
        return short, resolved

    def aliases_of(
        self, js: dict[str, Any], namespace: str | None, steps: list[str], what: str
    ) -> list[str]:
        raw = js.get("aliases")
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            self.issue(
                rules.MALFORMED_SCHEMA, steps, f"`aliases` of {what} must be a list of strings"
            )
            return []
        return [qualify(a, namespace) for a in raw]

    def register(self, node: Named, steps: list[str]) -> None:
        if node.fullname in self.named:
            self.issue(rules.DUPLICATE_NAME, steps, f"`{node.fullname}` is defined twice")
            return
        self.named[node.fullname] = node

    def record(
        self, js: dict[str, Any], namespace: str | None, steps: list[str], logical: str | None
    ) -> Node:
        names = self.name_of(js, namespace, steps)
        if names is None:
            return Node("null")
        short, space = names
        node = Record("record", logical, short, space)
        node.aliases = frozenset(self.aliases_of(js, space, steps, f"`{node.fullname}`"))
        self.register(node, steps)
        fields_js = js.get("fields")
        if not isinstance(fields_js, list):
            self.issue(
                rules.MALFORMED_SCHEMA, steps, f"record `{node.fullname}` has no `fields` list"
            )
            return node
        seen: set[str] = set()
        for pos, fjs in enumerate(fields_js):
            if not isinstance(fjs, dict):
                self.issue(
                    rules.MALFORMED_SCHEMA,
                    steps,
                    f"field #{pos} of `{node.fullname}` is not an object",
                )
                continue
            fname = fjs.get("name")
            if not isinstance(fname, str):
                self.issue(
                    rules.MALFORMED_SCHEMA,
                    steps,
                    f"field #{pos} of `{node.fullname}` has no `name`",
                )
                continue
            fsteps = [*steps, "." + fname]
            if not self.valid_name(fname):
                self.issue(rules.INVALID_NAME, fsteps, f"`{fname}` is not a valid field name")
            if fname in seen:
                self.issue(
                    rules.DUPLICATE_FIELD,
                    fsteps,
                    f"field `{fname}` appears twice in `{node.fullname}`",
                )
            seen.add(fname)
            if "type" not in fjs:
                self.issue(rules.MALFORMED_SCHEMA, fsteps, f"field `{fname}` has no `type`")
                continue
            ftype = self.parse(fjs["type"], space, fsteps)
            order = fjs.get("order")
            if order is not None and (not isinstance(order, str) or order.lower() not in ORDERS):
                self.issue(
                    rules.MALFORMED_SCHEMA,
                    fsteps,
                    f"`order` must be ascending, descending or ignore, got {json_text(order)}",
                )
            faliases = fjs.get("aliases")
            if faliases is None:
                faliases = []
            elif not isinstance(faliases, list) or not all(isinstance(a, str) for a in faliases):
                self.issue(rules.MALFORMED_SCHEMA, fsteps, "`aliases` must be a list of strings")
                faliases = []
            node.fields.append(
                Field(
                    fname, ftype, len(node.fields), tuple(faliases), fjs.get("default", _MISSING)
                )
            )
        return node

    def enum(
        self, js: dict[str, Any], namespace: str | None, steps: list[str], logical: str | None
    ) -> Node:
        names = self.name_of(js, namespace, steps)
        if names is None:
            return Node("null")
        short, space = names
        node = Enum("enum", logical, short, space)
        node.aliases = frozenset(self.aliases_of(js, space, steps, f"`{node.fullname}`"))
        symbols = js.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            self.issue(
                rules.MALFORMED_SCHEMA,
                steps,
                f"enum `{node.fullname}` needs `symbols`, a list of strings",
            )
            symbols = []
        seen: set[str] = set()
        for symbol in symbols:
            if not self.valid_name(symbol):
                self.issue(rules.INVALID_NAME, steps, f"`{symbol}` is not a valid enum symbol")
            if symbol in seen:
                self.issue(
                    rules.DUPLICATE_SYMBOL,
                    steps,
                    f"symbol `{symbol}` appears twice in `{node.fullname}`",
                )
            seen.add(symbol)
        node.symbols = tuple(dict.fromkeys(symbols))
        default = js.get("default", _MISSING)
        if default is not _MISSING:
            if isinstance(default, str) and default in seen:
                node.default = default
            else:
                self.issue(
                    rules.INVALID_DEFAULT,
                    steps,
                    f"enum default {json_text(default)} is not a symbol of `{node.fullname}`",
                )
        self.register(node, steps)
        return node

    def fixed(
        self, js: dict[str, Any], namespace: str | None, steps: list[str], logical: str | None
    ) -> Node:
        names = self.name_of(js, namespace, steps)
        if names is None:
            return Node("null")
        short, space = names
        node = Fixed("fixed", logical, short, space)
        node.aliases = frozenset(self.aliases_of(js, space, steps, f"`{node.fullname}`"))
        size = js.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**31:
            self.issue(
                rules.MALFORMED_SCHEMA,
                steps,
                f"fixed `{node.fullname}` needs a non-negative int `size`",
            )
        else:
            node.size = size
        self.register(node, steps)
        return node


def json_text(value: Any) -> str:
    """A JSON value as it would appear in the schema, for messages (cut when long)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        try:
            text = repr(value)
        except ValueError:  # an int too long to print (Python refuses over 4,300 digits)
            return f"a number of {value.bit_length()} bits"
    return text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"


def _resolve_pending(parser: _Parser, root: Node) -> Node:
    """Replace forward references by the types they name, once everything is defined."""
    targets: dict[int, Node] = {}
    for pending in parser.pending:
        found: Node | None = parser.named.get(pending.fullname)
        if found is None:
            parser.issue(
                rules.UNKNOWN_TYPE,
                list(pending.steps),
                f"undefined type `{pending.fullname}`",
            )
            found = Node("null")
        targets[id(pending)] = found

    def swap(node: Node) -> Node:
        return targets.get(id(node), node)

    seen: set[int] = set()
    stack = [swap(root), *parser.named.values()]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Record):
            for f in node.fields:
                f.type = swap(f.type)
                stack.append(f.type)
        elif isinstance(node, Array):
            node.items = swap(node.items)
            stack.append(node.items)
        elif isinstance(node, Map):
            node.values = swap(node.values)
            stack.append(node.values)
        elif isinstance(node, Union):
            node.branches = [swap(b) for b in node.branches]
            stack.extend(node.branches)
    return swap(root)


def parse_schema(js: Any, dialect: Dialect = STRICT) -> Parsed:
    """Parse schema JSON (dict, list or str) into nodes, collecting structural issues."""
    parser = _Parser(dialect)
    root_steps: list[str] = []
    root = parser.parse(js, None, root_steps)
    if parser.pending:
        root = _resolve_pending(parser, root)
    return Parsed(root, parser.issues, parser.named)
