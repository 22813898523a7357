"""Registry-equivalent checks per subject: today's schema against the subject's history.

Event and command subjects are checked at their entity's level (default BACKWARD_TRANSITIVE:
a replay reads every event ever written, so the newest reader must read every past version,
not only the latest one). A subject without history is still checked on its own (NONE): a
schema the registry would refuse as invalid is an error before anything is registered.

The snapshot subject is a cache (level NONE at the registry, see :mod:`esgen.registry.plan`):
today's state schema must be valid, and where it cannot read the latest snapshot schema the
problem is a *warning* that says what happens (old snapshots are ignored, states rebuilt from
events), never a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from esgen.check.baseline import Baseline
from esgen.check.findings import ERROR, WARNING, Finding
from esgen.check.locate import locate
from esgen.compat.check import check
from esgen.compat.dialect import STRICT, Dialect
from esgen.model import Direction, Mode, Project
from esgen.registry.plan import Role, SubjectPlan

SNAPSHOT_FIX = (
    "Nothing to do: the store ignores snapshots made under another state schema (their "
    "fingerprint differs) and rebuilds states from events; expect that one-off rebuild after "
    "deploying."
)


def schema_findings(
    project: Project,
    schemas: Mapping[str, Any],
    baseline: Baseline,
    plans: Sequence[SubjectPlan],
    dialect: Dialect | str = STRICT,
) -> tuple[list[Finding], int]:
    """Findings of every subject; and how many subjects had a history to compare with."""
    types = project.all_types()
    found: list[Finding] = []
    compared = 0
    for plan in plans:
        history = baseline.versions.get(plan.full_name, [])
        compared += bool(history)
        snapshot = plan.role is Role.SNAPSHOT
        if snapshot:
            history = history[-1:]  # the cache holds what the latest state schema wrote
        mode = Mode.BACKWARD if snapshot and history else Mode.parse(plan.level)
        report = check(schemas[plan.full_name], [v.schema for v in history], mode, dialect=dialect)
        for problem in report.problems:
            versus = ""
            if problem.previous_index is not None:
                versus = history[problem.previous_index].label
            invalid = problem.direction is Direction.SCHEMA and problem.previous_index is None
            if snapshot and not invalid:
                message = (
                    f"old snapshots cannot be read: {problem.message} ({problem.direction.value} "
                    "vs the latest snapshot schema; the snapshot subject is a cache at level NONE)"
                )
                fix, severity = SNAPSHOT_FIX, WARNING
            else:
                message = f"{problem.message} ({problem.direction.value}, {plan.level})"
                fix, severity = problem.fix, ERROR
            found.append(
                Finding(
                    schema=plan.full_name,
                    path=problem.path,
                    rule=problem.rule,
                    message=message,
                    fix=fix,
                    location=locate(types, plan.full_name, problem.path),
                    subject=plan.subject,
                    versus=versus,
                    severity=severity,
                    direction=problem.direction.value,
                )
            )
    return found, compared
