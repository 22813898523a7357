"""The subjects of a project and what ``esgen register`` registers under them.

Every top-level schema lives under one subject, named by the subject strategy
(:mod:`esgen.runtime.subjects`), with a role that decides its compatibility level:

- **event**: ``<topic>-<full name>`` (topic_record) or ``<full name>`` (record, topic), at
  the entity's ``compatibility`` (default BACKWARD_TRANSITIVE: a replay reads every event
  ever written);
- **command**: the same on ``<topic>.commands``, at the entity's ``compatibility``
  (processors read what clients on older schemas still send);
- **snapshot**: the state record on ``<topic>.snapshots`` (``<topic>.snapshots-value`` under
  topic), at NONE: snapshots are a cache. A snapshot written under another state schema has
  another fingerprint, so the store ignores it and rebuilds the state from events; holding
  the state to the events' level would only make refactoring state needlessly hard.

``topic_record`` (default) and ``record``: one subject per record. ``topic``: the same
per-record subjects (named after the record, so the union can reference them), then
``<topic>-value``: a union of references to every event type of the topic (and
``<topic>.commands-value`` for its command types), registered last because it needs the
versions of what it references.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from esgen.model import Entity, Project
from esgen.runtime.subjects import (
    SubjectStrategy,
    command_topic,
    record_subject,
    snapshot_topic,
    topic_subject,
)

DEFAULT_LEVEL = "BACKWARD_TRANSITIVE"
SNAPSHOT_LEVEL = "NONE"


class Role(enum.StrEnum):
    """What the records of a subject are to the entity."""

    EVENT = "event"
    COMMAND = "command"  # on the command topic: what clients send, processors read
    SNAPSHOT = "snapshot"  # the state on the snapshot topic: a cache


def level_of(entity: Entity) -> str:
    """The entity's level for events and commands: as written, else BACKWARD_TRANSITIVE."""
    return (entity.compatibility or DEFAULT_LEVEL).upper()


@dataclass(frozen=True)
class SubjectPlan:
    """One record schema of today's project and the subject it lives under."""

    subject: str
    full_name: str
    entity: Entity
    role: Role
    level: str

    @property
    def is_state(self) -> bool:
        return self.role is Role.SNAPSHOT

    @property
    def is_command(self) -> bool:
        return self.role is Role.COMMAND


def subjects(project: Project, strategy: SubjectStrategy | str) -> list[SubjectPlan]:
    """Every top-level schema with its subject: events, the commands on the command topic,
    then the state on the snapshot topic.

    Named types (``Money``, ``Status``) are not subjects: they are embedded in the events and
    states that use them, so they are checked through those.
    """
    plans: list[SubjectPlan] = []
    for entity in project.entities:
        level = level_of(entity)
        for event in entity.events:
            subject = record_subject(strategy, entity.topic, event.full_name)
            plans.append(SubjectPlan(subject, event.full_name, entity, Role.EVENT, level))
        for command in entity.commands:
            subject = record_subject(strategy, command_topic(entity.topic), command.full_name)
            plans.append(SubjectPlan(subject, command.full_name, entity, Role.COMMAND, level))
        snapshots = snapshot_topic(entity.topic)
        # The snapshot topic holds one record type, so under TopicNameStrategy it is plain
        # ``<topic>.snapshots-value`` (no union needed).
        state_subject = (
            topic_subject(snapshots)
            if SubjectStrategy(strategy) is SubjectStrategy.TOPIC
            else record_subject(strategy, snapshots, entity.state.full_name)
        )
        plans.append(
            SubjectPlan(
                state_subject, entity.state.full_name, entity, Role.SNAPSHOT, SNAPSHOT_LEVEL
            )
        )
    return plans


@dataclass(frozen=True)
class Registration:
    """One subject to register: a schema (or a union of references) and its level."""

    subject: str
    level: str
    entity: Entity
    schema: Any = None  # a self-contained schema; None for a union of references
    union_of: tuple[str, ...] = field(default=())  # referenced record subjects, in order

    @property
    def is_union(self) -> bool:
        return bool(self.union_of)


def registrations(
    project: Project, schemas: dict[str, dict[str, Any]], strategy: SubjectStrategy | str
) -> list[Registration]:
    strategy = SubjectStrategy(strategy)
    plans: list[SubjectPlan] = subjects(project, strategy)
    out = [Registration(p.subject, p.level, p.entity, schemas[p.full_name]) for p in plans]
    if strategy is SubjectStrategy.TOPIC:
        for entity in project.entities:
            mine = [p for p in plans if p.entity is entity and not p.is_state]
            level = level_of(entity)
            events = tuple(p.subject for p in mine if p.role is Role.EVENT)
            out.append(Registration(topic_subject(entity.topic), level, entity, union_of=events))
            commands = tuple(p.subject for p in mine if p.is_command)
            if commands:
                union = topic_subject(command_topic(entity.topic))
                out.append(Registration(union, level, entity, union_of=commands))
    return out
