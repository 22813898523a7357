"""YAML nodes of every file -> ``model.Project``, collecting every error on the way.

Stages, so that cross-file references work in any order: (1) read each file's header and
declared names, (2) index full names across files, (3) parse field types, (4) validate
defaults (records may default to other files' records), (5) check expressions and folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esgen import model
from esgen.compat.modes import Mode
from esgen.dsl import names as rules
from esgen.dsl import typerules as tr
from esgen.dsl.defaults import DefaultError, PendingField, TypeTable, validate
from esgen.dsl.expressions import Record, Scope, parse_expression
from esgen.dsl.folds import FoldContext, build_fold
from esgen.dsl.names import did_you_mean
from esgen.dsl.shape import Reporter
from esgen.dsl.types import TypeNames, TypeSyntaxError, parse_type
from esgen.dsl.yamlnodes import Mapping, Node, Scalar
from esgen.errors import DefinitionError, Location

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
)
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


class Builder:
    def __init__(self, files: list[SourceFile], reporter: Reporter) -> None:
        self.files = sorted(files, key=lambda f: f.rel)
        self.rep = reporter
        self.defs: list[FileDefs] = []
        self.kinds: dict[str, str] = {}  # full name of a declared type -> kind
        self.enums: dict[str, tuple[str, ...]] = {}
        self.fixed: dict[str, int] = {}

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
        entities = [e for defs in self.defs if (e := self._entity(defs, table))]
        self._unique_topics(entities)
        all_types = {t.full_name: t for defs in self.defs for t in defs.types}
        return model.Project(tuple(sorted(entities, key=lambda e: e.source)), all_types)

    # ------------------------------------------------------------ stage 1: header
    def _header(self, file: SourceFile, root: Mapping) -> FileDefs:
        rep = self.rep
        defs = FileDefs(file, root)
        rep.keys(root, ENTITY_KEYS, "definition")
        for required in ("entity", "namespace", "key", "state"):
            rep.required(root, required, "definition")
        entity_node = root.get("entity")
        if (entity := rep.text(entity_node, "'entity'")) is not None:
            assert entity_node is not None
            if reason := rules.pascal_case(entity):
                rep.error(f"entity name '{entity}' {reason}", entity_node)
            defs.entity = entity  # kept even when wrong, so the rest is still checked
        ns_node = root.get("namespace")
        if (namespace := rep.text(ns_node, "'namespace'")) is not None:
            assert ns_node is not None
            if reason := rules.namespace(namespace):
                rep.error(f"namespace '{namespace}' {reason}", ns_node)
            defs.namespace = namespace
        types = rep.mapping(root.get("types"), "'types'", allow_null=True)
        for key, value in types or ():
            what = f"type '{key.text}'"
            if reason := rules.pascal_case(key.text):
                rep.error(f"type name '{key.text}' {reason}", key)
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
                self.rep.error(f"{what} '{full}' is already defined at {seen[full]}", node)
                return False
            seen[full] = node.location
            return True

        for defs in self.defs:
            if defs.namespace is None:
                continue
            state_name = f"{defs.entity}State" if defs.entity else None
            union_name = f"{defs.entity}Event" if defs.entity else None  # the generated union
            for declared in defs.declared:
                full = f"{defs.namespace}.{declared.name}"
                if declared.name == state_name:
                    self.rep.error(
                        f"type name '{declared.name}' is taken by the state record "
                        f"of '{defs.entity}'",
                        declared.key,
                    )
                    continue
                if declared.name == union_name:
                    self.rep.error(
                        f"type name '{declared.name}' is taken by the union of the events "
                        f"of '{defs.entity}' in the generated module",
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
                    f"{defs.namespace}.{state_name}",
                    entity_node,
                    f"entity '{defs.entity}' (its state record)",
                )
            events = self.rep.mapping(defs.root.get("events"), "'events'", allow_null=True)
            for key, _ in events or ():
                if rules.pascal_case(key.text):
                    continue  # reported when the event is built
                if key.text == state_name:
                    self.rep.error(
                        f"event name '{key.text}' is taken by the state record of '{defs.entity}'",
                        key,
                    )
                elif key.text == union_name:
                    self.rep.error(
                        f"event name '{key.text}' is taken by the union of the events of "
                        f"'{defs.entity}' in the generated module",
                        key,
                    )
                elif key.text in defs.short:
                    self.rep.error(
                        f"event name '{key.text}' is already used by a type in this file", key
                    )
                else:
                    claim(f"{defs.namespace}.{key.text}", key, "event")

    # ------------------------------------------------------ stage 3: field types
    def _parse_types(self, defs: FileDefs) -> None:
        names = TypeNames(defs.short, self.kinds)
        for declared in defs.declared:
            full = defs.short.get(declared.name)
            what = f"type '{declared.name}'"
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
                f"{defs.entity or ''}State",
                state.get("doc"),
                state.get("fields"),
                state.location,
                "state",
                names,
            )
        events = self.rep.mapping(defs.root.get("events"), "'events'", allow_null=True)
        for key, value in events or ():
            what = f"event '{key.text}'"
            if reason := rules.pascal_case(key.text):
                self.rep.error(f"event name '{key.text}' {reason}", key)
                continue
            event = self.rep.mapping(value, what, allow_null=True) or Mapping((), key.location)
            self.rep.keys(event, EVENT_KEYS, what)
            get = event.get
            raw = self._raw_record(key.text, get("doc"), get("fields"), key.location, what, names)
            defs.events.append((raw, get("fold")))

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
                self.rep.error(f"{what}: enum symbol '{item.text}' {reason}", item)
            elif item.text in symbols:
                self.rep.error(f"{what}: duplicate enum symbol '{item.text}'", item)
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
                f"{what}: default '{text}' is not one of its symbols",
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
            and int(node.text) > 0
        ):
            return int(node.text)
        if node is not None:
            self.rep.error(
                f"{what}: 'fixed' must be a size in bytes (a positive whole number)", node
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
                        f"{what}: field '{raw.name}': the name '{name_}' is already "
                        f"used by {taken[name_]}",
                        key,
                    )
                taken.setdefault(
                    name_,
                    f"the field '{raw.name}'"
                    if name_ == raw.name
                    else f"an alias of '{raw.name}'",
                )
            record.fields.append(raw)
        return record

    def _raw_field(self, key: Scalar, spec: Node, what: str, names: TypeNames) -> RawField | None:
        rep = self.rep
        name = key.text
        if reason := rules.field_name(name):
            rep.error(f"{what}: field name '{name}' {reason}", key)
            return None
        where = f"{what}, field '{name}'"
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
                    rep.error(f"{where}: alias '{text}' {reason}", item)
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
                            f"{raw.what}, field '{f.name}': {exc.message}", exc.location, exc.hint
                        )
                    )
            elif isinstance(f.type, model.OptionalType):
                default = model.Default(None)
            elif raw.what == "state" and f.name != key:
                self.rep.add(
                    DefinitionError(
                        f"state field '{f.name}' needs a default or an optional type",
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
        order = [d.name for d in defs.declared]
        defs.types.sort(key=lambda t: order.index(t.name))
        key = self._key(defs)
        key_node = root.get("key")
        key_text = key_node.text if isinstance(key_node, Scalar) else None  # even if wrong
        topic = self._topic(defs)
        compatibility = self._compatibility(root.get("compatibility"))
        doc = self._doc(root.get("doc"), "'doc'")
        state = self._record(defs.state, defs, table, key_text) if defs.state else None
        scope_records = {
            full: Record(full, {f.name: f.type for f in raw.fields})
            for d in self.defs
            for full, raw in d.raw_types.items()
        }
        invariants: list[model.Expression] = []
        events: list[model.EventDef] = []
        if defs.state is not None:
            state_view = Record(defs.state.name, {f.name: f.type for f in defs.state.fields})
            base = Scope(
                state_view, None, False, scope_records, self.enums, defs.short, "invariants"
            )
            invariants = self._invariants(defs, base)
            for raw, fold_node in defs.events:
                if key and any(f.name == key for f in raw.fields):
                    rep.at(
                        f"{raw.what} repeats the key field '{key}'; the key travels as "
                        "the message key",
                        _field_location(raw, key),
                        "read it as meta.entity_id",
                    )
                record = self._record(raw, defs, table)
                key_field = next((f for f in defs.state.fields if f.name == key), None)
                scope = Scope(
                    state_view,
                    Record(raw.name, {f.name: f.type for f in raw.fields}),
                    True,
                    scope_records,
                    self.enums,
                    defs.short,
                    "fold steps",
                    key_field.type if key_field and key_field.type in KEY_TYPES else tr.STRING,
                )
                fold = build_fold(
                    fold_node, FoldContext(rep, scope, defs.file.text, key, raw.what)
                )
                events.append(model.EventDef(record, fold))
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
        )

    def _unique_topics(self, entities: list[model.Entity]) -> None:
        # One topic per entity type: a fold must never see another entity's events.
        owners: dict[str, model.Entity] = {}
        for entity in entities:
            first = owners.setdefault(entity.topic, entity)
            duplicate = (first.namespace, first.name) == (entity.namespace, entity.name)
            if first is not entity and not duplicate:  # a duplicate entity is reported already
                self.rep.at(
                    f"entity '{entity.name}' uses the topic '{entity.topic}' of "
                    f"'{first.name}' ({first.source}); each entity needs its own topic",
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
                f"key '{key}' is not a state field",
                node,
                did_you_mean(key, fields) or "add it to state.fields as a string",
            )
            return None
        t = fields[key].type
        if t is not None and t not in KEY_TYPES:
            self.rep.at(
                f"the key field '{key}' is {tr.describe(t)}; it must be string, uuid, int "
                "or long (it holds the entity id)",
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
            self.rep.error(f"topic '{topic}' {reason}", node)
            return None
        return topic

    def _compatibility(self, node: Node | None) -> str | None:
        level = self.rep.text(node, "'compatibility'")
        if level is None or node is None:
            return None
        if level not in COMPATIBILITY:
            self.rep.error(
                f"compatibility '{level}' is not a registry level",
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
                        f"invariant: '{expr.source}' must be a boolean, not "
                        f"{tr.describe(expr.tree.type)}",
                        item,
                    )
                else:
                    result.append(expr)
        return result


def _field_location(record: RawRecord, name: str) -> Location:
    return next((f.location for f in record.fields if f.name == name), record.location)
