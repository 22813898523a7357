"""Avro schema resolution planned once per writer schema, instead of per record.

fastavro resolves a writer schema into a reader schema while it reads each record, and pays
for the generic matching every time (an old version decodes at about 0.6x the speed of
today's). :func:`resolution_plan` looks at a (writer, reader) pair once and returns a
function that turns what fastavro reads with the **writer schema alone** (its fast path)
into exactly what its resolving read gives: fields matched by name or alias, fields the
reader lacks dropped, missing ones given the reader's default (as written in the schema,
as fastavro gives it), ``int``/``long`` promoted to ``float``/``double``, ``string`` and
``bytes`` exchanged, and the same inside arrays, maps, optional values and nested records.

Whatever it does not know to be exactly equivalent (enums losing symbols, unions other
than ``["null", T]``, logical types that differ, recursive types, names that do not match)
gives None, and the caller keeps fastavro's own resolution: never a different answer, at
worst the old speed. ``tests/runtime/test_resolution.py`` compares both on every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from esgen.runtime.serde import AvroSchema

Convert = Callable[[Any], Any]
_SAME: Convert = lambda value: value  # noqa: E731  # a marker: nothing to convert
_NUMBERS = {"int": 0, "long": 1, "float": 2, "double": 3}
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class _Unplanned(Exception):
    """A pair the plan does not cover: fastavro resolves it."""


def resolution_plan(writer: AvroSchema, reader: AvroSchema) -> tuple[Convert, bool] | None:
    """``(datum read with writer -> datum fastavro's resolution gives, whether it fills a
    default that fastavro reads otherwise)``, or None. When it fills none, the result holds
    only values as fastavro reads them (a generated class's trusted ``build`` takes it);
    else some defaults are as the schema writes them (its ``resolve`` converts them)."""
    planner = _Planner(writer, reader)
    try:
        convert = planner.node(writer, reader, None, None)
    except (_Unplanned, KeyError, TypeError, AttributeError):
        return None
    return convert, planner.defaults


def _as_read(node: Any, value: Any, space: str | None, table: dict[str, Any]) -> bool:
    """Whether a default as the schema writes it is already what fastavro reads for the
    type: null, booleans, whole numbers, doubles, plain strings, enum symbols. (A ``float``
    is read rounded to 32 bits; bytes, decimals, logical types and records are read as other
    values; a list or map default would be one object shared by every record.)"""
    if isinstance(node, list):
        return value is None and bool(node) and node[0] == "null"
    if isinstance(node, str) and node not in _PRIMITIVES:
        full = node if "." in node or not space else f"{space}.{node}"
        named = table.get(full) or table.get(node)
        return named is not None and named["type"] == "enum" and isinstance(value, str)
    if isinstance(node, dict):
        kind = node.get("type")
        if node.get("logicalType") is not None:
            return False
        if kind == "enum":
            return isinstance(value, str)
        if isinstance(kind, str) and kind in _PRIMITIVES:
            node = kind
        else:
            return False
    plain = {
        "null": lambda v: v is None,
        "boolean": lambda v: type(v) is bool,
        "int": lambda v: type(v) is int,
        "long": lambda v: type(v) is int,
        "double": lambda v: type(v) is float,
        "string": lambda v: type(v) is str,
    }
    check = plain.get(node)
    return check is not None and bool(check(value))


def _named(schema: Any, space: str | None, found: dict[str, dict[str, Any]]) -> None:
    """Every named type defined in ``schema``, by full name."""
    if isinstance(schema, list):
        for branch in schema:
            _named(branch, space, found)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            name = schema["name"]
            own = schema.get("namespace", space)
            full = name if "." in name or not own else f"{own}.{name}"
            found[full] = {**schema, "__space": full.rpartition(".")[0] or None}
            for f in schema.get("fields", ()):
                _named(f["type"], full.rpartition(".")[0] or None, found)
        elif kind == "array":
            _named(schema["items"], space, found)
        elif kind == "map":
            _named(schema["values"], space, found)
        elif isinstance(kind, dict | list):
            _named(kind, space, found)


class _Planner:
    def __init__(self, writer: AvroSchema, reader: AvroSchema) -> None:
        self.writers: dict[str, dict[str, Any]] = {}
        self.readers: dict[str, dict[str, Any]] = {}
        _named(writer, None, self.writers)
        _named(reader, None, self.readers)
        self.visiting: set[str] = set()
        self.defaults = False  # whether a default is filled in a form fastavro reads otherwise

    def _deref(self, node: Any, space: str | None, table: dict[str, Any]) -> Any:
        """A named type (by name, or defined here) -> its entry in ``table`` (which knows its
        namespace); a ``{"type": {...}}`` wrapper -> what it wraps; anything else as is."""
        if isinstance(node, str) and node not in _PRIMITIVES:
            full = node if "." in node or not space else f"{space}.{node}"
            return table.get(full) or table[node]
        if isinstance(node, dict):
            kind = node.get("type")
            if kind in ("record", "enum", "fixed"):
                name = node["name"]
                own = node.get("namespace", space)
                return table[name if "." in name or not own else f"{own}.{name}"]
            if isinstance(kind, dict | list) and not node.get("logicalType"):
                return self._deref(kind, space, table)
        return node

    def node(self, w: Any, r: Any, wspace: str | None, rspace: str | None) -> Convert:
        w = self._deref(w, wspace, self.writers)
        r = self._deref(r, rspace, self.readers)
        if isinstance(w, list) or isinstance(r, list):
            return self._union(w, r, wspace, rspace)
        wkind = w if isinstance(w, str) else w["type"]
        rkind = r if isinstance(r, str) else r["type"]
        if wkind == "record" and rkind == "record":
            return self._record(w, r)
        if wkind in ("enum", "fixed") or rkind in ("enum", "fixed"):
            return self._enum_or_fixed(w, r)
        if wkind == "array" and rkind == "array":
            return _each(self.node(w["items"], r["items"], wspace, rspace))
        if wkind == "map" and rkind == "map":
            return _values(self.node(w["values"], r["values"], wspace, rspace))
        return self._primitive(w, r)

    def _primitive(self, w: Any, r: Any) -> Convert:
        wlogical = _logical(w)
        if wlogical != _logical(r):
            raise _Unplanned
        wkind = w if isinstance(w, str) else w["type"]
        rkind = r if isinstance(r, str) else r["type"]
        if wkind == rkind:
            return _SAME
        if wlogical != (None,):
            raise _Unplanned  # a promoted logical type: leave it to fastavro
        if wkind in _NUMBERS and rkind in _NUMBERS and _NUMBERS[wkind] < _NUMBERS[rkind]:
            return _SAME if rkind == "long" or wkind == "float" else float
        if (wkind, rkind) == ("string", "bytes"):
            return str.encode
        if (wkind, rkind) == ("bytes", "string"):
            return bytes.decode
        raise _Unplanned

    def _enum_or_fixed(self, w: Any, r: Any) -> Convert:
        if not (isinstance(w, dict) and isinstance(r, dict)) or w["type"] != r["type"]:
            raise _Unplanned
        if not _same_name(w, r):
            raise _Unplanned
        if w["type"] == "enum" and set(w["symbols"]) <= set(r["symbols"]):
            return _SAME
        if w["type"] == "fixed" and w["size"] == r["size"] and _logical(w) == _logical(r):
            return _SAME
        raise _Unplanned

    def _union(self, w: Any, r: Any, wspace: str | None, rspace: str | None) -> Convert:
        rbranches = [b for b in r if b != "null"] if isinstance(r, list) else [r]
        if len(rbranches) != 1 or (isinstance(r, list) and len(r) != 2):
            raise _Unplanned
        if isinstance(w, list):
            wbranches = [b for b in w if b != "null"]
            if len(w) != 2 or len(wbranches) != 1 or not isinstance(r, list):
                raise _Unplanned
            inner = self.node(wbranches[0], rbranches[0], wspace, rspace)
            if inner is _SAME:
                return _SAME
            return lambda value: None if value is None else inner(value)
        if w == "null":
            return _SAME
        return self.node(w, rbranches[0], wspace, rspace)  # T read as ["null", T]

    def _record(self, w: dict[str, Any], r: dict[str, Any]) -> Convert:
        if not _same_name(w, r):
            raise _Unplanned
        key = w["__space"] or ""
        key = f"{key}.{w['name']}"
        if key in self.visiting:
            raise _Unplanned  # recursive types: fastavro resolves them
        self.visiting.add(key)
        try:
            wspace, rspace = w["__space"], r["__space"]
            wfields = {f["name"]: f for f in w["fields"]}
            copies: list[tuple[str, str]] = []
            converts: list[tuple[str, str, Convert]] = []
            defaults: list[tuple[str, Any]] = []
            used: set[str] = set()
            for f in r["fields"]:
                source = next(
                    (n for n in (f["name"], *f.get("aliases", ())) if n in wfields), None
                )
                if source is None:
                    if "default" not in f:
                        raise _Unplanned  # fastavro raises its own error
                    defaults.append((f["name"], f["default"]))
                    if not _as_read(f["type"], f["default"], rspace, self.readers):
                        self.defaults = True
                    continue
                used.add(source)
                convert = self.node(wfields[source]["type"], f["type"], wspace, rspace)
                if convert is _SAME:
                    copies.append((f["name"], source))
                else:
                    converts.append((f["name"], source, convert))
        finally:
            self.visiting.discard(key)
        same = (
            not converts
            and not defaults
            and used == set(wfields)
            and all(a == b for a, b in copies)
        )
        if same:
            return _SAME

        dropped = tuple(set(wfields) - used)
        # A field is found by its own name first, so a renamed one's name is not a writer
        # field's: moving values in place never overwrites one still to be moved.
        renamed = tuple((name, source) for name, source in copies if name != source)

        def record(datum: dict[str, Any]) -> dict[str, Any]:
            # In place: the dict is fastavro's, just read (no copy of every field)
            for name in dropped:
                del datum[name]
            for name, source in renamed:
                datum[name] = datum.pop(source)
            for name, source, convert in converts:
                datum[name] = convert(datum.pop(source))
            for name, value in defaults:
                datum[name] = value
            return datum

        return record


def _same_name(w: dict[str, Any], r: dict[str, Any]) -> bool:
    def full(s: dict[str, Any]) -> str:
        space = s["__space"]
        name: str = s["name"].rpartition(".")[2]
        return f"{space}.{name}" if space else name

    names = {full(r)}
    for alias in r.get("aliases", ()):
        names.add(alias if "." in alias or not r["__space"] else f"{r['__space']}.{alias}")
    return full(w) in names


def _logical(node: Any) -> tuple[Any, ...]:
    if not isinstance(node, dict) or "logicalType" not in node:
        return (None,)
    return (node["logicalType"], node.get("precision"), node.get("scale"), node.get("size"))


def _each(convert: Convert) -> Convert:
    if convert is _SAME:
        return _SAME
    return lambda items: [convert(item) for item in items]


def _values(convert: Convert) -> Convert:
    if convert is _SAME:
        return _SAME
    return lambda values: {key: convert(value) for key, value in values.items()}


def is_identity(convert: Convert) -> bool:
    """Whether the plan changes nothing (the schemas differ only in docs, defaults...)."""
    return convert is _SAME
