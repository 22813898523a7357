"""An entity's declared upcasts -> one plain typed function each, and their registration.

Each upcast becomes ``_upcast_<event>_v<N>(event: dict[str, Any]) -> list[<Entity>Event]``:
``event`` is the old event as fastavro reads it with the locked old schema (a dict, its
fields read by key: the names come from the lock and are written as string literals),
and the body returns today's events exactly as a command's ``emits`` builds them (the same
renderer), or calls the ``call:`` function. The old schemas go into ``UPCAST_SCHEMAS``
(JSON-like data laid out by :func:`esgen.codegen.layout.table`), and the descriptor gets
one ``Upcast`` per declaration with the fingerprints of the writer schemas it reads
(:func:`esgen.runtime.upcasts.schema_fingerprint`, computed here once).
"""

from __future__ import annotations

from dataclasses import dataclass

from esgen.codegen import layout
from esgen.codegen import pycode as py
from esgen.codegen.commands import DecideRenderer
from esgen.codegen.source import Code, code, docstring, identifier, string
from esgen.dsl.names import snake_case
from esgen.model import Entity, Upcast
from esgen.runtime.upcasts import schema_fingerprint

SCHEMAS = "UPCAST_SCHEMAS"


def label(upcast: Upcast) -> str:
    """``com.example.shop.PriceChanged@1``: the key of its old schema."""
    return f"{upcast.source.full_name}@{upcast.source.number}"


@dataclass
class UpcastFunction:
    header: Code
    body: Code


class UpcastRenderer:
    """Renders the upcast functions of one module and their registration."""

    def __init__(self, entity: Entity, deciders: DecideRenderer, event_union: Code) -> None:
        self.entity = entity
        self.deciders = deciders  # built with an expression renderer reading ``event`` by key
        self.returns = code(f"list[{event_union}]")
        self.names: dict[str, Code] = {}  # label -> function name
        self.uses_hooks = False

    def functions(self) -> list[UpcastFunction]:
        views: list[UpcastFunction] = []
        taken: set[str] = set()
        for upcast in self.entity.upcasts:
            old = upcast.source
            base = f"_upcast_{snake_case(old.full_name.rpartition('.')[2])}_v{old.number}"
            name, number = base, 2
            while name in taken:
                name, number = f"{base}_{number}", number + 1
            taken.add(name)
            self.names[label(upcast)] = identifier(name)
            header = layout.function_header(
                identifier(name), [code("event: dict[str, Any]")], self.returns, 0
            )
            doc = docstring(self._doc(upcast), 1)
            body = layout.block(self._body(upcast), 1)
            views.append(UpcastFunction(header, Code(f"    {doc}\n{body}")))
        return views

    def _doc(self, upcast: Upcast) -> str:
        old = upcast.source
        older = [f"v{v.number}" for v in upcast.reads[1:]]
        text = (
            f"Events written with version {old.number} of {old.full_name} ({old.label}) "
            "as today's events."
        )
        if older:
            text += f" Also reads {', '.join(older)}, resolved into v{old.number} first."
        return text

    def _body(self, upcast: Upcast) -> list[py.Stmt]:
        if upcast.function is not None:
            self.uses_hooks = True
            events = py.Atom(code("events"))
            resolve = py.Call(py.Atom(code("resolve_function")), (py.Text(upcast.function),))
            call = py.Call(resolve, (py.Atom(code("event")),))
            return [
                py.Assign(events, call, annotation=py.Atom(self.returns)),
                py.Return(events),
            ]
        return self.deciders.emissions(upcast.outputs)

    def schemas(self) -> Code | None:
        """``UPCAST_SCHEMAS``: each upcast's old schema, by label."""
        if not self.entity.upcasts:
            return None
        table = {label(u): u.source.schema for u in self.entity.upcasts}
        return layout.table(f"{SCHEMAS}: Final[dict[str, dict[str, Any]]] = ", table, 0)

    def registrations(self) -> py.Expr:
        """The ``upcasts=`` argument of the descriptor."""
        items: list[py.Expr] = []
        for upcast in self.entity.upcasts:
            reads = tuple(py.Atom(string(schema_fingerprint(v.schema))) for v in upcast.reads)
            arguments = (
                py.Keyword(code("source"), py.Atom(string(upcast.source.full_name))),
                py.Keyword(code("version"), py.Atom(code(str(upcast.source.number)))),
                py.Keyword(
                    code("schema"),
                    py.Subscript(py.Atom(code(SCHEMAS)), py.Atom(string(label(upcast)))),
                ),
                py.Keyword(code("function"), py.Atom(self.names[label(upcast)])),
                py.Keyword(code("reads"), py.ListExpr(reads) if reads else py.ListExpr(())),
            )
            items.append(py.Call(py.Atom(code("Upcast")), arguments))
        return py.ListExpr(tuple(items))

    def fingerprint_parts(self, functions: list[UpcastFunction]) -> list[str]:
        """What of the upcasts changes a state's meaning: each one's old versions and code."""
        parts = []
        for upcast, view in zip(self.entity.upcasts, functions, strict=True):
            reads = ",".join(schema_fingerprint(v.schema) for v in upcast.reads)
            parts.append(f"{label(upcast)} {reads}\n{view.header}\n{view.body}")
        return parts
