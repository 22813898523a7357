"""History from the registry: every version of every subject of today's project.

``read_registry`` is what ``esgen check --registry`` compares with. ``esgen register`` reads
the same versions first (``subject_versions``) to run esgen's rules and to tell a new version
from an old one registered again, and skips the listing of every subject (``event_types=
False``): that listing only finds removed event types, which registering does not need, and
on a registry with many subjects it is the slow part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from esgen.check.baseline import Baseline, EntityInfo, Version
from esgen.model import Project
from esgen.registry.connection import Registry
from esgen.registry.plan import SubjectPlan
from esgen.runtime.subjects import SubjectStrategy, topic_subject

SubjectVersions = Mapping[str, Sequence[tuple[int, Any]]]
"""Subject -> its versions (number, parsed schema), oldest first."""


def subject_versions(registry: Registry, plans: Sequence[SubjectPlan]) -> SubjectVersions:
    """Every version of every planned subject (none for a subject the registry lacks)."""
    return {plan.subject: registry.versions(plan.subject) for plan in plans}


def read_registry(
    registry: Registry,
    project: Project,
    plans: Sequence[SubjectPlan],
    strategy: SubjectStrategy | str,
    *,
    versions: SubjectVersions | None = None,
    event_types: bool = True,
) -> Baseline:
    """The registry's history of today's subjects; with ``event_types``, also which event
    types each topic's subjects name (so a removed event type is found)."""
    strategy = SubjectStrategy(strategy)
    versions = subject_versions(registry, plans) if versions is None else versions
    baseline = Baseline(source=f"registry {registry.url}")
    for plan in plans:
        for number, schema in versions.get(plan.subject, ()):
            baseline.add(plan.full_name, Version(f"{plan.subject} v{number}", schema, plan.role))
    if not event_types:
        return baseline
    # Which event types the registry knows for each topic: a removed event type shows here.
    for entity in project.entities:
        events: list[str] = []
        if strategy is SubjectStrategy.TOPIC_RECORD:
            prefix = f"{entity.topic}-"
            # Avro full names have no "-": that keeps topic "a-b"'s subjects out of "a"'s.
            events = sorted(
                rest
                for rest in (s.removeprefix(prefix) for s in registry.subjects(prefix))
                if "-" not in rest and rest not in ("key", "value")
            )
        elif strategy is SubjectStrategy.TOPIC:
            union = registry.versions(topic_subject(entity.topic))
            if union:
                latest = union[-1][1]
                events = [str(b) for b in latest] if isinstance(latest, list) else []
        if events:
            name = entity.full_name
            baseline.entities[name] = EntityInfo(name, entity.topic, None, tuple(events), None)
    if strategy is SubjectStrategy.RECORD:
        baseline.notes.append(
            "under the record strategy the registry does not say which events a topic "
            "carries; removed event types are not detected (use --lock or --against too)"
        )
    return baseline
