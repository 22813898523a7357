"""Fold steps: ``- OP: {FIELD: EXPR}`` (plus ``when:``) -> ``model.FoldStep``."""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import cast

from esgen import model
from esgen.dsl import names as rules
from esgen.dsl import typerules as tr
from esgen.dsl.expressions import Scope, parse_expression
from esgen.dsl.hints import did_you_mean
from esgen.dsl.shape import Reporter
from esgen.dsl.typerules import describe
from esgen.dsl.yamlnodes import Node, Scalar
from esgen.dsl.yamlnodes import describe as describe_node
from esgen.errors import quote

OPS = ("set", "add", "subtract", "append", "remove", "put", "delete", "call")
STEP_KEYS = (*OPS, "when")
CALL = rules.FUNCTION


@dataclass(frozen=True)
class FoldContext:
    reporter: Reporter
    scope: Scope
    file_text: str
    key: str | None  # the key field: fold steps may not change it
    what: str  # "event 'OrderPlaced'"


def build_fold(node: Node | None, ctx: FoldContext) -> tuple[model.FoldStep, ...]:
    steps = ctx.reporter.sequence(node, f"{ctx.what}: 'fold'")
    if steps is None:
        return ()
    result = [_step(item, ctx) for item in steps.items]
    return tuple(step for step in result if step is not None)


def _step(node: Node, ctx: FoldContext) -> model.FoldStep | None:
    rep = ctx.reporter
    step = rep.mapping(node, f"{ctx.what}: a fold step")
    if step is None:
        return None
    ops = [k for k, _ in step.items if k.text in OPS]
    for key, _ in step.items:
        if key.text not in OPS and key.text != "when":
            rep.error(
                f"{ctx.what}: unknown fold step {quote(key.text)}",
                key,
                did_you_mean(key.text, STEP_KEYS),
            )
    if len(ops) > 1:
        rep.error(
            f"{ctx.what}: a fold step has one operation, found "
            + " and ".join(f"{quote(k.text)}" for k in ops),
            ops[1],
            "write each as its own '- ' item",
        )
    if not ops:
        if all(k.text in (*OPS, "when") for k, _ in step.items):
            rep.error(
                f"{ctx.what}: fold step without an operation",
                step,
                "expected one of " + ", ".join(OPS),
            )
        return None
    op = cast(model.FoldOp, ops[0].text)
    body = step.get(op)
    assert body is not None
    when = _when(step.get("when"), ctx)
    if op == "call":
        function = _call(body, ctx)
        return model.FoldStep(op, (), function, when, ops[0].location)
    entries = rep.mapping(body, f"{ctx.what}: '{op}'")
    if entries is None:
        return None
    if not entries.items:
        rep.error(f"{ctx.what}: '{op}' names no field", entries, f"write '{op}: {{FIELD: EXPR}}'")
    assignments = [_assignment(op, path, value, ctx) for path, value in entries.items]
    return model.FoldStep(
        op, tuple(a for a in assignments if a is not None), None, when, ops[0].location
    )


def _when(node: Node | None, ctx: FoldContext, label: str = "'when'") -> model.Expression | None:
    """A boolean expression: a step's ``when`` (or what ``label`` names, e.g. a precondition)."""
    if node is None:
        return None
    expr = _expression(node, ctx, None, label)
    if expr is not None and expr.tree.type != tr.BOOLEAN:
        ctx.reporter.error(
            f"{ctx.what}: {label} must be a boolean, not {describe(expr.tree.type)}",
            node,
            "wrap it in coalesce(..., false)"
            if tr.strip_optional(expr.tree.type) == tr.BOOLEAN
            else None,
        )
        return None
    return expr


def _call(node: Node, ctx: FoldContext) -> str | None:
    text = ctx.reporter.text(node, f"{ctx.what}: 'call'")
    if text is None:
        return None
    if reason := rules.function_spec(text):
        ctx.reporter.error(f"{ctx.what}: 'call' {reason}, not {quote(text)}", node)
        return None
    return text


def _expression(
    node: Node, ctx: FoldContext, expected: model.TypeRef | None, what: str
) -> model.Expression | None:
    if not isinstance(node, Scalar) or (node.is_null and node.text == ""):
        got = "nothing" if isinstance(node, Scalar) else describe_node(node)
        ctx.reporter.error(f"{ctx.what}, {what}: expected an expression, not {got}", node)
        return None
    result = parse_expression(node, ctx.file_text, ctx.scope, expected, f"{ctx.what}, {what}")
    if result is None or isinstance(result, model.Expression):
        return result
    ctx.reporter.add(result)
    return None


def _target(path_node: Scalar, ctx: FoldContext) -> model.TypeRef | None:
    """The type of the state field a step writes, after checking the dotted path."""
    parts = path_node.text.split(".")
    scope = ctx.scope
    record = scope.state
    assert record is not None  # fold steps always see the state
    fields: MappingABC[str, model.TypeRef | None] = record.fields
    if parts[0] == ctx.key:
        ctx.reporter.error(
            f"{ctx.what}: the key field {quote(ctx.key)} is set from the entity id; "
            "fold steps may not change it",
            path_node,
        )
        return None
    t: model.TypeRef | None = None
    for depth, name in enumerate(parts):
        if name not in fields:
            where = ".".join(["state", *parts[:depth]])
            ctx.reporter.error(
                f"{ctx.what}: {quote(where)} has no field {quote(name)}",
                path_node,
                did_you_mean(name, fields),
            )
            return None
        t = fields[name]
        if t is None:
            return None  # its type is already reported as broken
        if depth + 1 < len(parts):
            dotted = ".".join(parts[: depth + 1])
            if isinstance(t, model.OptionalType):
                ctx.reporter.error(
                    f"{ctx.what}: {quote(dotted)} may be null, so a step cannot set a field "
                    "inside it",
                    path_node,
                    f"set {quote(dotted)} as a whole",
                )
                return None
            if not isinstance(t, model.NamedRef) or t.full_name not in scope.records:
                ctx.reporter.error(
                    f"{ctx.what}: {quote(dotted)} is {describe(t)} and has no fields", path_node
                )
                return None
            fields = scope.records[t.full_name].fields
    return t


def _assignment(
    op: str, path_node: Scalar, value: Node, ctx: FoldContext
) -> model.Assignment | None:
    rep = ctx.reporter
    target = _target(path_node, ctx)
    path = tuple(path_node.text.split("."))
    where = f"'{op}' of {quote(path_node.text)}"
    if target is None:
        return None
    expected, problem = _expected_value(op, target)
    if problem:
        rep.error(
            f"{ctx.what}: {problem} 'state.{path_node.text}' is {describe(target)}",
            path_node,
            "use 'set'" if op != "set" else None,
        )
        return None
    assert expected is not None
    key: model.Expression | None = None
    if op == "put":
        entry = rep.mapping(value, f"{ctx.what}: {where}")
        if entry is None:
            return None
        rep.keys(entry, ("key", "value"), f"{ctx.what}: {where}")
        key_node = rep.required(entry, "key", f"{ctx.what}: {where}")
        value_node = rep.required(entry, "value", f"{ctx.what}: {where}")
        if key_node is None or value_node is None:
            return None
        key = _typed(key_node, tr.STRING, ctx, f"{where}, key")
        value = value_node
        if key is None:
            return None
    expr = _typed(value, expected, ctx, where)
    if expr is None:
        return None
    return model.Assignment(path, target, expr, key, path_node.location)


def _typed(
    node: Node, expected: model.TypeRef, ctx: FoldContext, where: str
) -> model.Expression | None:
    expr = _expression(node, ctx, expected, where)
    if expr is None:
        return None
    got = expr.tree.type
    if not tr.assignable(got, expected):
        hint = None
        if tr.is_optional(got) and tr.assignable(tr.strip_optional(got), expected):
            hint = "it may be null; use coalesce(..., default)"
        elif isinstance(expected, model.DecimalType) and tr.is_floating(got):
            hint = "decimals never take float or double values"
        ctx.reporter.error(
            f"{ctx.what}, {where}: expected {describe(expected)}, but "
            f"{quote(expr.source)} is {describe(got)}",
            node,
            hint,
        )
        return None
    return expr


def _expected_value(op: str, target: model.TypeRef) -> tuple[model.TypeRef | None, str | None]:
    """The type a step's expression must have, or why the op does not fit the field."""
    if op == "set":
        return target, None
    if op in ("add", "subtract"):
        if tr.is_number(target):
            return target, None
        return None, f"'{op}' needs a non-optional number, but"
    if op in ("append", "remove"):
        if isinstance(target, model.ArrayType):
            return target.items, None
        return None, f"'{op}' needs an array, but"
    if isinstance(target, model.MapType):
        return (target.values if op == "put" else tr.STRING), None
    return None, f"'{op}' needs a map, but"
