"""One entity -> the view a template fills in (names, hints, literals, code lines).

Templates never compute: everything they print is prepared here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from esgen.codegen.avro import SchemaBuilder
from esgen.codegen.commands import CommandsRenderer, CommandsView
from esgen.codegen.expressions import ExpressionRenderer
from esgen.codegen.folds import FoldRenderer, uses_meta
from esgen.codegen.layout import (
    INDENT,
    bracketed,
    docstring,
    fits,
    literal_lines,
    union_alias,
    wrap_lines,
    wrap_statement,
)
from esgen.codegen.pytypes import PyTypes, py_str
from esgen.model import (
    ArrayType,
    Entity,
    EnumDef,
    FixedDef,
    MapType,
    OptionalType,
    Project,
    RecordDef,
    TypeRef,
    named_refs,
)


@dataclass
class FieldView:
    name: str
    annotation: list[str]  # ``name: hint = default`` minus the name, as lines
    doc: list[str]  # an attribute docstring below the field (editors show it)


@dataclass
class ClassView:
    name: str
    kind: str  # "enum" | "record" | "event" | "state"
    decorator: str
    doc: list[str]
    symbols: list[str] = field(default_factory=list)
    fields: list[FieldView] = field(default_factory=list)
    to_avro: list[str] = field(default_factory=list)  # body lines of ``to_avro``
    from_avro: list[str] = field(default_factory=list)  # body lines of ``from_avro``


@dataclass
class BranchView:
    """The fold of one event: ``if type(event) is <event>:`` and its statements."""

    event: str
    body: list[str]  # laid out for ``_apply`` (two levels deep)
    replay_body: list[str]  # the same statements inside replay's loop (three levels)
    uses_meta: bool


@dataclass
class ModuleView:
    header: list[str]
    doc: list[str]
    imports: list[str]
    all_names: list[str]
    enums: list[ClassView]
    records: list[ClassView]
    events: list[ClassView]
    event_union: list[str]
    state: ClassView
    entity: Entity
    key: str
    quanta: list[str]
    branches: list[BranchView]
    replay_uses_meta: bool
    copy_state: list[str]
    invariants: list[str]
    schemas: list[str]
    descriptor: list[str]
    fingerprint: str = ""
    commands: CommandsView | None = None  # None: the entity declares no commands


class ModuleBuilder:
    """Prepares the view of one entity's module."""

    def __init__(self, project: Project, entity: Entity, package: str) -> None:
        self.project = project
        self.entity = entity
        self.package = package
        self.all_types = project.all_types()
        self.imported: dict[str, list[str]] = {}  # module -> names imported from it
        local = {t.full_name: t.name for t in entity.types}
        local[entity.state.full_name] = entity.state.name
        local.update({e.full_name: e.name for e in entity.events})
        local.update({c.full_name: c.name for c in entity.commands})
        self.types = PyTypes(self.all_types, local)
        self._import_foreign_types()
        self.expressions = ExpressionRenderer(self.types)
        self.folds = FoldRenderer(self.expressions)
        self.schema_builder = SchemaBuilder(self.all_types)

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
            if alias in taken:  # same short name in two namespaces
                alias = "".join(p.capitalize() for p in named.namespace.split(".")) + named.name
            taken.add(alias)
            self.types.names[full_name] = alias
            spelled = named.name if alias == named.name else f"{named.name} as {alias}"
            self.imported.setdefault(module, []).append(spelled)

    def _records(self) -> list[RecordDef]:
        records = [t for t in self.entity.types if isinstance(t, RecordDef)]
        return [
            *records,
            *(e.record for e in self.entity.events),
            *(c.record for c in self.entity.commands),
            self.entity.state,
        ]

    # -------------------------------------------------------------- build

    def build(self) -> ModuleView:
        entity = self.entity
        enums = [self._enum(t) for t in entity.types if isinstance(t, EnumDef)]
        records = [self._record(t, "record") for t in entity.types if isinstance(t, RecordDef)]
        events = [self._record(e.record, "event") for e in entity.events]
        state = self._record(entity.state, "state")
        branches = []
        for e in entity.events:
            body = self.folds.steps(e.fold) or ["pass"]
            branches.append(
                BranchView(e.name, wrap_lines(body, 2), wrap_lines(body, 3), uses_meta(e.fold))
            )
        commands = CommandsRenderer(entity, self.types, self.expressions).build(
            lambda record: self._record(record, "command")
        )
        invariants = self._invariants()
        schemas = self._schemas()
        view = ModuleView(
            header=[
                f"# Generated by esgen from {entity.source}. DO NOT EDIT.",
                "# Change the definition and run `esgen generate` instead.",
            ],
            doc=docstring(
                f"{entity.doc or entity.name}\n\nEvent-sourced entity ``{entity.name}``: "
                f"topic ``{entity.topic}``, key ``{entity.key}``.",
                0,
                entity.name,
            ),
            imports=[],
            all_names=[],
            enums=enums,
            records=records,
            events=events,
            event_union=self._event_union(),
            state=state,
            entity=entity,
            key=entity.key,
            quanta=[
                f'_SCALE_{s}: Final = decimal.Decimal("1e-{s}")'
                for s in sorted(self.expressions.scales)
            ],
            branches=branches,
            replay_uses_meta=any(b.uses_meta for b in branches),
            copy_state=self._copy_state(),
            invariants=invariants,
            schemas=schemas,
            descriptor=[],
            commands=commands,
        )
        view.fingerprint = self._fingerprint(view)
        view.descriptor = self._descriptor(view.fingerprint)
        view.imports = self._imports(bool(enums), commands.runtime_imports if commands else [])
        command_names = [
            *(c.name for c in entity.commands),
            *([f"{entity.name}Command", "decide"] if commands else []),
        ]
        view.all_names = sorted(
            [
                *(c.name for c in [*enums, *records, *events, state]),
                *command_names,
                f"{entity.name}Event",
                "AVRO_SCHEMAS",
                "ENTITY",
                "check_invariants",
                "fold",
                "initial_state",
                "replay",
            ],
            key=_all_sort_key,
        )
        return view

    def _enum(self, enum: EnumDef) -> ClassView:
        doc = enum.doc or f"The {enum.name} enum."
        if enum.default is not None:
            doc += f"\n\nReaders that meet an unknown symbol read it as ``{enum.default}``."
        return ClassView(
            name=enum.name,
            kind="enum",
            decorator="",
            doc=docstring(doc, 1, enum.name),
            symbols=[f"{s} = {py_str(s)}" for s in enum.symbols],
        )

    def _record(self, record: RecordDef, kind: str) -> ClassView:
        frozen = kind != "state"
        decorator = (
            "@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)"
            if frozen
            else "@dataclasses.dataclass(slots=True, kw_only=True)"
        )
        fallback = {
            "event": f"The {record.name} event.",
            "state": f"The current state of one {self.entity.name}.",
            "record": f"The {record.name} record.",
            "command": f"The {record.name} command.",
        }[kind]
        fields = [self._field(f.name, f.type, f.default, f.doc) for f in record.fields]
        to_items = [
            f"{py_str(f.name)}: {self.types.to_avro(f.type, 'self.' + f.name)}"
            for f in record.fields
        ]
        from_items = [
            f"{f.name}={self.types.from_avro(f.type, f'data[{py_str(f.name)}]')}"
            for f in record.fields
        ]
        return ClassView(
            name=record.name,
            kind=kind,
            decorator=decorator,
            doc=docstring(record.doc, 1, fallback),
            fields=fields,
            to_avro=bracketed("return {", to_items, "}", 2),
            from_avro=bracketed("return cls(", from_items, ")", 2),
        )

    def _field(self, name: str, t: TypeRef, default: Any, doc: str | None) -> FieldView:
        hint = self.types.hint(t)
        line = f"{name}: {hint}"
        if default is not None:
            source, factory = self.types.default(t, default.value)
            if factory:
                line += f" = dataclasses.field(default_factory={source})"
            else:
                line += f" = {source}"
        elif isinstance(t, OptionalType):
            line += " = None"
        annotation = wrap_statement(line, 1)
        annotation[0] = annotation[0].removeprefix(f"{name}: ")
        return FieldView(
            name=name, annotation=annotation, doc=docstring(doc, 1, "") if doc else []
        )

    def _event_union(self) -> list[str]:
        names = [e.name for e in self.entity.events] or ["Never"]
        return union_alias(f"{self.entity.name}Event", names)

    def _copy_state(self) -> list[str]:
        args = []
        for f in self.entity.state.fields:
            value = f"state.{f.name}"
            if isinstance(f.type, ArrayType):
                value = f"list({value})"
            elif isinstance(f.type, MapType):
                value = f"dict({value})"
            args.append(f"{f.name}={value}")
        return bracketed(f"return {self.entity.state.name}(", args, ")", 1)

    def _invariants(self) -> list[str]:
        lines = []
        for invariant in self.entity.invariants:
            condition = self.expressions.render(invariant.tree)
            lines.append(f"if not ({condition}):")
            lines.append(
                f"{INDENT}raise InvariantViolation({py_str(self.entity.name)}, "
                f"{py_str(invariant.source)}, state)"
            )
        return wrap_lines(lines, 1)

    def _schemas(self) -> list[str]:
        schemas: dict[str, Any] = {}
        commands = [c.record for c in self.entity.commands]
        for named in [*self.entity.types, *(e.record for e in self.entity.events), *commands]:
            if isinstance(named, RecordDef):
                schemas[named.full_name] = self.schema_builder.named(named)
        schemas[self.entity.state.full_name] = self.schema_builder.named(self.entity.state)
        return literal_lines(schemas, 0, "AVRO_SCHEMAS: Final[dict[str, dict[str, Any]]] = ")

    def _descriptor(self, fingerprint: str) -> list[str]:
        entity = self.entity
        state = entity.state
        one = INDENT

        def record_type(name: str, full_name: str, indent: int, head: str) -> list[str]:
            args = [name, f"AVRO_SCHEMAS[{py_str(full_name)}]"]
            lines = bracketed(f"{head}RecordType(", args, ")", indent, suffix=",")
            return [INDENT * indent + line for line in lines]

        lines = [
            f"ENTITY: Final[EntityDescriptor[{state.name}, {entity.name}Event]] = "
            "EntityDescriptor(",
            f"{one}name={py_str(entity.name)},",
            f"{one}namespace={py_str(entity.namespace)},",
            f"{one}topic={py_str(entity.topic)},",
            f"{one}key={py_str(entity.key)},",
            f"{one}compatibility={py_str(entity.compatibility or 'BACKWARD_TRANSITIVE')},",
            *record_type(state.name, state.full_name, 1, "state="),
        ]
        single = ""
        if len(entity.events) == 1:
            only = record_type(entity.events[0].name, entity.events[0].full_name, 0, "")[0]
            single = f"{one}events=({only})"
        if single and fits(single + ",", 0):
            lines.append(single + ",")
        elif entity.events:
            lines.append(f"{one}events=(")
            for e in entity.events:
                lines.extend(record_type(e.name, e.full_name, 2, ""))
            lines.append(f"{one}),")
        else:
            lines.append(f"{one}events=(),")
        lines += [
            f"{one}initial_state=initial_state,",
            f"{one}apply=_apply,",
            f"{one}copy_state=_copy_state,",
            f"{one}check_invariants=check_invariants,",
            f"{one}fingerprint={py_str(fingerprint)},",
        ]
        if entity.commands:
            lines.append(f"{one}commands=(")
            for c in entity.commands:
                lines.extend(record_type(c.name, c.full_name, 2, ""))
            lines += [f"{one}),", f"{one}rules=_decide,"]
        lines.append(")")
        return lines

    def _imports(self, has_enums: bool, commands_runtime: list[str]) -> list[str]:
        stdlib = {"dataclasses", *self.types.modules}
        if has_enums:
            stdlib.add("enum")
        if self.expressions.scales:
            stdlib.add("decimal")
        lines = [f"import {m}" for m in sorted(stdlib)]
        lines.append("from collections.abc import Iterable")
        typing_names = ["Any", "Final", "TypeAlias"]
        if not self.entity.events:
            typing_names.append("Never")
        lines.append(f"from typing import {', '.join(sorted(typing_names))}")
        lines.append("")
        runtime = ["EntityDescriptor", "EventMeta", "RecordType"]
        if self.entity.invariants:
            runtime.insert(2, "InvariantViolation")
        if self.folds.uses_hooks:
            runtime.append("resolve_function")
        runtime = sorted(set(runtime) | set(commands_runtime), key=_import_sort_key)
        lines.extend(
            bracketed("from esgen.runtime import (", runtime, ")", 0)
            if not fits(f"from esgen.runtime import {', '.join(runtime)}", 0)
            else [f"from esgen.runtime import {', '.join(runtime)}"]
        )
        if self.imported:
            lines.append("")
            for module in sorted(self.imported):
                # isort style: plain names together, each ``as`` import on its own line
                names = sorted(n for n in self.imported[module] if " as " not in n)
                if names:
                    lines.extend(
                        bracketed(f"from {module} import ", names, "", 0)
                        if fits(f"from {module} import {', '.join(names)}", 0)
                        else bracketed(f"from {module} import (", names, ")", 0)
                    )
                for alias in sorted(n for n in self.imported[module] if " as " in n):
                    lines.append(f"from {module} import {alias}")
        return lines

    def _fingerprint(self, view: ModuleView) -> str:
        """Identifies the state schema and fold rules: a snapshot taken under another
        fingerprint is stale and the state is rebuilt from events instead."""
        digest = hashlib.sha256()
        digest.update(
            json.dumps(self.schema_builder.named(self.entity.state), sort_keys=True).encode()
        )
        for branch in view.branches:
            digest.update("\n".join([branch.event, *branch.body]).encode())
        digest.update("\n".join(view.invariants).encode())
        return digest.hexdigest()[:32]


def _import_sort_key(name: str) -> tuple[int, str]:
    # isort's default "force_sort_within_sections" off: CamelCase before functions.
    return (0 if name[:1].isupper() else 1, name)


def _all_sort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 wants __all__ sorted "isort-style": SCREAMING_CASE, CamelCase, rest.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)
