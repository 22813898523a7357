"""YAML nodes of every file -> ``model.Project``, collecting every error on the way.

Stages, so that cross-file references work in any order: (1) read each file's header and
declared names, (2) index full names across files, (3) parse field types, (4) validate
defaults (records may default to other files' records), (5) check expressions and folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esgen import model
from esgen.dsl import names as rules
from esgen.dsl import typerules as tr
from esgen.dsl.commands import (
    CommandContext,
    build_command,
    command_entries,
    index_command_names,
)
from esgen.dsl.defaults import DefaultError, PendingField, TypeTable, validate
from esgen.dsl.expressions import Record, Scope, parse_expression
from esgen.dsl.folds import FoldContext, build_fold
from esgen.dsl.hints import did_you_mean
from esgen.dsl.limits import MAX_FIXED_SIZE
from esgen.dsl.outputs import output_errors
from esgen.dsl.shape import Reporter
from esgen.dsl.types import TypeNames, TypeSyntaxError, parse_type
from esgen.dsl.yamlnodes import Mapping, Node, Scalar
from esgen.errors import DefinitionError, Location, quote
from esgen.model import Mode

ENTITY_KEYS = (
    "entity",
    "namespace",
    "doc",
    "key",
    "topic",
    "compatibility",
    "types",
    "state",
    "events",
    "commands",
)
REQUIRED_KEYS = ("entity", "namespace", "key", "state")
TYPE_KEYS = {
    "record": ("doc", "fields"),
    "enum": ("doc", "enum", "default"),
    "fixed": ("doc", "fixed"),
}
_KIND_OF_KEY = {"fields": "record", "enum": "enum", "fixed": "fixed"}
FIELD_KEYS = ("type", "default", "doc", "aliases")
STATE_KEYS = ("fields", "invariants", "doc")
EVENT_KEYS = ("doc", "fields", "fold")
COMPATIBILITY = tuple(mode.value for mode in Mode)
KEY_TYPES = (tr.STRING, model.Logical("uuid"), tr.INT, tr.LONG)  # what an entity id can be


@dataclass
class SourceFile:
    rel: str  # POSIX path relative to the definitions folder
    path: str  # the path users see in messages
    module: str  # dotted module path ("bank.account")
    text: str
    root: Node | None


@dataclass
class RawField:
    name: str
    type: model.TypeRef | None  # None: the type string was wrong (already reported)
    default: Node | None
    doc: str | None
    aliases: tuple[str, ...]
    location: Location


@dataclass
class RawRecord:
    name: str
    doc: str | None
    fields: list[RawField]
    location: Location
    what: str  # "type 'Money'", "state", "event 'OrderPlaced'" for messages
    rejected: set[str] = field(default_factory=set)  # fields dropped for a bad name


@dataclass
class Declared:
    name: str
    kind: str  # record, enum, fixed
    node: Mapping
    key: Scalar


@dataclass
class FileDefs:
    file: SourceFile
    root: Mapping
    entity: str | None = None
    namespace: str | None = None
    declared: list[Declared] = field(default_factory=list)
    short: dict[str, str] = field(default_factory=dict)
    types: list[model.NamedType] = field(default_factory=list)
    raw_types: dict[str, RawRecord] = field(default_factory=dict)  # full name -> record
    state: RawRecord | None = None
    events: list[tuple[RawRecord, Node | None]] = field(default_factory=list)
    commands: list[tuple[RawRecord, Mapping, Scalar]] = field(default_factory=list)


class Builder:
    def __init__(self, files: list[SourceFile], reporter: Reporter) -> None:
        self.files = sorted(files, key=lambda f: f.rel)
        self.rep = reporter
        self.defs: list[FileDefs] = []
        self.kinds: dict[str, str] = {}  # full name of a declared type -> kind
        self.enums: dict[str, tuple[str, ...]] = {}
        self.fixed: dict[str, int] = {}
        self.scope_records: dict[str, Record] = {}

    def build(self) -> model.Project:
        for file in self.files:
            root = self.rep.mapping(file.root, "a definition file") if file.root else None
            if root is not None:
                self.defs.append(self._header(file, root))
        self._index_names()
        for defs in self.defs:
            self._parse_types(defs)
        table = TypeTable(
            records={
                full: tuple(
                    PendingField(f.name, f.type, f.default)
                    for f in raw.fields
                    if f.type is not None
                )
                for defs in self.defs
                for full, raw in defs.raw_types.items()
            },
            enums=self.enums,
            fixed=self.fixed,
        )
        for defs in self.defs:
            for raw in defs.raw_types.values():
                self._record(raw, defs, table)
        # What expressions see of every record type, built once for all files.
        self.scope_records = {
            full: Record(full, {f.name: f.type for f in raw.fields})
            for defs in self.defs
            for full, raw in defs.raw_types.items()
        }
        entities = [e for defs in self.defs if (e := self._entity(defs, table))]
        self._unique_topics(entities)
        all_types = {t.full_name: t for defs in self.defs for t in defs.types}
        project = model.Project(tuple(sorted(entities, key=lambda e: e.source)), all_types)
        for error in output_errors(project):
            self.rep.add(error)
        return project

    # ------------------------------------------------------------ stage 1: header
    def _header(self, file: SourceFile, root: Mapping) -> FileDefs:
        rep = self.rep
        defs = FileDefs(file, root)
        rep.keys(root, ENTITY_KEYS, "definition")
        for required in REQUIRED_KEYS:
            rep.required(root, required, "definition")
        entity_node = root.get("entity")
        if (entity := rep.text(entity_node, "'entity'")) is not None:
            assert entity_node is not None
            if reason := rules.pascal_case(entity):
                rep.error(f"entity name {quote(entity)} {reason}", entity_node)
            defs.entity = entity  # kept even when wrong, so the rest is still checked
        ns_node = root.get("namespace")
        if (namespace := rep.text(ns_node, "'namespace'")) is not None:
            assert ns_node is not None
            if reason := rules.namespace(namespace):
                rep.error(f"namespace {quote(namespace)} {reason}", ns_node)
            defs.namespace = namespace
        types = rep.mapping(root.get("types"), "'types'", allow_null=True)
        for key, value in types or ():
            what = f"type {quote(key.text)}"
            if reason := rules.pascal_case(key.text):
                rep.error(f"type name {quote(key.text)} {reason}", key)
                continue
            body = rep.mapping(value, what)
            if body is None:
                continue
            kinds = [k for k in _KIND_OF_KEY if body.get(k) is not None]
            if len(kinds) != 1:
                rep.error(
                    f"{what} needs exactly one of 'fields' (record), 'enum' or 'fixed'"
                    + (f", found {' and '.join(kinds)}" if kinds else ""),
                    body,
                )
                continue
            kind = _KIND_OF_KEY[kinds[0]]
            rep.keys(body, TYPE_KEYS[kind], f"{what} ({kind})")
            defs.declared.append(Declared(key.text, kind, body, key))
        return defs

    # ------------------------------------------------------ stage 2: name index
    def _index_names(self) -> None:
        seen: dict[str, Location] = {}

        def claim(full: str, node: Node, what: str) -> bool:
            if full in seen:
                self.rep.error(f"{what} {quote(full)} is already defined at {seen[full]}", node)
                return False
            seen[full] = node.location
            return True

        for defs in self.defs:
            if defs.namespace is None:
                continue
            state_name = model.state_record_name(defs.entity) if defs.entity else None
            unions = rules.entity_unions(defs.entity) if defs.entity else {}
            for declared in defs.declared:
                full = model.full_name(defs.namespace, declared.name)
                if declared.name == state_name:
                    self.rep.error(
                        f"type name {quote(declared.name)} is taken by the state record "
                        f"of {quote(defs.entity or '')}",
                        declared.key,
                    )
                    continue
                if declared.name in unions:
                    self.rep.error(
                        f"type name {quote(declared.name)} is taken by "
                        f"{unions[declared.name]} in the generated module",
                        declared.key,
                    )
                    continue
                if claim(full, declared.key, "type"):
                    defs.short[declared.name] = full
                    self.kinds[full] = declared.kind
            if state_name and defs.entity:
                entity_node = defs.root.get("entity")
                assert entity_node is not None
                claim(
                    model.full_name(defs.namespace, state_name),
                    entity_node,
                    f"entity {quote(defs.entity)} (its state record)",
                )
            events = self.rep.mapping(defs.root.get("events"), "'events'", allow_null=True)
            for key, _ in events or ():
                if rules.pascal_case(key.text):
                    continue  # reported when the event is built
                if key.text == state_name:
                    self.rep.error(
                        f"event name {quote(key.text)} is taken by the state record of "
                        f"{quote(defs.entity or '')}",
                        key,
                    )
                elif key.text in unions:
                    self.rep.error(
                        f"event name {quote(key.text)} is taken by {unions[key.text]} in the "
                        "generated module",
                        key,
                    )
                elif key.text in defs.short:
                    self.rep.error(
                        f"event name {quote(key.text)} is already used by a type in this file", key
                    )
                else:
                    claim(model.full_name(defs.namespace, key.text), key, "event")
            taken: dict[str, tuple[str, Node]] = {d.name: ("type", d.key) for d in defs.declared}
            taken.update({key.text: ("event", key) for key, _ in events or ()})
            if state_name:
                taken[state_name] = ("state record", defs.root.get("entity") or defs.root)
            index_command_names(
                self.rep, defs.root, defs.namespace, defs.entity, taken, unions, claim
            )

    # ------------------------------------------------------ stage 3: field types
    def _parse_types(self, defs: FileDefs) -> None:
        names = TypeNames(defs.short, self.kinds)
        for declared in defs.declared:
            full = defs.short.get(declared.name)
            what = f"type {quote(declared.name)}"
            body = declared.node
            if declared.kind == "record":
                raw = self._raw_record(
                    declared.name,
                    body.get("doc"),
                    body.get("fields"),
                    declared.key.location,
                    what,
                    names,
                )
                if full:
                    defs.raw_types[full] = raw
                continue
            doc = self._doc(body.get("doc"), what)
            if declared.kind == "enum":
                symbols = self._symbols(body, what)
                default = self._enum_default(body.get("default"), symbols, what)
                if full:
                    self.enums[full] = symbols
                    defs.types.append(
                        model.EnumDef(
                            declared.name,
                            defs.namespace or "",
                            doc,
                            symbols,
                            default,
                            declared.key.location,
                        )
                    )
            else:
                size = self._fixed_size(body.get("fixed"), what)
                if full and size is not None:
                    self.fixed[full] = size
                    defs.types.append(
                        model.FixedDef(
                            declared.name, defs.namespace or "", doc, size, declared.key.location
                        )
                    )
            # records are appended in file order once their defaults are checked
        state = self.rep.mapping(defs.root.get("state"), "'state'")
        if state is not None:
            self.rep.keys(state, STATE_KEYS, "state")
            self.rep.required(state, "fields", "state")
            defs.state = self._raw_record(
                model.state_record_name(defs.entity or ""),
                state.get("doc"),
                state.get("fields"),
                state.location,
                "state",
                names,
            )
        events = self.rep.mapping(defs.root.get("events"), "'events'", allow_null=True)
        for key, value in events or ():
            what = f"event {quote(key.text)}"
            if reason := rules.pascal_case(key.text):
                self.rep.error(f"event name {quote(key.text)} {reason}", key)
                continue
            event = self.rep.mapping(value, what, allow_null=True) or Mapping((), key.location)
            self.rep.keys(event, EVENT_KEYS, what)
            get = event.get
            raw = self._raw_record(key.text, get("doc"), get("fields"), key.location, what, names)
            defs.events.append((raw, get("fold")))
        for key, body in command_entries(self.rep, defs.root):
            what = f"command '{key.text}'"
            raw = self._raw_record(
                key.text, body.get("doc"), body.get("fields"), key.location, what, names
            )
            defs.commands.append((raw, body, key))

    def _doc(self, node: Node | None, what: str) -> str | None:
        text = self.rep.text(node, f"{what}: 'doc'")
        return text.strip() if text is not None else None

    def _symbols(self, body: Mapping, what: str) -> tuple[str, ...]:
        node = self.rep.sequence(body.get("enum"), f"{what}: 'enum'")
        symbols: list[str] = []
        for item in node.items if node else ():
            if not isinstance(item, Scalar) or item.kind not in ("str", "null", "bool"):
                self.rep.error(f"{what}: enum symbols must be names", item)
                continue
            if reason := rules.enum_symbol(item.text):
                self.rep.error(f"{what}: enum symbol {quote(item.text)} {reason}", item)
            elif item.text in symbols:
                self.rep.error(f"{what}: duplicate enum symbol {quote(item.text)}", item)
            else:
                symbols.append(item.text)
        if node is not None and not node.items:
            self.rep.error(f"{what}: an enum needs at least one symbol", node)
        return tuple(symbols)

    def _enum_default(self, node: Node | None, symbols: tuple[str, ...], what: str) -> str | None:
        text = self.rep.text(node, f"{what}: 'default'")
        if text is None or node is None:
            return None
        if text not in symbols:
            self.rep.error(
                f"{what}: default {quote(text)} is not one of its symbols",
                node,
                did_you_mean(text, symbols),
            )
            return None
        return text

    def _fixed_size(self, node: Node | None, what: str) -> int | None:
        if (
            isinstance(node, Scalar)
            and node.kind == "int"
            and node.text.isdigit()
            and len(node.text.lstrip("0")) <= 10
            and 0 < int(node.text) <= MAX_FIXED_SIZE
        ):
            return int(node.text)
        if node is not None:
            self.rep.error(
                f"{what}: 'fixed' must be a size in bytes (a whole number from 1 to "
                f"{MAX_FIXED_SIZE})",
                node,
            )
        return None

    def _raw_record(
        self,
        name: str,
        doc: Node | None,
        fields_node: Node | None,
        location: Location,
        what: str,
        names: TypeNames,
    ) -> RawRecord:
        record = RawRecord(name, self._doc(doc, what), [], location, what)
        fields = self.rep.mapping(fields_node, f"{what}: 'fields'", allow_null=True)
        taken: dict[str, str] = {}  # field names and aliases -> what took them
        for key, spec in fields or ():
            raw = self._raw_field(key, spec, what, names)
            if raw is None:
                record.rejected.add(key.text)
                continue
            for name_ in (raw.name, *raw.aliases):
                if name_ in taken:
                    self.rep.error(
                        f"{what}: field {quote(raw.name)}: the name {quote(name_)} is already "
                        f"used by {taken[name_]}",
                        key,
                    )
                taken.setdefault(
                    name_,
                    f"the field {quote(raw.name)}"
                    if name_ == raw.name
                    else f"an alias of {quote(raw.name)}",
                )
            record.fields.append(raw)
        return record

    def _raw_field(self, key: Scalar, spec: Node, what: str, names: TypeNames) -> RawField | None:
        rep = self.rep
        name = key.text
        if reason := rules.field_name(name):
            rep.error(f"{what}: field name {quote(name)} {reason}", key)
            return None
        where = f"{what}, field {quote(name)}"
        type_node: Node | None = spec
        default: Node | None = None
        doc: str | None = None
        aliases: list[str] = []
        if isinstance(spec, Mapping):
            rep.keys(spec, FIELD_KEYS, where)
            type_node = rep.required(spec, "type", where)
            default = spec.get("default")
            doc = self._doc(spec.get("doc"), where)
            seq = rep.sequence(spec.get("aliases"), f"{where}: 'aliases'")
            for item in seq.items if seq else ():
                text = rep.text(item, f"{where}: an alias")
                if text is None:
                    continue
                if reason := rules.alias_name(text):
                    rep.error(f"{where}: alias {quote(text)} {reason}", item)
                else:
                    aliases.append(text)
        type_ref: model.TypeRef | None = None
        if isinstance(type_node, Scalar) and type_node.kind != "null":
            try:
                type_ref = parse_type(type_node.text, names)
            except TypeSyntaxError as exc:
                rep.error(f"{where}: {exc.message}", type_node, exc.hint)
        elif type_node is not None:
            rep.error(
                f"{where}: expected a type such as 'string' or {{type: ..., default: ...}}",
                type_node,
            )
        return RawField(name, type_ref, default, doc, tuple(aliases), key.location)

    # --------------------------------------------------------- stage 4: defaults
    def _record(
        self, raw: RawRecord, defs: FileDefs, table: TypeTable, key: str | None = None
    ) -> model.RecordDef:
        fields: list[model.Field] = []
        for f in raw.fields:
            if f.type is None:
                continue
            default: model.Default | None = None
            if f.default is not None:
                try:
                    default = model.Default(validate(f.default, f.type, table))
                except DefaultError as exc:
                    self.rep.add(
                        DefinitionError(
                            f"{raw.what}, field {quote(f.name)}: {exc.message}",
                            exc.location,
                            exc.hint,
                        )
                    )
            elif isinstance(f.type, model.OptionalType):
                default = model.Default(None)
            elif raw.what == "state" and f.name != key:
                self.rep.add(
                    DefinitionError(
                        f"state field {quote(f.name)} needs a default or an optional type",
                        f.location,
                        f"write '{tr.describe(f.type)}?' or "
                        f"'{{type: {tr.describe(f.type)}, default: ...}}'",
                    )
                )
            fields.append(model.Field(f.name, f.type, default, f.doc, f.aliases, f.location))
        record = model.RecordDef(
            raw.name, defs.namespace or "", raw.doc, tuple(fields), raw.location
        )
        if raw.what.startswith("type "):
            defs.types.append(record)  # put back in file order by _entity
        return record

    # ------------------------------------------------ stage 5: entity and folds
    def _entity(self, defs: FileDefs, table: TypeTable) -> model.Entity | None:
        rep, root = self.rep, defs.root
        order = {d.name: position for position, d in enumerate(defs.declared)}
        defs.types.sort(key=lambda t: order[t.name])
        key = self._key(defs)
        key_node = root.get("key")
        key_text = key_node.text if isinstance(key_node, Scalar) else None  # even if wrong
        topic = self._topic(defs)
        compatibility = self._compatibility(root.get("compatibility"))
        doc = self._doc(root.get("doc"), "'doc'")
        state = self._record(defs.state, defs, table, key_text) if defs.state else None
        invariants: list[model.Expression] = []
        events: list[model.EventDef] = []
        commands: list[model.CommandDef] = []
        if defs.state is not None:
            state_view = Record(defs.state.name, {f.name: f.type for f in defs.state.fields})
            base = Scope(
                state_view, None, False, self.scope_records, self.enums, defs.short, "invariants"
            )
            invariants = self._invariants(defs, base)
            key_field = next((f for f in defs.state.fields if f.name == key), None)
            key_type = key_field.type if key_field and key_field.type in KEY_TYPES else tr.STRING
            for raw, fold_node in defs.events:
                self._no_key_field(raw, key)
                record = self._record(raw, defs, table)
                scope = Scope(
                    state_view,
                    Record(raw.name, {f.name: f.type for f in raw.fields}),
                    True,
                    self.scope_records,
                    self.enums,
                    defs.short,
                    "fold steps",
                    key_type=key_type,
                )
                fold = build_fold(
                    fold_node, FoldContext(rep, scope, defs.file.text, key, raw.what)
                )
                events.append(model.EventDef(record, fold))
            commands = self._commands(
                defs, table, key, key_type, state_view, self.scope_records, events
            )
        if not (defs.entity and defs.namespace and state and key and topic):
            return None
        return model.Entity(
            defs.entity,
            defs.namespace,
            doc,
            key,
            topic,
            compatibility,
            defs.file.rel,
            defs.file.module,
            tuple(defs.types),
            state,
            tuple(events),
            tuple(invariants),
            root.location,
            tuple(commands),
        )

    def _commands(
        self,
        defs: FileDefs,
        table: TypeTable,
        key: str | None,
        key_type: model.TypeRef,
        state: Record,
        records: dict[str, Record],
        events: list[model.EventDef],
    ) -> list[model.CommandDef]:
        ctx = CommandContext(
            self.rep,
            defs.file.text,
            state,
            records,
            self.enums,
            defs.short,
            {e.name: e.record for e in events},
            key_type,
        )
        commands = []
        for raw, body, name_node in defs.commands:
            self._no_key_field(raw, key)
            record = self._record(raw, defs, table)
            fields = {f.name: f.type for f in raw.fields}
            commands.append(build_command(record, fields, body, name_node, ctx))
        return commands

    def _no_key_field(self, raw: RawRecord, key: str | None) -> None:
        """Events and commands do not repeat the key: it travels as the message key."""
        if key and any(f.name == key for f in raw.fields):
            self.rep.at(
                f"{raw.what} repeats the key field '{key}'; the key travels as the message key",
                _field_location(raw, key),
                "read it as meta.entity_id",
            )

    def _unique_topics(self, entities: list[model.Entity]) -> None:
        # One topic per entity type: a fold must never see another entity's events.
        owners: dict[str, model.Entity] = {}
        for entity in entities:
            first = owners.setdefault(entity.topic, entity)
            duplicate = (first.namespace, first.name) == (entity.namespace, entity.name)
            if first is not entity and not duplicate:  # a duplicate entity is reported already
                self.rep.at(
                    f"entity {quote(entity.name)} uses the topic {quote(entity.topic)} of "
                    f"{quote(first.name)} ({first.source}); each entity needs its own topic",
                    entity.location,
                )

    def _key(self, defs: FileDefs) -> str | None:
        node = defs.root.get("key")
        key = self.rep.text(node, "'key'")
        if key is None or node is None or defs.state is None:
            return None
        fields = {f.name: f for f in defs.state.fields}
        if key in defs.state.rejected:
            return None  # its name is reported already
        if key not in fields:
            self.rep.error(
                f"key {quote(key)} is not a state field",
                node,
                did_you_mean(key, fields) or "add it to state.fields as a string",
            )
            return None
        t = fields[key].type
        if t is not None and t not in KEY_TYPES:
            self.rep.at(
                f"the key field {quote(key)} is {tr.describe(t)}; it must be string, uuid, "
                "int or long (it holds the entity id)",
                _field_location(defs.state, key),
            )
            return None
        return key

    def _topic(self, defs: FileDefs) -> str | None:
        node = defs.root.get("topic")
        if node is None:
            if defs.entity and defs.namespace:
                return f"{defs.namespace}.{rules.snake_case(defs.entity)}"
            return None
        topic = self.rep.text(node, "'topic'")
        if topic is not None and (reason := rules.topic(topic)):
            self.rep.error(f"topic {quote(topic)} {reason}", node)
            return None
        return topic

    def _compatibility(self, node: Node | None) -> str | None:
        level = self.rep.text(node, "'compatibility'")
        if level is None or node is None:
            return None
        if level not in COMPATIBILITY:
            self.rep.error(
                f"compatibility {quote(level)} is not a registry level",
                node,
                did_you_mean(level.upper(), COMPATIBILITY)
                or "expected one of " + ", ".join(COMPATIBILITY),
            )
            return None
        return level

    def _invariants(self, defs: FileDefs, scope: Scope) -> list[model.Expression]:
        state = defs.root.get("state")
        node = state.get("invariants") if isinstance(state, Mapping) else None
        items = self.rep.sequence(node, "state: 'invariants'")
        result: list[model.Expression] = []
        for item in items.items if items else ():
            if not isinstance(item, Scalar) or item.is_null:
                self.rep.error("state: an invariant must be an expression", item)
                continue
            expr = parse_expression(item, defs.file.text, scope, None, "invariant")
            if isinstance(expr, DefinitionError):
                self.rep.add(expr)
            elif expr is not None:
                if expr.tree.type != tr.BOOLEAN:
                    self.rep.error(
                        f"invariant: {quote(expr.source)} must be a boolean, not "
                        f"{tr.describe(expr.tree.type)}",
                        item,
                    )
                else:
                    result.append(expr)
        return result


def _field_location(record: RawRecord, name: str) -> Location:
    return next((f.location for f in record.fields if f.name == name), record.location)
