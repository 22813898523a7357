"""Schema Registry subject names for an entity's event and snapshot schemas.

Several event types share one topic (one topic per entity type keeps an entity's
events ordered). Three ways to name their subjects are supported:

``topic_record`` (default) -- ``<topic>-<full record name>``, Confluent's
    TopicRecordNameStrategy. Each event type evolves on its own subject with its own
    compatibility history, scoped to the topic, and any Confluent consumer configured
    with ``TopicRecordNameStrategy`` reads our topics. This is the natural fit for
    event sourcing: the compatibility question is always "can today's reader of
    *this event type* read every old version of it?".
``record`` -- ``<full record name>``, RecordNameStrategy: one history per event type
    across every topic it appears in.
``topic`` -- ``<topic>-value``, TopicNameStrategy, holding a union that references
    each event type's schema (registered under its record-name subject). This is the
    recipe Confluent recommends for several event types in one topic when tools need one
    schema per topic; the union schema lists which events a topic may carry.

Snapshots live on ``<topic>.snapshots`` and commands on ``<topic>.commands``; their
subjects follow the same strategy (under ``topic`` the command topic has a union of its
own).
"""

from __future__ import annotations

import enum


class SubjectStrategy(enum.StrEnum):
    TOPIC_RECORD = "topic_record"
    RECORD = "record"
    TOPIC = "topic"


DEFAULT_STRATEGY = SubjectStrategy.TOPIC_RECORD


def snapshot_topic(topic: str) -> str:
    """The compacted topic that holds an entity type's snapshots."""
    return f"{topic}.snapshots"


def command_topic(topic: str) -> str:
    """The topic that carries an entity type's commands (co-partitioned with ``topic``)."""
    return f"{topic}.commands"


def reply_topic(topic: str) -> str:
    """Where the command processor writes the outcome of each command (co-partitioned)."""
    return f"{topic}.replies"


def dead_letter_topic(topic: str) -> str:
    """Where records that cannot be decoded or folded go, with the reason in headers."""
    return f"{topic}.dlq"


def record_subject(strategy: SubjectStrategy | str, topic: str, full_name: str) -> str:
    """The subject that holds the schema of record ``full_name`` on ``topic``.

    Under ``topic`` the per-record subject is the one the topic's union references.
    """
    strategy = SubjectStrategy(strategy)
    if strategy is SubjectStrategy.TOPIC_RECORD:
        return f"{topic}-{full_name}"
    return full_name


def topic_subject(topic: str) -> str:
    """TopicNameStrategy's subject for a topic's values (the union of references)."""
    return f"{topic}-value"
