"""Entity descriptors: everything the runtime needs to know about one generated entity.

A generated module ends with ``ENTITY = EntityDescriptor.define(...)``: the state class,
one fold function per event class, the module's Avro types (each named type once) and the
entity's settings, and for an entity with commands one decide function per command
class. The runtime (event store, projections, snapshots, commands) works only through this
object, so it never needs to import anything else from generated code.

``define`` binds every record class of the module to its self-contained Avro schema (see
:mod:`esgen.runtime.records`), so instances are checked when built, encoded without
further checks and decoded without ``__init__``.

Commands
--------
``commands`` are the command types (they travel in the Confluent wire format too) and
``rules`` the function that runs a command's own rules (``define`` makes it from the
decide function of each command class): its preconditions, then the events it emits.
:meth:`EntityDescriptor.decide` runs the rules, then folds the events onto a copy of the
state and rejects the command if an invariant breaks, so every backend (and the generated
module's own ``decide``) decides alike.

Keys
----
The state's key field is a ``string``, ``uuid``, ``int`` or ``long``; the runtime takes
entity ids in that Python type (``str``, ``uuid.UUID``, ``int``). On Kafka the message key
is :meth:`EntityDescriptor.key_text` of the id, its canonical text: a UUID in lower-case
``8-4-4-4-12`` form, an integer in decimal, a string as it is; :meth:`parse_key` reads it
back. Partitions are chosen from that text, so every language finds the same partition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Generic, Protocol, Self, TypeAlias, TypeVar

import fastavro

from esgen.runtime.errors import (
    CommandRejected,
    DecodeError,
    EncodeError,
    EsgenError,
    InvariantViolation,
)
from esgen.runtime.meta import CommandMeta, EventMeta
from esgen.runtime.records import Record, RecordCodec, bind
from esgen.runtime.serde import AvroCodec, AvroSchema, self_contained
from esgen.runtime.values import INT32, INT64, describe

_read = fastavro.schemaless_reader
_write = fastavro.schemaless_writer

EntityId: TypeAlias = str | uuid.UUID | int
"""An entity id: ``str``, ``uuid.UUID`` or ``int``, as the entity's key field says."""


class AvroRecord(Protocol):
    """What every generated record, event and state class offers."""

    def to_avro(self) -> dict[str, Any]:
        """The value as the dict fastavro writes."""
        ...

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> Self:
        """A value from the dict fastavro reads."""
        ...


S = TypeVar("S", bound=AvroRecord)
E = TypeVar("E")
T = TypeVar("T")

Fold: TypeAlias = Callable[[S, Any, EventMeta], S]
"""The fold of one event type: ``(state, event, meta) -> state``, updating in place."""


Decide: TypeAlias = Callable[[S, Any, CommandMeta | None], list[Any]]
"""The rules of one command type: ``(state, command, meta) -> events``; they raise
``CommandRejected`` when a precondition fails and never change ``state``."""


def no_change(state: S, event: object, meta: EventMeta) -> S:
    """The fold of an event with no fold steps."""
    return state


@dataclass(frozen=True, eq=False)
class RecordType(Generic[T]):
    """A generated record class with its self-contained Avro schema.

    ``mutable`` marks the state: folds change it in place, so it is checked in full
    before it is encoded (frozen records were checked when they were built).
    """

    cls: type[T]
    schema: AvroSchema
    mutable: bool = False
    full_name: str = field(init=False)
    codec: AvroCodec = field(init=False, repr=False)
    record: RecordCodec = field(init=False, repr=False)
    parsed: Any = field(init=False, repr=False)  # the schema as fastavro parsed it

    def __post_init__(self) -> None:
        full_name = self.schema["name"]
        if "." not in full_name and self.schema.get("namespace"):
            full_name = f"{self.schema['namespace']}.{full_name}"
        record = self.cls.__dict__.get("_codec")
        if not isinstance(record, RecordCodec):
            raise EsgenError(f"{self.cls.__qualname__} is not bound to an Avro schema")
        object.__setattr__(self, "full_name", full_name)
        object.__setattr__(self, "record", record)
        codec = AvroCodec(self.schema, self._explain)
        object.__setattr__(self, "codec", codec)
        object.__setattr__(self, "parsed", codec.parsed)

    @property
    def name(self) -> str:
        return self.full_name.rpartition(".")[2]

    def _explain(self, value: Any) -> str | None:
        problem = self.record.problem(value)
        if problem is None:
            return None
        path = problem.path.removeprefix(".")
        return f"{path} = {describe(problem.value)}: {problem.reason}"

    def datum(self, value: T) -> dict[str, Any]:
        """The dict fastavro writes for ``value`` (checked in full first if mutable)."""
        if self.mutable:
            self.record.check_deep(value)  # type: ignore[arg-type]
        return self.record.datum(value)  # type: ignore[arg-type]

    def encode(self, value: T) -> bytes:
        """The Avro binary body of ``value`` (no framing)."""
        if not isinstance(value, self.cls):
            raise EncodeError(
                f"cannot encode {self.name}: expected a {self.name}, not {type(value).__name__}"
            )
        return self.codec.encode(self.datum(value), value)

    def build(self, data: dict[str, Any]) -> T:
        """A value from what fastavro read with today's schema (trusted; ``data`` becomes
        the value's own)."""
        built: T = self.record.build(data)
        return built

    def resolve(self, data: dict[str, Any]) -> T:
        """A value from what fastavro read with schema resolution (defaults converted)."""
        built: T = self.record.from_avro(data)
        return built

    def decode(self, data: bytes, writer_schema: AvroSchema | None = None) -> T:
        """Decode an Avro body; with ``writer_schema``, resolve it into today's class."""
        datum = self.codec.decode(data, writer_schema)
        if writer_schema is None or writer_schema is self.schema:
            return self.build(datum)
        return self.resolve(datum)


def dispatcher(name: str, folds: Mapping[type, Fold[S]]) -> Fold[S]:
    """``apply``: the fold of the event's own type. The mapping is kept on the function
    (``apply.folds``) so replay can look folds up without a call in between."""

    def apply(state: S, event: Any, meta: EventMeta) -> S:
        fold = folds.get(type(event))
        if fold is None:
            raise EsgenError(f"{event!r} is not an event of entity {name}")
        return fold(state, event, meta)

    apply.folds = folds  # type: ignore[attr-defined]
    return apply


def command_dispatcher(name: str, rules: Mapping[type, Decide[S]]) -> Decide[S]:
    """``rules``: the decide function of the command's own type."""

    def decide(state: S, command: Any, meta: CommandMeta | None) -> list[Any]:
        found = rules.get(type(command))
        if found is None:
            raise EsgenError(f"{command!r} is not a command of entity {name}")
        return found(state, command, meta)

    return decide


@dataclass(frozen=True, eq=False)
class EntityDescriptor(Generic[S, E]):
    """One entity type: topic, key, schemas, codecs and its fold.

    ``apply`` is the in-place fold used for replay: it may mutate the state it is given
    and returns the resulting state. ``fold`` (value semantics) copies first.
    """

    name: str
    namespace: str
    topic: str
    key: str
    compatibility: str
    state: RecordType[S]
    events: tuple[RecordType[Any], ...]
    initial_state: Callable[[Any], S]
    apply: Callable[[S, Any, EventMeta], S]
    copy_state: Callable[[S], S]
    check_invariants: Callable[[S], None]
    fingerprint: str  # hash of the state schema and the fold rules: snapshots carry it
    records: tuple[RecordType[Any], ...] = ()  # the module's other records
    key_type: str = "string"  # the key field's Avro type: string, uuid, int or long
    commands: tuple[RecordType[Any], ...] = ()
    rules: Callable[[S, Any, CommandMeta | None], list[E]] | None = None
    _by_class: dict[type, RecordType[Any]] = field(init=False, repr=False)
    _by_name: dict[str, RecordType[Any]] = field(init=False, repr=False)
    _commands_by_class: dict[type, RecordType[Any]] = field(init=False, repr=False)
    _commands_by_name: dict[str, RecordType[Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_class", {e.cls: e for e in self.events})
        by_name = {e.full_name: e for e in self.events}
        by_name.update({e.name: e for e in self.events})
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_commands_by_class", {c.cls: c for c in self.commands})
        commands_by_name = {c.full_name: c for c in self.commands}
        commands_by_name.update({c.name: c for c in self.commands})
        object.__setattr__(self, "_commands_by_name", commands_by_name)
        if self.commands and self.rules is None:
            raise EsgenError(f"entity {self.name} has commands but no rules to decide them")

    @classmethod
    def define(
        cls,
        *,
        name: str,
        namespace: str,
        topic: str,
        key: str,
        compatibility: str,
        types: Mapping[str, AvroSchema],
        records: Iterable[type[Record]],
        state: type[S],
        events: Mapping[type[Any], Fold[S]],
        commands: Mapping[type[Any], Decide[S]] | None = None,
        initial_state: Callable[[Any], S],
        check_invariants: Callable[[S], None],
        fingerprint: str,
    ) -> EntityDescriptor[S, E]:
        """The descriptor of a generated module (what its ``ENTITY`` line calls).

        ``types`` holds each named type's schema once (others referred to by full name);
        ``records`` are the module's record classes besides the state, the events and the
        commands; ``events`` maps each event class to its fold and ``commands`` each
        command class to its decide function, in definition order.
        """

        def schema(full_name: str) -> AvroSchema:
            return self_contained(types, full_name)

        def record_type(record: type[Any], mutable: bool = False) -> RecordType[Any]:
            full_name = f"{namespace}.{record.__name__}"
            bind(record, schema, full_name)
            return RecordType(record, schema(full_name), mutable)

        state_type: RecordType[S] = record_type(state, mutable=True)
        key_field = next(f for f in state_type.schema["fields"] if f["name"] == key)
        return cls(
            name=name,
            namespace=namespace,
            topic=topic,
            key=key,
            compatibility=compatibility,
            state=state_type,
            events=tuple(record_type(event) for event in events),
            initial_state=initial_state,
            apply=dispatcher(name, events),
            copy_state=state_type.record.copy,
            check_invariants=check_invariants,
            fingerprint=fingerprint,
            records=tuple(record_type(record) for record in records),
            key_type=_key_type(key_field["type"]),
            commands=tuple(record_type(command) for command in commands or ()),
            rules=command_dispatcher(name, commands) if commands else None,
        )

    @property
    def schemas(self) -> Mapping[str, AvroSchema]:
        """Full name -> self-contained Avro schema, for every event and the state."""
        result = {e.full_name: e.schema for e in self.events}
        result[self.state.full_name] = self.state.schema
        return result

    @property
    def record_schemas(self) -> Mapping[str, AvroSchema]:
        """Full name -> self-contained Avro schema of every record the module declares
        (its other records, the events, the commands and the state), as the ``.avsc``
        files hold them."""
        result = {r.full_name: r.schema for r in self.records}
        result.update({e.full_name: e.schema for e in self.events})
        result.update({c.full_name: c.schema for c in self.commands})
        result[self.state.full_name] = self.state.schema
        return result

    # -- keys ---------------------------------------------------------------------------

    def key_text(self, entity_id: Any) -> str:
        """The canonical text of an entity id: the Kafka message key (see the module
        docstring). ``EncodeError`` if the id is not of the key's type."""
        kind = self.key_type
        if kind == "string" and isinstance(entity_id, str):
            return entity_id
        if kind == "uuid" and isinstance(entity_id, uuid.UUID):
            return str(entity_id)
        if kind in ("int", "long") and type(entity_id) is int:
            low, high = INT32 if kind == "int" else INT64
            if low <= entity_id <= high:
                return str(entity_id)
        expected = {"string": "str", "uuid": "uuid.UUID", "int": "int", "long": "int"}[kind]
        raise EncodeError(
            f"{self.name} id {entity_id!r:.80}: the key {self.key} is {kind}; "
            f"pass an entity id of type {expected}"
            + (" that fits 32 bits" if kind == "int" else "")
            + (" that fits 64 bits" if kind == "long" else "")
        )

    def parse_key(self, text: str | bytes) -> Any:
        """The entity id whose canonical text is ``text`` (a Kafka message key);
        ``DecodeError`` if it is not one."""
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            if self.key_type == "string":
                return text
            if self.key_type == "uuid":
                value: Any = uuid.UUID(text)
            else:
                value = int(text)
            if self.key_text(value) != text:
                raise ValueError("not in canonical form")
        except (ValueError, EncodeError) as exc:
            raise DecodeError(
                f"{self.name}: message key {text!r:.80} is not a {self.key_type} entity id ({exc})"
            ) from None
        return value

    # -- events -------------------------------------------------------------------------

    def event_type(self, event_or_name: object) -> RecordType[Any]:
        """The event type of an event instance, or by full or short name."""
        if isinstance(event_or_name, str):
            found = self._by_name.get(event_or_name)
        else:
            found = self._by_class.get(type(event_or_name))
        if found is None:
            raise EsgenError(f"{event_or_name!r} is not an event of entity {self.name}")
        return found

    def encode(self, event: E) -> bytes:
        """The Avro binary body of an event (no framing)."""
        event_type = self._by_class.get(type(event))
        if event_type is None:
            raise EsgenError(f"{type(event).__name__} is not an event of entity {self.name}")
        # RecordType.encode, inlined: a call less per event on the hot path
        buffer = BytesIO()
        try:
            _write(buffer, event_type.parsed, event_type.record.datum(event))  # type: ignore[arg-type]
        except Exception as exc:  # fastavro raises ValueError, TypeError, OverflowError...
            raise event_type.codec.encode_error(exc, event) from exc
        return buffer.getvalue()

    def decode(self, full_name: str, data: bytes, writer_schema: AvroSchema | None = None) -> E:
        """Decode an event body written with ``writer_schema`` (default: today's schema)."""
        event_type = self._by_name.get(full_name)
        if event_type is None:
            raise EsgenError(f"{full_name!r} is not an event of entity {self.name}")
        if writer_schema is not None and writer_schema is not event_type.schema:
            resolved: E = event_type.decode(data, writer_schema)
            return resolved
        # RecordType.decode, inlined: a call less per event on the hot path
        try:
            datum = _read(BytesIO(data), event_type.parsed, None)
        except Exception as exc:  # fastavro raises EOFError, ValueError...
            name = event_type.name
            raise DecodeError(f"cannot decode {name}: {type(exc).__name__}: {exc}") from exc
        decoded: E = event_type.record.build(datum)
        return decoded

    # -- folding ------------------------------------------------------------------------

    def fold(self, state: S, event: E, meta: EventMeta | None = None) -> S:
        """A new state: ``state`` with ``event`` applied; neither input is changed.

        Without ``meta`` the fold sees ``meta.version``, ``meta.timestamp`` and
        ``meta.event_id`` as unknown (None).
        """
        if meta is None:
            meta = EventMeta(entity_id=getattr(state, self.key))
        return self.apply(self.copy_state(state), event, meta)

    def replay(self, entity_id: Any, events: Iterable[E]) -> S:
        """``initial_state(entity_id)`` then every event in order, with versions 1, 2,
        3, ... One working copy of the state is updated in place (no copy per event)."""
        state = self.initial_state(entity_id)
        meta = EventMeta(entity_id)  # one for the replay; its version moves on
        folds: Mapping[type, Fold[S]] | None = getattr(self.apply, "folds", None)
        event: Any = None
        if folds is None:  # an ``apply`` of the caller's own
            apply = self.apply
            for version, event in enumerate(events, start=1):
                meta.version = version
                state = apply(state, event, meta)
            return state
        try:  # costs nothing until something raises
            for version, event in enumerate(events, start=1):
                meta.version = version
                state = folds[type(event)](state, event, meta)
        except KeyError:
            if type(event) not in folds:
                raise EsgenError(f"{event!r} is not an event of entity {self.name}") from None
            raise  # from the fold itself
        return state

    # -- commands -----------------------------------------------------------------------

    def command_type(self, command_or_name: object) -> RecordType[Any]:
        """The command type of a command instance, or by full or short name."""
        if isinstance(command_or_name, str):
            found = self._commands_by_name.get(command_or_name)
        else:
            found = self._commands_by_class.get(type(command_or_name))
        if found is None:
            raise EsgenError(f"{command_or_name!r} is not a command of entity {self.name}")
        return found

    def is_command(self, value: object) -> bool:
        """Whether ``value`` is an instance of one of this entity's command classes."""
        return type(value) in self._commands_by_class

    def encode_command(self, command: object) -> bytes:
        """The Avro binary body of a command (no framing)."""
        return self.command_type(command).encode(command)

    def decode_command(
        self, full_name: str, data: bytes, writer_schema: AvroSchema | None = None
    ) -> Any:
        """Decode a command body written with ``writer_schema`` (default: today's schema)."""
        found = self._commands_by_name.get(full_name)
        if found is None:
            raise EsgenError(f"{full_name!r} is not a command of entity {self.name}")
        return found.decode(data, writer_schema)

    def decide(self, state: S, command: object, meta: CommandMeta | None = None) -> list[E]:
        """The events ``command`` causes in ``state``, in order; nothing is changed.

        Raises :class:`CommandRejected` (naming entity, command and entity id) when a
        precondition fails or when the state after the events would break an invariant.
        ``meta`` is needed by commands whose rules read it; without it the invariants are
        checked on events folded with unknown versions and time, as ``fold`` does.
        """
        name = self.command_type(command).name
        entity_id = getattr(state, self.key)
        if meta is not None and meta.entity_id != entity_id:
            raise EsgenError(
                f"{self.name}: the CommandMeta is for {meta.entity_id!r} but the state is "
                f"that of {entity_id!r}"
            )
        assert self.rules is not None  # __post_init__: commands come with rules
        try:
            produced: object = self.rules(state, command, meta)
        except CommandRejected as rejected:
            rejected.entity = rejected.entity or self.name
            rejected.command = rejected.command or name
            rejected.entity_id = (
                rejected.entity_id if rejected.entity_id is not None else entity_id
            )
            raise
        events = self._decided_events(produced, name)
        after = self.copy_state(state)
        version = None if meta is None else meta.version
        for number, event in enumerate(events, start=1):
            event_meta = EventMeta(
                entity_id=entity_id,
                version=None if version is None else version + number,
                timestamp=None if meta is None else meta.timestamp,
                causation_id=None if meta is None else meta.command_id,
            )
            after = self.apply(after, event, event_meta)
            try:
                self.check_invariants(after)
            except InvariantViolation as violation:
                raise CommandRejected(
                    violation.invariant, entity=self.name, command=name, entity_id=entity_id
                ) from violation
        return events

    def _decided_events(self, produced: object, command: str) -> list[E]:
        """What the rules returned, checked: a list of this entity's events."""
        if not isinstance(produced, list | tuple):
            raise EsgenError(
                f"deciding {command} of {self.name} gave {produced!r}, not a list of events"
            )
        for event in produced:
            if type(event) not in self._by_class:
                raise EsgenError(
                    f"deciding {command} of {self.name} gave {event!r}, which is not an "
                    f"event of {self.name}"
                )
        return list(produced)


def _key_type(node: Any) -> str:
    if isinstance(node, dict):
        if node.get("logicalType") == "uuid":
            return "uuid"
        node = node.get("type")
    if node in ("string", "int", "long"):
        return str(node)
    raise DecodeError(f"the key field is {node!r}; keys are string, uuid, int or long")
