"""History from the registry: every version of every subject of today's project."""

from __future__ import annotations

from esgen.compat.baseline import Baseline, EntityInfo, SubjectPlan, Version
from esgen.model import Project
from esgen.registry.connection import Registry
from esgen.runtime.subjects import SubjectStrategy, topic_subject


def read_registry(
    registry: Registry, project: Project, plans: list[SubjectPlan], strategy: SubjectStrategy | str
) -> Baseline:
    strategy = SubjectStrategy(strategy)
    baseline = Baseline(source=f"registry {registry.url}")
    for plan in plans:
        for number, schema in registry.versions(plan.subject):
            baseline.add(plan.full_name, Version(f"{plan.subject} v{number}", schema))
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
