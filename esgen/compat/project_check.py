"""``esgen check`` without the CLI: today's project against a baseline, every rule at once.

Schema rules run per subject at the entity's level (default BACKWARD_TRANSITIVE: a replay
reads every event ever written, so the newest reader must read every past version, not only
the latest one). Semantic rules run on the definitions. Each problem points at a YAML line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from esgen.compat.accept import Acceptance, apply_accepts
from esgen.compat.baseline import Baseline, SubjectPlan, subjects
from esgen.compat.check import check
from esgen.compat.dialect import STRICT, Dialect
from esgen.compat.findings import CheckResult, Finding, merge
from esgen.compat.locate import locate
from esgen.compat.rules import ALL_RULES, ENUM_SYMBOL_REMOVED
from esgen.compat.semantic import (
    ENUM_SYMBOL_REMOVED_FROM_HISTORY,
    SEMANTIC_RULES,
    semantic_findings,
)
from esgen.model import Project
from esgen.runtime.subjects import SubjectStrategy


def known_rule_ids() -> list[str]:
    from esgen.compat.replay import REPLAY_RULES

    return [r.id for r in (*ALL_RULES, *SEMANTIC_RULES, *REPLAY_RULES)]


def generated_schemas(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Today's ``.avsc`` contents (from ``render_project``) by full name."""
    out: dict[str, dict[str, Any]] = {}
    for path, text in files.items():
        if path.endswith(".avsc"):
            out[path.rpartition("/")[2].removesuffix(".avsc")] = json.loads(text)
    return out


def schema_findings(
    project: Project,
    schemas: dict[str, dict[str, Any]],
    baseline: Baseline,
    plans: Sequence[SubjectPlan],
    dialect: Dialect | str = STRICT,
) -> tuple[list[Finding], int]:
    """Registry-equivalent checks per subject; returns findings and the subjects compared."""
    types = project.all_types()
    found: list[Finding] = []
    compared = 0
    for plan in plans:
        history = baseline.versions.get(plan.full_name, [])
        if not history:
            continue  # a new subject: nothing to be compatible with
        compared += 1
        report = check(
            schemas[plan.full_name], [v.schema for v in history], plan.level, dialect=dialect
        )
        for problem in report.problems:
            versus = ""
            if problem.previous_index is not None:
                versus = history[problem.previous_index].label
            found.append(
                Finding(
                    schema=plan.full_name,
                    path=problem.path,
                    rule=problem.rule,
                    message=f"{problem.message} ({problem.direction.value}, {plan.level})",
                    fix=problem.fix,
                    location=locate(types, plan.full_name, problem.path),
                    subject=plan.subject,
                    versus=versus,
                )
            )
    return found, compared


def check_project(
    project: Project,
    files: dict[str, str],
    baseline: Baseline,
    *,
    strategy: SubjectStrategy | str = SubjectStrategy.TOPIC_RECORD,
    accepts: Sequence[Acceptance] = (),
    extra: Sequence[Finding] = (),
    dialect: Dialect | str = STRICT,
) -> CheckResult:
    """Every schema, semantic (and given replay) problem of ``project`` against ``baseline``."""
    schemas = generated_schemas(files)
    plans = subjects(project, strategy)
    by_schema, compared = schema_findings(project, schemas, baseline, plans, dialect)
    semantic = semantic_findings(project, schemas, baseline)
    # A removed enum symbol already reported by a schema check needs no second report.
    reported_enums = {f.message for f in by_schema if f.rule == ENUM_SYMBOL_REMOVED.id}
    semantic = [
        f
        for f in semantic
        if f.rule != ENUM_SYMBOL_REMOVED_FROM_HISTORY.id
        or not any(f"`{f.schema}`" in m for m in reported_enums)
    ]
    findings, notes = apply_accepts(merge(by_schema, semantic, extra), accepts)
    return CheckResult(
        findings=tuple(findings),
        source=baseline.source,
        subjects_checked=compared,
        notes=(*baseline.notes, *notes),
    )
