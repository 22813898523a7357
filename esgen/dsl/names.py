"""Naming rules, in one place. A bad name is reported, never changed.

Every function returns None for a good name, else the reason it is bad (a message
fragment such as "must be PascalCase").
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterable

_AVRO = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PASCAL = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
_SNAKE = re.compile(r"[a-z][a-z0-9_]*\Z")
_TOPIC = re.compile(r"[A-Za-z0-9._-]+\Z")
_MAX_TOPIC = 249


def avro_name(name: str) -> str | None:
    if not _AVRO.match(name):
        return "is not a valid Avro name (letters, digits and '_', not starting with a digit)"
    return None


def _python_keyword(name: str) -> str | None:
    if keyword.iskeyword(name):
        return "is a Python keyword"
    return None


def pascal_case(name: str) -> str | None:
    """Entity, type and event names: they become Python classes and Avro names."""
    if not _PASCAL.match(name):
        return avro_name(name) or "must be PascalCase (e.g. 'OrderPlaced')"
    return _python_keyword(name) or reserved("type", name)  # None, True, False are PascalCase


def field_name(name: str) -> str | None:
    """Fields become dataclass attributes: snake_case, no hard keywords."""
    if not _SNAKE.match(name):
        return avro_name(name) or "must be snake_case (lowercase letters, digits and '_')"
    return _python_keyword(name) or reserved("field", name)


def alias_name(name: str) -> str | None:
    """Aliases are old names that only Avro sees."""
    return avro_name(name)


def enum_symbol(name: str) -> str | None:
    """Symbols become enum members: Avro names, no keywords, no leading '_' (Enum reserves)."""
    if reason := avro_name(name):
        return reason
    if name.startswith("_"):
        return "must not start with '_' (Python's Enum reserves such names)"
    return _python_keyword(name) or reserved("symbol", name)


def namespace(name: str) -> str | None:
    if not name or not all(_AVRO.match(part) for part in name.split(".")):
        return "is not a valid Avro namespace (dot-separated Avro names, e.g. 'com.example.shop')"
    return None


def topic(name: str) -> str | None:
    if not _TOPIC.match(name):
        return "is not a valid Kafka topic name (letters, digits, '.', '_' and '-')"
    if len(name) > _MAX_TOPIC:
        return f"is longer than {_MAX_TOPIC} characters, the Kafka limit for topic names"
    if name in (".", ".."):
        return "is not a valid Kafka topic name"
    return None


def module_part(name: str) -> str | None:
    """A folder or file stem of the definitions tree: it becomes a Python module."""
    if not name.isidentifier() or not name.isascii():
        return "is not a valid Python module name (letters, digits and '_')"
    return _python_keyword(name) or reserved("module", name)


def snake_case(name: str) -> str:
    """'OrderLine' -> 'order_line'; for the default topic name."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", name).lower()


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint such as "did you mean 'decimal(P,S)'?" or None when nothing is close."""
    pool = list(dict.fromkeys(candidates))
    by_key = {c.split("(")[0].lower(): c for c in pool}
    matches = difflib.get_close_matches(word.lower(), list(by_key), n=1, cutoff=0.6)
    if not matches:
        return None
    return f"did you mean '{by_key[matches[0]]}'?"


# ------------------------------------------------------------------ reserved names
# Owned by the code generator (esgen.codegen): names a generated module uses itself, so a
# definition may not use them where they would collide. tests/codegen/test_reserved_names.py
# derives what the generated code really reads and checks these lists hold all of it.

RESERVED_FIELDS = frozenset(
    {
        # modules and builtins that annotations and defaults in class bodies name
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "math",
        "uuid",
        "bool",
        "bytes",
        "dict",
        "float",
        "int",
        "list",
        "str",
        # what every generated record offers (esgen.runtime.Record)
        "from_avro",
        "to_avro",
    }
)
"""Field names that would shadow a name the record's class body reads."""

RESERVED_TYPES = frozenset(
    {
        # imported by every generated module
        "Any",
        "EntityDescriptor",
        "EventMeta",
        "Final",
        "InvariantViolation",
        "Iterable",
        "Never",
        "Record",
        "TypeAlias",
        # defined by every generated module
        "ENTITY",
    }
)
"""Type, event and entity names that would shadow a module-level name of the module."""

RESERVED_SYMBOLS = frozenset(
    # every attribute of a StrEnum member (str's methods, Enum's name and value) and
    # what Enum refuses itself (mro): a symbol of that name would hide it
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "encode",
        "endswith",
        "expandtabs",
        "find",
        "format",
        "format_map",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "maketrans",
        "mro",
        "name",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "translate",
        "upper",
        "value",
        "zfill",
    }
)
"""Enum symbols that would hide an attribute every enum member has."""

RESERVED_MODULES = frozenset({"__init__", "__main__"})
"""File or folder names that Python packages give a meaning of their own."""


def reserved(kind: str, name: str) -> str | None:
    """Why ``name`` cannot be a ``field``, ``type`` (also events and entities),
    ``symbol`` or ``module`` name, or None."""
    table = {
        "field": RESERVED_FIELDS,
        "type": RESERVED_TYPES,
        "symbol": RESERVED_SYMBOLS,
        "module": RESERVED_MODULES,
    }[kind]
    if name not in table:
        return None
    return {
        "field": "is a name the generated record's class body uses itself",
        "type": "is a name every generated module defines or imports itself",
        "symbol": "is an attribute every enum member has already",
        "module": "is a module name Python packages reserve",
    }[kind] + " (reserved); choose another"
