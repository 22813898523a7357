"""Entity descriptors: everything the runtime needs to know about one generated entity.

A generated module ends with ``ENTITY = EntityDescriptor(...)``. The runtime (event
store, projections, snapshots, commands) works only through this object, so it never
needs to import anything else from generated code.

Commands: ``commands`` are the command types (they travel in the Confluent wire format
too) and ``rules`` the generated function that checks a command's preconditions and
builds its events. :meth:`EntityDescriptor.decide` runs the rules, then folds the events
onto a copy of the state and rejects the command if an invariant breaks, so every
backend (and the generated module's own ``decide``) decides alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar

from esgen.runtime.errors import CommandRejected, EsgenError, InvariantViolation
from esgen.runtime.meta import CommandMeta, EventMeta
from esgen.runtime.serde import AvroCodec, AvroSchema


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
T = TypeVar("T", bound=AvroRecord)


@dataclass(frozen=True, eq=False)
class RecordType(Generic[T]):
    """A generated record class with its self-contained Avro schema."""

    cls: type[T]
    schema: AvroSchema
    full_name: str = field(init=False)
    codec: AvroCodec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        full_name = self.schema["name"]
        if "." not in full_name and self.schema.get("namespace"):
            full_name = f"{self.schema['namespace']}.{full_name}"
        object.__setattr__(self, "full_name", full_name)
        object.__setattr__(self, "codec", AvroCodec(self.schema))

    @property
    def name(self) -> str:
        return self.full_name.rpartition(".")[2]

    def encode(self, value: T) -> bytes:
        """The Avro binary body of ``value`` (no framing)."""
        return self.codec.encode(value.to_avro())

    def decode(self, data: bytes, writer_schema: AvroSchema | None = None) -> T:
        """Decode an Avro body; with ``writer_schema``, resolve it into today's class."""
        return self.cls.from_avro(self.codec.decode(data, writer_schema))


@dataclass(frozen=True, eq=False)
class EntityDescriptor(Generic[S, E]):
    """One entity type: topic, key, schemas, codecs and its fold.

    ``apply`` is the generated in-place fold used for replay: it may mutate the state it
    is given and returns the resulting state. ``fold`` (value semantics) copies first.
    """

    name: str
    namespace: str
    topic: str
    key: str
    compatibility: str
    state: RecordType[S]
    events: tuple[RecordType[Any], ...]
    initial_state: Callable[[str], S]
    apply: Callable[[S, Any, EventMeta], S]
    copy_state: Callable[[S], S]
    check_invariants: Callable[[S], None]
    fingerprint: str  # hash of the state schema and the fold rules: snapshots carry it
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

    @property
    def schemas(self) -> Mapping[str, AvroSchema]:
        """Full name -> parsed Avro schema, for every event and the state."""
        result = {e.full_name: e.schema for e in self.events}
        result[self.state.full_name] = self.state.schema
        return result

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
        return event_type.codec.encode(event.to_avro())  # type: ignore[attr-defined]

    def decode(self, full_name: str, data: bytes, writer_schema: AvroSchema | None = None) -> E:
        """Decode an event body written with ``writer_schema`` (default: today's schema)."""
        event_type = self._by_name.get(full_name)
        if event_type is None:
            raise EsgenError(f"{full_name!r} is not an event of entity {self.name}")
        decoded: E = event_type.cls.from_avro(event_type.codec.decode(data, writer_schema))
        return decoded

    def fold(self, state: S, event: E, meta: EventMeta | None = None) -> S:
        """A new state: ``state`` with ``event`` applied; neither input is changed."""
        if meta is None:
            meta = EventMeta(entity_id=str(getattr(state, self.key)))
        return self.apply(self.copy_state(state), event, meta)

    def replay(self, entity_id: str, events: Iterable[E]) -> S:
        """``initial_state`` then every event in order, with versions 1, 2, 3, ..."""
        state = self.initial_state(entity_id)
        apply = self.apply
        for version, event in enumerate(events, start=1):
            state = apply(state, event, EventMeta(entity_id=entity_id, version=version))
        return state

    # ------------------------------------------------------------------ commands

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
        entity_id = str(getattr(state, self.key))
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
