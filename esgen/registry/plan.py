"""What ``esgen register`` registers: every subject of a project under a subject strategy.

``topic_record`` (default) and ``record``: one subject per event type and one for the state
on the snapshot topic. ``topic``: the same per-record subjects (named after the record, so the
union can reference them), then ``<topic>-value``: a union of references to every event type
of the topic (and ``<topic>.commands-value`` for its command types), registered last because
it needs the versions of what it references.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from esgen.compat.baseline import SubjectPlan, subjects
from esgen.model import Entity, Project
from esgen.runtime.subjects import SubjectStrategy, command_topic, topic_subject


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
            level = (entity.compatibility or "BACKWARD_TRANSITIVE").upper()
            events = tuple(p.subject for p in mine if not p.is_command)
            out.append(Registration(topic_subject(entity.topic), level, entity, union_of=events))
            commands = tuple(p.subject for p in mine if p.is_command)
            if commands:
                union = topic_subject(command_topic(entity.topic))
                out.append(Registration(union, level, entity, union_of=commands))
    return out
