"""One entity -> the values its module template fills in.

Templates never compute: everything they print is prepared here, as
:class:`~esgen.codegen.source.Code` made by :mod:`esgen.codegen.source` (user text) and
laid out by :mod:`esgen.codegen.layout` (statements).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from esgen.codegen import layout
from esgen.codegen import pycode as py
from esgen.codegen.avro import SchemaBuilder
from esgen.codegen.commands import DecideRenderer, reads_meta
from esgen.codegen.expressions import ExpressionRenderer, quantum_name
from esgen.codegen.folds import STATE, FoldRenderer
from esgen.codegen.pytypes import PyTypes
from esgen.codegen.source import Code, code, comment, docstring, dotted, identifier, string
from esgen.dsl.names import snake_case
from esgen.model import (
    Entity,
    EnumDef,
    Expr,
    FixedDef,
    OptionalType,
    Project,
    RecordDef,
    Ref,
    TypeRef,
    named_refs,
    refs,
)


@dataclass
class FieldView:
    line: Code  # ``name: hint = default``, laid out at depth 1
    doc: Code | None  # an attribute docstring below the field (editors show it)


@dataclass
class ClassView:
    name: Code
    decorator: Code
    doc: Code | None
    fields: list[FieldView] = field(default_factory=list)
    preamble: Code | None = None  # a statement before the class (the event union)
    postamble: Code | None = None  # a statement after the class (the command union)


@dataclass
class EnumView:
    name: Code
    doc: Code | None
    members: list[Code]


@dataclass
class FunctionView:
    """A module-level function: one fold, or one command's decide function."""

    header: Code
    body: Code


@dataclass
class ModuleView:
    header: list[Code]
    doc: Code | None
    imports: Code
    all_names: list[Code]
    constants: list[Code]
    enums: list[EnumView]
    classes: list[ClassView]  # records, events, (after their union) the state, commands
    initial_state: Code  # the header of ``initial_state``
    initial_body: Code
    folds: list[FunctionView]
    fold: Code
    replay: Code
    check_invariants: Code
    invariants: Code | None
    types: Code
    entity: Code
    initial_doc: Code
    invariants_doc: Code
    schemas: Code
    deciders: list[FunctionView]  # one per command
    decide: Code | None  # the header of ``decide`` (None: no commands)
    decide_doc: Code | None


class ModuleBuilder:
    """Prepares the view of one entity's module."""

    def __init__(self, project: Project, entity: Entity, package: str) -> None:
        self.project = project
        self.entity = entity
        self.package = dotted(package)
        self.all_types = project.all_types()
        self.imported: dict[str, list[tuple[str, str]]] = {}  # module -> (name, alias)
        local = {t.full_name: t.name for t in entity.types}
        local[entity.state.full_name] = entity.state.name
        local.update({e.full_name: e.name for e in entity.events})
        local.update({c.full_name: c.name for c in entity.commands})
        self.types = PyTypes(self.all_types, local)
        self._import_foreign_types()
        self.expressions = ExpressionRenderer(self.types)
        self.folds = FoldRenderer(self.expressions)
        self.deciders = DecideRenderer(
            self.types, self.expressions, identifier(f"{entity.name}Event")
        )
        self.schema_builder = SchemaBuilder(self.all_types)
        self.runtime = {"EntityDescriptor", "EventMeta", "Record"}
        self.typing = {"Any", "Final", "TypeAlias"}

    # ------------------------------------------------------------ imports

    def _import_foreign_types(self) -> None:
        """Import records and enums this module uses from other generated modules."""
        owner = {t.full_name: e for e in self.project.entities for t in e.types}
        used: set[str] = set()
        for record in self._records():
            for f in record.fields:
                used.update(named_refs(f.type))
        taken = set(self.types.names.values())
        for full_name in sorted(used - set(self.types.names)):
            named = self.all_types[full_name]
            if isinstance(named, FixedDef):
                continue  # fixed is plain bytes in Python
            module = f"{self.package}.{owner[full_name].module}"
            alias = named.name
            if alias in taken:  # the same short name in two namespaces
                prefix = "".join(p.capitalize() for p in named.namespace.split("."))
                alias = prefix + named.name
                number = 2
                while alias in taken:
                    alias, number = f"{prefix}{named.name}{number}", number + 1
            taken.add(alias)
            self.types.names[full_name] = alias
            self.imported.setdefault(module, []).append((named.name, alias))

    def _records(self) -> list[RecordDef]:
        records = [t for t in self.entity.types if isinstance(t, RecordDef)]
        return [
            *records,
            *(e.record for e in self.entity.events),
            self.entity.state,
            *(c.record for c in self.entity.commands),
        ]

    # -------------------------------------------------------------- build

    def build(self) -> ModuleView:
        entity = self.entity
        enums = [self._enum(t) for t in entity.types if isinstance(t, EnumDef)]
        records = [self._record(t, frozen=True) for t in entity.types if isinstance(t, RecordDef)]
        events = [self._record(e.record, frozen=True) for e in entity.events]
        state = self._record(entity.state, frozen=False)
        state.preamble = self._union(f"{entity.name}Event", [e.name for e in entity.events])
        commands = [self._record(c.record, frozen=True) for c in entity.commands]
        if commands:
            union = self._union(f"{entity.name}Command", [c.name for c in entity.commands])
            commands[-1].postamble = union
        folds, fold_names = self._folds()
        deciders, decider_names = self._deciders()
        invariants = self._invariants()
        key_type = self._key_type()
        state_name = identifier(entity.state.name)
        event_union = identifier(f"{entity.name}Event")
        types = self._types()
        fingerprint = self._fingerprint(folds, invariants)
        view = ModuleView(
            header=self._header(),
            doc=self._module_doc(),
            imports=Code(""),
            all_names=[],
            constants=[
                code(f'{quantum_name(s)}: Final = decimal.Decimal("1e-{s}")')
                for s in sorted(self.expressions.scales)
            ],
            enums=enums,
            classes=[*records, *events, state, *commands],
            initial_state=layout.function_header(
                code("initial_state"), [code(f"entity_id: {key_type}")], state_name, 0
            ),
            initial_body=layout.block(
                [
                    py.Return(
                        py.Call(
                            py.Atom(state_name),
                            (py.Keyword(identifier(entity.key), py.Atom(code("entity_id"))),),
                        )
                    )
                ],
                1,
            ),
            folds=folds,
            fold=layout.function_header(
                code("fold"),
                [
                    code(f"state: {state_name}"),
                    code(f"event: {event_union}"),
                    code("meta: EventMeta | None = None"),
                ],
                state_name,
                0,
            ),
            replay=layout.function_header(
                code("replay"),
                [code(f"entity_id: {key_type}"), code(f"events: Iterable[{event_union}]")],
                state_name,
                0,
            ),
            check_invariants=layout.function_header(
                code("check_invariants"), [code(f"state: {state_name}")], code("None"), 0
            ),
            invariants=invariants,
            types=types,
            entity=self._descriptor(fold_names, decider_names, fingerprint),
            initial_doc=docstring(
                f"The state of {entity.name} ``entity_id`` before its first event.", 1
            ),
            invariants_doc=docstring(
                f"Raise ``InvariantViolation`` if ``state`` breaks an invariant of {entity.name}.",
                1,
            ),
            schemas=code("AVRO_SCHEMAS: Final = ENTITY.record_schemas"),
            deciders=deciders,
            decide=self._decide_header() if commands else None,
            decide_doc=self._decide_doc() if commands else None,
        )
        view.imports = self._imports(bool(enums))
        command_names = [f"{entity.name}Command", "decide"] if commands else []
        view.all_names = [
            string(name)
            for name in sorted(
                [
                    *(str(c.name) for c in enums),
                    *(str(c.name) for c in [*records, *events, state, *commands]),
                    *command_names,
                    event_union,
                    "AVRO_SCHEMAS",
                    "AVRO_TYPES",
                    "ENTITY",
                    "check_invariants",
                    "fold",
                    "initial_state",
                    "replay",
                ],
                key=_all_sort_key,
            )
        ]
        return view

    def _header(self) -> list[Code]:
        lines = [
            comment(f"Generated by esgen from {self.entity.source}. DO NOT EDIT."),
            code("# Change the definition and run `esgen generate` instead."),
        ]
        return lines

    def _module_doc(self) -> Code:
        entity = self.entity
        about = (
            f"Event-sourced entity ``{entity.name}``: topic ``{entity.topic}``, "
            f"key ``{entity.key}``."
        )
        return docstring(f"{entity.doc}\n\n{about}" if entity.doc else about, 0)

    def _key_type(self) -> Code:
        key = self.entity.state.field(self.entity.key)
        assert key is not None
        return self.types.hint(key.type)

    def _enum(self, enum: EnumDef) -> EnumView:
        return EnumView(
            name=identifier(enum.name),
            doc=docstring(enum.doc, 1) if enum.doc else None,
            members=[code(f"{identifier(s)} = {string(s)}") for s in enum.symbols],
        )

    def _record(self, record: RecordDef, frozen: bool) -> ClassView:
        options = "frozen=True, kw_only=True" if frozen else "kw_only=True"
        return ClassView(
            name=identifier(record.name),
            decorator=code(f"@dataclasses.dataclass({options})"),
            doc=docstring(record.doc, 1) if record.doc else None,
            fields=[self._field(f.name, f.type, f.default, f.doc) for f in record.fields],
        )

    def _field(self, name: str, t: TypeRef, default: Any, doc: str | None) -> FieldView:
        hint = py.Atom(self.types.hint(t))
        value: py.Expr | None = None
        if default is not None:
            value = self.types.default(t, default.value)
        elif isinstance(t, OptionalType):
            value = py.Atom(code("None"))
        statement = py.Assign(py.Atom(identifier(name)), value, annotation=hint)
        return FieldView(line=layout.block([statement], 1), doc=docstring(doc, 1) if doc else None)

    def _union(self, alias: str, members: list[str]) -> Code:
        """``alias: TypeAlias = A | B | ...`` (``Never`` for no members)."""
        names = [py.Atom(identifier(name)) for name in members]
        if not names:
            self.typing.add("Never")
            value: py.Expr = py.Atom(code("Never"))
        else:
            value = names[0]
            for name in names[1:]:
                value = py.BinOp(value, "|", name)
        target = py.Atom(code(f"{identifier(alias)}: TypeAlias"))
        return layout.block([py.Assign(target, value)], 0)

    def _folds(self) -> tuple[list[FunctionView], dict[str, Code]]:
        """One fold function per event with fold steps; event name -> its fold."""
        views: list[FunctionView] = []
        names: dict[str, Code] = {}
        taken: set[str] = set()
        state = identifier(self.entity.state.name)
        for e in self.entity.events:
            if not e.fold:
                self.runtime.add("no_change")
                names[e.name] = code("no_change")
                continue
            name = names[e.name] = _function_name("_fold_", e.name, taken)
            header = layout.function_header(
                name,
                [
                    code(f"state: {state}"),
                    code(f"event: {identifier(e.name)}"),
                    code("meta: EventMeta"),
                ],
                state,
                0,
            )
            views.append(FunctionView(header, layout.block(self.folds.steps(e.fold), 1)))
        if self.folds.uses_replace:
            self.types.modules.add("dataclasses")
        if self.folds.uses_hooks:
            self.runtime.add("resolve_function")
        if self.folds.uses_float32:
            self.runtime.add("float32")
        return views, names

    def _deciders(self) -> tuple[list[FunctionView], dict[str, Code]]:
        """One decide function per command; command name -> its function."""
        views: list[FunctionView] = []
        names: dict[str, Code] = {}
        taken: set[str] = set()
        state = identifier(self.entity.state.name)
        returns = code(f"list[{identifier(self.entity.name + 'Event')}]")
        for c in self.entity.commands:
            name = names[c.name] = _function_name("_decide_", c.name, taken)
            header = layout.function_header(
                name,
                [
                    code(f"state: {state}"),
                    code(f"command: {identifier(c.name)}"),
                    code("meta: CommandMeta | None"),
                ],
                returns,
                0,
            )
            views.append(FunctionView(header, layout.block(self.deciders.body(c), 1)))
        if self.entity.commands:
            self.runtime.add("CommandMeta")
            self.runtime |= self.deciders.runtime
        return views, names

    def _decide_header(self) -> Code:
        entity = self.entity
        return layout.function_header(
            code("decide"),
            [
                code(f"state: {identifier(entity.state.name)}"),
                code(f"command: {identifier(entity.name + 'Command')}"),
                code("meta: CommandMeta | None = None"),
            ],
            code(f"list[{identifier(entity.name + 'Event')}]"),
            0,
        )

    def _decide_doc(self) -> Code:
        doc = (
            "The events ``command`` causes in ``state`` (the entity before it), in order.\n\n"
            "Raises ``CommandRejected`` with the reason when a precondition fails or the "
            "events would break an invariant of the entity."
        )
        needs_meta = [c.name for c in self.entity.commands if reads_meta(c)]
        if needs_meta:
            doc += (
                " ``meta`` holds the entity's version, the command id and its time; "
                + ", ".join(needs_meta)
                + (" needs" if len(needs_meta) == 1 else " need")
                + " it."
            )
        return docstring(doc, 1)

    def _invariants(self) -> Code | None:
        statements: list[py.Stmt] = []
        entity = self.entity
        for invariant in entity.invariants:
            values = py.DictExpr(
                tuple(
                    (py.Text(".".join([r.root, *r.path])), self.expressions.render(r))
                    for r in _references(invariant.tree)
                )
            )
            error = py.Call(
                py.Atom(code("InvariantViolation")),
                (
                    py.Atom(string(entity.name)),
                    py.Atom(code(f"state.{identifier(entity.key)}")),
                    py.Text(invariant.source),
                    values,
                    STATE,
                ),
            )
            broken = self.expressions.negation(invariant.tree)
            statements.append(py.If(broken, (py.Raise(error),)))
        if not statements:
            return None
        self.runtime.add("InvariantViolation")
        return layout.block(statements, 1)

    def _types(self) -> Code:
        """``AVRO_TYPES``: every named type the module's records use, each once."""
        entity = self.entity
        own: list[Any] = [
            *entity.types,
            *(e.record for e in entity.events),
            *(c.record for c in entity.commands),
            entity.state,
        ]
        names = {t.full_name for t in own}
        used: dict[str, None] = {}
        for named in own:
            for full_name in self.schema_builder.uses(named):
                if full_name not in names:
                    used[full_name] = None
        table = [(t.full_name, self.schema_builder.compact(t)) for t in own]
        table += [(n, self.schema_builder.compact(self.all_types[n])) for n in sorted(used)]
        for _, schema in table:
            if _has_math(schema):
                self.types.modules.add("math")
        head = "AVRO_TYPES: Final[dict[str, dict[str, Any]]] = "
        return layout.table(head, dict(table), 0)

    def _descriptor(
        self, folds: dict[str, Code], deciders: dict[str, Code], fingerprint: str
    ) -> Code:
        entity = self.entity
        records = [py.Atom(identifier(t.name)) for t in entity.types if isinstance(t, RecordDef)]
        events = py.DictExpr(
            tuple((py.Atom(identifier(e.name)), py.Atom(folds[e.name])) for e in entity.events),
            explode=True,
        )
        arguments: list[tuple[str, py.Expr]] = [
            ("name", py.Atom(string(entity.name))),
            ("namespace", py.Atom(string(entity.namespace))),
            ("topic", py.Atom(string(entity.topic))),
            ("key", py.Atom(string(entity.key))),
            ("compatibility", py.Atom(string(entity.compatibility or "BACKWARD_TRANSITIVE"))),
            ("types", py.Atom(code("AVRO_TYPES"))),
            ("records", py.ListExpr(tuple(records))),
            ("state", py.Atom(identifier(entity.state.name))),
            ("events", events),
        ]
        if entity.commands:
            commands = py.DictExpr(
                tuple(
                    (py.Atom(identifier(c.name)), py.Atom(deciders[c.name]))
                    for c in entity.commands
                ),
                explode=True,
            )
            arguments.append(("commands", commands))
        arguments += [
            ("initial_state", py.Atom(code("initial_state"))),
            ("check_invariants", py.Atom(code("check_invariants"))),
            ("fingerprint", py.Atom(string(fingerprint))),
        ]
        state, union = identifier(entity.state.name), identifier(f"{entity.name}Event")
        generic = py.Subscript(
            py.Atom(code("EntityDescriptor")), py.Atom(code(f"{state}, {union}"))
        )
        call = py.Call(
            py.Attr(generic, code("define")),
            tuple(py.Keyword(code(k), v) for k, v in arguments),
        )
        return layout.block([py.Assign(py.Atom(code("ENTITY: Final")), call)], 0)

    def _imports(self, has_enums: bool) -> Code:
        stdlib = set(self.types.modules)
        if has_enums:
            stdlib.add("enum")
        if self.expressions.scales:
            stdlib.add("decimal")
        stdlib.add("dataclasses")
        lines = [f"import {m}" for m in sorted(stdlib)]
        lines.append("from collections.abc import Iterable")
        lines.append(f"from typing import {', '.join(sorted(self.typing))}")
        lines.append("")
        lines.append(_from_import("esgen.runtime", sorted(self.runtime)))
        if self.imported:
            lines.append("")
            for module in sorted(self.imported):
                # isort style: plain names together, each ``as`` import on its own line
                pairs = self.imported[module]
                plain = sorted(name for name, alias in pairs if name == alias)
                if plain:
                    lines.append(_from_import(module, plain))
                for name, alias in sorted(p for p in pairs if p[0] != p[1]):
                    lines.append(_from_import(module, [f"{name} as {alias}"]))
        return Code("\n".join(lines))

    def _fingerprint(self, folds: list[FunctionView], invariants: Code | None) -> str:
        """Identifies the state schema and fold rules: a snapshot taken under another
        fingerprint is stale and the state is rebuilt from events instead."""
        digest = hashlib.sha256()
        state = self.schema_builder.named(self.entity.state)
        digest.update(json.dumps(state, sort_keys=True).encode())
        for e in self.entity.events:
            digest.update(e.full_name.encode())
        for view in folds:
            digest.update(f"{view.header}\n{view.body}".encode())
        digest.update((invariants or "").encode())
        return digest.hexdigest()[:32]


def _from_import(module: str, names: list[str]) -> str:
    one_line = f"from {module} import {', '.join(names)}"
    if len(one_line) <= layout.LINE_LENGTH:
        return one_line
    return "\n".join([f"from {module} import (", *(f"    {n}," for n in names), ")"])


def _has_math(value: Any) -> bool:
    """Whether JSON-like data holds a float only ``math`` spells (inf, nan)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_math(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_math(v) for v in value)
    return False


def _references(expr: Expr) -> list[Ref]:
    """The references an expression reads, each once, in order."""
    found: dict[tuple[str, ...], Ref] = {}
    for ref in refs(expr):
        found.setdefault((ref.root, *ref.path), ref)
    return list(found.values())


def _function_name(prefix: str, name: str, taken: set[str]) -> Code:
    """``prefix`` + the snake_case of ``name``, numbered if another name gave the same."""
    function = f"{prefix}{snake_case(name)}"
    number = 2
    while function in taken:
        function, number = f"{prefix}{snake_case(name)}_{number}", number + 1
    taken.add(function)
    return identifier(function)


def _all_sort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 wants __all__ sorted "isort-style": SCREAMING_CASE, CamelCase, rest.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)
