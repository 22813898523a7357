"""Entity descriptors: everything the runtime needs to know about one generated entity.

A generated module ends with ``ENTITY = EntityDescriptor(...)``. The runtime (event
store, projections, snapshots) works only through this object, so it never needs to
import anything else from generated code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar

from esgen.runtime.errors import EsgenError
from esgen.runtime.meta import EventMeta
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
    _by_class: dict[type, RecordType[Any]] = field(init=False, repr=False)
    _by_name: dict[str, RecordType[Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_class", {e.cls: e for e in self.events})
        by_name = {e.full_name: e for e in self.events}
        by_name.update({e.name: e for e in self.events})
        object.__setattr__(self, "_by_name", by_name)

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
