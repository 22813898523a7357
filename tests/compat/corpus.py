"""The compatibility corpus: schema histories with the verdict expected in every mode.

Each ``Case`` has a ``name``, the ``previous`` schemas (oldest first, as registered), the
``new`` schema, and the expected verdict per mode (``Case.expected()``), plus the rule ids the
checker must report in FULL_TRANSITIVE mode (``rules``; exact set). Schemas are plain JSON
values, so a later test can replay every case against a live registry: register ``previous``
under a fresh subject with compatibility NONE, set the mode, and ask whether ``new`` is
compatible (``tests/compat/corpus.json`` is the same corpus as JSON, kept in sync by a test).

Verdicts follow Apache Avro Java's ``SchemaCompatibility`` and Confluent Schema Registry; the
``source`` says where the idea of a case comes from (the cases are written here from scratch).
Conventions: a single previous schema means the transitive modes equal the plain ones, FULL is
BACKWARD and FORWARD, NONE only needs the new schema to be valid. A case whose ``rules``
include a validity rule (the new schema is invalid on its own) fails every mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from esgen.compat.rules import VALIDITY_RULES

MODES = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

DIALECT_NAMES = ("strict", "avro-1.11", "avro-1.12")
NS = "com.example.corpus"
_NO = object()


def rec(name: str, *fields: dict[str, Any], ns: str | None = NS, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "record", "name": name}
    if ns is not None:
        schema["namespace"] = ns
    schema["fields"] = list(fields)
    schema.update(extra)
    return schema


def fld(name: str, type_: Any, default: Any = _NO, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_}
    if default is not _NO:
        out["default"] = default
    out.update(extra)
    return out


def enum(name: str, symbols: list[str], ns: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "enum", "name": name, "symbols": symbols}
    if ns is not None:
        out["namespace"] = ns
    out.update(extra)
    return out


def fixed(name: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"type": "fixed", "name": name, "size": size, **extra}


def arr(items: Any) -> dict[str, Any]:
    return {"type": "array", "items": items}


def mp(values: Any) -> dict[str, Any]:
    return {"type": "map", "values": values}


def one(type_: Any, default: Any = _NO, name: str = "E") -> dict[str, Any]:
    """A record with the single field ``v`` of ``type_``: the usual envelope of a case."""
    return rec(name, fld("v", type_, default))


@dataclass(frozen=True)
class Case:
    name: str
    new: Any
    previous: tuple[Any, ...]
    backward: bool | None = None
    forward: bool | None = None
    modes: dict[str, bool] | None = None  # explicit verdicts, for histories of 2+ versions
    rules: frozenset[str] = frozenset()
    source: str = "esgen"
    valid_in: frozenset[str] = frozenset()  # Java dialects that accept this invalid schema

    @property
    def invalid(self) -> bool:
        return bool(self.rules & VALIDITY_RULES)

    def expected(self, dialect: str = "strict") -> dict[str, bool]:
        """Verdict per mode; ``dialect`` as in ``esgen.compat.dialect``."""
        if self.modes is not None:
            return dict(self.modes)
        if self.invalid and dialect not in self.valid_in:
            return dict.fromkeys(MODES, False)
        if not self.previous:
            return dict.fromkeys(MODES, True)
        assert len(self.previous) == 1, self.name
        assert self.backward is not None and self.forward is not None, self.name
        b, f = self.backward, self.forward
        return {
            "NONE": True,
            "BACKWARD": b,
            "BACKWARD_TRANSITIVE": b,
            "FORWARD": f,
            "FORWARD_TRANSITIVE": f,
            "FULL": b and f,
            "FULL_TRANSITIVE": b and f,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "previous": list(self.previous),
            "new": self.new,
            "expected": self.expected(),
            "expected_by_dialect": {d: self.expected(d) for d in DIALECT_NAMES},
            "rules": sorted(self.rules),
        }


CASES: list[Case] = []


def case(
    name: str,
    new: Any,
    previous: Any | list[Any] | None,
    backward: bool | None = None,
    forward: bool | None = None,
    *rules: str,
    modes: dict[str, bool] | None = None,
    source: str = "esgen",
    history: bool = False,
    valid_in: frozenset[str] = frozenset(),
) -> None:
    """Add a case; ``previous`` is one schema, or a list when ``history`` is true."""
    if previous is None:
        prev: tuple[Any, ...] = ()
    elif history:
        prev = tuple(previous)
    else:
        prev = (previous,)
    assert all(c.name != name for c in CASES), f"duplicate case name {name}"
    CASES.append(
        Case(name, new, prev, backward, forward, modes, frozenset(rules), source, valid_in)
    )


JAVA = "avro-java SchemaCompatibility"
CONFLUENT = "confluent AvroCompatibilityTest"
TC = "TYPE_CHANGED"
UB = "UNION_BRANCH_MISSING"
FA = "FIELD_ADDED_WITHOUT_DEFAULT"
FR = "FIELD_REMOVED_WITHOUT_DEFAULT"
NC = "NAME_CHANGED"
ID = "INVALID_DEFAULT"

# -- primitives and promotions (new, old): BACKWARD = new reads old ----------------------------
_promotable = [("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
               ("long", "double"), ("float", "double")]  # fmt: skip
for _old, _new in _promotable:
    case(f"promote-{_old}-to-{_new}", one(_new), one(_old), True, False, TC, source=JAVA)
    case(f"narrow-{_new}-to-{_old}", one(_old), one(_new), False, True, TC, source=JAVA)
case("string-to-bytes", one("bytes"), one("string"), True, True, source=JAVA)
case("bytes-to-string", one("string"), one("bytes"), True, True, source=JAVA)
for _old, _new in [("int", "string"), ("boolean", "int"), ("string", "int"), ("null", "int"),
                   ("string", "double"), ("bytes", "long"), ("boolean", "string")]:  # fmt: skip
    case(f"unrelated-{_old}-to-{_new}", one(_new), one(_old), False, False, TC, source=JAVA)
for _p in ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]:
    case(f"same-{_p}", one(_p), one(_p), True, True, source=JAVA)
case("top-level-primitive-promotion", "long", "int", True, False, TC, source=JAVA)
case("top-level-primitive-object-form", {"type": "string"}, "string", True, True)
case("top-level-record-to-primitive", "string", one("string"), False, False, TC)

# -- records -----------------------------------------------------------------------------------
_f1 = rec("myrecord", fld("f1", "string"), ns=None)
_f1_f2d = rec("myrecord", fld("f1", "string"), fld("f2", "string", "foo"), ns=None)
_f1_f2 = rec("myrecord", fld("f1", "string"), fld("f2", "string"), ns=None)
_f1_f2d_f3d = rec(
    "myrecord", fld("f1", "string"), fld("f2", "string", "foo"), fld("f3", "string", "bar"),
    ns=None,
)  # fmt: skip
_f1_renamed = rec("myrecord", fld("f1_new", "string", aliases=["f1"]), ns=None)
case("field-added-with-default", _f1_f2d, _f1, True, True, source=CONFLUENT)
case("field-added-without-default", _f1_f2, _f1, False, True, FA, source=CONFLUENT)
case("field-removed-with-default", _f1, _f1_f2d, True, True, source=CONFLUENT)
case("field-removed-without-default", _f1, _f1_f2, True, False, FR, source=CONFLUENT)
case("field-default-added", _f1_f2d, _f1_f2, True, True, source=CONFLUENT)
case("field-default-removed", _f1_f2, _f1_f2d, True, True, source=CONFLUENT)
case("field-renamed-with-alias", _f1_renamed, _f1, True, False, FR, source=CONFLUENT)
case(
    "field-renamed-without-alias",
    rec("myrecord", fld("f1_new", "string"), ns=None), _f1, False, False, FA, FR,
)  # fmt: skip
case(
    "field-renamed-with-alias-and-default",
    rec("myrecord", fld("f1_new", "string", "x", aliases=["f1"]), ns=None),
    _f1, True, False, FR,
)  # fmt: skip
case(
    "field-alias-matches-two-writer-fields",
    rec("R", fld("a", "int", aliases=["b"])),
    rec("R", fld("a", "int"), fld("b", "int")),
    False, False, "AMBIGUOUS_FIELD_MATCH", FR, source=JAVA,
)  # fmt: skip
case(
    "fields-reordered",
    rec("R", fld("b", "int"), fld("a", "string")),
    rec("R", fld("a", "string"), fld("b", "int")),
    True, True,
)  # fmt: skip
case("empty-record-gains-defaulted-field", rec("R", fld("a", "int", 0)), rec("R"), True, True,
     source=JAVA)  # fmt: skip
case("empty-record-gains-field", rec("R", fld("a", "int")), rec("R"), False, True, FA,
     source=JAVA)  # fmt: skip
case("record-loses-all-fields", rec("R"), rec("R", fld("a", "int")), True, False, FR,
     source=JAVA)  # fmt: skip
case(
    "field-null-default-added",
    rec("R", fld("a", "int"), fld("note", ["null", "string"], None)),
    rec("R", fld("a", "int")), True, True,
)  # fmt: skip
case(
    "two-fields-added-without-default",
    rec("R", fld("a", "int"), fld("b", "int"), fld("c", "int")),
    rec("R", fld("a", "int")), False, True, FA,
)  # fmt: skip
case(
    "nested-record-field-added-without-default",
    rec("Outer", fld("inner", rec("Inner", fld("x", "int"), fld("y", "int")))),
    rec("Outer", fld("inner", rec("Inner", fld("x", "int")))),
    False, True, FA,
)  # fmt: skip
case(
    "nested-record-field-type-narrowed",
    rec("Outer", fld("inner", rec("Inner", fld("x", "int")))),
    rec("Outer", fld("inner", rec("Inner", fld("x", "long")))),
    False, True, TC,
)  # fmt: skip
case(
    "field-record-to-string",
    rec("Outer", fld("inner", "string")),
    rec("Outer", fld("inner", rec("Inner", fld("x", "int")))),
    False, False, TC,
)  # fmt: skip

# -- names, namespaces and aliases -------------------------------------------------------------
case("record-renamed", rec("New", fld("a", "int")), rec("Old", fld("a", "int")), False, False, NC,
     source=JAVA)  # fmt: skip
case(
    "record-renamed-with-alias",
    rec("New", fld("a", "int"), aliases=["Old"]), rec("Old", fld("a", "int")), True, False, NC,
)  # fmt: skip
case(
    "record-renamed-with-full-alias",
    rec("New", fld("a", "int"), aliases=[f"{NS}.Old"]), rec("Old", fld("a", "int")),
    True, False, NC,
)  # fmt: skip
case(
    "record-alias-resolved-against-own-namespace",
    rec("New", fld("a", "int"), ns="com.b", aliases=["Old"]),
    rec("Old", fld("a", "int"), ns="com.a"),
    False, False, NC,
)  # fmt: skip
case(
    "record-alias-qualified-with-other-namespace",
    rec("New", fld("a", "int"), ns="com.b", aliases=["com.a.Old"]),
    rec("Old", fld("a", "int"), ns="com.a"),
    True, False, NC,
)  # fmt: skip
case(
    "record-alias-no-namespace-matches-no-namespace",
    rec("New", fld("a", "int"), ns=None, aliases=["Old"]),
    rec("Old", fld("a", "int"), ns=None),
    True, False, NC,
)  # fmt: skip
case(
    "record-alias-unqualified-does-not-match-namespaced-writer",
    rec("New", fld("a", "int"), ns=None, aliases=["Old"]),
    rec("Old", fld("a", "int"), ns="com.a"),
    False, False, NC,
)  # fmt: skip
case(
    "record-namespace-changed",
    rec("Same", fld("a", "int"), ns="com.b"), rec("Same", fld("a", "int"), ns="com.a"),
    True, True,
)  # fmt: skip
case(
    "record-namespace-removed",
    rec("Same", fld("a", "int"), ns=None), rec("Same", fld("a", "int"), ns="com.a"), True, True,
)  # fmt: skip
case(
    "dotted-name-same-as-namespace-attribute",
    {"type": "record", "name": "com.a.Same", "fields": [fld("a", "int")]},
    rec("Same", fld("a", "int"), ns="com.a"), True, True,
)  # fmt: skip
case(
    "nested-namespace-changed-array-of-records",
    rec("Outer", fld("items", arr(rec("Item", fld("x", "int")))), ns="com.b"),
    rec("Outer", fld("items", arr(rec("Item", fld("x", "int")))), ns="com.a"),
    True, True, source=JAVA,
)  # fmt: skip
case(
    "nested-record-renamed",
    rec("Outer", fld("inner", rec("Inner2", fld("x", "int")))),
    rec("Outer", fld("inner", rec("Inner", fld("x", "int")))),
    False, False, NC,
)  # fmt: skip
case(
    "nested-record-renamed-with-alias",
    rec("Outer", fld("inner", rec("Inner2", fld("x", "int"), aliases=["Inner"]))),
    rec("Outer", fld("inner", rec("Inner", fld("x", "int")))),
    True, False, NC,
)  # fmt: skip
case(
    "enum-renamed-with-alias",
    one(enum("Color2", ["RED", "GREEN"], aliases=["Color"])), one(enum("Color", ["RED", "GREEN"])),
    True, False, NC,
)  # fmt: skip
case(
    "enum-renamed",
    one(enum("Color2", ["RED", "GREEN"])), one(enum("Color", ["RED", "GREEN"])), False, False, NC,
    source=JAVA,
)  # fmt: skip
case(
    "enum-alias-inherits-enclosing-namespace",
    one(enum("Color2", ["RED"], aliases=["Color"])), one(enum("Color", ["RED"])), True, False, NC,
)  # fmt: skip
case(
    "fixed-renamed",
    one(fixed("Hash2", 4)), one(fixed("Hash", 4)), False, False, NC, source=JAVA,
)  # fmt: skip
case(
    "fixed-renamed-with-alias",
    one(fixed("Hash2", 4, aliases=["Hash"])), one(fixed("Hash", 4)), True, False, NC,
)  # fmt: skip
case(
    "field-alias-with-type-promotion",
    rec("R", fld("b", "long", aliases=["a"])), rec("R", fld("a", "int")), True, False, FR,
)  # fmt: skip

# -- enums -------------------------------------------------------------------------------------
_ab = enum("Suit", ["A", "B"])
_abc = enum("Suit", ["A", "B", "C"])
case("enum-symbol-added", one(_abc), one(_ab), True, False, "ENUM_SYMBOL_ADDED", source=JAVA)
case("enum-symbol-removed", one(_ab), one(_abc), False, True, "ENUM_SYMBOL_REMOVED", source=JAVA)
case("enum-same", one(_ab), one(_ab), True, True, source=JAVA)
case(
    "enum-symbols-reordered",
    one(enum("Suit", ["C", "B", "A"])), one(_abc), True, True,
)  # fmt: skip
case(
    "enum-symbol-added-old-has-default",
    one(enum("Suit", ["A", "B", "C"], default="A")), one(enum("Suit", ["A", "B"], default="A")),
    True, True, source=JAVA,
)  # fmt: skip
case(
    "enum-symbol-removed-new-has-default",
    one(enum("Suit", ["A", "B"], default="A")), one(enum("Suit", ["A", "B", "C"], default="A")),
    True, True, source=JAVA,
)  # fmt: skip
case(
    "enum-symbol-removed-only-new-has-default",
    one(enum("Suit", ["A", "B"], default="A")), one(_abc), True, True,
)  # fmt: skip
case(
    "enum-symbol-removed-field-default-does-not-help",
    one(_ab, "A"), one(_abc), False, True, "ENUM_SYMBOL_REMOVED",
)  # fmt: skip
case(
    "enum-swap-symbols-both-defaults",
    one(enum("Suit", ["A", "B"], default="B"), "A"),
    one(enum("Suit", ["A", "B", "C"], default="A"), "B"),
    True, True, source=JAVA,
)  # fmt: skip
case(
    "enum-symbol-replaced",
    one(enum("Suit", ["A", "D"])), one(enum("Suit", ["A", "B"])),
    False, False, "ENUM_SYMBOL_REMOVED", "ENUM_SYMBOL_ADDED",
)  # fmt: skip
case(
    "enum-field-added-enum-default-only",
    rec("R", fld("a", "int"), fld("e", enum("Suit", ["A", "B"], default="A"))),
    rec("R", fld("a", "int")), False, True, FA, source=JAVA,
)  # fmt: skip
case(
    "enum-field-added-with-field-default",
    rec("R", fld("a", "int"), fld("e", enum("Suit", ["A", "B"], default="A"), "B")),
    rec("R", fld("a", "int")), True, True,
)  # fmt: skip
case("enum-to-string", one("string"), one(_ab), False, False, TC)
case("string-to-enum", one(_ab), one("string"), False, False, TC)
case(
    "enum-in-array-symbol-added",
    one(arr(_abc)), one(arr(_ab)), True, False, "ENUM_SYMBOL_ADDED",
)  # fmt: skip

# -- fixed -------------------------------------------------------------------------------------
case("fixed-same", one(fixed("Hash", 4)), one(fixed("Hash", 4)), True, True, source=JAVA)
case(
    "fixed-size-changed",
    one(fixed("Hash", 8)), one(fixed("Hash", 4)), False, False, "FIXED_SIZE_CHANGED", source=JAVA,
)  # fmt: skip
case("fixed-to-bytes", one("bytes"), one(fixed("Hash", 4)), False, False, TC)
case("bytes-to-fixed", one(fixed("Hash", 4)), one("bytes"), False, False, TC)
case("fixed-to-string", one("string"), one(fixed("Hash", 4)), False, False, TC)

# -- arrays and maps ---------------------------------------------------------------------------
case("array-items-promoted", one(arr("long")), one(arr("int")), True, False, TC, source=JAVA)
case("map-values-promoted", one(mp("long")), one(mp("int")), True, False, TC, source=JAVA)
case("array-items-string-bytes", one(arr("bytes")), one(arr("string")), True, True)
case("array-to-map", one(mp("string")), one(arr("string")), False, False, TC, source=JAVA)
case("map-to-array", one(arr("string")), one(mp("string")), False, False, TC)
case("array-to-its-items", one("string"), one(arr("string")), False, False, TC)
case(
    "array-of-records-field-added-without-default",
    rec("Order", fld("lines", arr(rec("Line", fld("sku", "string"), fld("qty", "int"))))),
    rec("Order", fld("lines", arr(rec("Line", fld("sku", "string"))))),
    False, True, FA,
)  # fmt: skip
case(
    "map-of-records-field-removed-without-default",
    rec("Cart", fld("items", mp(rec("Item", fld("sku", "string"))))),
    rec("Cart", fld("items", mp(rec("Item", fld("sku", "string"), fld("qty", "int"))))),
    True, False, FR,
)  # fmt: skip
case(
    "array-of-arrays-promoted",
    one(arr(arr("double"))), one(arr(arr("float"))), True, False, TC,
)  # fmt: skip
case(
    "map-of-arrays-of-records-defaulted-field",
    one(mp(arr(rec("P", fld("x", "int"), fld("y", "int", 0))))),
    one(mp(arr(rec("P", fld("x", "int"))))),
    True, True,
)  # fmt: skip

# -- unions ------------------------------------------------------------------------------------
case("type-to-optional", one(["null", "string"]), one("string"), True, False, UB,
     source=CONFLUENT)  # fmt: skip
case("optional-to-type", one("string"), one(["null", "string"]), False, True, UB,
     source=CONFLUENT)  # fmt: skip
case(
    "union-branch-added",
    one(["null", "string", "int"]), one(["null", "string"]), True, False, UB, source=CONFLUENT,
)  # fmt: skip
case(
    "union-branch-removed",
    one(["null", "string"]), one(["null", "string", "int"]), False, True, UB, source=CONFLUENT,
)  # fmt: skip
case(
    "map-of-union-branch-promoted",
    one(mp(["null", "double"])), one(mp(["null", "float"])), True, False, UB,
)  # fmt: skip
case(
    "union-gains-wider-numeric-branch",
    one(["null", "int", "long"]), one(["null", "int"]), True, False, UB,
)  # fmt: skip
case(
    "union-to-wider-plain-type", one("double"), one(["int", "long", "float"]), True, False, UB,
)  # fmt: skip
case("union-reordered", one(["string", "int"]), one(["int", "string"]), True, True, source=JAVA)
case("union-branch-promoted", one(["null", "long"]), one(["null", "int"]), True, False, UB,
     source=JAVA)  # fmt: skip
case("singleton-union-to-type", one("int"), one(["int"]), True, True, source=JAVA)
case("type-to-singleton-union", one(["int"]), one("int"), True, True, source=JAVA)
case("empty-union-to-union", one(["float"]), one([]), True, False, UB, source=JAVA)
case("empty-union-same", one([]), one([]), True, True, source=JAVA)
case("int-long-union-to-long", one("long"), one(["int", "long"]), True, True, source=JAVA)
case(
    "int-float-union-to-double", one("double"), one(["int", "float"]), True, False, UB,
    source=JAVA,
)  # fmt: skip
case(
    "int-string-union-to-long", one("long"), one(["int", "string"]), False, False, UB,
    source=JAVA,
)  # fmt: skip
case(
    "union-string-to-bytes-branch", one(["null", "bytes"]), one(["null", "string"]), True, True,
    source=JAVA,
)  # fmt: skip
case(
    "union-int-to-string-branch", one(["null", "string"]), one(["null", "int"]),
    False, False, UB,
)  # fmt: skip
_ra = rec("A", fld("x", "int"))
_rb = rec("B", fld("y", "int"))
_rc = rec("C", fld("z", "int"))
case("union-of-records-branch-added", one([_ra, _rb, _rc]), one([_ra, _rb]), True, False, UB)
case("union-of-records-branch-removed", one([_ra, _rb]), one([_ra, _rb, _rc]), False, True, UB)
case(
    "union-of-records-member-field-added-without-default",
    one([rec("A", fld("x", "int"), fld("w", "int")), _rb]), one([_ra, _rb]), False, True, FA,
)  # fmt: skip
case(
    "record-to-optional-record",
    one(["null", _ra]), one(_ra), True, False, UB,
)  # fmt: skip
case(
    "optional-record-member-changed",
    one(["null", rec("A", fld("x", "long"))]), one(["null", _ra]), True, False, TC,
)  # fmt: skip
case(
    "union-record-renamed",
    one(["null", rec("A2", fld("x", "int"))]), one(["null", _ra]), False, False, UB,
)  # fmt: skip
case(
    "union-to-unrelated-type",
    one("boolean"), one(["null", "string"]), False, False, UB,
)  # fmt: skip
case(
    "union-arrays-items-changed",
    one(["null", arr("long")]), one(["null", arr("int")]), True, False, TC,
)  # fmt: skip
case(
    "union-with-enum-symbol-added",
    one(["null", _abc]), one(["null", _ab]), True, False, "ENUM_SYMBOL_ADDED",
)  # fmt: skip

_many_new = rec(
    "Base",
    fld("suit", enum("SuitA", ["A", "C"])),
    fld("kind", enum("Kind", ["A", "B"])),
    fld("text", "string"),
    fld(
        "sub",
        rec(
            "Sub",
            fld("same", "long", 42),
            fld("extra", "long"),
            fld("hash", fixed("Hash", 4)),
            fld("flag", ["boolean"]),
            fld("flag2", ["boolean"]),
            fld(
                "inner",
                rec("Inner", fld("on", "boolean", True), fld("xs", arr("string"))),
                ns="not.ns",
            ),
        ),
    ),
)
_many_old = rec(
    "Base",
    fld("suit", enum("SuitA", ["A", "B", "C", "D"])),
    fld("kind", enum("KindOld", ["A", "B"])),
    fld("text", "long"),
    fld(
        "sub",
        rec(
            "Sub",
            fld("same", "long", 42),
            fld("hash", fixed("Hash", 8)),
            fld("flag", ["boolean", "double", "string"]),
            fld("flag2", "long"),
            fld(
                "inner",
                rec("Inner", fld("on", "boolean", True), fld("xs", arr("boolean"))),
                ns="ns",
            ),
        ),
    ),
)
case(
    "many-problems-at-once", _many_new, _many_old, False, False,
    "ENUM_SYMBOL_REMOVED", NC, TC, FA, "FIXED_SIZE_CHANGED", UB, source=JAVA,
)  # fmt: skip

# -- recursive schemas -------------------------------------------------------------------------


def linked(value: str = "int", extra: list[dict[str, Any]] | None = None,
           name: str = "Node", **kw: Any) -> dict[str, Any]:  # fmt: skip
    return rec(name, fld("value", value), *(extra or []), fld("next", ["null", name], None), **kw)


case("linked-list-same", linked(), linked(), True, True, source=JAVA)
case("linked-list-value-promoted", linked("long"), linked("int"), True, False, TC)
case(
    "linked-list-field-added-without-default",
    linked(extra=[fld("label", "string")]), linked(), False, True, FA,
)  # fmt: skip
case(
    "linked-list-field-added-with-default",
    linked(extra=[fld("label", "string", "")]), linked(), True, True,
)  # fmt: skip
case(
    "linked-list-renamed-with-alias",
    linked(name="Cell", aliases=["Node"]), linked(), True, False, NC,
)  # fmt: skip
case(
    "tree-children-array",
    rec("Tree", fld("value", "long"), fld("children", arr("Tree"))),
    rec("Tree", fld("value", "int"), fld("children", arr("Tree"))),
    True, False, TC,
)  # fmt: skip
_mutual_old = rec("A", fld("b", ["null", rec("B", fld("a", ["null", "A"], None))], None))
_mutual_new = rec(
    "A", fld("b", ["null", rec("B", fld("a", ["null", "A"], None), fld("n", "int", 0))], None)
)
case("mutually-recursive-defaulted-field", _mutual_new, _mutual_old, True, True)
case(
    "mutually-recursive-field-added-without-default",
    rec("A", fld("b", ["null", rec("B", fld("a", ["null", "A"], None), fld("n", "int"))], None)),
    _mutual_old, False, True, FA,
)  # fmt: skip
case(
    "named-type-reused-twice",
    rec("R", fld("p", rec("Money", fld("cents", "long"))), fld("q", "Money")),
    rec("R", fld("p", rec("Money", fld("cents", "int"))), fld("q", "Money")),
    True, False, TC,
)  # fmt: skip

# -- logical types (ignored, as Confluent does) ------------------------------------------------
_dec = {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}
case(
    "decimal-precision-changed",
    one({**_dec, "precision": 6}), one(_dec), True, True, source="confluent behaviour",
)  # fmt: skip
case("decimal-scale-changed", one({**_dec, "scale": 3}), one(_dec), True, True)
case("decimal-to-bytes", one("bytes"), one(_dec), True, True)
case(
    "timestamp-millis-to-micros",
    one({"type": "long", "logicalType": "timestamp-micros"}),
    one({"type": "long", "logicalType": "timestamp-millis"}), True, True,
)  # fmt: skip
case("uuid-to-string", one("string"), one({"type": "string", "logicalType": "uuid"}), True, True)
case(
    "date-to-long", one("long"), one({"type": "int", "logicalType": "date"}), True, False, TC,
)  # fmt: skip
case(
    "decimal-bytes-to-decimal-fixed",
    one({"type": "fixed", "name": "Dec", "size": 8, "logicalType": "decimal", "precision": 4}),
    one(_dec), False, False, TC,
)  # fmt: skip

# -- histories: transitive against non-transitive ----------------------------------------------
_ALL_OK = dict.fromkeys(MODES, True)
case(
    "history-defaults-added-step-by-step", _f1_f2d_f3d, [_f1, _f1_f2d], history=True,
    modes=_ALL_OK, source=CONFLUENT,
)  # fmt: skip
case(
    "history-defaults-removed-step-by-step", _f1, [_f1_f2d_f3d, _f1_f2d], history=True,
    modes=_ALL_OK, source=CONFLUENT,
)  # fmt: skip
case(
    "history-default-dropped-after-adding",
    _f1_f2, [_f1, _f1_f2d], None, None, FA, history=True, source=CONFLUENT,
    modes={"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": False, "FORWARD": True,
           "FORWARD_TRANSITIVE": True, "FULL": True, "FULL_TRANSITIVE": False},
)  # fmt: skip
case(
    "history-field-dropped-after-default",
    _f1, [_f1_f2, _f1_f2d], None, None, FR, history=True, source=CONFLUENT,
    modes={"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": True, "FORWARD": True,
           "FORWARD_TRANSITIVE": False, "FULL": True, "FULL_TRANSITIVE": False},
)  # fmt: skip
case(
    "history-type-changed-back-and-forth",
    one("string"), [one("int"), one("string")], None, None, TC, history=True,
    modes={"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": False, "FORWARD": True,
           "FORWARD_TRANSITIVE": False, "FULL": True, "FULL_TRANSITIVE": False},
)  # fmt: skip
case(
    "history-enum-grows",
    one(enum("Suit", ["A", "B", "C", "D"])), [one(_ab), one(_abc)], None, None,
    "ENUM_SYMBOL_ADDED",
    history=True,
    modes={"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": True, "FORWARD": False,
           "FORWARD_TRANSITIVE": False, "FULL": False, "FULL_TRANSITIVE": False},
)  # fmt: skip
case(
    "history-incompatible-only-with-latest",
    one("int"), [one("int"), one("string")], None, None, TC, history=True,
    modes={"NONE": True, "BACKWARD": False, "BACKWARD_TRANSITIVE": False, "FORWARD": False,
           "FORWARD_TRANSITIVE": False, "FULL": False, "FULL_TRANSITIVE": False},
)  # fmt: skip
case("no-previous-version", _f1_f2, None)
case(
    "history-of-three-promotions",
    one("double"), [one("int"), one("long"), one("float")], None, None, TC,
    history=True,
    modes={"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": True, "FORWARD": False,
           "FORWARD_TRANSITIVE": False, "FULL": False, "FULL_TRANSITIVE": False},
)  # fmt: skip

# -- invalid defaults (the new schema is invalid in every mode, NONE included) -----------------
_JAVA = frozenset({"avro-1.11", "avro-1.12"})  # Java only asks for a JSON string
_J12 = frozenset({"avro-1.12"})  # Avro Java 1.12 accepts a default of any union branch
_bad_defaults: list[tuple[str, Any, Any] | tuple[str, Any, Any, frozenset[str]]] = [
    ("int-string", "int", "1"),
    ("int-fraction", "int", 1.5),
    ("int-float-literal", "int", 1.0),
    ("int-too-big", "int", 2**31),
    ("int-too-small", "int", -(2**31) - 1),
    ("int-bool", "int", True),
    ("long-too-big", "long", 2**63),
    ("float-word", "float", "abc"),
    ("double-bool", "double", False),
    ("boolean-int", "boolean", 0),
    ("boolean-string", "boolean", "true"),
    ("null-string", "null", "null"),
    ("string-null", "string", None),
    ("string-number", "string", 1),
    ("bytes-wide-char", "bytes", "\u0100", _JAVA),
    ("bytes-number", "bytes", 0),
    ("fixed-wrong-length", fixed("F2", 2), "abc", _JAVA),
    ("fixed-wide-char", fixed("F2", 2), "a\u0101", _JAVA),
    ("enum-not-a-symbol", enum("Suit", ["A", "B"]), "Z", _JAVA),
    ("union-second-branch", ["null", "string"], "x", _J12),
    ("union-null-not-first", ["string", "null"], None, _J12),
    ("union-string-null-literal", ["null", "string"], "null", _J12),
    ("union-int-branch-second", ["string", "int"], 1, _J12),
    ("array-wrong-item", arr("int"), [1, "a"]),
    ("array-not-list", arr("int"), 1),
    ("map-not-object", mp("int"), []),
    ("map-wrong-value", mp("int"), {"a": "b"}),
    ("record-missing-field", rec("P", fld("x", "int")), {}),
    ("record-wrong-field", rec("P", fld("x", "int")), {"x": "1"}),
    ("record-not-object", rec("P", fld("x", "int")), 1),
    ("record-nested-union", rec("P", fld("x", ["null", "int"])), {"x": 1}, _J12),
]
for _name, _type, _default, *_lenient in _bad_defaults:
    case(f"invalid-default-{_name}", one(_type, _default), one(_type), True, True, ID,
         source="avro-java Schema.Parser",
         valid_in=_lenient[0] if _lenient else frozenset())  # fmt: skip
_good_defaults: list[tuple[str, Any, Any]] = [
    ("int", "int", -(2**31)),
    ("long", "long", 2**63 - 1),
    ("float-int-literal", "float", 1),
    ("double-fraction", "double", 0.5),
    ("float-nan-string", "float", "NaN"),
    ("double-number-string", "double", "1.5"),
    ("boolean", "boolean", False),
    ("null", "null", None),
    ("string-empty", "string", ""),
    ("bytes-latin1", "bytes", "\u00ff\u0000"),
    ("fixed", fixed("F2", 2), "ab"),
    ("enum", enum("Suit", ["A", "B"]), "B"),
    ("union-null-first", ["null", "string"], None),
    ("union-string-first", ["string", "null"], "x"),
    ("array", arr("int"), [1, 2]),
    ("array-empty", arr(rec("P", fld("x", "int"))), []),
    ("map", mp("int"), {"a": 1}),
    ("record", rec("P", fld("x", "int")), {"x": 1}),
    ("record-field-with-own-default", rec("P", fld("x", "int", 3)), {}),
    ("record-nested-union-null", rec("P", fld("x", ["null", "int"])), {"x": None}),
    ("decimal-bytes", _dec, "\u0000\u0001"),
    ("timestamp", {"type": "long", "logicalType": "timestamp-millis"}, 0),
]
for _name, _type, _default in _good_defaults:
    case(f"valid-default-{_name}", one(_type, _default), one(_type), True, True,
         source="avro-java Schema.Parser")  # fmt: skip
case(
    "invalid-default-nested-record-field",
    rec("Outer", fld("inner", rec("Inner", fld("x", "int", "zero")))), None, None, None, ID,
)  # fmt: skip
case(
    "invalid-enum-level-default",
    one(enum("Suit", ["A", "B"], default="Z")), None, None, None, ID,
)  # fmt: skip
case(
    "invalid-default-with-otherwise-compatible-change",
    rec("R", fld("a", "int"), fld("b", "int", "0")), rec("R", fld("a", "int")), None, None, ID,
)  # fmt: skip
case(
    "invalid-default-in-previous-is-ignored",
    rec("R", fld("a", "int", 0)), rec("R", fld("a", "int", "zero")), True, True,
)  # fmt: skip

# -- malformed schemas -------------------------------------------------------------------------
case("unknown-type", one("strng"), None, None, None, "UNKNOWN_TYPE")
case(
    "forward-reference",
    rec("R", fld("a", "Later"), fld("b", rec("Later", fld("x", "int")))), None, None, None,
    "UNKNOWN_TYPE", valid_in=_J12,
)  # fmt: skip
case(
    "reference-by-short-name-in-namespace",
    rec("R", fld("a", rec("Money", fld("x", "int"))), fld("b", "Money")), None,
)  # fmt: skip
case(
    "reference-falls-back-to-null-namespace",
    rec("R", fld("a", rec("Money", fld("x", "int"), ns="")), fld("b", "Money")), None,
)  # fmt: skip
case(
    "duplicate-field",
    rec("R", fld("a", "int"), fld("a", "string")), None, None, None, "DUPLICATE_FIELD",
)  # fmt: skip
case(
    "duplicate-named-type",
    rec("R", fld("a", rec("M", fld("x", "int"))), fld("b", rec("M", fld("y", "int")))),
    None, None, None, "DUPLICATE_NAME",
)  # fmt: skip
case("bad-record-name", rec("1Bad", fld("a", "int")), None, None, None, "INVALID_NAME")
case("bad-field-name", rec("R", fld("a-b", "int")), None, None, None, "INVALID_NAME")
case("bad-namespace", rec("R", fld("a", "int"), ns="com.1x"), None, None, None, "INVALID_NAME",
     valid_in=frozenset({"avro-1.11"}))  # fmt: skip
case("bad-enum-symbol", one(enum("Suit", ["A B"])), None, None, None, "INVALID_NAME")
case("named-after-primitive", rec("int", ns=None), None, None, None, "INVALID_NAME")
case("duplicate-enum-symbol", one(enum("Suit", ["A", "A"])), None, None, None, "DUPLICATE_SYMBOL")
case("union-duplicate-branch", one(["string", "string"]), None, None, None, "INVALID_UNION")
case("union-two-arrays", one([arr("int"), arr("string")]), None, None, None, "INVALID_UNION")
case("union-nested", one(["null", ["int", "string"]]), None, None, None, "INVALID_UNION")
case("record-without-fields", {"type": "record", "name": "R"}, None, None, None,
     "MALFORMED_SCHEMA")  # fmt: skip
case("fixed-without-size", one({"type": "fixed", "name": "F"}), None, None, None,
     "MALFORMED_SCHEMA")  # fmt: skip
case("array-without-items", one({"type": "array"}), None, None, None, "MALFORMED_SCHEMA")
case("enum-without-symbols", one({"type": "enum", "name": "S"}), None, None, None,
     "MALFORMED_SCHEMA")  # fmt: skip
case("field-without-type", rec("R", {"name": "a"}), None, None, None, "MALFORMED_SCHEMA")
case("record-without-name", {"type": "record", "fields": []}, None, None, None,
     "MALFORMED_SCHEMA")  # fmt: skip
case("bad-field-order", rec("R", fld("a", "int", order="up")), None, None, None,
     "MALFORMED_SCHEMA")  # fmt: skip
case("schema-is-a-number", 42, None, None, None, "MALFORMED_SCHEMA")
case(
    "malformed-new-against-valid-previous",
    rec("R", fld("a", "nope")), rec("R", fld("a", "int")), None, None, "UNKNOWN_TYPE",
)  # fmt: skip


def as_json() -> str:
    """The corpus as JSON, for replaying against a registry (see ``corpus.json``)."""
    return json.dumps([c.to_json() for c in CASES], indent=1, ensure_ascii=True) + "\n"
