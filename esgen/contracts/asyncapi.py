"""The AsyncAPI 3.0 document of a project: its topics, messages, keys and headers.

Built from the resolved model (:mod:`esgen.model`), never from YAML, so it says exactly
what the runtime puts on Kafka:

- one **channel** per topic an entity uses: ``<topic>`` for its events,
  ``<topic>.snapshots`` for its snapshots and, when it accepts commands (SPEC §6),
  ``<topic>.commands`` for them and ``<topic>.replies`` for their outcomes (the channel
  id is the topic name, which Kafka and the definitions already keep unique), with Kafka
  channel bindings carrying the topic configuration esgen intends: events are kept
  forever (``cleanup.policy: delete`` with ``retention.ms`` and ``retention.bytes`` -1),
  snapshots are compacted, commands are never compacted (``cleanup.policy: delete``),
  replies are compacted and deleted after the idempotency window
  (``cleanup.policy: compact,delete``);
- one **message** per event type, one for the entity's state on the snapshot topic and
  one per command type, in ``components.messages`` under the record's full name. A
  command's description names the events it may cause (or the ``decide`` function that
  chooses them) and the reasons it may be rejected with. The payload is the record's
  self-contained Avro schema (``application/vnd.apache.avro+json;version=1.9.0``), the
  same schema ``esgen generate`` writes and ``esgen register`` registers; the content is
  Avro binary in the Confluent wire format (``schemaIdLocation: payload``,
  ``schemaIdPayloadEncoding: confluent``, the subject strategy as
  ``schemaLookupStrategy``); the Kafka message binding's ``key`` is the entity id in its
  canonical text form; the esgen headers are a headers schema, and the correlation id is
  the message's ``correlationId``;
- **operations** ``<topic>.send`` and ``<topic>.receive`` per channel: an esgen
  application appends events (and writes snapshots) and reads them back (loads,
  projections, ``esgen tail``); a command client sends commands and the command
  processor receives them.

The command channel states the contract of SPEC §6 (key, co-partitioning, headers,
idempotence by ``esgen.command_id``) as the command client writes it; the reply channel
carries one message, ``esgen.reply``: UTF-8 JSON whose schema is
:data:`esgen.runtime.replies.SCHEMA` (the format the processor writes and the client
reads), keyed by the command id.

The document is a plain ``dict`` in a fixed key order; :func:`dumps` writes it as JSON,
byte-identical on every run. Subject strategy ``topic`` is refused: its values are a
union of every event type, which this document does not describe yet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from esgen.codegen.avro import SchemaBuilder
from esgen.model import CommandDef, Entity, Logical, Primitive, Project, RecordDef, TypeRef
from esgen.runtime import headers as hdr
from esgen.runtime import replies
from esgen.runtime.subjects import (
    SubjectStrategy,
    command_topic,
    record_subject,
    reply_topic,
    snapshot_topic,
)

ASYNCAPI_VERSION = "3.0.0"
AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
CONTENT_TYPE = "application/octet-stream"
"""Avro binary behind Confluent's 5-byte prefix: no media type names it better."""
KAFKA_BINDING = "0.5.0"
LOOKUP_STRATEGY = {
    SubjectStrategy.TOPIC_RECORD: "TopicRecordNameStrategy",
    SubjectStrategy.RECORD: "RecordNameStrategy",
}

KEPT_FOREVER = {"cleanup.policy": ["delete"], "retention.ms": -1, "retention.bytes": -1}
"""Event topics: nothing is ever deleted by time or size (the events are the history)."""
NOT_COMPACTED = {"cleanup.policy": ["delete"]}
"""Command topics: requests, kept for the topic's retention; compaction would drop a command
queued behind another one for the same entity (same key)."""
REPLIES_KEPT = {"cleanup.policy": ["compact", "delete"]}
"""Reply topics: one reply per command id, deleted after the idempotency window."""
JSON = "application/json"

Document = dict[str, Any]


class ContractError(ValueError):
    """The model cannot be described as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Header:
    name: str
    schema: dict[str, Any]
    required: bool = True


def _text(description: str, **schema: Any) -> dict[str, Any]:
    return {"type": "string", **schema, "description": description}


DECIMAL = "^-?[0-9]+$"

EVENT_HEADERS = (
    Header(hdr.H_TYPE, _text("Full name of the event record: which schema the value uses.")),
    Header(hdr.H_EVENT_ID, _text("The event's id (a UUID, 8-4-4-4-12 hex).", format="uuid")),
    Header(
        hdr.H_VERSION,
        _text(
            "The entity version this event creates (1 for an entity's first event), decimal.",
            pattern="^[1-9][0-9]*$",
        ),
    ),
    Header(
        hdr.H_TIMESTAMP,
        _text("Event time in milliseconds since the Unix epoch, decimal.", pattern=DECIMAL),
    ),
    Header(
        hdr.H_CORRELATION_ID,
        _text("The id of the whole conversation this event belongs to."),
        required=False,
    ),
    Header(
        hdr.H_CAUSATION_ID,
        _text("The id of the message (command or event) that caused this event."),
        required=False,
    ),
)
H_COMMAND_ID = hdr.H_COMMAND_ID

COMMAND_HEADERS = (
    Header(hdr.H_TYPE, _text("Full name of the command record: which schema the value uses.")),
    Header(
        H_COMMAND_ID,
        _text(
            "The command's id, unique per command; a retry sends the same id. The same id "
            "again returns the first outcome and writes nothing new. The events the command "
            f"causes carry it as `{hdr.H_CAUSATION_ID}`."
        ),
    ),
    Header(
        hdr.H_TIMESTAMP,
        _text(
            "When the command was sent, in milliseconds since the Unix epoch, decimal.",
            pattern=DECIMAL,
        ),
    ),
    Header(
        hdr.H_CORRELATION_ID,
        _text("The id of the whole conversation this command belongs to."),
        required=False,
    ),
    Header(
        hdr.H_CAUSATION_ID,
        _text("The id of the message (command or event) that caused this command."),
        required=False,
    ),
)
SNAPSHOT_HEADERS = (
    Header(hdr.H_TYPE, _text("Full name of the state record.")),
    Header(
        hdr.H_VERSION,
        _text("The entity version the snapshot holds the state after.", pattern="^[1-9][0-9]*$"),
    ),
    Header(
        hdr.H_FINGERPRINT,
        _text(
            "Fingerprint of the state schema and fold rules that made the snapshot; a reader "
            "with another fingerprint ignores it and replays the events."
        ),
    ),
    Header(
        hdr.H_SOURCE_PARTITION,
        _text("The event partition the snapshot covers, decimal.", pattern="^[0-9]+$"),
    ),
    Header(
        hdr.H_SOURCE_OFFSET,
        _text("The offset of the last event the snapshot covers, decimal.", pattern=DECIMAL),
    ),
    Header(
        hdr.H_SOURCE_TOPIC_ID,
        _text(
            "Kafka's id of the event topic the snapshot was made from; a snapshot of another "
            "incarnation of the topic (deleted and recreated) is ignored."
        ),
    ),
)


@dataclass(frozen=True)
class Message:
    """One kind of record on a channel: its Avro record and the headers it carries."""

    record: RecordDef
    headers: tuple[Header, ...]
    description: str
    pinned_type: str
    """The value of ``esgen.type`` every such record carries."""

    @property
    def name(self) -> str:
        return self.record.name


@dataclass(frozen=True)
class JsonMessage:
    """A record whose value is UTF-8 JSON (the processor's replies), keyed by ``key``."""

    id: str
    name: str
    headers: tuple[Header, ...]
    description: str
    schema: dict[str, Any]
    key: dict[str, Any]
    pinned_type: str


@dataclass(frozen=True)
class Channel:
    """One Kafka topic of an entity and what travels on it."""

    topic: str
    entity: Entity
    title: str
    description: str
    messages: tuple[Message | JsonMessage, ...]
    topic_configuration: dict[str, Any]
    operations: dict[str, str] = field(default_factory=dict)
    """Action (``send``/``receive``) -> what an esgen application does that way."""


def entity_channels(entity: Entity) -> list[Channel]:
    """The channels of one entity, in a fixed order: events, snapshots, commands (if any)."""
    events = Channel(
        topic=entity.topic,
        entity=entity,
        title=f"{entity.name} events",
        description=_join(
            entity.doc,
            f"Every event of every {entity.name}, in order per entity: the message key is "
            f"the entity id (`{entity.key}`), so one entity's events share a partition. "
            "Kept forever: the events are the system of record.",
        ),
        messages=tuple(
            Message(
                record=event.record,
                headers=EVENT_HEADERS,
                description=event.record.doc or f"The event {event.name} of {entity.name}.",
                pinned_type=event.full_name,
            )
            for event in entity.events
        ),
        topic_configuration=KEPT_FOREVER,
        operations={
            "send": f"Append {entity.name} events (`EventStore.append`).",
            "receive": f"Read {entity.name} events (loads, projections, `esgen tail`).",
        },
    )
    snapshots = Channel(
        topic=snapshot_topic(entity.topic),
        entity=entity,
        title=f"{entity.name} snapshots",
        description=(
            f"The latest state of each {entity.name} after a known event offset (compacted: "
            "one record per entity id is kept). An optimisation only: the events are the truth."
        ),
        messages=(
            Message(
                record=entity.state,
                headers=SNAPSHOT_HEADERS,
                description=f"The state of one {entity.name}.",
                pinned_type=entity.state.full_name,
            ),
        ),
        topic_configuration={"cleanup.policy": ["compact"]},
        operations={
            "send": f"Write a snapshot of a {entity.name} (every `snapshot_every` events).",
            "receive": f"Restore {entity.name} state before folding the events after it.",
        },
    )
    if not entity.commands:
        return [events, snapshots]
    commands = Channel(
        topic=command_topic(entity.topic),
        entity=entity,
        title=f"{entity.name} commands",
        description=(
            f"Commands to {entity.name} entities, one message per command type. The message "
            f"key is the entity id (`{entity.key}`) and the topic has as many partitions as "
            f"`{entity.topic}` (co-partitioned): a command lands in the partition number of "
            "its entity's events, whose single writer, the command processor, decides it on "
            f"the entity's current state and appends the events it causes to `{entity.topic}`, "
            "or rejects it with a reason and writes nothing. The same "
            f"`{H_COMMAND_ID}` again returns the first outcome and writes nothing new. "
            f"The outcome of each command is replied on `{reply_topic(entity.topic)}`."
        ),
        messages=tuple(
            Message(
                record=command.record,
                headers=COMMAND_HEADERS,
                description=_command_description(entity, command),
                pinned_type=command.full_name,
            )
            for command in entity.commands
        ),
        topic_configuration=NOT_COMPACTED,
        operations={
            "send": f"Send a {entity.name} command (`CommandClient.send`).",
            "receive": (
                f"Decide {entity.name} commands and append the events they cause "
                "(`CommandProcessor`)."
            ),
        },
    )
    reply_channel = Channel(
        topic=reply_topic(entity.topic),
        entity=entity,
        title=f"{entity.name} replies",
        description=(
            f"The outcome of each {entity.name} command, written by the command processor in "
            "the transaction that stores the command's events (a reader with "
            "isolation.level=read_committed sees an accepted reply exactly when its events "
            f"are stored), in the partition number of the command. The key is the "
            f"`{H_COMMAND_ID}`; the same command id sent again gets the same reply again. "
            "Compacted and deleted after the idempotency window."
        ),
        messages=(REPLY_MESSAGE,),
        topic_configuration=REPLIES_KEPT,
        operations={
            "send": f"Reply the outcome of a {entity.name} command (`CommandProcessor`).",
            "receive": f"Wait for the outcome of a {entity.name} command (`CommandClient`).",
        },
    )
    return [events, snapshots, commands, reply_channel]


REPLY_MESSAGE = JsonMessage(
    id=replies.REPLY_TYPE.decode(),
    name="Reply",
    headers=(
        Header(hdr.H_TYPE, _text("Always esgen.reply.")),
        Header(H_COMMAND_ID, _text("The id of the command this is the outcome of.")),
        Header(hdr.H_OUTCOME, {"enum": list(replies.OUTCOMES), "description": "The outcome."}),
    ),
    description=(
        "The outcome of one command. accepted (with the events it caused, as stored) and "
        "rejected (with the reason) are outcomes: the same command id gets them again. "
        "failed is not: nothing was written and the id is free for a corrected command."
    ),
    schema=replies.SCHEMA,
    key=_text("The command id (the esgen.command_id header of the command), UTF-8."),
    pinned_type=replies.REPLY_TYPE.decode(),
)


def _command_description(entity: Entity, command: CommandDef) -> str:
    """The command's doc, then the events it may cause and the reasons it may be rejected with."""
    if command.decide is not None:
        causes = (
            f"Decided by code ({_code(command.decide)}): it may cause any {entity.name} "
            "event, or none."
        )
    else:
        names = {event.full_name: event.name for event in entity.events}
        caused = [
            _code(names[emission.event])
            + ("" if emission.when is None else f" if {_code(emission.when.source)}")
            for emission in command.emits
        ]
        causes = f"Causes, in order: {', '.join(caused)}." if caused else "Causes no event."
    reasons = "; ".join(_code(p.reason) for p in command.requires)
    rejected = (
        f"Rejected with the reason of the first precondition that fails ({reasons}), or "
        "with an invariant's text when its events would break one."
        if reasons
        else "Rejected only when its events would break an invariant, with its text."
    )
    return _join(command.record.doc, f"{causes} {rejected}")


def _code(text: str) -> str:
    """``text`` as a CommonMark code span: a fence longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def build(
    project: Project,
    *,
    title: str,
    version: str,
    strategy: SubjectStrategy | str = SubjectStrategy.TOPIC_RECORD,
) -> Document:
    """The AsyncAPI 3.0 document of ``project`` as a JSON-ready ``dict``."""
    strategy = SubjectStrategy(strategy)
    if strategy not in LOOKUP_STRATEGY:
        raise ContractError(
            f"subject strategy {strategy.value!r}: its values are a union of every event type, "
            "which the AsyncAPI document does not describe; use topic_record or record"
        )
    schemas = SchemaBuilder(project.all_types())
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    owners: dict[str, Entity] = {}
    for entity in project.entities:
        for channel in entity_channels(entity):
            _claim(owners, channel)
            refs = {m.name: {"$ref": f"#/components/messages/{_id(m)}"} for m in channel.messages}
            channels[channel.topic] = {
                "address": channel.topic,
                "title": channel.title,
                "description": channel.description,
                "messages": refs,
                "bindings": {
                    "kafka": {
                        "topic": channel.topic,
                        "topicConfiguration": channel.topic_configuration,
                        "bindingVersion": KAFKA_BINDING,
                    }
                },
            }
            for action, summary in channel.operations.items():
                operations[f"{channel.topic}.{action}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{channel.topic}"},
                    "summary": summary,
                    "messages": [
                        {"$ref": f"#/channels/{channel.topic}/messages/{name}"} for name in refs
                    ],
                }
            for message in channel.messages:
                if isinstance(message, JsonMessage):
                    messages[_id(message)] = _json_message(message)
                else:
                    messages[_id(message)] = _message(channel, message, schemas, strategy)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The Kafka topics of these entities and every record on them, generated by "
                "esgen from the definitions. Values are Avro binary in the Confluent wire "
                "format: byte 0 is 0, bytes 1-4 the schema id (big-endian) the schema "
                "registry assigned, then the Avro body; decode with the writer schema fetched "
                "by id. Keys are the entity id as UTF-8 text; header values are UTF-8 text."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def dumps(document: Document) -> str:
    """The document as JSON text: key order as built, two-space indent, final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _message(
    channel: Channel, message: Message, schemas: SchemaBuilder, strategy: SubjectStrategy
) -> dict[str, Any]:
    entity = channel.entity
    result: dict[str, Any] = {
        "name": message.record.name,
        "title": message.record.name,
        "description": message.description,
        "contentType": CONTENT_TYPE,
        "headers": _headers(message),
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": schemas.named(message.record)},
    }
    if any(h.name == hdr.H_CORRELATION_ID for h in message.headers):
        result["correlationId"] = {
            "description": "Shared by the messages of one conversation (optional).",
            "location": f"$message.header#/{hdr.H_CORRELATION_ID}",
        }
    result["bindings"] = {
        "kafka": {
            "key": _key_schema(entity),
            "schemaIdLocation": "payload",
            "schemaIdPayloadEncoding": "confluent",
            "schemaLookupStrategy": LOOKUP_STRATEGY[strategy],
            "bindingVersion": KAFKA_BINDING,
        }
    }
    result["x-esgen-subject"] = record_subject(strategy, channel.topic, message.record.full_name)
    return result


def _json_message(message: JsonMessage) -> dict[str, Any]:
    return {
        "name": message.name,
        "title": message.name,
        "description": message.description,
        "contentType": JSON,
        "headers": _headers(message),
        "payload": message.schema,
        "bindings": {"kafka": {"key": message.key, "bindingVersion": KAFKA_BINDING}},
    }


def _headers(message: Message | JsonMessage) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for header in message.headers:
        schema = dict(header.schema)
        if header.name == hdr.H_TYPE:
            schema["const"] = message.pinned_type
        properties[header.name] = schema
    return {
        "type": "object",
        "required": [h.name for h in message.headers if h.required],
        "properties": properties,
    }


def _key_schema(entity: Entity) -> dict[str, Any]:
    """The Kafka key: the entity id as UTF-8 text, in the canonical form of its type."""
    field = entity.state.field(entity.key)
    described = f"The {entity.name} id (`{entity.key}`) as UTF-8 text."
    key_type: TypeRef | None = field.type if field is not None else None
    if key_type == Logical("uuid"):
        return _text(f"{described} A lower-case hyphenated UUID.", format="uuid")
    if key_type in (Primitive("int"), Primitive("long")):
        return _text(f"{described} An integer in decimal.", pattern=DECIMAL)
    return _text(described)


def _id(message: Message | JsonMessage) -> str:
    return message.id if isinstance(message, JsonMessage) else message.record.full_name


def _claim(owners: dict[str, Entity], channel: Channel) -> None:
    first = owners.setdefault(channel.topic, channel.entity)
    if first is not channel.entity:
        raise ContractError(
            f"topic {channel.topic!r} is used by both {first.name} ({first.source}) and "
            f"{channel.entity.name} ({channel.entity.source}); give one of them another topic"
        )


def _join(*parts: str | None) -> str:
    return "\n\n".join(part.strip() for part in parts if part and part.strip())
