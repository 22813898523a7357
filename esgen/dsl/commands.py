"""Commands: the ``commands:`` of a definition -> ``model.CommandDef``.

A command is a record (its ``fields``, like an event's) plus how it is decided:
``requires`` preconditions, checked in order (``- EXPR``, whose text is then the reason,
or ``- {check: EXPR, reason: TEXT}``), then the events it ``emits`` in order
(``- EventName: {FIELD: EXPR, ...}`` with an optional ``when: EXPR``), or instead of
``emits`` a ``decide: "package.module:function"`` escape hatch (``requires`` still applies
before the function runs). Expressions see ``command.F``, ``state.F`` (the state before the
command) and ``meta`` (``entity_id``, ``version``, ``command_id``, ``timestamp``), never
``event``; they are checked with the fold checker's rules (``esgen.dsl.folds``).

Commands do not repeat the key: the entity id travels as the Kafka message key and is
``meta.entity_id``. Command names share the namespace of types and events.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from esgen import model
from esgen.dsl import names as rules
from esgen.dsl.expressions import COMMAND_META, Record, Scope
from esgen.dsl.folds import FoldContext, _typed, _when
from esgen.dsl.hints import did_you_mean
from esgen.dsl.shape import Reporter
from esgen.dsl.yamlnodes import Mapping as MappingNode
from esgen.dsl.yamlnodes import Node, Scalar

COMMAND_KEYS = ("doc", "fields", "requires", "emits", "decide")
PRECONDITION_KEYS = ("check", "reason")


def command_entries(rep: Reporter, root: MappingNode) -> list[tuple[Scalar, MappingNode]]:
    """``(name, body)`` of every command with a valid name; bad names and shapes reported."""
    commands = rep.mapping(root.get("commands"), "'commands'", allow_null=True)
    entries: list[tuple[Scalar, MappingNode]] = []
    for key, value in commands or ():
        if reason := rules.pascal_case(key.text):
            rep.error(f"command name '{key.text}' {reason}", key)
            continue
        what = f"command '{key.text}'"
        body = rep.mapping(value, what, allow_null=True)
        if body is None and not (isinstance(value, Scalar) and value.is_null):
            continue  # reported: not a mapping
        body = body or MappingNode((), key.location)
        rep.keys(body, COMMAND_KEYS, what)
        entries.append((key, body))
    return entries


def index_command_names(
    rep: Reporter,
    root: MappingNode,
    namespace: str,
    entity: str | None,
    taken: Mapping[str, tuple[str, Node]],
    unions: Mapping[str, str],
    claim: Callable[[str, Node, str], bool],
) -> None:
    """Claim every command's full name through ``claim(full name, node, what)``, which
    reports clashes across files.

    ``taken`` maps the names this file already uses to what uses them ("type", "event",
    "state record") and where, so a clash inside the file says what it clashes with;
    ``unions`` are the names the generated module gives its unions
    (``esgen.dsl.names.entity_unions``).
    """
    commands = rep.mapping(root.get("commands"), "'commands'", allow_null=True)
    names = [key for key, _ in commands or () if not rules.pascal_case(key.text)]
    for key in names:
        if key.text in unions:
            rep.error(
                f"command name '{key.text}' is taken by {unions[key.text]} in the generated "
                "module",
                key,
            )
        elif key.text in taken:
            kind = taken[key.text][0]
            owner = (
                f"the {kind} of '{entity}'"
                if kind == "state record"
                else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
            )
            rep.error(f"command name '{key.text}' is already used by {owner} in this file", key)
        else:
            claim(f"{namespace}.{key.text}", key, "command")


@dataclass(frozen=True)
class CommandContext:
    """What checking one entity's commands needs from the entity around them."""

    reporter: Reporter
    file_text: str
    state: Record
    records: Mapping[str, Record]
    enums: Mapping[str, tuple[str, ...]]
    short: Mapping[str, str]
    events: Mapping[str, model.RecordDef]  # this entity's events by short name
    key_type: model.TypeRef  # the type of ``meta.entity_id``: the key field's


def build_command(
    record: model.RecordDef,
    fields: Mapping[str, model.TypeRef | None],
    body: MappingNode,
    name_node: Scalar,
    ctx: CommandContext,
) -> model.CommandDef:
    """Check ``requires``, ``emits`` and ``decide`` of one command whose record is built.

    ``fields`` are the command's fields as expressions see them (None: a broken type).
    """
    what = f"command '{record.name}'"
    scope = Scope(
        ctx.state,
        None,
        True,
        ctx.records,
        ctx.enums,
        ctx.short,
        "commands",
        command=Record(record.name, fields),
        meta_fields=COMMAND_META,
        key_type=ctx.key_type,
    )
    fold_ctx = FoldContext(ctx.reporter, scope, ctx.file_text, None, what)
    requires = _preconditions(body.get("requires"), fold_ctx)
    emits_node, decide_node = body.get("emits"), body.get("decide")
    decide = _decide(decide_node, fold_ctx) if decide_node is not None else None
    emits: tuple[model.Emission, ...] = ()
    if emits_node is not None:
        emits = _emissions(emits_node, fold_ctx, ctx.events)
    if emits_node is not None and decide_node is not None:
        ctx.reporter.error(
            f"{what} has both 'emits' and 'decide'; the function decides the events itself",
            decide_node,
            "keep one of them",
        )
    elif emits_node is None and decide_node is None:
        ctx.reporter.error(
            f"{what} emits nothing: give 'emits' (the events, in order) or 'decide' "
            "(a function 'package.module:function')",
            name_node,
        )
    return model.CommandDef(record, requires, emits, decide)


def _preconditions(node: Node | None, ctx: FoldContext) -> tuple[model.Precondition, ...]:
    rep = ctx.reporter
    items = rep.sequence(node, f"{ctx.what}: 'requires'")
    result: list[model.Precondition] = []
    for item in items.items if items else ():
        reason: str | None = None
        check_node: Node | None = item
        if isinstance(item, MappingNode):
            where = f"{ctx.what}: a precondition"
            rep.keys(item, PRECONDITION_KEYS, where)
            check_node = rep.required(item, "check", where)
            reason_node = rep.required(item, "reason", where)
            reason = rep.text(reason_node, f"{where}: 'reason'")
            if reason is not None and not reason.strip():
                assert reason_node is not None
                rep.error(f"{where}: 'reason' is empty", reason_node, "say why it is refused")
                reason = None
            if check_node is None or reason is None:
                continue
        check = _when(check_node, ctx, "a precondition")
        if check is not None:
            result.append(model.Precondition(check, reason or check.source, check.location))
    return tuple(result)


def _decide(node: Node, ctx: FoldContext) -> str | None:
    text = ctx.reporter.text(node, f"{ctx.what}: 'decide'")
    if text is None:
        return None
    if reason := rules.function_spec(text):
        ctx.reporter.error(f"{ctx.what}: 'decide' {reason}, not '{text}'", node)
        return None
    return text


def _emissions(
    node: Node, ctx: FoldContext, events: Mapping[str, model.RecordDef]
) -> tuple[model.Emission, ...]:
    items = ctx.reporter.sequence(node, f"{ctx.what}: 'emits'")
    if items is None:
        if isinstance(node, Scalar) and node.is_null:
            ctx.reporter.error(f"{ctx.what}: 'emits' lists no event", node)
        return ()
    if not items.items:
        ctx.reporter.error(
            f"{ctx.what}: 'emits' lists no event", items, "write '- EventName: {FIELD: EXPR}'"
        )
    result = [_emission(item, ctx, events) for item in items.items]
    return tuple(e for e in result if e is not None)


def _emission(
    node: Node, ctx: FoldContext, events: Mapping[str, model.RecordDef]
) -> model.Emission | None:
    rep = ctx.reporter
    body: Node | None = None  # None: ``- EventName`` alone, an event given no fields
    when_node: Node | None = None
    if isinstance(node, Scalar) and not node.is_null:
        key = node
    else:
        entry = rep.mapping(node, f"{ctx.what}: an emitted event")
        if entry is None:
            return None
        names = [k for k, _ in entry.items if k.text != "when"]
        if not names:
            rep.error(
                f"{ctx.what}: an 'emits' entry names no event",
                entry,
                "write '- EventName: {FIELD: EXPR}'",
            )
            return None
        if len(names) > 1:
            rep.error(
                f"{ctx.what}: an 'emits' entry names one event, found "
                + " and ".join(f"'{k.text}'" for k in names),
                names[1],
                "write each as its own '- ' item",
            )
        key = names[0]
        body = entry.get(key.text)
        when_node = entry.get("when")
    event = events.get(key.text)
    if event is None:
        rep.error(
            f"{ctx.what}: unknown event '{key.text}'",
            key,
            did_you_mean(key.text, events) or _expected("an event of this entity", events),
        )
        return None
    emitted = FoldContext(rep, ctx.scope, ctx.file_text, None, f"{ctx.what}, emits '{event.name}'")
    when = _when(when_node, emitted)
    given = rep.mapping(body, f"{emitted.what}: its fields", allow_null=True)
    if given is None and body is not None and not (isinstance(body, Scalar) and body.is_null):
        return None  # reported: the fields are not a mapping
    values: dict[str, model.FieldValue] = {}
    named: set[str] = set()
    unknown = False
    for field_key, value_node in given or ():
        field = event.field(field_key.text)
        named.add(field.name if field else field_key.text)
        if field is None:
            unknown = True  # likely a misspelt field: its "no value" would only repeat it
            rep.error(
                f"{emitted.what}: the event has no field '{field_key.text}'",
                field_key,
                _alias_hint(field_key.text, event) or did_you_mean(field_key.text, _names(event)),
            )
            continue
        value = _typed(value_node, field.type, emitted, f"field '{field.name}'")
        if value is not None:
            where = field_key.location
            values[field.name] = model.FieldValue(field.name, field.type, value, where)
    missing = [f.name for f in event.fields if f.default is None and f.name not in named]
    if missing and not unknown:
        rep.error(
            f"{emitted.what}: no value for "
            + ", ".join(f"'{m}'" for m in missing)
            + "; every field without a default needs one",
            key,
        )
    ordered = tuple(values[f.name] for f in event.fields if f.name in values)
    return model.Emission(event.full_name, ordered, when, key.location)


def _names(event: model.RecordDef) -> list[str]:
    return [f.name for f in event.fields]


def _alias_hint(name: str, event: model.RecordDef) -> str | None:
    owner = next((f for f in event.fields if name in f.aliases), None)
    if owner is None:
        return None
    return f"'{name}' is an old name (alias) of '{owner.name}'; write '{owner.name}'"


def _expected(what: str, names: Collection[str]) -> str:
    if not names:
        return f"expected {what}; this entity has no events"
    return f"expected {what}: " + ", ".join(names)
