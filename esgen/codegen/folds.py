"""Fold steps -> the body of one ``_apply_<event>`` function.

The generated apply functions update the state they are given in place and return
it: ``replay`` folds many events into one working copy without copying the state per
event, and ``fold`` (value semantics) copies the state once before applying. Nested
records are frozen, so a dotted path (``address.city``) is updated by replacing the
record; top-level lists and maps are owned by the state and updated in place.
"""

from __future__ import annotations

from esgen.codegen.expressions import ExpressionRenderer, max_scale
from esgen.codegen.pytypes import py_str
from esgen.model import (
    ArrayType,
    Assignment,
    Binary,
    DecimalType,
    Expr,
    FoldStep,
    IfElse,
    MapType,
    Ref,
    reads,
)

INDENT = "    "


def reads_state(expr: Expr) -> bool:
    """Whether ``expr`` reads the state (so it must be evaluated before assigning)."""
    return reads(expr, "state")


def uses_meta(steps: tuple[FoldStep, ...]) -> bool:
    """Whether fold steps need ``meta`` (replay builds it only for those events)."""
    for step in steps:
        if step.op == "call" or (step.when is not None and reads(step.when.tree, "meta")):
            return True
        for a in step.assignments:
            if reads(a.value.tree, "meta") or (a.key is not None and reads(a.key.tree, "meta")):
                return True
    return False


class FoldRenderer:
    """Renders the statements of the fold steps of one event."""

    def __init__(self, expressions: ExpressionRenderer) -> None:
        self.expressions = expressions
        self.uses_replace = False  # whether ``dataclasses.replace`` is needed
        self.uses_hooks = False  # whether ``resolve_function`` is needed

    def steps(self, steps: tuple[FoldStep, ...]) -> list[str]:
        lines: list[str] = []
        for step in steps:
            body = self._step(step)
            if step.when is not None:
                lines.append(f"if {self.expressions.render(step.when.tree)}:")
                lines.extend(INDENT + line for line in body)
            else:
                lines.extend(body)
        return lines

    def _step(self, step: FoldStep) -> list[str]:
        if step.op == "call":
            self.uses_hooks = True
            return [f"state = resolve_function({py_str(step.function or '')})(state, event, meta)"]
        assignments = step.assignments
        # Every value of one step sees the state as it was before the step.
        simultaneous = len(assignments) > 1 and any(
            reads_state(a.value.tree) or (a.key is not None and reads_state(a.key.tree))
            for a in assignments
        )
        lines: list[str] = []
        values: list[str] = []
        for a in assignments:
            value = self._value(step.op, a)
            if simultaneous:
                name = "new_" + "_".join(a.path)
                lines.append(f"{name} = {value}")
                value = name
            values.append(value)
        for a, value in zip(assignments, values, strict=True):
            lines.extend(self._update(step.op, a, value))
        return lines

    def _value(self, op: str, a: Assignment) -> str:
        """The right-hand value an op needs (already converted to the field's type)."""
        tree = a.value.tree
        if op == "set":
            value = self.expressions.convert(tree, a.target)
            if len(a.path) == 1 and isinstance(a.target, ArrayType | MapType):
                # The state owns its top-level containers (they are updated in place).
                return f"{'list' if isinstance(a.target, ArrayType) else 'dict'}({value})"
            return value
        if op in ("add", "subtract"):
            return self.expressions.render(tree)
        if op in ("append", "remove"):
            assert isinstance(a.target, ArrayType)
            return self.expressions.convert(tree, a.target.items)
        if op == "put":
            assert isinstance(a.target, MapType)
            return self.expressions.convert(tree, a.target.values)
        return self.expressions.render(tree)  # delete: the key

    def _update(self, op: str, a: Assignment, value: str) -> list[str]:
        current = "state." + ".".join(a.path)
        top_level = len(a.path) == 1
        if op == "set":
            return [self._assign(a.path, value)]
        if op in ("add", "subtract"):
            sign = "+" if op == "add" else "-"
            target = a.target
            if isinstance(target, DecimalType):
                scale = max_scale(a.value.tree)
                if scale is None or scale > target.scale:
                    quantized = self.expressions.convert(
                        Binary(
                            op="+" if op == "add" else "-",
                            left=Ref("state", a.path, target, a.location),
                            right=a.value.tree,
                            type=target,
                            location=a.location,
                        ),
                        target,
                    )
                    return [self._assign(a.path, quantized)]
            if top_level:
                return [f"{current} {sign}= {value}"]
            if op == "subtract" and isinstance(a.value.tree, Binary | IfElse):
                value = f"({value})"
            return [self._assign(a.path, f"{current} {sign} {value}")]
        if op == "append":
            if top_level:
                return [f"{current}.append({value})"]
            return [self._assign(a.path, f"[*{current}, {value}]")]
        if op == "remove":
            lines = []
            if not isinstance(a.value.tree, Ref):  # evaluate the value once, not per item
                lines.append(f"removed = {value}")
                value = "removed"
            kept = f"[item for item in {current} if item != {value}]"
            return [*lines, self._assign(a.path, kept)]
        assert a.key is not None or op == "delete"
        if op == "put":
            assert a.key is not None
            key = self.expressions.render(a.key.tree)
            if top_level:
                return [f"{current}[{key}] = {value}"]
            return [self._assign(a.path, f"{{**{current}, {key}: {value}}}")]
        # delete
        if top_level:
            return [f"{current}.pop({value}, None)"]
        return [self._assign(a.path, f"{{k: v for k, v in {current}.items() if k != {value}}}")]

    def _assign(self, path: tuple[str, ...], value: str) -> str:
        """``state.a.b.c = value`` for frozen nested records: replace them outwards."""
        expr = value
        for depth in range(len(path) - 1, 0, -1):
            self.uses_replace = True
            owner = "state." + ".".join(path[:depth])
            expr = f"dataclasses.replace({owner}, {path[depth]}={expr})"
        return f"state.{path[0]} = {expr}"
