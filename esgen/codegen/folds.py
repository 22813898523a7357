"""Fold steps -> the statements of one event's fold function.

A fold function updates the state it is given in place and returns it: ``replay`` folds
many events into one working copy without copying the state per event, and ``fold``
(value semantics) copies the state once before applying. Nested records are frozen, so
a dotted path (``address.city``) is updated by replacing the record: one
``dataclasses.replace`` per nested record per step, however many of its fields the step
sets. Top-level lists and maps are owned by the state and updated in place.

Every value of one step sees the state as it was before the step. A value is computed
into a temporary first only when it reads a field an earlier assignment of the same step
has already changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from esgen.codegen import pycode as py
from esgen.codegen.expressions import ExpressionRenderer, max_scale
from esgen.codegen.source import Code, code, identifier, string
from esgen.model import (
    ArrayType,
    Assignment,
    Binary,
    DecimalType,
    Expr,
    FoldStep,
    Literal_,
    MapType,
    OptionalType,
    Primitive,
    Ref,
    TypeRef,
    refs,
)

STATE = py.Atom(code("state"))


def fields_read(expr: Expr, root: str) -> set[str]:
    """The top-level fields of ``root`` (``event``, ``state`` or ``meta``) ``expr`` reads."""
    return {r.path[0] for r in refs(expr) if r.root == root and r.path}


@dataclass
class _Node:
    """The changes of one step below one record: field -> child node or new value."""

    children: dict[str, _Node | py.Expr] = field(default_factory=dict)


class FoldRenderer:
    """Renders the statements of the fold steps of one event."""

    def __init__(self, expressions: ExpressionRenderer) -> None:
        self.expressions = expressions
        self.uses_replace = False  # whether ``dataclasses.replace`` is needed
        self.uses_hooks = False  # whether ``resolve_function`` is needed
        self.uses_float32 = False  # whether ``float32`` is needed
        self._temporaries = 0

    def steps(self, steps: tuple[FoldStep, ...]) -> list[py.Stmt]:
        """The body of one fold function (``return state`` included)."""
        self._temporaries = 0
        body: list[py.Stmt] = []
        for step in steps:
            statements = self._step(step)
            if step.when is not None:
                body.append(py.If(self.expressions.render(step.when.tree), tuple(statements)))
            else:
                body.extend(statements)
        body.append(py.Return(STATE))
        return body

    def _temporary(self, prefix: str) -> Code:
        self._temporaries += 1
        return code(f"{prefix}_{self._temporaries}")

    def _step(self, step: FoldStep) -> list[py.Stmt]:
        if step.op == "call":
            self.uses_hooks = True
            function = py.Call(
                py.Atom(code("resolve_function")), (py.Atom(string(step.function or "")),)
            )
            call = py.Call(function, (STATE, py.Atom(code("event")), py.Atom(code("meta"))))
            return [py.Assign(STATE, call)]
        # One statement per top-level field, in the order the step names them.
        groups: dict[str, list[Assignment]] = {}
        for a in step.assignments:
            groups.setdefault(a.path[0], []).append(a)
        temporaries: list[py.Stmt] = []
        updates: list[py.Stmt] = []
        written: set[str] = set()
        for name, assignments in groups.items():
            read: set[str] = set()
            for a in assignments:
                read |= fields_read(a.value.tree, "state")
                if a.key is not None:
                    read |= fields_read(a.key.tree, "state")
            statement = self._group(step.op, name, assignments, temporaries, read & written)
            updates.append(statement)
            written.add(name)
        return [*temporaries, *updates]

    def _group(
        self,
        op: str,
        name: str,
        assignments: list[Assignment],
        temporaries: list[py.Stmt],
        stale: set[str],
    ) -> py.Stmt:
        """The statement that changes the top-level field ``name``. ``stale``: fields the
        values read that earlier statements of the step change (so compute them first)."""

        def early(value: py.Expr) -> py.Expr:
            if not stale:
                return value
            temporary = self._temporary(f"new_{name}")
            temporaries.append(py.Assign(py.Atom(temporary), value))
            return py.Atom(temporary)

        target = py.Atom(code(f"state.{identifier(name)}"))
        if len(assignments) == 1 and len(assignments[0].path) == 1:
            return self._in_place(op, assignments[0], target, early, temporaries)
        tree = _Node()
        for a in assignments:
            node = tree
            for part in a.path[1:-1]:
                child = node.children.setdefault(part, _Node())
                assert isinstance(child, _Node)
                node = child
            owner = py.Atom(code(".".join(["state", *(identifier(p) for p in a.path[:-1])])))
            node.children[a.path[-1]] = self._new_value(op, a, owner, temporaries)
        return py.Assign(target, early(self._replace(target, tree)))

    def _replace(self, owner: py.Atom, node: _Node) -> py.Expr:
        self.uses_replace = True
        args = []
        for part, child in node.children.items():
            if isinstance(child, _Node):
                child = self._replace(py.Atom(code(f"{owner.text}.{identifier(part)}")), child)
            args.append(py.Keyword(identifier(part), child))
        return py.Call(py.Atom(code("dataclasses.replace")), (owner, *args))

    # ------------------------------------------------------------- values

    def _value(self, op: str, a: Assignment) -> py.Expr:
        """The value an op adds, sets, appends... (converted to the field's type)."""
        tree = a.value.tree
        if op == "set":
            return self.expressions.convert(tree, a.target)
        if op in ("append", "remove"):
            assert isinstance(a.target, ArrayType)
            return self.expressions.convert(tree, a.target.items)
        if op == "put":
            assert isinstance(a.target, MapType)
            return self.expressions.convert(tree, a.target.values)
        return self.expressions.render(tree)  # add/subtract: the operand; delete: the key

    def _once(self, value: py.Expr, a: Assignment, temporaries: list[py.Stmt]) -> py.Expr:
        """``value`` in a temporary unless it is a plain reference or literal (it is
        compared with every element)."""
        if isinstance(a.value.tree, Ref | Literal_):
            return value
        temporary = self._temporary("value")
        temporaries.append(py.Assign(py.Atom(temporary), value))
        return py.Atom(temporary)

    def _sum(self, op: str, a: Assignment, current: py.Atom) -> py.Expr:
        """``current + value`` (or ``-``), quantized when a decimal could grow places."""
        sign = "+" if op == "add" else "-"
        target = a.target
        if isinstance(target, DecimalType):
            scale = max_scale(a.value.tree)
            if scale is None or scale > target.scale:
                whole = Binary(
                    op=sign,  # type: ignore[arg-type]
                    left=Ref("state", a.path, target, a.location),
                    right=a.value.tree,
                    type=target,
                    location=a.location,
                )
                return self.expressions.quantize(whole, target.scale)
        return py.BinOp(current, sign, self.expressions.operand(a.value.tree, sign))

    def _new_value(
        self, op: str, a: Assignment, owner: py.Atom, temporaries: list[py.Stmt]
    ) -> py.Expr:
        """The new value of a nested field (its record is replaced)."""
        current = py.Atom(code(f"{owner.text}.{identifier(a.path[-1])}"))
        if op == "set":
            return self._value(op, a)
        if op in ("add", "subtract"):
            return self._sum(op, a, current)
        if op == "append":
            return py.ListExpr((py.Starred(current), self._value(op, a)))
        if op == "remove":
            value = self._once(self._value(op, a), a, temporaries)
            kept = py.Compare(py.Atom(code("item")), ("!=",), (value,))
            return py.Comprehension(py.Atom(code("item")), code("item"), current, kept)
        if op == "put":
            assert a.key is not None
            key = self.expressions.render(a.key.tree)
            return py.DictExpr((py.Starred(current, double=True), (key, self._value(op, a))))
        # delete
        key = self._once(self._value(op, a), a, temporaries)
        kept = py.Compare(py.Atom(code("k")), ("!=",), (key,))
        items = py.Call(py.Attr(current, code("items")))
        pair = (py.Atom(code("k")), py.Atom(code("v")))
        return py.Comprehension(pair, code("k, v"), items, kept)

    def _float32(self, value: py.Expr, t: TypeRef, tree: Expr | None) -> py.Expr:
        """``float32(value)`` for a ``float`` (32-bit) field: the state holds what Avro
        holds (records round when they are built; the state changes in place, so folds
        round what they assign). A ``float`` field read as it is needs nothing."""
        if isinstance(t, OptionalType):
            t = t.inner
        if not (isinstance(t, Primitive) and t.name == "float"):
            return value
        if isinstance(tree, Ref) and tree.type in (t, OptionalType(t)):
            return value
        self.uses_float32 = True
        return py.Call(py.Atom(code("float32")), (value,))

    def _in_place(
        self,
        op: str,
        a: Assignment,
        target: py.Atom,
        early: Callable[[py.Expr], py.Expr],
        temporaries: list[py.Stmt],
    ) -> py.Stmt:
        """The statement of an op on a top-level field."""
        tree = a.value.tree
        if op == "set":
            value = self._float32(self._value(op, a), a.target, tree)
            if isinstance(a.target, ArrayType | MapType):
                # The state owns its top-level containers (they are updated in place).
                kind = "list" if isinstance(a.target, ArrayType) else "dict"
                value = py.Call(py.Atom(code(kind)), (value,))
            return py.Assign(target, early(value))
        if op in ("add", "subtract"):
            total = self._sum(op, a, target)
            rounded = self._float32(total, a.target, None)  # a sum needs rounding
            if rounded is not total:
                return py.Assign(target, early(rounded))
            if isinstance(total, py.BinOp):  # ``+=`` evaluates its whole right side first
                value = early(self.expressions.render(tree))
                return py.Assign(target, value, op=f"{total.op}=")
            return py.Assign(target, early(total))
        if op == "append":
            assert isinstance(a.target, ArrayType)
            item = early(self._float32(self._value(op, a), a.target.items, tree))
            return py.ExprStmt(py.Call(py.Attr(target, code("append")), (item,)))
        if op == "remove":
            value = self._once(early(self._value(op, a)), a, temporaries)
            kept = py.Compare(py.Atom(code("item")), ("!=",), (value,))
            return py.Assign(
                target, py.Comprehension(py.Atom(code("item")), code("item"), target, kept)
            )
        if op == "put":
            assert a.key is not None and isinstance(a.target, MapType)
            key = early(self.expressions.render(a.key.tree))
            value = self._float32(self._value(op, a), a.target.values, tree)
            return py.Assign(py.Subscript(target, key), early(value))
        # delete
        key = early(self._value(op, a))
        pop = py.Call(py.Attr(target, code("pop")), (key, py.Atom(code("None"))))
        return py.ExprStmt(pop)
