"""The registry-backed serde: an entity's events and snapshots to wire-format values and back.

Values are in the Confluent wire format (:mod:`esgen.runtime.framing`), with esgen's
metadata in headers (:mod:`esgen.runtime.headers`). Schema ids come from the schema
registry (:mod:`esgen.runtime.registry`) under the configured subject strategy (see
:mod:`esgen.runtime.subjects`). Under ``topic_record`` (default) and ``record`` the id
names the event's own record schema and the body is the record. Under ``topic`` the id
names the union registered on ``<topic>-value`` (a union of references, one per event
type) and the body is the Avro encoding *of that union*, exactly as Confluent's
serializers write it: the zig-zag varint index of the union branch, then the record
body. :class:`RegistrySerde` reads the branch index, finds the branch's record schema
through the union's references and decodes the rest with it.

Decoding always uses the writer schema fetched by id (cached per id, parsed once) and
today's generated schema as the reader: Avro schema resolution fills defaults, follows
aliases and promotes types, so every old version of an event decodes into today's class.
When the writer schema is today's schema there is nothing to resolve and none is done.
An id the registry does not know is a ``DecodeError``; a registry that cannot be reached
or fails is a ``RegistryError`` (the record may be fine).

There is one path for each direction, and it is the fast one: :meth:`RegistrySerde.encode_events`
(each event class's framing looked up once) and :func:`decode_message` (each
``(schema id, esgen.type)`` planned once: parsed writer schema, the reader schema only
when it differs, the class to build).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Protocol

import fastavro
from confluent_kafka.schema_registry import SchemaRegistryClient

from esgen.runtime.descriptor import EntityDescriptor, RecordType
from esgen.runtime.errors import DecodeError, EsgenError, RegistryError
from esgen.runtime.framing import HEADER, frame, read_varint, unframe, write_varint
from esgen.runtime.headers import (
    H_CAUSATION_ID,
    H_CORRELATION_ID,
    H_EVENT_ID,
    H_TIMESTAMP,
    H_TYPE,
    H_VERSION,
    header_map,
    moment,
    parse_uuid,
)
from esgen.runtime.meta import EventMeta, make_meta
from esgen.runtime.registry import Reference, RegistryClient, union_schema
from esgen.runtime.serde import AvroSchema, parse_schema
from esgen.runtime.subjects import (
    DEFAULT_STRATEGY,
    SubjectStrategy,
    command_topic,
    record_subject,
    snapshot_topic,
    topic_subject,
)

__all__ = [
    "KafkaMessage",
    "RegistrySerde",
    "WriterSchema",
    "decode_message",
    "decode_with_writer_schema",
    "fetch_writer_schema",
]


class KafkaMessage(Protocol):
    """What :func:`decode_message` needs from a consumed record (confluent_kafka.Message)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> str | bytes | None: ...
    def value(self) -> str | bytes | None: ...
    def headers(
        self,
    ) -> dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


# -- writer schemas --------------------------------------------------------------------


@dataclass(frozen=True)
class WriterSchema:
    """A registered schema as fetched by id, ready to decode with.

    ``record`` is the self-contained record schema (references inlined), or None for a
    union; ``branches`` lists a union's ``(full name, record schema)`` in branch order.
    """

    schema_id: int
    record: AvroSchema | None
    branches: tuple[tuple[str, AvroSchema], ...] = ()


def full_name_of(schema: AvroSchema, namespace: str | None = None) -> str:
    name: str = schema["name"]
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def _inline(schema: Any, named: dict[str, AvroSchema], namespace: str | None) -> Any:
    """``schema`` with names of referenced types replaced by their definitions (first use)."""
    if isinstance(schema, str):
        full = schema if "." in schema or not namespace else f"{namespace}.{schema}"
        for candidate in (full, schema):
            if candidate in named:
                return named.pop(candidate)
        return schema
    if isinstance(schema, list):
        return [_inline(branch, named, namespace) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind in ("record", "error"):
        space = full_name_of(schema, namespace).rpartition(".")[0] or None
        named.pop(full_name_of(schema, namespace), None)
        fields = [
            {**f, "type": _inline(f["type"], named, space)} for f in schema.get("fields", [])
        ]
        return {**schema, "fields": fields}
    if kind == "array":
        return {**schema, "items": _inline(schema["items"], named, namespace)}
    if kind == "map":
        return {**schema, "values": _inline(schema["values"], named, namespace)}
    if isinstance(kind, (dict, list)):
        return {**schema, "type": _inline(kind, named, namespace)}
    return schema


def fetch_writer_schema(registry: RegistryClient, schema_id: int) -> WriterSchema:
    """The registered schema ``schema_id``, self-contained (references inlined).

    ``DecodeError`` when the registry does not know the id (HTTP 404: the record is
    at fault) or the schema is unusable; ``RegistryError`` when the registry cannot
    be reached or fails (connection refused, timeout, 5xx...: not the record's fault).
    """
    registered = _reading(lambda: registry.schema_by_id(schema_id))
    try:
        parsed = json.loads(str(registered.schema_str))
    except ValueError as exc:
        raise DecodeError(f"schema id {schema_id} is not valid JSON: {exc}") from exc
    named = _references(registry, registered.references or [])
    if isinstance(parsed, list):
        branches = []
        for branch in parsed:
            if isinstance(branch, str):
                branch_schema = named.get(branch)
                if branch_schema is None:
                    raise DecodeError(f"schema id {schema_id}: union branch {branch} unknown")
                branches.append((branch, branch_schema))
            elif isinstance(branch, dict) and branch.get("type") == "record":
                branches.append((full_name_of(branch), branch))
            else:
                branches.append((json.dumps(branch), {"type": "null"}))
        return WriterSchema(schema_id, None, tuple(branches))
    if isinstance(parsed, dict) and parsed.get("type") == "record":
        return WriterSchema(schema_id, _inline(parsed, dict(named), None))
    raise DecodeError(f"schema id {schema_id} is not a record or a union of records")


def _reading(request: Callable[[], Any]) -> Any:
    """A registry call made to decode a record: a 404 (unknown id, subject or version)
    is the record's fault, a ``DecodeError``; any other failure stays a ``RegistryError``."""
    try:
        return request()
    except RegistryError as exc:
        if exc.status == 404:
            raise DecodeError(str(exc)) from exc
        raise


def _references(registry: RegistryClient, references: Sequence[Any]) -> dict[str, AvroSchema]:
    """Referenced schemas by name, self-contained (their own references inlined)."""
    named: dict[str, AvroSchema] = {}
    for ref in references:
        subject, number = str(ref.subject), int(ref.version or -1)
        registered = _reading(
            lambda s=subject, n=number: registry.version(s, n)  # type: ignore[misc]
        )
        inner = _references(registry, registered.schema.references or [])
        try:
            parsed = json.loads(str(registered.schema.schema_str))
        except ValueError as exc:
            raise DecodeError(f"reference {ref.name} is not valid JSON: {exc}") from exc
        named[str(ref.name)] = _inline(parsed, inner, None)
    return named


def decode_with_writer_schema(
    registry: RegistryClient, value: bytes
) -> tuple[str, int, dict[str, Any]]:
    """``(record full name, schema id, fields)`` of any wire-format value, read with its
    writer schema alone (no generated class: e.g. to show a dead letter). Errors as
    :func:`fetch_writer_schema`'s; a body that does not fit is a ``DecodeError``."""
    schema_id, body = unframe(value)
    writer = fetch_writer_schema(registry, schema_id)
    if writer.record is None:
        branch, used = read_varint(body)
        if not 0 <= branch < len(writer.branches):
            raise DecodeError(f"union branch {branch} out of range for schema id {schema_id}")
        full_name, record = writer.branches[branch]
        body = body[used:]
    else:
        record = writer.record
        full_name = full_name_of(record)
    try:
        data = _schemaless_reader(BytesIO(body), parse_schema(record), None)
    except Exception as exc:  # fastavro raises EOFError, ValueError, ...
        raise DecodeError(f"cannot decode {full_name}: {type(exc).__name__}: {exc}") from exc
    return full_name, schema_id, data  # type: ignore[return-value]  # a record reads a dict


# -- the serde -------------------------------------------------------------------------

# How to decode one kind of value: (parsed writer schema, parsed reader schema or None
# when they are the same, today's class's from_avro, its full name). A writer of None
# marks a union, planned per branch.
_Plan = tuple[Any, Any, Callable[[dict[str, Any]], Any], str]


def _no_class(data: dict[str, Any]) -> Any:
    raise DecodeError("a union value needs its branch's plan")


_FRAMING = HEADER.size
_schemaless_reader = fastavro.schemaless_reader
_schemaless_writer = fastavro.schemaless_writer


def _cannot_decode(plan: _Plan, exc: Exception) -> DecodeError:
    name = plan[3].rpartition(".")[2]
    return DecodeError(f"cannot decode {name}: {type(exc).__name__}: {exc}")


class RegistrySerde:
    """Encodes an entity's events and snapshots to the wire format and decodes them back.

    ``registry`` is a :class:`~esgen.runtime.registry.RegistryClient`, a
    ``SchemaRegistryClient``, its config dict (``url``, ``basic.auth.user.info``,
    ``ssl.*``...) or a URL. Schema ids are looked up (never registered) unless
    ``auto_register=True``; either way each id is fetched once per serde. Writer schemas
    fetched by id are cached and parsed once.
    """

    def __init__(
        self,
        descriptor: EntityDescriptor[Any, Any],
        registry: RegistryClient | SchemaRegistryClient | Mapping[str, Any] | str,
        *,
        strategy: SubjectStrategy | str = DEFAULT_STRATEGY,
        auto_register: bool = False,
        topic: str | None = None,
    ) -> None:
        self.registry = RegistryClient.connect(registry)
        self.registry_url = self.registry.url
        self.descriptor = descriptor
        self.strategy = SubjectStrategy(strategy)
        self.auto_register = auto_register
        self.topic = topic or descriptor.topic
        self.snapshot_topic = snapshot_topic(self.topic)
        self.command_topic = command_topic(self.topic)
        self._lock = threading.Lock()
        # (topic, full name) -> (schema id, union branch index or None)
        self._ids: dict[tuple[str, str], tuple[int, int | None]] = {}
        self._writers: dict[int, WriterSchema] = {}
        # (value[:5], esgen.type header[, union branch]) -> how to decode such values
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        # event class -> (framing, parsed schema, full name as UTF-8, its record type)
        self._encoders: dict[type, tuple[bytes, Any, bytes, RecordType[Any]]] = {}
        self._by_name = {e.full_name: e for e in descriptor.events}
        self._commands_by_name = {c.full_name: c for c in descriptor.commands}
        # (schema id, union branch, esgen.type) -> (command type, writer schema or None)
        self._command_plans: dict[tuple[Any, ...], tuple[RecordType[Any], Any]] = {}

    # encoding

    def encode_event(self, event: object) -> tuple[str, bytes]:
        """``(event full name, wire-format value)`` of one event of the descriptor."""
        ((full_name, value),) = self.encode_events((event,))
        return full_name.decode(), value

    def encode_events(self, events: Iterable[object]) -> list[tuple[bytes, bytes]]:
        """``(event full name as UTF-8, wire-format value)`` of each event, with each
        event class's framing looked up once."""
        encoders = self._encoders
        encoded: list[tuple[bytes, bytes]] = []
        append = encoded.append
        for event in events:
            encoder = encoders.get(type(event))
            if encoder is None:
                encoder = self._encoder(event)
            prefix, parsed, full_name, record_type = encoder
            datum = record_type.datum(event)
            buffer = BytesIO()
            buffer.write(prefix)
            try:
                _schemaless_writer(buffer, parsed, datum)
            except Exception as exc:  # as AvroCodec: the field at fault when it can be found
                raise record_type.codec.encode_error(exc, event) from exc
            append((full_name, buffer.getvalue()))
        return encoded

    def _encoder(self, event: object) -> tuple[bytes, Any, bytes, RecordType[Any]]:
        record_type = self.descriptor.event_type(event)
        schema_id, branch = self.schema_id(self.topic, record_type)
        prefix = frame(schema_id, b"" if branch is None else write_varint(branch))
        encoder = (prefix, record_type.codec.parsed, record_type.full_name.encode(), record_type)
        self._encoders[type(event)] = encoder
        return encoder

    def encode_state(self, state: object) -> bytes:
        """The wire-format value of a snapshot of the state (on the snapshot topic)."""
        record_type = self.descriptor.state
        schema_id, branch = self.schema_id(self.snapshot_topic, record_type)
        body = record_type.encode(state)
        if branch is not None:
            body = write_varint(branch) + body
        return frame(schema_id, body)

    def encode_command(self, command: object) -> bytes:
        """The wire-format value of a command (on the command topic, ``<topic>.commands``)."""
        record_type = self.descriptor.command_type(command)
        schema_id, branch = self.schema_id(self.command_topic, record_type)
        body = record_type.encode(command)
        if branch is not None:
            body = write_varint(branch) + body
        return frame(schema_id, body)

    def schema_id(self, topic: str, record_type: RecordType[Any]) -> tuple[int, int | None]:
        """The id to frame ``record_type`` with on ``topic`` (and its union branch, if any)."""
        key = (topic, record_type.full_name)
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        with self._lock:
            found: tuple[int, int | None]
            if self.strategy is SubjectStrategy.TOPIC:
                found = self._union_id(topic, record_type)
            else:
                subject = record_subject(self.strategy, topic, record_type.full_name)
                found = (self._record_id(subject, record_type)[0], None)
            self._ids[key] = found
        return found

    def _record_id(self, subject: str, record_type: RecordType[Any]) -> tuple[int, int]:
        """``(id, version)`` of ``record_type``'s schema under ``subject``."""
        found = self.registry.lookup(subject, record_type.schema)
        if found is not None:
            return found
        if not self.auto_register:
            raise RegistryError(
                f"schema of {record_type.full_name} is not registered under subject "
                f"{subject!r} in the schema registry at {self.registry_url}; register it "
                "(`esgen register`) or pass auto_register=True (EventStore, CommandProcessor, "
                "CommandClient)",
                action=f"look up {subject}",
                status=404,
            )
        self.registry.register(subject, record_type.schema)
        registered = self.registry.lookup(subject, record_type.schema)
        if registered is None:
            raise RegistryError(
                f"the schema registry at {self.registry_url} registered "
                f"{record_type.full_name} under {subject!r} but does not find it by lookup",
                action=f"register {subject}",
            )
        return registered

    def _union_id(self, topic: str, record_type: RecordType[Any]) -> tuple[int, int]:
        subject = topic_subject(topic)
        latest = self.registry.latest(subject)
        names: list[str] = []
        if latest is not None:
            names = [str(n) for n in json.loads(str(latest.schema.schema_str))]
            if record_type.full_name in names:
                return int(latest.schema_id or 0), names.index(record_type.full_name)
        if not self.auto_register:
            raise RegistryError(
                f"{record_type.full_name} is not a branch of the union registered under "
                f"{subject!r} in the schema registry at {self.registry_url}; register the "
                "topic's union of references (`esgen register --subject-strategy topic`) or "
                "pass auto_register=True (EventStore, CommandProcessor, CommandClient)",
                action=f"read {subject}",
                status=404,
            )
        # Register each branch under its record subject, then the union referencing them.
        if record_type is self.descriptor.state:
            wanted = [record_type]
        elif topic == self.command_topic:  # the command topic's union: every command type
            known = self._commands_by_name
            wanted = [known[n] for n in names if n in known]
            wanted += [c for c in self.descriptor.commands if c.full_name not in names]
        else:
            wanted = [self._by_name[n] for n in names if n in self._by_name]
            wanted += [e for e in self.descriptor.events if e.full_name not in names]
        references = []
        for branch in wanted:
            branch_subject = record_subject(self.strategy, topic, branch.full_name)
            _, version = self._record_id(branch_subject, branch)
            references.append(Reference(branch.full_name, branch_subject, version))
        union, refs = union_schema(references)
        union_id = self.registry.register(subject, union, refs)
        return union_id, union.index(record_type.full_name)

    # decoding

    def writer_schema(self, schema_id: int) -> WriterSchema:
        """The registered schema ``schema_id``, fetched once and kept (see
        :func:`fetch_writer_schema`)."""
        cached = self._writers.get(schema_id)
        if cached is not None:
            return cached
        writer = self._writers[schema_id] = fetch_writer_schema(self.registry, schema_id)
        return writer

    def _plan(self, value: bytes, type_header: str | bytes | None) -> _Plan:
        """How to decode values framed like ``value`` with this ``esgen.type`` header:
        fetched, parsed and resolved once, then one dict lookup per record."""
        schema_id, _ = unframe(value)
        writer = self.writer_schema(schema_id)
        if writer.record is None:
            plan: _Plan = (None, None, _no_class, "")  # a union: planned per branch
        else:
            expected = type_header.decode() if isinstance(type_header, bytes) else type_header
            plan = self._plan_record(full_name_of(writer.record), writer.record, expected)
        self._plans[(value[:_FRAMING], type_header)] = plan
        return plan

    def _branch_plan(self, value: bytes, type_header: str | bytes | None) -> tuple[_Plan, bytes]:
        """The plan of the union branch ``value`` is written with, and the value with its
        branch index moved out of the body (framing kept, so the plan reads from byte 5)."""
        schema_id, body = unframe(value)
        branch, used = read_varint(body)
        key = (value[:_FRAMING], type_header, branch)
        plan = self._plans.get(key)
        if plan is None:
            writer = self.writer_schema(schema_id)
            if not 0 <= branch < len(writer.branches):
                raise DecodeError(f"union branch {branch} out of range for schema id {schema_id}")
            full_name, writer_record = writer.branches[branch]
            expected = type_header.decode() if isinstance(type_header, bytes) else type_header
            plan = self._plans[key] = self._plan_record(full_name, writer_record, expected)
        return plan, value[:_FRAMING] + body[used:]

    def _plan_record(self, full_name: str, writer: AvroSchema, expected: str | None) -> _Plan:
        record_type = self._reader_for(full_name, writer, expected)
        codec = record_type.codec
        if writer == record_type.schema:  # today's schema wrote it: nothing to resolve
            return (codec.parsed, None, record_type.build, record_type.full_name)
        return (parse_schema(writer), codec.parsed, record_type.resolve, record_type.full_name)

    def _reader_for(
        self, full_name: str, writer: AvroSchema, expected_type: str | None
    ) -> RecordType[Any]:
        for name in (expected_type, full_name):
            if name is not None and name in self._by_name:
                return self._by_name[name]
        # A renamed record: today's schema lists the old name among its aliases.
        for record_type in self.descriptor.events:
            space = record_type.full_name.rpartition(".")[0]
            aliases = {
                a if "." in a else f"{space}.{a}" for a in record_type.schema.get("aliases", [])
            }
            if full_name in aliases or expected_type in aliases:
                return record_type
        raise DecodeError(
            f"{expected_type or full_name} (writer schema {writer.get('name')}) is not an "
            f"event of entity {self.descriptor.name}"
        )

    def decode_command(self, value: bytes, type_header: str | bytes | None = None) -> Any:
        """A command from its wire-format value (``esgen.type`` header: its full name),
        resolved into today's command class; ``DecodeError`` when it is not a command of
        the entity or cannot be decoded, ``RegistryError`` when the registry fails."""
        schema_id, body = unframe(value)
        branch: int | None = None
        if self.writer_schema(schema_id).record is None:
            branch, used = read_varint(body)
            body = body[used:]
        key = (schema_id, branch, type_header)
        plan = self._command_plans.get(key)
        if plan is None:
            plan = self._command_plans[key] = self._command_plan(schema_id, branch, type_header)
        record_type, writer_record = plan
        return record_type.decode(body, writer_record)

    def _command_plan(
        self, schema_id: int, branch: int | None, type_header: str | bytes | None
    ) -> tuple[RecordType[Any], AvroSchema | None]:
        """Today's command type for values of ``schema_id`` (and union ``branch``), and the
        writer schema to resolve from (None: written with today's schema)."""
        writer = self.writer_schema(schema_id)
        if branch is None:
            assert writer.record is not None
            writer_record = writer.record
            full_name = full_name_of(writer_record)
        else:
            if not 0 <= branch < len(writer.branches):
                raise DecodeError(f"union branch {branch} out of range for schema id {schema_id}")
            full_name, writer_record = writer.branches[branch]
        expected = type_header.decode() if isinstance(type_header, bytes) else type_header
        record_type = self._command_for(full_name, expected)
        return record_type, (None if writer_record == record_type.schema else writer_record)

    def _command_for(self, full_name: str, expected_type: str | None) -> RecordType[Any]:
        for name in (expected_type, full_name):
            if name is not None and name in self._commands_by_name:
                return self._commands_by_name[name]
        for record_type in self.descriptor.commands:  # renamed: the old name is an alias
            space = record_type.full_name.rpartition(".")[0]
            aliases = {
                a if "." in a else f"{space}.{a}" for a in record_type.schema.get("aliases", [])
            }
            if full_name in aliases or expected_type in aliases:
                return record_type
        raise DecodeError(
            f"{expected_type or full_name} is not a command of entity {self.descriptor.name}"
        )

    def decode_state(self, value: bytes) -> Any:
        """A snapshot's state, resolved into today's state class."""
        schema_id, body = unframe(value)
        writer = self.writer_schema(schema_id)
        if writer.record is None:
            branch, used = read_varint(body)
            writer_record = writer.branches[branch][1]
            body = body[used:]
        else:
            writer_record = writer.record
        return self.descriptor.state.decode(body, writer_record)


def _where(msg: KafkaMessage) -> str:
    return f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"


def decode_message(
    serde: RegistrySerde, msg: KafkaMessage, version: int | None = None
) -> tuple[Any, EventMeta]:
    """The event and metadata of a consumed record.

    ``version`` is used when the record carries no ``esgen.version`` header. Anything
    undecodable raises ``DecodeError`` naming topic, partition and offset; a schema
    registry that cannot be reached or fails raises ``RegistryError`` (the record may be
    fine: retry later), also naming them.
    """
    try:
        value = msg.value()
        if value is None:
            raise DecodeError("the record has no value (a tombstone?)")
        if isinstance(value, str):
            value = value.encode()
        raw = msg.headers()
        headers: dict[str, str | bytes | None] = dict(raw) if raw else {}
        if None in headers.values():  # header_map's rule: a None value never wins
            headers = dict(header_map(raw))
        get = headers.get
        type_header = get(H_TYPE)
        plan = serde._plans.get((value[:_FRAMING], type_header))
        if plan is None:
            plan = serde._plan(value, type_header)
        if plan[0] is None:
            plan, value = serde._branch_plan(value, type_header)
        writer, reader, from_avro, _ = plan
        try:
            data = _schemaless_reader(BytesIO(value[_FRAMING:]), writer, reader)
        except Exception as exc:
            raise _cannot_decode(plan, exc) from exc
        event = from_avro(data)  # type: ignore[arg-type]
        key = msg.key()
        entity_id = serde.descriptor.parse_key(key or "")
        header = get(H_VERSION)
        if header is not None:
            version = int(header)
        header = get(H_TIMESTAMP)
        millis = int(header) if header is not None else msg.timestamp()[1]
        timestamp = moment(millis)
        header = get(H_EVENT_ID)
        if header is not None:
            event_id = parse_uuid(header)
        else:
            # Stable across replays, so folds that record it stay deterministic.
            event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"kafka:{_where(msg)}")
        correlation_id = get(H_CORRELATION_ID)
        if isinstance(correlation_id, bytes):
            correlation_id = correlation_id.decode()
        causation_id = get(H_CAUSATION_ID)
        if isinstance(causation_id, bytes):
            causation_id = causation_id.decode()
        meta = make_meta(entity_id, version, timestamp, event_id, correlation_id, causation_id)
    except DecodeError as exc:
        raise DecodeError(f"{_where(msg)}: {exc}") from exc
    except RegistryError as exc:
        raise type(exc)(
            f"{_where(msg)}: {exc}", action=exc.action, status=exc.status, code=exc.code
        ) from exc
    except (ValueError, UnicodeDecodeError, EsgenError) as exc:
        raise DecodeError(f"{_where(msg)}: {type(exc).__name__}: {exc}") from exc
    return event, meta
