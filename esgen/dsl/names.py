"""Naming rules, in one place. A bad name is reported, never changed.

Every function returns None for a good name, else the reason it is bad (a message
fragment such as "must be PascalCase"). The patterns are public so that the editor schema
(``esgen.dsl.editor_schema``) states the same rules.
"""

from __future__ import annotations

import keyword
import re

from esgen.errors import quote
from esgen.model import is_avro_name, is_avro_namespace

PASCAL_CASE = r"[A-Z][A-Za-z0-9]*"
SNAKE_CASE = r"[a-z][a-z0-9_]*"
TOPIC = r"[A-Za-z0-9._-]+"
MAX_TOPIC = 249
_PASCAL = re.compile(PASCAL_CASE + r"\Z")
_SNAKE = re.compile(SNAKE_CASE + r"\Z")
_TOPIC = re.compile(TOPIC + r"\Z")
FUNCTION = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*"  # package.module:function
_FUNCTION = re.compile(FUNCTION + r"\Z")


def avro_name(name: str) -> str | None:
    if not is_avro_name(name):
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
    if not is_avro_namespace(name):
        return "is not a valid Avro namespace (dot-separated Avro names, e.g. 'com.example.shop')"
    return None


def topic(name: str) -> str | None:
    if not _TOPIC.match(name):
        return "is not a valid Kafka topic name (letters, digits, '.', '_' and '-')"
    if len(name) > MAX_TOPIC:
        return f"is longer than {MAX_TOPIC} characters, the Kafka limit for topic names"
    if name in (".", ".."):
        return "is not a valid Kafka topic name"
    return None


def module_part(name: str) -> str | None:
    """A folder or file stem of the definitions tree: it becomes a Python module."""
    if not name.isidentifier() or not name.isascii():
        return "is not a valid Python module name (letters, digits and '_')"
    if name.startswith("__") and name.endswith("__"):
        # __init__.yaml would overwrite the package's own __init__.py
        return "is reserved by Python for a package's own files (such as __init__.py)"
    return _python_keyword(name)


def function_spec(spec: str) -> str | None:
    """Escape hatches (``call:``, ``decide:``) name ``package.module:function``."""
    parts = re.split(r"[.:]", spec)
    if not _FUNCTION.match(spec) or any(keyword.iskeyword(p) for p in parts):
        return "needs 'package.module:function'"
    return None


def snake_case(name: str) -> str:
    """'OrderLine' -> 'order_line'; for the default topic name."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", name).lower()


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
        # imported by the modules of entities with commands
        "CommandMeta",
        "CommandRejected",
        # defined by every generated module
        "ENTITY",
    }
)
"""Type, event, command and entity names that would shadow a module-level name of the
module (the unions named after the entity are :func:`entity_unions`)."""

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


def entity_unions(entity: str) -> dict[str, str]:
    """The type aliases the generated module of ``entity`` defines, which no type, event
    or command may be named: name -> what it is."""
    return {
        f"{entity}Event": f"the union of the events of {quote(entity)}",
        f"{entity}Command": f"the union of the commands of {quote(entity)}",
    }


def reserved(kind: str, name: str) -> str | None:
    """Why ``name`` cannot be a ``field``, ``type`` (also events, commands and entities)
    or ``symbol`` name, or None."""
    table = {"field": RESERVED_FIELDS, "type": RESERVED_TYPES, "symbol": RESERVED_SYMBOLS}[kind]
    if name not in table:
        return None
    return {
        "field": "is a name the generated record's class body uses itself",
        "type": "is a name generated modules define or import themselves",
        "symbol": "is an attribute every enum member has already",
    }[kind] + " (reserved); choose another"
