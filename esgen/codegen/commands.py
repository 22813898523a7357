"""Commands of one entity -> the command classes, their union and ``decide``.

Per command a function ``_decide_<command>(state, command, meta)`` checks the
preconditions in order (``raise CommandRejected(reason)``) and returns the events it
emits (guarded ones appended when their ``when`` holds), or calls the ``decide:``
function. ``_decide`` dispatches on the command's class; the public ``decide`` hands it
to the descriptor (``EntityDescriptor.decide``), which names the entity, command and
entity id in a rejection and folds the events to check the invariants, once for every
entity. Commands whose rules read ``meta`` get it through ``require_meta``, which
refuses a missing one with a clear error instead of deciding on unknown values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from esgen.codegen.expressions import ExpressionRenderer
from esgen.codegen.layout import INDENT, bracketed, docstring, fits, union_alias, wrap_lines
from esgen.codegen.pytypes import PyTypes, py_str
from esgen.dsl.names import snake_case
from esgen.model import (
    ArrayType,
    BoolOp,
    CommandDef,
    Compare,
    CompareOp,
    Emission,
    Entity,
    Expr,
    IfElse,
    MapType,
    RecordDef,
    Unary,
    reads,
)

if TYPE_CHECKING:
    from esgen.codegen.module import ClassView  # module.py builds the views and imports us

# Negations that read better inverted (and that ruff asks for: ``not x in y`` is E713).
_INVERSE: dict[CompareOp, CompareOp] = {
    "==": "!=",
    "!=": "==",
    "in": "not in",
    "not in": "in",
}


@dataclass
class CommandsView:
    """What ``commands.py.j2`` fills in."""

    classes: list[ClassView]
    union: list[str]
    functions: list[list[str]]  # each ``_decide_<command>`` and ``_decide``, whole
    decide_signature: list[str]
    decide_doc: list[str]
    runtime_imports: list[str]  # names the module imports from esgen.runtime for them


class CommandsRenderer:
    """Renders the commands of one entity with the module's expression renderer."""

    def __init__(self, entity: Entity, types: PyTypes, expressions: ExpressionRenderer) -> None:
        self.entity = entity
        self.types = types
        self.expressions = expressions
        self.state = entity.state.name
        self.event_union = f"{entity.name}Event"
        self.union = f"{entity.name}Command"
        self._imports: set[str] = {"CommandMeta"}

    def build(self, record_class: Callable[[RecordDef], ClassView]) -> CommandsView | None:
        commands = self.entity.commands
        if not commands:
            return None
        functions = [self._function(c) for c in commands]
        functions.append(self._dispatch())
        needs_meta = [c.name for c in commands if _reads_meta(c)]
        doc = (
            "The events ``command`` causes in ``state`` (the entity before it), in order.\n\n"
            "Raises ``CommandRejected`` with the reason when a precondition fails or the "
            "events would break an invariant of the entity."
        )
        if needs_meta:
            doc += (
                " ``meta`` holds the entity's version, the command id and its time; "
                + ", ".join(needs_meta)
                + (" needs" if len(needs_meta) == 1 else " need")
                + " it."
            )
        return CommandsView(
            classes=[record_class(c.record) for c in commands],
            union=union_alias(self.union, [c.name for c in commands]),
            functions=functions,
            decide_signature=signature(
                "decide",
                [
                    f"state: {self.state}",
                    f"command: {self.union}",
                    "meta: CommandMeta | None = None",
                ],
                f"list[{self.event_union}]",
            ),
            decide_doc=docstring(doc, 1, ""),
            runtime_imports=sorted(self._imports),
        )

    # ------------------------------------------------------------ pieces

    def _function(self, command: CommandDef) -> list[str]:
        body: list[str] = []
        if command.record.doc:
            body.extend(docstring(command.record.doc, 1, ""))
        statements: list[str] = []
        if _reads_meta(command):
            self._imports.add("require_meta")
            statements.append("meta = require_meta(meta, command)")
        for precondition in command.requires:
            self._imports.add("CommandRejected")
            statements.append(f"if {self._failed(precondition.check.tree)}:")
            statements.append(f"{INDENT}raise CommandRejected({py_str(precondition.reason)})")
        if command.decide is not None:
            self._imports.add("resolve_function")
            statements.append(f"function = resolve_function({py_str(command.decide)})")
            statements.append(f"events: list[{self.event_union}] = function(state, command, meta)")
            statements.append("return events")
        elif any(e.when is not None for e in command.emits):
            first = next(i for i, e in enumerate(command.emits) if e.when is not None)
            start = ", ".join(self._event(e) for e in command.emits[:first])
            statements.append(f"events: list[{self.event_union}] = [{start}]")
            for emission in command.emits[first:]:
                append = f"events.append({self._event(emission)})"
                if emission.when is None:
                    statements.append(append)
                else:
                    statements.append(f"if {self.expressions.render(emission.when.tree)}:")
                    statements.append(INDENT + append)
            statements.append("return events")
        else:
            statements.append(f"return [{', '.join(self._event(e) for e in command.emits)}]")
        body.extend(wrap_lines(statements, 1))
        head = signature(
            _function_name(command),
            [f"state: {self.state}", f"command: {command.name}", "meta: CommandMeta | None"],
            f"list[{self.event_union}]",
        )
        return [*head, *(INDENT + line for line in body)]

    def _dispatch(self) -> list[str]:
        lines = [
            '"""The events of ``command`` by its own rules (``decide`` adds the invariants)."""',
            "match command:",
        ]
        for command in self.entity.commands:
            lines.append(f"{INDENT}case {command.name}():")
            lines.append(f"{INDENT * 2}return {_function_name(command)}(state, command, meta)")
        lines.append(f'raise TypeError(f"not a command of {self.entity.name}: {{command!r}}")')
        head = signature(
            "_decide",
            [f"state: {self.state}", f"command: {self.union}", "meta: CommandMeta | None"],
            f"list[{self.event_union}]",
        )
        return [*head, *(INDENT + line for line in wrap_lines(lines, 1))]

    def _event(self, emission: Emission) -> str:
        args = []
        for value in emission.values:
            source = self.expressions.convert(value.value.tree, value.target)
            if isinstance(value.target, ArrayType | MapType):
                # The event must not share a list or dict with the state it was decided on.
                source = f"{'list' if isinstance(value.target, ArrayType) else 'dict'}({source})"
            args.append(f"{value.name}={source}")
        return f"{self.types.class_name(emission.event)}({', '.join(args)})"

    def _failed(self, check: Expr) -> str:
        """Python source that is true when the precondition ``check`` does not hold."""
        if isinstance(check, Compare) and len(check.ops) == 1 and check.ops[0] in _INVERSE:
            return self.expressions.render(replace(check, ops=(_INVERSE[check.ops[0]],)))
        if isinstance(check, Unary) and check.op == "not":
            return self.expressions.render(check.operand)
        source = self.expressions.render(check)
        if isinstance(check, Compare | BoolOp | IfElse):
            return f"not ({source})"
        return f"not {source}"


def signature(name: str, params: list[str], returns: str) -> list[str]:
    """``def name(params) -> returns:`` laid out as ruff format does at module level."""
    one_line = f"def {name}({', '.join(params)}) -> {returns}:"
    if fits(one_line, 0):
        return [one_line]
    if fits(", ".join(params), 1):
        return [f"def {name}(", INDENT + ", ".join(params), f") -> {returns}:"]
    return bracketed(f"def {name}(", params, f") -> {returns}:", 0)


def _function_name(command: CommandDef) -> str:
    return f"_decide_{snake_case(command.name)}"


def _emission_reads_meta(emission: Emission) -> bool:
    return (emission.when is not None and reads(emission.when.tree, "meta")) or any(
        reads(v.value.tree, "meta") for v in emission.values
    )


def _reads_meta(command: CommandDef) -> bool:
    """Whether deciding ``command`` needs its ``CommandMeta``."""
    return (
        command.decide is not None
        or any(reads(p.check.tree, "meta") for p in command.requires)
        or any(_emission_reads_meta(e) for e in command.emits)
    )
