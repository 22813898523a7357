# ruff: noqa: E501  (the rule table below is one Markdown row per rule)
"""Stable rule ids of the compatibility checker: what each one means and how to fix it.

The ids never change once released; users look them up in ``docs/compatibility.md``.

| rule id | kind | raised when | fix |
| --- | --- | --- | --- |
| ``FIELD_ADDED_WITHOUT_DEFAULT`` | BACKWARD | the new schema has a field, without a default, that an older schema lacks: events written before it cannot be read | add ``default:`` to the field |
| ``FIELD_REMOVED_WITHOUT_DEFAULT`` | FORWARD | an older schema has a field without a default that the new schema lacks (removed or renamed): consumers still on the old schema cannot read new events | keep the field, or give it a default in an earlier release first |
| ``AMBIGUOUS_FIELD_MATCH`` | both | a reader field matches several writer fields through its name and aliases | remove the alias that matches a second field |
| ``TYPE_CHANGED`` | both | a value's type changed to one that cannot be read from the other (only int→long→float→double and string↔bytes are promotions) | keep the type, or add a new field and deprecate the old one |
| ``NAME_CHANGED`` | both | a record, enum or fixed was renamed (the namespace is ignored) | keep the name, or list the old full name in ``aliases`` (helps BACKWARD only) |
| ``ENUM_SYMBOL_REMOVED`` | BACKWARD | the new enum lacks a symbol that older events may carry, and has no default | keep the symbol, or give the enum a ``default`` symbol |
| ``ENUM_SYMBOL_ADDED`` | FORWARD | the new enum has a symbol that old consumers do not know, and the old enum had no default | add no symbols, or release the enum with a ``default`` symbol first |
| ``FIXED_SIZE_CHANGED`` | both | a fixed type's size changed | keep the size; use a new fixed type in a new field |
| ``UNION_BRANCH_MISSING`` | both | the writer can produce a value (a union branch, or the old non-union type) that no branch of the reader accepts | keep the branch in the union (BACKWARD), do not add branches (FORWARD) |
| ``INVALID_DEFAULT`` | schema | a field's default does not fit its type (for a union: its first branch), or an enum's default is not one of its symbols | change the default to a value of the type |
| ``UNKNOWN_TYPE`` | schema | a type name is neither a primitive nor a named type defined earlier | define the type before it is used, or fix the spelling |
| ``INVALID_NAME`` | schema | a name, namespace, field name or enum symbol is not ``[A-Za-z_][A-Za-z0-9_]*`` (dotted for full names), or a type is named after a primitive | rename it |
| ``DUPLICATE_NAME`` | schema | a named type is defined twice | define it once and refer to it by name afterwards |
| ``DUPLICATE_FIELD`` | schema | a record has two fields with the same name | rename or remove one of them |
| ``DUPLICATE_SYMBOL`` | schema | an enum lists a symbol twice | remove the duplicate |
| ``INVALID_UNION`` | schema | a union contains a union, or two branches of the same type or name | flatten the union, keep one branch per type |
| ``MALFORMED_SCHEMA`` | schema | the JSON is not an Avro schema (missing ``type``/``name``/``fields``/``symbols``/``items``/``values``/``size``, wrong JSON types, bad ``order``) | fix the schema JSON |
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One kind of problem: a stable id, a one-line title and the generic fix."""

    id: str
    title: str
    fix: str

    def __str__(self) -> str:
        return self.id


FIELD_ADDED_WITHOUT_DEFAULT = Rule(
    "FIELD_ADDED_WITHOUT_DEFAULT",
    "field added without a default",
    "Add `default:` to the field.",
)
FIELD_REMOVED_WITHOUT_DEFAULT = Rule(
    "FIELD_REMOVED_WITHOUT_DEFAULT",
    "field removed while old readers require it",
    "Keep the field (deprecate it instead), or first release a version where it has a "
    "`default:`, then remove it.",
)
AMBIGUOUS_FIELD_MATCH = Rule(
    "AMBIGUOUS_FIELD_MATCH",
    "field matches several writer fields",
    "Remove the alias that names another existing field.",
)
TYPE_CHANGED = Rule(
    "TYPE_CHANGED",
    "type changed incompatibly",
    "Keep the old type, or add a new field (with a default) and deprecate this one. "
    "Allowed widenings: int -> long -> float -> double, string <-> bytes.",
)
NAME_CHANGED = Rule(
    "NAME_CHANGED",
    "named type renamed",
    "Keep the old name, or list the old full name in the type's `aliases` "
    "(aliases only help readers of the new schema: BACKWARD passes, FORWARD still fails).",
)
ENUM_SYMBOL_REMOVED = Rule(
    "ENUM_SYMBOL_REMOVED",
    "enum symbol removed",
    "Keep the symbol, or give the enum a `default` symbol that old values map to.",
)
ENUM_SYMBOL_ADDED = Rule(
    "ENUM_SYMBOL_ADDED",
    "enum symbol added that old readers do not know",
    "Do not add symbols under FORWARD/FULL, or first release the enum with a `default` "
    "symbol so old readers can map unknown symbols.",
)
FIXED_SIZE_CHANGED = Rule(
    "FIXED_SIZE_CHANGED",
    "fixed size changed",
    "Keep the size; put values of the new size in a new field of a new fixed type.",
)
UNION_BRANCH_MISSING = Rule(
    "UNION_BRANCH_MISSING",
    "writer type has no matching branch in the reader",
    "Keep every branch that was ever written (BACKWARD); do not add branches that old "
    "readers lack (FORWARD).",
)
INVALID_DEFAULT = Rule(
    "INVALID_DEFAULT",
    "default does not fit the type",
    "Change `default:` to a value of the field's type (for a union: of its first branch; "
    "put `null` first for a null default).",
)
UNKNOWN_TYPE = Rule(
    "UNKNOWN_TYPE",
    "unknown type",
    "Define the named type before its first use, or fix the spelling.",
)
INVALID_NAME = Rule(
    "INVALID_NAME",
    "invalid name",
    "Use names matching [A-Za-z_][A-Za-z0-9_]* (dot-separated for namespaces).",
)
DUPLICATE_NAME = Rule(
    "DUPLICATE_NAME",
    "named type defined twice",
    "Define the type once and refer to it by its full name afterwards.",
)
DUPLICATE_FIELD = Rule(
    "DUPLICATE_FIELD",
    "duplicate field",
    "Rename or remove one of the fields.",
)
DUPLICATE_SYMBOL = Rule(
    "DUPLICATE_SYMBOL",
    "duplicate enum symbol",
    "Remove the duplicate symbol.",
)
INVALID_UNION = Rule(
    "INVALID_UNION",
    "invalid union",
    "Keep one branch per type (per name for records, enums and fixed) and do not nest unions.",
)
MALFORMED_SCHEMA = Rule(
    "MALFORMED_SCHEMA",
    "not a valid Avro schema",
    "Fix the schema JSON (see the Avro specification).",
)

ALL_RULES: tuple[Rule, ...] = (
    FIELD_ADDED_WITHOUT_DEFAULT,
    FIELD_REMOVED_WITHOUT_DEFAULT,
    AMBIGUOUS_FIELD_MATCH,
    TYPE_CHANGED,
    NAME_CHANGED,
    ENUM_SYMBOL_REMOVED,
    ENUM_SYMBOL_ADDED,
    FIXED_SIZE_CHANGED,
    UNION_BRANCH_MISSING,
    INVALID_DEFAULT,
    UNKNOWN_TYPE,
    INVALID_NAME,
    DUPLICATE_NAME,
    DUPLICATE_FIELD,
    DUPLICATE_SYMBOL,
    INVALID_UNION,
    MALFORMED_SCHEMA,
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in ALL_RULES}

#: Rules that make a schema invalid by itself (reported in every mode, NONE included).
VALIDITY_RULES: frozenset[str] = frozenset(
    {
        INVALID_DEFAULT.id,
        UNKNOWN_TYPE.id,
        INVALID_NAME.id,
        DUPLICATE_NAME.id,
        DUPLICATE_FIELD.id,
        DUPLICATE_SYMBOL.id,
        INVALID_UNION.id,
        MALFORMED_SCHEMA.id,
    }
)
