"""A command's rules -> the statements of its decide function.

Each command gets ``_decide_<command>(state, command, meta) -> list[<Entity>Event]``: the
preconditions in order (``if <broken>: raise CommandRejected(<reason>)``), then the events
it emits (guarded ones appended when their ``when`` holds), or a call of its ``decide:``
function. The descriptor maps each command class to its function (the dispatch, as for
folds); ``EntityDescriptor.decide`` names the entity, command and entity id in a
rejection and folds the events to check the invariants, once for every entity. A command
whose rules read ``meta`` gets it through ``require_meta``, which refuses a missing one
with a clear error instead of deciding on unknown values.

Reasons and function names are user text: they become string literals through
:mod:`esgen.codegen.source` (as :class:`~esgen.codegen.pycode.Text`), like every other
text of a definition.
"""

from __future__ import annotations

from esgen.codegen import pycode as py
from esgen.codegen.expressions import ExpressionRenderer
from esgen.codegen.pytypes import PyTypes
from esgen.codegen.source import Code, code, identifier
from esgen.model import ArrayType, CommandDef, Emission, MapType, reads

EVENTS = py.Atom(code("events"))


def reads_meta(command: CommandDef) -> bool:
    """Whether deciding ``command`` needs its ``CommandMeta``."""
    return (
        command.decide is not None
        or any(reads(p.check.tree, "meta") for p in command.requires)
        or any(
            (e.when is not None and reads(e.when.tree, "meta"))
            or any(reads(v.value.tree, "meta") for v in e.values)
            for e in command.emits
        )
    )


class DecideRenderer:
    """Renders the body of each command's decide function of one module."""

    def __init__(self, types: PyTypes, expressions: ExpressionRenderer, event_union: Code) -> None:
        self.types = types
        self.expressions = expressions
        self.event_list = code(f"list[{event_union}]")
        self.runtime: set[str] = set()  # names the bodies need from esgen.runtime

    def body(self, command: CommandDef) -> list[py.Stmt]:
        """The statements of the decide function of ``command``."""
        body: list[py.Stmt] = []
        if reads_meta(command):
            self.runtime.add("require_meta")
            meta = py.Atom(code("meta"))
            call = py.Call(py.Atom(code("require_meta")), (meta, py.Atom(code("command"))))
            body.append(py.Assign(meta, call))
        for precondition in command.requires:
            self.runtime.add("CommandRejected")
            error = py.Call(py.Atom(code("CommandRejected")), (py.Text(precondition.reason),))
            test = self.expressions.negation(precondition.check.tree)
            body.append(py.If(test, (py.Raise(error),)))
        if command.decide is not None:
            self.runtime.add("resolve_function")
            function = py.Atom(code("function"))
            resolve = py.Call(py.Atom(code("resolve_function")), (py.Text(command.decide),))
            arguments = tuple(py.Atom(code(n)) for n in ("state", "command", "meta"))
            body.append(py.Assign(function, resolve))
            body.append(self._events(py.Call(function, arguments)))
            body.append(py.Return(EVENTS))
            return body
        emits = command.emits
        first = next((i for i, e in enumerate(emits) if e.when is not None), None)
        if first is None:
            body.append(py.Return(py.ListExpr(tuple(self._event(e) for e in emits))))
            return body
        body.append(self._events(py.ListExpr(tuple(self._event(e) for e in emits[:first]))))
        for emission in emits[first:]:
            append = py.ExprStmt(
                py.Call(py.Attr(EVENTS, code("append")), (self._event(emission),))
            )
            if emission.when is None:
                body.append(append)
            else:
                body.append(py.If(self.expressions.render(emission.when.tree), (append,)))
        body.append(py.Return(EVENTS))
        return body

    def _events(self, value: py.Expr) -> py.Stmt:
        """``events: list[<Entity>Event] = value``."""
        return py.Assign(EVENTS, value, annotation=py.Atom(self.event_list))

    def _event(self, emission: Emission) -> py.Expr:
        """The event an emission builds (fields it leaves out take their defaults)."""
        arguments: list[py.Expr | py.Keyword] = []
        for value in emission.values:
            source = self.expressions.convert(value.value.tree, value.target)
            if isinstance(value.target, ArrayType | MapType):
                # The event must not share a list or dict with the state it was decided on.
                kind = "list" if isinstance(value.target, ArrayType) else "dict"
                source = py.Call(py.Atom(code(kind)), (source,))
            arguments.append(py.Keyword(identifier(value.name), source))
        return py.Call(py.Atom(self.types.class_name(emission.event)), tuple(arguments))
