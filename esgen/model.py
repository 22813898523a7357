"""The resolved model of a set of definitions, and the vocabulary every part shares.

The DSL stage (``esgen.dsl``) turns YAML into these frozen dataclasses; the code
generator (``esgen.codegen``) and the compatibility checker read them. Nothing here
holds a YAML object: every name is resolved, every default validated, every
expression type-checked. Every node keeps the :class:`Location` it came from so
later stages (``esgen check``) can point at the definition line.

The shared vocabulary lives here once: Avro's naming rules (:func:`is_avro_name`,
:data:`AVRO_PRIMITIVES`, :func:`full_name`), the registry's compatibility :class:`Mode`,
and walkers over types (:func:`type_parts`, :func:`named_refs`) and expressions
(:func:`subexpressions`, :func:`refs`, :func:`reads`). The walkers are iterative, so no
input can exhaust Python's recursion limit through them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from esgen.errors import Location

# ---------------------------------------------------------------------- Avro names
# The Avro specification's rules, used by the DSL (to refuse names), the code generator
# and the compatibility checker's strict dialect.

AVRO_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_avro_name(text: str) -> bool:
    """``[A-Za-z_][A-Za-z0-9_]*``: a name, a field name, an enum symbol, a namespace part."""
    return _AVRO_NAME.match(text) is not None


def is_avro_namespace(text: str) -> bool:
    """Dot-separated Avro names (``com.example.bank``); never empty."""
    return bool(text) and all(is_avro_name(part) for part in text.split("."))


def full_name(namespace: str | None, name: str) -> str:
    """``namespace.name``, or ``name`` alone in the null namespace."""
    return f"{namespace}.{name}" if namespace else name


def state_record_name(entity: str) -> str:
    """The name of an entity's state record: ``Account`` -> ``AccountState``."""
    return f"{entity}State"


# ------------------------------------------------------------- compatibility modes


class Direction(enum.StrEnum):
    """Which reading failed: BACKWARD (new schema reads old events) or FORWARD (old schema
    reads new events). SCHEMA marks problems of a schema on its own."""

    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    SCHEMA = "SCHEMA"


class Mode(enum.StrEnum):
    """Confluent Schema Registry's compatibility levels, and which checks each one runs.

    | mode | checks the new schema against | as |
    | --- | --- | --- |
    | ``NONE`` | nothing (the new schema must still be valid) | |
    | ``BACKWARD`` | the latest previous version | reader (new reads old events) |
    | ``BACKWARD_TRANSITIVE`` | every previous version | reader |
    | ``FORWARD`` | the latest previous version | writer (old readers read new events) |
    | ``FORWARD_TRANSITIVE`` | every previous version | writer |
    | ``FULL`` | the latest previous version | both |
    | ``FULL_TRANSITIVE`` | every previous version | both |
    """

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """Accept a Mode or its name in any case; raise ValueError naming the choices."""
        if isinstance(value, Mode):
            return value
        try:
            return cls(str(value).strip().upper())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(
                f"unknown compatibility mode {value!r} (choose from {choices})"
            ) from None

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def directions(self) -> tuple[Direction, ...]:
        if self is Mode.NONE:
            return ()
        if self.value.startswith("BACKWARD"):
            return (Direction.BACKWARD,)
        if self.value.startswith("FORWARD"):
            return (Direction.FORWARD,)
        return (Direction.BACKWARD, Direction.FORWARD)

    def versions_to_check(self, count: int) -> list[int]:
        """Indexes (oldest first) of the previous versions this mode compares with."""
        if self is Mode.NONE or count == 0:
            return []
        return list(range(count)) if self.transitive else [count - 1]


# --------------------------------------------------------------------------- types

PrimitiveName = Literal["boolean", "int", "long", "float", "double", "string", "bytes"]
LogicalName = Literal[
    "uuid",
    "date",
    "time-millis",
    "time-micros",
    "timestamp-millis",
    "timestamp-micros",
    "local-timestamp-millis",
    "local-timestamp-micros",
]


@dataclass(frozen=True)
class Primitive:
    name: PrimitiveName


@dataclass(frozen=True)
class Logical:
    """A logical type other than decimal (uuid, date, time-*, timestamp-*...)."""

    name: LogicalName


@dataclass(frozen=True)
class DecimalType:
    precision: int
    scale: int


@dataclass(frozen=True)
class ArrayType:
    items: TypeRef


@dataclass(frozen=True)
class MapType:
    values: TypeRef


@dataclass(frozen=True)
class OptionalType:
    """``T?``: a union ``["null", T]`` whose default is null unless given otherwise."""

    inner: TypeRef


@dataclass(frozen=True)
class NamedRef:
    """A reference to a record, enum or fixed by its full Avro name."""

    full_name: str


@dataclass(frozen=True)
class NullType:
    """Only used as the static type of the ``null`` literal in expressions."""


TypeRef: TypeAlias = (
    Primitive | Logical | DecimalType | ArrayType | MapType | OptionalType | NamedRef | NullType
)


def type_parts(t: TypeRef) -> Iterator[TypeRef]:
    """``t`` and every type inside it (array items, map values, optional inner), outside in."""
    while True:
        yield t
        if isinstance(t, ArrayType):
            t = t.items
        elif isinstance(t, MapType):
            t = t.values
        elif isinstance(t, OptionalType):
            t = t.inner
        else:
            return


def innermost(t: TypeRef) -> TypeRef:
    """The type inside every array, map and optional wrapper: ``array<Money?>`` -> Money."""
    *_, last = type_parts(t)
    return last


def named_refs(t: TypeRef) -> set[str]:
    """Full names of the records, enums and fixed types that ``t`` refers to."""
    inner = innermost(t)
    return {inner.full_name} if isinstance(inner, NamedRef) else set()


# ----------------------------------------------------------------------- defaults


@dataclass(frozen=True)
class Default:
    """A validated default value.

    ``value`` is the JSON-like value as written in YAML after validation against the
    field type: ``str`` for string, bytes, uuid, decimal (``"0.00"``), enum symbols,
    date/time values in ISO form; ``int``/``float``/``bool``; ``None`` for null;
    ``list``/``dict`` (with values of the same shapes) for arrays, maps and records.
    """

    value: object


# ---------------------------------------------------------------------- named types


@dataclass(frozen=True)
class Field:
    name: str
    type: TypeRef
    default: Default | None  # None: no default (the field is required)
    doc: str | None
    aliases: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class RecordDef:
    name: str
    namespace: str
    doc: str | None
    fields: tuple[Field, ...]
    location: Location
    aliases: tuple[str, ...] = ()  # full names it had before (an event's renamed_from)

    @property
    def full_name(self) -> str:
        return full_name(self.namespace, self.name)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True)
class EnumDef:
    name: str
    namespace: str
    doc: str | None
    symbols: tuple[str, ...]
    default: str | None  # Avro enum default: what old readers use for unknown symbols
    location: Location

    @property
    def full_name(self) -> str:
        return full_name(self.namespace, self.name)


@dataclass(frozen=True)
class FixedDef:
    name: str
    namespace: str
    doc: str | None
    size: int
    location: Location

    @property
    def full_name(self) -> str:
        return full_name(self.namespace, self.name)


NamedType: TypeAlias = RecordDef | EnumDef | FixedDef


# -------------------------------------------------------------------- expressions
# A typed expression tree. ``type`` is the static type the checker inferred.

BinaryOp = Literal["+", "-", "*", "/", "//", "%"]
CompareOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
FunctionName = Literal[
    "len",
    "min",
    "max",
    "abs",
    "coalesce",
    "lower",
    "upper",
    "unscaled",
    "before",
    "after",
    "to_long",
    "to_string",
]


@dataclass(frozen=True)
class Literal_:
    value: int | float | str | bool | None
    type: TypeRef
    location: Location


@dataclass(frozen=True)
class EnumSymbol:
    enum: str  # full name of the enum
    symbol: str
    type: TypeRef  # NamedRef(enum)
    location: Location


@dataclass(frozen=True)
class Ref:
    """``event.F``, ``state.F.G``, ``meta.version``, ``command.F`` (in commands)..."""

    root: Literal["event", "state", "meta", "command"]
    path: tuple[str, ...]
    type: TypeRef
    location: Location


@dataclass(frozen=True)
class Unary:
    op: Literal["not", "-", "+"]
    operand: Expr
    type: TypeRef
    location: Location


@dataclass(frozen=True)
class Binary:
    op: BinaryOp
    left: Expr
    right: Expr
    type: TypeRef
    location: Location


@dataclass(frozen=True)
class Compare:
    """A comparison chain ``a < b <= c`` (Python semantics); ``in``/``not in`` included."""

    left: Expr
    ops: tuple[CompareOp, ...]
    comparators: tuple[Expr, ...]
    type: TypeRef  # always boolean
    location: Location


@dataclass(frozen=True)
class BoolOp:
    op: Literal["and", "or"]
    values: tuple[Expr, ...]
    type: TypeRef  # always boolean
    location: Location


@dataclass(frozen=True)
class IfElse:
    condition: Expr
    then: Expr
    otherwise: Expr
    type: TypeRef
    location: Location


@dataclass(frozen=True)
class Call:
    function: FunctionName
    args: tuple[Expr, ...]
    type: TypeRef
    location: Location


Expr: TypeAlias = Literal_ | EnumSymbol | Ref | Unary | Binary | Compare | BoolOp | IfElse | Call


def children(expr: Expr) -> tuple[Expr, ...]:
    """The operands of ``expr``, left to right."""
    match expr:
        case Unary():
            return (expr.operand,)
        case Binary():
            return (expr.left, expr.right)
        case Compare():
            return (expr.left, *expr.comparators)
        case BoolOp():
            return expr.values
        case IfElse():
            return (expr.condition, expr.then, expr.otherwise)
        case Call():
            return expr.args
    return ()


def subexpressions(expr: Expr) -> Iterator[Expr]:
    """``expr`` and every expression inside it, depth first, left to right."""
    stack = [expr]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def refs(expr: Expr) -> Iterator[Ref]:
    """Every ``event.*``, ``state.*`` and ``meta.*`` reference in ``expr``, left to right."""
    return (e for e in subexpressions(expr) if isinstance(e, Ref))


def reads(expr: Expr, root: str) -> bool:
    """Whether ``expr`` refers to ``root`` (``event``, ``state`` or ``meta``)."""
    return any(r.root == root for r in refs(expr))


@dataclass(frozen=True)
class Expression:
    """A checked expression with the text it was written as."""

    source: str
    tree: Expr
    location: Location


# ---------------------------------------------------------------------- fold steps

FoldOp = Literal["set", "add", "subtract", "append", "remove", "put", "delete", "call"]


@dataclass(frozen=True)
class Assignment:
    """One ``FIELD: EXPR`` entry of a fold step.

    ``path`` is the dotted state path (``("address", "city")``), ``target`` the type of
    the field it names. For ``put`` the map key is ``key`` and the value ``value``; for
    every other op ``key`` is None.
    """

    path: tuple[str, ...]
    target: TypeRef
    value: Expression
    key: Expression | None
    location: Location


@dataclass(frozen=True)
class FoldStep:
    op: FoldOp
    assignments: tuple[Assignment, ...]  # empty for ``call``
    function: str | None  # ``package.module:function`` for ``call``
    when: Expression | None
    location: Location

    def expressions(self) -> Iterator[Expression]:
        """The step's expressions: its ``when``, then each assignment's value (and key)."""
        if self.when is not None:
            yield self.when
        for assignment in self.assignments:
            yield assignment.value
            if assignment.key is not None:
                yield assignment.key


# ------------------------------------------------------------------------ commands
# What an entity accepts: ``requires`` preconditions, then the events it ``emits``, or a
# ``decide`` function instead of ``emits``. Expressions here read ``command``, ``state``
# (before the command) and ``meta`` (a ``CommandMeta``); never ``event``.


@dataclass(frozen=True)
class Precondition:
    """One ``requires:`` entry: unless ``check`` holds, the command is rejected with ``reason``
    (the expression's own text when the plain form was written)."""

    check: Expression
    reason: str
    location: Location


@dataclass(frozen=True)
class FieldValue:
    """``FIELD: EXPR`` of an emitted event; ``target`` is the event field's type."""

    name: str
    target: TypeRef
    value: Expression
    location: Location


@dataclass(frozen=True)
class Emission:
    """One ``emits:`` entry: the event ``event`` (full name) built from ``values`` (in the
    event's field order; fields left out take their defaults), emitted when ``when`` holds."""

    event: str
    values: tuple[FieldValue, ...]
    when: Expression | None
    location: Location


@dataclass(frozen=True)
class CommandDef:
    """A command type: its record (``namespace.CommandName``) and how it is decided."""

    record: RecordDef
    requires: tuple[Precondition, ...]
    emits: tuple[Emission, ...]
    decide: str | None  # ``package.module:function`` instead of ``emits``

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def full_name(self) -> str:
        return self.record.full_name


# ------------------------------------------------------------------------ entities


@dataclass(frozen=True)
class EventDef:
    """An event type: its record (``namespace.EventName``) and its fold steps.

    ``renamed_from``: the full names it had before (its old events keep reading as it);
    ``deprecated``: retired, still read and folded but never appended again.
    """

    record: RecordDef
    fold: tuple[FoldStep, ...]
    deprecated: bool = False

    @property
    def renamed_from(self) -> tuple[str, ...]:
        """Its record's aliases: the Avro schema carries them."""
        return self.record.aliases

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def full_name(self) -> str:
        return self.record.full_name


@dataclass(frozen=True)
class OldVersion:
    """One locked version of an event type: what events written with it look like.

    ``schema`` is the version's self-contained Avro schema as the lock holds it, ``label``
    where it comes from (``schemas.lock/<subject>/v2.avsc``).
    """

    full_name: str
    number: int
    schema: dict[str, object]
    label: str


@dataclass(frozen=True)
class Upcast:
    """How the events written with an old version are read today: as zero or more of
    today's events (``outputs``, each with its ``when``), or by ``function``
    (``package.module:function``, called with the old event's dict).

    ``reads`` are the versions it reads: its own first, then older versions of the same
    type that have no upcast of their own and resolve into it (Avro resolution first, then
    this upcast: a chain across versions).
    """

    source: OldVersion
    outputs: tuple[Emission, ...]
    function: str | None
    reads: tuple[OldVersion, ...]
    location: Location


@dataclass(frozen=True)
class Entity:
    name: str  # PascalCase, e.g. "Account"
    namespace: str
    doc: str | None
    key: str  # name of the state field that identifies an instance
    topic: str
    compatibility: str | None  # a Mode's value; None means the default level
    source: str  # definition file, relative to the definitions folder ("bank/account.yaml")
    module: str  # dotted module path inside the output package ("bank.account")
    types: tuple[NamedType, ...]  # named types declared in this file, in file order
    state: RecordDef  # ``namespace.<Entity>State``
    events: tuple[EventDef, ...]  # in file order
    invariants: tuple[Expression, ...]
    location: Location
    commands: tuple[CommandDef, ...] = ()  # in file order
    upcasts: tuple[Upcast, ...] = ()  # in file order

    @property
    def full_name(self) -> str:
        """``namespace.Entity``: how lock files and the registry history name an entity."""
        return full_name(self.namespace, self.name)


@dataclass(frozen=True)
class Project:
    """Every entity of a definitions folder plus the index of all named types."""

    entities: tuple[Entity, ...]  # sorted by ``source``
    types: dict[str, NamedType] = field(default_factory=dict)  # full name -> definition

    def all_types(self) -> dict[str, NamedType]:
        """Declared types plus every event, command and state record, by full name."""
        result: dict[str, NamedType] = dict(self.types)
        for entity in self.entities:
            result[entity.state.full_name] = entity.state
            result.update({e.full_name: e.record for e in entity.events})
            result.update({c.full_name: c.record for c in entity.commands})
        return result
