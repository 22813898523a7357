"""Can a reader schema decode everything a writer schema can write? (Avro schema resolution)

This follows Apache Avro Java's ``SchemaCompatibility`` checker, which Confluent's registry
uses, decision for decision:

- same kind: primitives match; arrays/maps compare items/values; fixed compare name and size;
  enums compare name and need every writer symbol in the reader unless the reader enum has a
  default; records compare name and look up each reader field in the writer by its name and its
  aliases (several matches are an error); a reader field absent from the writer needs a default;
  a writer union needs every branch readable by the reader union;
- different kinds: a writer union needs every branch readable by the reader; promotions
  int -> long -> float -> double and string <-> bytes; a reader union needs some branch that can
  read the writer; anything else is a type mismatch;
- names compare without namespace, or by a reader alias equal to the writer's full name
  (aliases are qualified with the declaring type's namespace); logical types are ignored;
- each (reader, writer) node pair is checked once; a pair met again while it is being checked
  (a recursive type) counts as compatible, as in Java.

Unlike Java, a record whose name does not match is not compared field by field (the verdict is
the same; the report is shorter), and when no reader union branch fits a writer type, the
problems of the closest branch (same name or kind) are reported, which explains more.
"""

from __future__ import annotations

from esgen.compat import rules
from esgen.compat.schema import (
    PRIMITIVES,
    Array,
    Enum,
    Field,
    Fixed,
    Issue,
    Map,
    Named,
    Node,
    Record,
    Union,
)

PROMOTIONS: dict[str, frozenset[str]] = {
    "long": frozenset({"int"}),
    "float": frozenset({"int", "long"}),
    "double": frozenset({"int", "long", "float"}),
    "bytes": frozenset({"string"}),
    "string": frozenset({"bytes"}),
}

_OLD = "events written before it cannot be read"
_OLD_CHANGE = "events written before the change cannot be read"
_NEW = "consumers still on the previous schema cannot read new events"


def names_match(reader: Named, writer: Named) -> bool:
    """Java's ``schemaNameEquals``: unqualified names, or a reader alias = writer full name."""
    return reader.name == writer.name or writer.fullname in reader.aliases


def _prefix(step: str, issues: list[Issue]) -> list[Issue]:
    return [Issue(i.rule, (step, *i.steps), i.message) for i in issues]


def _branch_step(node: Node) -> str:
    return f"<{node.display()}>"


class ResolutionChecker:
    """Checks reader against writer. ``new_is_reader`` says which side is the new schema
    (True for BACKWARD, False for FORWARD): it decides the wording and which field names
    the paths use."""

    def __init__(self, new_is_reader: bool) -> None:
        self.new_is_reader = new_is_reader
        self._memo: dict[tuple[int, int], list[Issue] | None] = {}

    def check(self, reader: Node, writer: Node) -> list[Issue]:
        key = (id(reader), id(writer))
        if key in self._memo:
            done = self._memo[key]
            return [] if done is None else done  # None: in progress (recursion) = compatible
        self._memo[key] = None
        result = self._calculate(reader, writer)
        self._memo[key] = result
        return result

    # -- the decision table ------------------------------------------------------------------

    def _calculate(self, reader: Node, writer: Node) -> list[Issue]:
        if reader.kind == writer.kind:
            if reader.kind in PRIMITIVES:
                return []
            if isinstance(reader, Array) and isinstance(writer, Array):
                return _prefix("[]", self.check(reader.items, writer.items))
            if isinstance(reader, Map) and isinstance(writer, Map):
                return _prefix("{}", self.check(reader.values, writer.values))
            if isinstance(reader, Named) and isinstance(writer, Named):
                if not names_match(reader, writer):
                    return [self._name_changed(reader, writer)]
                if isinstance(reader, Fixed) and isinstance(writer, Fixed):
                    return self._fixed(reader, writer)
                if isinstance(reader, Enum) and isinstance(writer, Enum):
                    return self._enum(reader, writer)
                if isinstance(reader, Record) and isinstance(writer, Record):
                    return self._record(reader, writer)
            if isinstance(writer, Union):
                return self._writer_union(reader, writer)
            return [self._type_changed(reader, writer)]  # pragma: no cover - kinds agree
        if isinstance(writer, Union):
            return self._writer_union(reader, writer)
        if writer.kind in PROMOTIONS.get(reader.kind, frozenset()):
            return []
        if isinstance(reader, Union):
            return self._reader_union(reader, writer)
        return [self._type_changed(reader, writer)]

    def _writer_union(self, reader: Node, writer: Union) -> list[Issue]:
        issues: list[Issue] = []
        for branch in writer.branches:
            found = self.check(reader, branch)
            if (
                found
                and not isinstance(reader, Union)
                and not found[0].steps
                and found[0].rule in (rules.TYPE_CHANGED, rules.NAME_CHANGED)
            ):
                # The whole branch is unreadable: say so in union terms.
                found = [self._branch_dropped(reader, branch), *found[1:]]
            step = _branch_step(branch)
            for issue in found:
                if isinstance(reader, Union) and issue.steps[:1] and issue.steps[0][0] == "<":
                    issues.append(issue)  # the reader union already named the branch
                else:
                    issues.append(Issue(issue.rule, (step, *issue.steps), issue.message))
        return issues

    def _reader_union(self, reader: Union, writer: Node) -> list[Issue]:
        for branch in reader.branches:
            if not self.check(branch, writer):
                return []
        closest = self._closest_branch(reader, writer)
        if closest is not None:
            # Show the branch by its name in the new schema.
            step = _branch_step(closest if self.new_is_reader else writer)
            return _prefix(step, self.check(closest, writer))
        return [self._union_lacks(reader, writer)]

    @staticmethod
    def _closest_branch(reader: Union, writer: Node) -> Node | None:
        for branch in reader.branches:
            if isinstance(branch, Named) and isinstance(writer, Named):
                if branch.kind == writer.kind and names_match(branch, writer):
                    return branch
            elif branch.kind == writer.kind and branch.kind in ("array", "map"):
                return branch
        return None

    def _record(self, reader: Record, writer: Record) -> list[Issue]:
        issues: list[Issue] = []
        for rf in reader.fields:
            matches = [
                f
                for f in [
                    writer.field_named(rf.name),
                    *(writer.field_named(a) for a in rf.aliases),
                ]
                if f is not None
            ]
            if len(matches) > 1:
                names = ", ".join(f"`{f.name}`" for f in matches)
                issues.append(
                    Issue(
                        rules.AMBIGUOUS_FIELD_MATCH,
                        ("." + rf.name,),
                        f"field `{rf.name}` matches several fields of `{writer.fullname}` "
                        f"through its name and aliases ({names}); Avro cannot choose",
                    )
                )
            elif not matches:
                if not rf.has_default:
                    issues.append(self._field_missing(rf, writer))
            else:
                wf = matches[0]
                step = "." + (rf.name if self.new_is_reader else wf.name)
                issues.extend(_prefix(step, self.check(rf.type, wf.type)))
        return issues

    def _enum(self, reader: Enum, writer: Enum) -> list[Issue]:
        missing = [s for s in sorted(writer.symbols) if s not in reader.symbols]
        if not missing or reader.default is not None:
            return []
        listed = ", ".join(missing)
        symbols = "that symbol" if len(missing) == 1 else "those symbols"
        if self.new_is_reader:
            return [
                Issue(
                    rules.ENUM_SYMBOL_REMOVED,
                    (),
                    f"enum `{reader.fullname}` no longer has {listed} and has no default; "
                    f"events written before with {symbols} cannot be read",
                )
            ]
        return [
            Issue(
                rules.ENUM_SYMBOL_ADDED,
                (),
                f"enum `{writer.fullname}` gained {listed}, which the previous schema's enum "
                f"(without a default) lacks; {_NEW} carrying "
                f"{'it' if len(missing) == 1 else 'them'}",
            )
        ]

    def _fixed(self, reader: Fixed, writer: Fixed) -> list[Issue]:
        if reader.size == writer.size:
            return []
        old, new = (writer, reader) if self.new_is_reader else (reader, writer)
        return [
            Issue(
                rules.FIXED_SIZE_CHANGED,
                (),
                f"fixed `{new.fullname}` changed size from {old.size} to {new.size}; "
                f"{_OLD_CHANGE if self.new_is_reader else _NEW}",
            )
        ]

    # -- messages ----------------------------------------------------------------------------

    def _field_missing(self, rf: Field, writer: Record) -> Issue:
        if self.new_is_reader:
            return Issue(
                rules.FIELD_ADDED_WITHOUT_DEFAULT,
                ("." + rf.name,),
                f"field added without a default; {_OLD}",
            )
        renamed = [f.name for f in writer.fields if rf.name in f.aliases]
        if renamed:
            message = (
                f"field renamed to `{renamed[0]}` (with alias `{rf.name}`), but aliases only help "
                f"readers of the new schema; the previous schema requires `{rf.name}` (no "
                f"default there), so {_NEW}"
            )
        else:
            message = f"field removed, but the previous schema has it without a default; {_NEW}"
        return Issue(rules.FIELD_REMOVED_WITHOUT_DEFAULT, ("." + rf.name,), message)

    def _type_changed(self, reader: Node, writer: Node) -> Issue:
        r, w = reader.display(), writer.display()
        if self.new_is_reader:
            message = (
                f"type changed from `{w}` to `{r}`; {_OLD_CHANGE} (`{w}` cannot be read as `{r}`)"
            )
        else:
            message = f"type changed from `{r}` to `{w}`; {_NEW} (`{w}` cannot be read as `{r}`)"
            if reader.kind in PROMOTIONS.get(writer.kind, frozenset()):
                message += "; the widening only helps readers of the new schema"
        return Issue(rules.TYPE_CHANGED, (), message)

    def _name_changed(self, reader: Named, writer: Named) -> Issue:
        if self.new_is_reader:
            message = (
                f"`{writer.fullname}` renamed to `{reader.fullname}` without an alias for the "
                f"old name; events written before the rename cannot be read"
            )
        else:
            message = (
                f"`{reader.fullname}` renamed to `{writer.fullname}`; the previous schema expects "
                f"the name `{reader.name}` (aliases in the new schema do not help it), so {_NEW}"
            )
        return Issue(rules.NAME_CHANGED, (), message)

    def _union_lacks(self, reader: Union, writer: Node) -> Issue:
        w = writer.display()
        if self.new_is_reader:
            message = (
                f"the type {reader.display()} has no branch for `{w}`; events written before "
                f"with `{w}` values cannot be read"
            )
        else:
            message = (
                f"new events may carry `{w}`, but the previous type {reader.display()} has no "
                f"branch for it; {_NEW}"
            )
        return Issue(rules.UNION_BRANCH_MISSING, (), message)

    def _branch_dropped(self, reader: Node, branch: Node) -> Issue:
        b, r = branch.display(), reader.display()
        if self.new_is_reader:
            message = (
                f"the union branch `{b}` is gone (the type is now `{r}`); events written before "
                f"with `{b}` values cannot be read"
            )
        else:
            message = (
                f"the type became a union with a `{b}` branch, which the previous type `{r}` "
                f"cannot read; {_NEW} carrying it"
            )
        return Issue(rules.UNION_BRANCH_MISSING, (), message)


def resolve(reader: Node, writer: Node, new_is_reader: bool) -> list[Issue]:
    """Problems that stop ``reader`` from decoding data written with ``writer`` (empty: ok)."""
    return ResolutionChecker(new_is_reader).check(reader, writer)
