"""Kafka record values and headers: the Confluent wire format and esgen's metadata headers.

Value
-----
Every event (and snapshot) value is in Confluent's wire format, so any Confluent-compatible
consumer reads our topics and we read theirs::

    byte 0      magic byte, always 0
    bytes 1-4   schema id, 4-byte big-endian, as the schema registry assigned it
    bytes 5-    Avro binary body written with that schema

The schema id is looked up under the configured subject strategy (see
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

Headers (values are UTF-8 bytes)
--------------------------------
========================  ============================================================
``esgen.type``            full name of the event record, e.g. ``com.example.bank.MoneyDeposited``
``esgen.event_id``        the event's UUID (``8-4-4-4-12`` hex form)
``esgen.version``         entity version the event creates (1 for an entity's first), decimal
``esgen.timestamp``       event time in milliseconds since the Unix epoch, decimal
``esgen.correlation_id``  optional: the id of the whole conversation
``esgen.causation_id``    optional: the id of the message that caused this event
========================  ============================================================

The message key is the entity id (UTF-8). Records without esgen headers (e.g. from a
plain Confluent producer) still decode: the type comes from the writer schema, the time
from the record timestamp, the event id is derived from topic/partition/offset (stable
across replays) and the version is left to the reader (the event store counts them).

Snapshot records (``<topic>.snapshots``) carry ``esgen.type`` (the state record),
``esgen.version``, ``esgen.fingerprint`` (the descriptor's fingerprint),
``esgen.source_partition`` and ``esgen.source_offset`` (the last event offset the
snapshot covers).
"""

from __future__ import annotations

import datetime
import json
import struct
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Protocol

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from esgen.runtime.descriptor import EntityDescriptor, RecordType
from esgen.runtime.errors import DecodeError, EncodeError, EsgenError, RegistryError
from esgen.runtime.meta import EventMeta, make_meta, uuid_from_int
from esgen.runtime.serde import AvroSchema, parse_schema
from esgen.runtime.subjects import (
    DEFAULT_STRATEGY,
    SubjectStrategy,
    record_subject,
    snapshot_topic,
    topic_subject,
)

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")

H_TYPE = "esgen.type"
H_EVENT_ID = "esgen.event_id"
H_VERSION = "esgen.version"
H_TIMESTAMP = "esgen.timestamp"
H_CORRELATION_ID = "esgen.correlation_id"
H_CAUSATION_ID = "esgen.causation_id"
H_FINGERPRINT = "esgen.fingerprint"
H_SOURCE_PARTITION = "esgen.source_partition"
H_SOURCE_OFFSET = "esgen.source_offset"

Headers = list[tuple[str, str | bytes | None]]
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


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


# -- framing ---------------------------------------------------------------------------


def frame(schema_id: int, body: bytes) -> bytes:
    """``body`` in the Confluent wire format under ``schema_id``."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(value: bytes) -> tuple[int, bytes]:
    """``(schema id, Avro body)`` of a wire-format value; ``DecodeError`` if it is not one."""
    if len(value) < _HEADER.size:
        raise DecodeError(f"value of {len(value)} bytes is too short for the wire format")
    magic, schema_id = _HEADER.unpack_from(value)
    if magic != MAGIC_BYTE:
        raise DecodeError(f"unknown magic byte {magic} (the Confluent wire format starts with 0)")
    return schema_id, value[_HEADER.size :]


def _write_varint(n: int) -> bytes:
    """Avro's zig-zag varint of a long (the union branch index)."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes) -> tuple[int, int]:
    """``(value, bytes consumed)`` of the zig-zag varint at the start of ``data``."""
    result = shift = 0
    for i, byte in enumerate(data[:10]):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), i + 1
        shift += 7
    raise DecodeError("truncated union branch index")


# -- headers ---------------------------------------------------------------------------


def event_headers(full_name: str | bytes, meta: EventMeta) -> Headers:
    """The esgen headers of one event (see the module docstring)."""
    if meta.event_id is None or meta.version is None or meta.timestamp is None:
        raise EncodeError("an appended event needs event_id, version and timestamp")
    headers: Headers = [
        (H_TYPE, full_name.encode() if isinstance(full_name, str) else full_name),
        (H_EVENT_ID, str(meta.event_id).encode()),
        (H_VERSION, b"%d" % meta.version),
        (H_TIMESTAMP, b"%d" % to_millis(meta.timestamp)),
    ]
    if meta.correlation_id is not None:
        headers.append((H_CORRELATION_ID, meta.correlation_id.encode()))
    if meta.causation_id is not None:
        headers.append((H_CAUSATION_ID, meta.causation_id.encode()))
    return headers


def header_map(
    headers: dict[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]] | None,
) -> dict[str, str]:
    """Headers as ``name -> text`` (the last value wins; ``None`` values are dropped)."""
    result: dict[str, str] = {}
    items = headers.items() if isinstance(headers, dict) else headers or ()
    for name, value in items:
        if value is None:
            continue
        result[name] = value.decode() if isinstance(value, bytes) else value
    return result


def to_millis(moment: datetime.datetime) -> int:
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


def from_millis(millis: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(milliseconds=millis)


# The events of one append share their timestamp, so consecutive records mostly repeat it.
_last_moment: tuple[int, datetime.datetime] = (0, _EPOCH)


def _moment(millis: int) -> datetime.datetime:
    """``from_millis``, remembering the last answer."""
    global _last_moment
    last = _last_moment
    if last[0] == millis:
        return last[1]
    moment = _EPOCH + datetime.timedelta(milliseconds=millis)
    _last_moment = (millis, moment)
    return moment


_UUID = uuid.UUID


def _parse_uuid(raw: str | bytes) -> uuid.UUID:
    """``uuid.UUID(raw)`` for the ``8-4-4-4-12`` hex form, without its general parsing;
    anything else goes through ``uuid.UUID`` (same result, same errors)."""
    digits = raw.replace(b"-", b"") if isinstance(raw, bytes) else raw.replace("-", "")
    if len(digits) == 32:
        try:
            number = int(digits, 16)
        except ValueError:
            pass
        else:
            if number >= 0:  # 32 hex digits: below 2**128
                return uuid_from_int(number)
    return _UUID(raw.decode() if isinstance(raw, bytes) else raw)


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


# -- the serde -------------------------------------------------------------------------

# How to decode one kind of value: (parsed writer schema, parsed reader schema or None
# when they are the same, today's class's from_avro, its full name). A writer of None
# marks a union, planned per branch.
_Plan = tuple[Any, Any, Callable[[dict[str, Any]], Any], str]


def _no_class(data: dict[str, Any]) -> Any:
    raise DecodeError("a union value needs its branch's plan")


_schemaless_reader = fastavro.schemaless_reader
_schemaless_writer = fastavro.schemaless_writer


def _run(plan: _Plan, value: bytes) -> Any:
    """The event of a framed value (5 header bytes, then the body) by its plan."""
    writer, reader, from_avro, _ = plan
    try:
        data = _schemaless_reader(BytesIO(value[5:]), writer, reader)
    except Exception as exc:  # fastavro raises EOFError, ValueError, SchemaResolutionError...
        raise _cannot_decode(plan, exc) from exc
    return from_avro(data)  # type: ignore[arg-type]  # a record schema always reads a dict


def _cannot_decode(plan: _Plan, exc: Exception) -> DecodeError:
    name = plan[3].rpartition(".")[2]
    return DecodeError(f"cannot decode {name}: {type(exc).__name__}: {exc}")


class RegistrySerde:
    """Encodes an entity's events and snapshots to the wire format and decodes them back.

    ``registry`` is a ``SchemaRegistryClient``, its config dict (``url``,
    ``basic.auth.user.info``, ``ssl.*``...) or a URL. Schema ids are looked up (never
    registered) unless ``auto_register=True``; either way each id is fetched once per
    serde. Writer schemas fetched by id are cached and parsed once.
    """

    def __init__(
        self,
        descriptor: EntityDescriptor[Any, Any],
        registry: SchemaRegistryClient | dict[str, Any] | str,
        *,
        strategy: SubjectStrategy | str = DEFAULT_STRATEGY,
        auto_register: bool = False,
        topic: str | None = None,
    ) -> None:
        if isinstance(registry, str):
            registry = {"url": registry}
        if isinstance(registry, dict):
            self.registry_url = str(registry.get("url", "?"))
            registry = SchemaRegistryClient(registry)
        else:
            self.registry_url = str(getattr(registry, "_conf", {}).get("url", "?"))
        self.client = registry
        self.descriptor = descriptor
        self.strategy = SubjectStrategy(strategy)
        self.auto_register = auto_register
        self.topic = topic or descriptor.topic
        self.snapshot_topic = snapshot_topic(self.topic)
        self._lock = threading.Lock()
        # (topic, full name) -> (schema id, union branch index or None)
        self._ids: dict[tuple[str, str], tuple[int, int | None]] = {}
        self._writers: dict[int, WriterSchema] = {}
        # (value[:5], esgen.type header[, union branch]) -> how to decode such values
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        # event class -> (framing, parsed schema, full name as UTF-8, its record type)
        self._encoders: dict[type, tuple[bytes, Any, bytes, RecordType[Any]]] = {}
        self._by_name = {e.full_name: e for e in descriptor.events}

    # encoding

    def encode_event(self, event: object) -> tuple[str, bytes]:
        """``(event full name, wire-format value)`` of one event of the descriptor."""
        record_type = self.descriptor.event_type(event)
        return record_type.full_name, self._encode(self.topic, record_type, event)

    def encode_events(self, events: Iterable[object]) -> list[tuple[bytes, bytes]]:
        """``(event full name as UTF-8, wire-format value)`` of each event: what
        ``encode_event`` gives, with each event class's framing looked up once."""
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
        prefix = frame(schema_id, b"" if branch is None else _write_varint(branch))
        encoder = (prefix, record_type.codec.parsed, record_type.full_name.encode(), record_type)
        self._encoders[type(event)] = encoder
        return encoder

    def encode_state(self, state: object) -> bytes:
        """The wire-format value of a snapshot of the state (on the snapshot topic)."""
        return self._encode(self.snapshot_topic, self.descriptor.state, state)

    def _encode(self, topic: str, record_type: RecordType[Any], value: Any) -> bytes:
        schema_id, branch = self.schema_id(topic, record_type)
        body = record_type.encode(value)
        if branch is not None:
            body = _write_varint(branch) + body
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
                found = (self._record_id(subject, record_type), None)
            self._ids[key] = found
        return found

    def _record_id(self, subject: str, record_type: RecordType[Any]) -> int:
        schema = Schema(json.dumps(record_type.schema), "AVRO")
        try:
            return self.client.lookup_schema(subject, schema).schema_id  # type: ignore[return-value]
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise self._registry_error(f"looking up subject {subject!r}", exc) from exc
            if not self.auto_register:
                raise RegistryError(
                    f"schema of {record_type.full_name} is not registered under subject "
                    f"{subject!r} in the schema registry at {self.registry_url}; register it "
                    "(`esgen register`) or create the store with auto_register=True"
                ) from None
        except Exception as exc:
            raise self._registry_error(f"looking up subject {subject!r}", exc) from exc
        try:
            return self.client.register_schema(subject, schema)
        except Exception as exc:
            raise self._registry_error(
                f"registering {record_type.full_name} under {subject!r}", exc
            ) from exc

    def _union_id(self, topic: str, record_type: RecordType[Any]) -> tuple[int, int]:
        subject = topic_subject(topic)
        try:
            latest = self.client.get_latest_version(subject)
            union_id = latest.schema_id
            names = [str(n) for n in json.loads(str(latest.schema.schema_str))]
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise self._registry_error(f"reading subject {subject!r}", exc) from exc
            union_id, names = None, []
        except Exception as exc:
            raise self._registry_error(f"reading subject {subject!r}", exc) from exc
        if record_type.full_name in names and union_id is not None:
            return union_id, names.index(record_type.full_name)
        if not self.auto_register:
            raise RegistryError(
                f"{record_type.full_name} is not a branch of the union registered under "
                f"{subject!r} in the schema registry at {self.registry_url}; register the "
                "topic's union of references or create the store with auto_register=True"
            )
        # Register each branch under its record subject, then the union referencing them.
        if record_type is self.descriptor.state:
            wanted = [record_type]
        else:
            wanted = [self._by_name[n] for n in names if n in self._by_name]
            wanted += [e for e in self.descriptor.events if e.full_name not in names]
        references = []
        for branch in wanted:
            branch_subject = record_subject(self.strategy, topic, branch.full_name)
            self._record_id(branch_subject, branch)
            try:
                version = self.client.lookup_schema(
                    branch_subject, Schema(json.dumps(branch.schema), "AVRO")
                ).version
            except Exception as exc:
                raise self._registry_error(f"looking up {branch_subject!r}", exc) from exc
            references.append(SchemaReference(branch.full_name, branch_subject, version))
        union = Schema(json.dumps([b.full_name for b in wanted]), "AVRO", references)
        try:
            union_id = self.client.register_schema(subject, union)
        except Exception as exc:
            raise self._registry_error(f"registering the union under {subject!r}", exc) from exc
        return union_id, [b.full_name for b in wanted].index(record_type.full_name)

    def _registry_error(self, doing: str, exc: Exception) -> RegistryError:
        if isinstance(exc, SchemaRegistryError):
            return RegistryError(
                f"schema registry at {self.registry_url}: {doing}: {exc.error_message} "
                f"(HTTP {exc.http_status_code}, code {exc.error_code})"
            )
        return RegistryError(
            f"schema registry at {self.registry_url} could not be reached while {doing}: "
            f"{type(exc).__name__}: {exc}; is it running and is the URL right?"
        )

    # decoding

    def writer_schema(self, schema_id: int) -> WriterSchema:
        """The registered schema ``schema_id``, fetched once and kept.

        ``DecodeError`` when the registry does not know the id (HTTP 404: the record is
        at fault) or the schema is unusable; ``RegistryError`` when the registry cannot
        be reached or fails (connection refused, timeout, 5xx...: not the record's fault).
        """
        cached = self._writers.get(schema_id)
        if cached is not None:
            return cached
        registered = self._ask(
            f"fetching schema id {schema_id}", self.client.get_schema, schema_id
        )
        try:
            parsed = json.loads(str(registered.schema_str))
        except ValueError as exc:
            raise DecodeError(f"schema id {schema_id} is not valid JSON: {exc}") from exc
        named = self._references(registered.references or [])
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
            writer = WriterSchema(schema_id, None, tuple(branches))
        elif isinstance(parsed, dict) and parsed.get("type") == "record":
            writer = WriterSchema(schema_id, _inline(parsed, dict(named), None))
        else:
            raise DecodeError(f"schema id {schema_id} is not a record or a union of records")
        self._writers[schema_id] = writer
        return writer

    def _ask(self, doing: str, request: Callable[..., Any], *args: Any) -> Any:
        """``request(*args)`` to the registry while reading: a 404 (unknown id, subject or
        version) is a ``DecodeError``, any other failure a ``RegistryError``."""
        try:
            return request(*args)
        except SchemaRegistryError as exc:
            error = self._registry_error(doing, exc)
            if exc.http_status_code == 404:
                raise DecodeError(str(error)) from exc
            raise error from exc
        except Exception as exc:
            raise self._registry_error(doing, exc) from exc

    def _references(self, references: Sequence[SchemaReference]) -> dict[str, AvroSchema]:
        """Referenced schemas by name, self-contained (their own references inlined)."""
        named: dict[str, AvroSchema] = {}
        for ref in references:
            registered = self._ask(
                f"fetching {ref.subject!r} version {ref.version}",
                self.client.get_version,
                str(ref.subject),
                int(ref.version or -1),
            )
            inner = self._references(registered.schema.references or [])
            try:
                parsed = json.loads(str(registered.schema.schema_str))
            except ValueError as exc:
                raise DecodeError(f"reference {ref.name} is not valid JSON: {exc}") from exc
            named[str(ref.name)] = _inline(parsed, inner, None)
        return named

    def decode_value(self, value: bytes, expected_type: str | None = None) -> tuple[str, Any]:
        """``(full name, event)`` of a wire-format event value, in today's class."""
        plan = self._plans.get((value[:5], expected_type))
        if plan is None:
            plan = self._plan(value, expected_type)
        if plan[0] is None:
            plan, value = self._branch_plan(value, expected_type)
        return plan[3], _run(plan, value)

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
        self._plans[(value[:5], type_header)] = plan
        return plan

    def _branch_plan(self, value: bytes, type_header: str | bytes | None) -> tuple[_Plan, bytes]:
        """The plan of the union branch ``value`` is written with, and the value with its
        branch index moved out of the body (framing kept, so the plan reads from byte 5)."""
        schema_id, body = unframe(value)
        branch, used = _read_varint(body)
        key = (value[:5], type_header, branch)
        plan = self._plans.get(key)
        if plan is None:
            writer = self.writer_schema(schema_id)
            if not 0 <= branch < len(writer.branches):
                raise DecodeError(f"union branch {branch} out of range for schema id {schema_id}")
            full_name, writer_record = writer.branches[branch]
            expected = type_header.decode() if isinstance(type_header, bytes) else type_header
            plan = self._plans[key] = self._plan_record(full_name, writer_record, expected)
        return plan, value[:5] + body[used:]

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

    def decode_state(self, value: bytes) -> Any:
        """A snapshot's state, resolved into today's state class."""
        schema_id, body = unframe(value)
        writer = self.writer_schema(schema_id)
        if writer.record is None:
            branch, used = _read_varint(body)
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
        plan = serde._plans.get((value[:5], type_header))
        if plan is None:
            plan = serde._plan(value, type_header)
        if plan[0] is None:
            plan, value = serde._branch_plan(value, type_header)
        writer, reader, from_avro, _ = plan  # _run(plan, value), inlined
        try:
            data = _schemaless_reader(BytesIO(value[5:]), writer, reader)
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
        last = _last_moment  # _moment(), inlined
        timestamp = last[1] if last[0] == millis else _moment(millis)
        header = get(H_EVENT_ID)
        if header is not None:
            event_id = _parse_uuid(header)
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
        raise RegistryError(f"{_where(msg)}: {exc}") from exc
    except (ValueError, UnicodeDecodeError, EsgenError) as exc:
        raise DecodeError(f"{_where(msg)}: {type(exc).__name__}: {exc}") from exc
    return event, meta
