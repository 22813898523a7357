"""Is a schema valid on its own? Java Avro's parse-time checks that Python libraries skip.

Java Avro (and so Confluent's registry) rejects a schema whose field default does not fit the
field's type, in every compatibility mode. fastavro and the ``avro`` package accept such
schemas, so esgen checks defaults itself:

- ``null``: ``null``; ``boolean``: ``true``/``false``;
- ``int``/``long``: a JSON integer in the 32/64-bit range (``1.0`` is not an integer);
- ``float``/``double``: any JSON number; directly on a field, also a string Java's
  ``Double.parseDouble`` accepts (``"NaN"``, ``"Infinity"``, ``"1.5"``);
- ``string``: a string UTF-8 can encode (no lone surrogate, which JSON can escape:
  ``"\\ud800"``); ``bytes``: a string of code points <= 255; ``fixed``: such a string of
  exactly ``size`` code points; ``enum``: one of the symbols;
- ``array``/``map``: a JSON array/object whose items/values fit;
- ``record``: an object where every field has a fitting value, or is absent and has a default;
- union: the first branch (the Avro specification; Avro Java 1.9-1.11).

Java Avro is more lenient than the list above in places, by version: see
``esgen.compat.dialect`` (``avro-1.11``, ``avro-1.12``) to imitate it exactly.
"""

from __future__ import annotations

import math
import re
from typing import Any

from esgen.compat import rules
from esgen.compat.dialect import STRICT, Dialect
from esgen.compat.schema import (
    Array,
    Enum,
    Fixed,
    Issue,
    Map,
    Node,
    Record,
    Union,
    json_text,
)

_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")
_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)")


def _is_int(value: Any, bounds: tuple[int, int]) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utf8(value: str) -> bool:
    """Java would write a lone surrogate as '?': the default would silently change."""
    return _SURROGATE.search(value) is None


def _latin1(value: Any) -> bool:
    return isinstance(value, str) and all(ord(c) <= 255 for c in value)


def fits(node: Node, value: Any, dialect: Dialect = STRICT) -> bool:
    """Does the JSON ``value`` fit the schema ``node`` as a default?"""
    kind = node.kind
    if isinstance(node, Union):
        if not node.branches:
            return False
        if dialect.union_default_any_branch:
            return any(fits(b, value, dialect) for b in node.branches)
        return fits(node.branches[0], value, dialect)
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "int":
        return _is_int(value, _INT_RANGE)
    if kind == "long":
        return _is_int(value, _LONG_RANGE)
    if kind in ("float", "double"):
        return _is_number(value)
    if kind == "string":
        return isinstance(value, str) and (not dialect.strict_string_defaults or _utf8(value))
    if not dialect.strict_string_defaults and kind in ("bytes", "fixed", "enum"):
        return isinstance(value, str)  # Java only asks for a JSON string
    if kind == "bytes":
        return _latin1(value)
    if isinstance(node, Fixed):
        return _latin1(value) and len(value) == node.size
    if isinstance(node, Enum):
        return isinstance(value, str) and value in node.symbols
    if isinstance(node, Array):
        return isinstance(value, list) and all(fits(node.items, v, dialect) for v in value)
    if isinstance(node, Map):
        return isinstance(value, dict) and all(
            fits(node.values, v, dialect) for v in value.values()
        )
    if isinstance(node, Record):
        if not isinstance(value, dict):
            return False
        for f in node.fields:
            if f.name in value:
                if not fits(f.type, value[f.name], dialect):
                    return False
            elif not f.has_default or not fits(f.type, f.default, dialect):
                return False
        return True
    return False


def _java_double_string(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    if not _JAVA_DOUBLE.fullmatch(text):
        return False
    if "NaN" in text or "Infinity" in text:
        return True
    return not math.isnan(float(text.rstrip("fFdD")))


def _why(node: Node, value: Any, dialect: Dialect) -> str:
    if isinstance(node, Union) and not dialect.union_default_any_branch and node.branches:
        first = node.branches[0].display()
        others = [b for b in node.branches[1:] if fits(b, value, dialect)]
        hint = ""
        if others:
            hint = (
                f"; it fits the branch `{others[0].display()}`, so put that branch first"
                if not isinstance(value, type(None))
                else "; put `null` first in the union"
            )
        return (
            f"default {json_text(value)} does not fit `{first}`, the first branch of the union "
            f"{node.display()} (a union's default must match its first branch){hint}"
        )
    if isinstance(node, Enum):
        return (
            f"default {json_text(value)} is not a symbol of `{node.fullname}` {list(node.symbols)}"
        )
    if isinstance(node, Fixed):
        return (
            f"default {json_text(value)} is not a string of exactly {node.size} code points "
            f"<= 255, as `{node.fullname}` (fixed, size {node.size}) needs"
        )
    if node.kind == "bytes":
        return f"default {json_text(value)} is not a string of code points <= 255, as bytes needs"
    if node.kind in ("int", "long") and isinstance(value, int) and not isinstance(value, bool):
        return f"default {json_text(value)} is out of range for {node.kind}"
    if node.kind == "string" and isinstance(value, str):
        return f"default {json_text(value)} holds a lone surrogate, which UTF-8 cannot encode"
    return f"default {json_text(value)} does not fit type `{node.display()}`"


def default_issues(root: Node | None, dialect: Dialect = STRICT) -> list[Issue]:
    """Every field default in the schema graph that does not fit its field's type."""
    issues: list[Issue] = []
    seen: set[int] = set()

    def walk(node: Node, steps: tuple[str, ...]) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, Record):
            for f in node.fields:
                fsteps = (*steps, "." + f.name)
                if f.has_default:
                    ok = fits(f.type, f.default, dialect)
                    if not ok and f.type.kind in ("float", "double"):
                        ok = _java_double_string(f.default)
                    if not ok:
                        issues.append(
                            Issue(
                                rules.INVALID_DEFAULT,
                                fsteps,
                                _why(f.type, f.default, dialect),
                            )
                        )
                walk(f.type, fsteps)
        elif isinstance(node, Array):
            walk(node.items, (*steps, "[]"))
        elif isinstance(node, Map):
            walk(node.values, (*steps, "{}"))
        elif isinstance(node, Union):
            for b in node.branches:
                walk(b, (*steps, f"<{b.display()}>"))

    if root is not None:
        walk(root, ())
    return issues


__all__ = ["default_issues", "fits"]
