"""``check(new, previous, mode)``: the offline equivalent of the registry's compatibility test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from esgen.compat import rules
from esgen.compat.dialect import STRICT, Dialect, get_dialect
from esgen.compat.report import Problem, Report
from esgen.compat.resolution import resolve
from esgen.compat.schema import Issue, Parsed, parse_schema
from esgen.compat.validity import default_issues
from esgen.model import Direction, Mode


def _path(root: str, steps: tuple[str, ...]) -> str:
    return root + "".join(steps)


def _problem(
    schema: str, issue: Issue, direction: Direction, previous_index: int | None, root: str
) -> Problem:
    return Problem(
        schema=schema,
        path=_path(root, issue.steps),
        rule=issue.rule.id,
        direction=direction,
        previous_index=previous_index,
        message=issue.message,
        fix=issue.rule.fix,
    )


def check(
    new: Any,
    previous: Sequence[Any] = (),
    mode: Mode | str = Mode.BACKWARD,
    *,
    dialect: Dialect | str = STRICT,
) -> Report:
    """Check the ``new`` schema against ``previous`` versions (oldest first) in ``mode``.

    Schemas are parsed JSON (dict, list or str). The new schema must be valid on its own in
    every mode, NONE included (defaults are validated as Java Avro does). Previous schemas are
    taken as the registry stored them: only their structure is checked, not their defaults.
    ``dialect`` picks whose validity rules apply (``esgen.compat.dialect``): ``strict`` (the
    Avro specification, the default), ``avro-1.11`` or ``avro-1.12`` (Java Avro's parsers).
    """
    mode = Mode.parse(mode)
    dialect = get_dialect(dialect)
    if isinstance(previous, dict | str):
        raise TypeError("previous must be a sequence of schemas (oldest first)")
    try:
        return _check(new, previous, mode, dialect)
    except RecursionError:
        problem = Problem(
            schema="<schema>",
            path="<schema>",
            rule=rules.MALFORMED_SCHEMA.id,
            direction=Direction.SCHEMA,
            previous_index=None,
            message="the schema is nested too deeply for esgen to check (hundreds of levels)",
            fix="Flatten the schema.",
        )
        checked = tuple(mode.versions_to_check(len(previous)))
        return Report("<schema>", mode, len(previous), checked, (problem,))


def _check(new: Any, previous: Sequence[Any], mode: Mode, dialect: Dialect) -> Report:
    new_parsed = parse_schema(new, dialect)
    schema = new_parsed.root_name
    problems: list[Problem] = []
    own = [*new_parsed.issues]
    if not new_parsed.issues:
        own.extend(default_issues(new_parsed.root, dialect))
    problems.extend(_problem(schema, i, Direction.SCHEMA, None, schema) for i in own)

    checked = mode.versions_to_check(len(previous))
    if not new_parsed.issues and new_parsed.root is not None:
        for index in checked:
            old: Parsed = parse_schema(previous[index], dialect)
            if old.issues or old.root is None:
                problems.extend(
                    _problem(schema, i, Direction.SCHEMA, index, old.root_name) for i in old.issues
                )
                continue
            for direction in mode.directions:
                new_is_reader = direction is Direction.BACKWARD
                reader, writer = (
                    (new_parsed.root, old.root) if new_is_reader else (old.root, new_parsed.root)
                )
                for issue in resolve(reader, writer, new_is_reader):
                    problems.append(_problem(schema, issue, direction, index, schema))
    return Report(
        schema=schema,
        mode=mode,
        previous_count=len(previous),
        checked=tuple(checked),
        problems=tuple(problems),
    )
