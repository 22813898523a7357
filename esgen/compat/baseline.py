"""The history ``esgen check`` compares today's definitions with, whatever its source.

A git ref, a lock folder and a registry all boil down to the same two things: the versions
of each record schema (oldest first) and, where the source knows them, each entity's topic,
key and event types. Semantic rules need the second part; schema rules need the first.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Version:
    """One past schema of a record and a label saying where it came from (``v3``, ``main``)."""

    label: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class EntityInfo:
    """What a source remembers of an entity; ``key`` is None when the source cannot know."""

    name: str  # full name, e.g. com.example.bank.Account
    topic: str
    key: str | None
    events: tuple[str, ...]  # full record names
    state: str | None


@dataclass
class Baseline:
    """Past versions by record full name, and past entities by full name."""

    source: str
    versions: dict[str, list[Version]] = field(default_factory=dict)
    entities: dict[str, EntityInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the source could not provide

    def add(self, full_name: str, version: Version) -> None:
        self.versions.setdefault(full_name, []).append(version)


def entity_info(entity: Entity) -> EntityInfo:
    return EntityInfo(
        name=entity.full_name,
        topic=entity.topic,
        key=entity.key,
        events=tuple(e.full_name for e in entity.events),
        state=entity.state.full_name,
    )


def level_of(entity: Entity) -> str:
    """The entity's registry level: as written, else BACKWARD_TRANSITIVE (replay reads all)."""
    return (entity.compatibility or DEFAULT_LEVEL).upper()


@dataclass(frozen=True)
class SubjectPlan:
    """One record schema of today's project and the subject it lives under."""

    subject: str
    full_name: str
    entity: Entity
    is_state: bool
    level: str
    is_command: bool = False  # on the command topic: what clients send, processors read


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
            plans.append(SubjectPlan(subject, event.full_name, entity, False, level))
        for command in entity.commands:
            subject = record_subject(strategy, command_topic(entity.topic), command.full_name)
            plans.append(SubjectPlan(subject, command.full_name, entity, False, level, True))
        snapshots = snapshot_topic(entity.topic)
        # The snapshot topic holds one record type, so under TopicNameStrategy it is plain
        # ``<topic>.snapshots-value`` (no union needed).
        state_subject = (
            topic_subject(snapshots)
            if SubjectStrategy(strategy) is SubjectStrategy.TOPIC
            else record_subject(strategy, snapshots, entity.state.full_name)
        )
        plans.append(SubjectPlan(state_subject, entity.state.full_name, entity, True, level))
    return plans
