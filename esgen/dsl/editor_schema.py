"""The editor schema (``esgen/definition.schema.json``), built from the loader's own tables.

Editors with yaml-language-server check definitions as they are typed against a JSON
Schema. It is derived here from what the loader checks: the keys of each mapping
(``esgen.dsl.build``), the fold operations (``esgen.dsl.folds``), the naming rules and
keywords (``esgen.dsl.names``), the type grammar (``esgen.dsl.types``), the compatibility
modes (``esgen.model``) and the limits (``esgen.dsl.limits``). A key the loader knows but
this module does not describe is still allowed (with no further checks), so a new key never
makes the editor refuse a valid definition.

A JSON Schema cannot resolve names across files or type-check expressions: ``esgen
validate`` remains the full check. The committed file is kept current by a test; after a
change of the loader, run ``python -m esgen.dsl.editor_schema`` to rewrite it.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from pathlib import Path
from typing import Any

from esgen.dsl import build, commands, folds, names, types
from esgen.dsl.evolution import UPCAST_KEYS
from esgen.dsl.expressions import FUNCTIONS
from esgen.dsl.limits import MAX_DECIMAL_PRECISION, MAX_FIXED_SIZE
from esgen.model import Mode

SCHEMA_PATH = Path(__file__).parents[1] / "definition.schema.json"
# Nesting of array<...>/map<...>/? that the type pattern spells out; deeper types are
# accepted unchecked (the loader allows up to MAX_TYPE_DEPTH).
_TYPE_PATTERN_DEPTH = 4

Schema = dict[str, Any]

_WHEN = "Apply this step only when the boolean expression holds."
_OPS: dict[str, str] = {
    "set": "Assign each FIELD (a state field or dotted path into nested records) the value "
    "of its expression.",
    "add": "Add the expression's value to each numeric FIELD (int, long, float, double, decimal).",
    "subtract": "Subtract the expression's value from each numeric FIELD.",
    "append": "Append the expression's value to each array FIELD.",
    "remove": "Remove every element equal to the expression's value from each array FIELD.",
    "put": "Put {key: EXPR, value: EXPR} into each map FIELD.",
    "delete": "Delete the key (a string expression) from each map FIELD.",
    "call": "Escape hatch: 'package.module:function', called as function(state, event, meta) "
    "and returning the new state.",
}


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


def _name(pattern: str, what: str) -> Schema:
    """A name: matches ``pattern`` and is not a Python keyword."""
    keywords = sorted(k for k in keyword.kwlist if _matches(pattern, k))
    schema: Schema = {"type": "string", "pattern": _anchored(pattern)}
    if keywords:
        schema["not"] = {"enum": keywords}
    schema["description"] = what
    return schema


def _matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def _type_pattern() -> str:
    """The type grammar of ``esgen.dsl.types`` as a regular expression.

    Inside ``{...}`` YAML splits ``decimal(18,2)`` at the comma (the loader joins it back),
    so a type may also end in an unclosed ``decimal(P``; the stray key ``2)`` is allowed by
    the field schema.
    """
    precisions = sorted(map(str, range(1, MAX_DECIMAL_PRECISION + 1)), key=len, reverse=True)
    digits = f"(?:{'|'.join(precisions)})"
    named = rf"{names.PASCAL_CASE}|(?:[A-Za-z_][A-Za-z0-9_]*\.)+{names.PASCAL_CASE}"
    simple = "|".join(
        [*(t for t in types.PRIMITIVES), *types.LOGICALS, rf"decimal\( *{digits} *, *\d+ *\)"]
    )
    plain = f"{simple}|{named}"
    level = ".*"  # past the spelled-out depth anything goes: never refuse a valid type
    for _ in range(_TYPE_PATTERN_DEPTH):
        level = rf"(?:{plain}|(?:array|map)< *(?:{level}) *>) *\??"
    unclosed = rf"(?:(?:array|map)< *)*decimal\( *{digits} *"
    return rf"^ *(?:{level}|{unclosed}) *$"


def _default_rules() -> list[Schema]:
    """What a field's default must be, by the start of its type (JSON types only); an
    optional type (ending in ``?``) also takes null."""
    json_types = {
        "decimal": "string",
        "boolean": "boolean",
        "(?:int|long)": "integer",
        "(?:float|double)": "number",
        "(?:string|bytes|uuid|date|time-|timestamp-|local-timestamp-)": "string",
        "array<": "array",
        "map<": "object",
    }
    rules: list[Schema] = []
    for prefix, json_type in json_types.items():
        for optional, end in ((False, r"(?:.*[^? ])? *$"), (True, r".*\? *$")):
            rules.append(
                {
                    "if": {
                        "required": ["type"],
                        "properties": {"type": {"pattern": f"^ *{prefix}{end}"}},
                    },
                    "then": {
                        "properties": {
                            "default": {"type": [json_type, "null"] if optional else json_type}
                        }
                    },
                }
            )
    return rules


def _object(
    keys: tuple[str, ...], described: dict[str, Schema], required: tuple[str, ...] = ()
) -> Schema:
    """A mapping with exactly the loader's ``keys``; undescribed keys take any value."""
    schema: Schema = {"type": "object"}
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = False
    schema["properties"] = {key: described.get(key, {}) for key in keys}
    return schema


def _fold_step(op: str) -> Schema:
    body: Schema
    if op == "call":
        body = {"type": "string", "pattern": _anchored(folds.CALL)}
    elif op == "put":
        entry = _object(
            ("key", "value"),
            {
                "key": {"$ref": "#/definitions/expression", "description": "The map key."},
                "value": {
                    "$ref": "#/definitions/expression",
                    "description": "The value stored under the key.",
                },
            },
            ("key", "value"),
        )
        body = {"type": "object", "minProperties": 1, "additionalProperties": entry}
    else:
        body = {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"$ref": "#/definitions/expression"},
        }
    body["description"] = _OPS.get(op, f"The '{op}' step.")
    return _object(
        (op, "when"),
        {op: body, "when": {"$ref": "#/definitions/expression", "description": _WHEN}},
        (op,),
    )


def build_schema() -> Schema:
    """The editor schema, as a JSON value."""
    field_name = _name(names.SNAKE_CASE, "A snake_case field name (not a Python keyword).")
    field = {
        "oneOf": [
            {"$ref": "#/definitions/typeString"},
            {
                **_object(
                    build.FIELD_KEYS,
                    {
                        "type": {"$ref": "#/definitions/typeString"},
                        "default": {
                            "description": "Default value, checked against the type. Write "
                            'decimals as strings ("0.00").'
                        },
                        "doc": {"type": "string", "description": "Documentation of the field."},
                        "aliases": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                            "description": "Former names, so readers of old data still find "
                            "the field.",
                        },
                    },
                    ("type",),
                ),
                "patternProperties": {
                    r"^ *[0-9]+ *\)[ >?]*$": {
                        "type": "null",
                        "description": "The scale of an unquoted decimal(P,S) in {...}; "
                        'quoting the type ("decimal(18,2)") avoids this.',
                    }
                },
                "allOf": _default_rules(),
            },
        ]
    }
    fields = {
        "type": ["object", "null"],
        "propertyNames": field_name,
        "additionalProperties": {"$ref": "#/definitions/field"},
        "description": "Fields: name: TYPE or name: {type, default, doc, aliases}.",
    }
    symbol = {
        "type": "string",
        "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
        "not": {"enum": sorted(keyword.kwlist)},
    }
    kinds: dict[str, Schema] = {
        "record": {
            "doc": {"type": "string", "description": "Documentation of the record."},
            "fields": {"$ref": "#/definitions/fields"},
        },
        "enum": {
            "doc": {"type": "string", "description": "Documentation of the enum."},
            "enum": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": symbol,
                "description": "The symbols: Avro names, not Python keywords, not starting "
                "with '_'.",
            },
            "default": {
                **symbol,
                "description": "Avro enum default: the symbol old readers use for symbols "
                "they do not know.",
            },
        },
        "fixed": {
            "doc": {"type": "string", "description": "Documentation of the type."},
            "fixed": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_FIXED_SIZE,
                "description": "Size in bytes.",
            },
        },
    }
    kind_key = {"record": "fields", "enum": "enum", "fixed": "fixed"}
    named_type = {
        "oneOf": [
            {
                **_object(keys, kinds.get(kind, {}), (kind_key[kind],)),
                "description": f"A {'fixed-size byte string' if kind == 'fixed' else kind}.",
            }
            for kind, keys in build.TYPE_KEYS.items()
        ]
    }
    pascal = _name(names.PASCAL_CASE, "A PascalCase name (not a Python keyword).")
    expression = {
        "type": ["string", "number", "boolean", "null"],
        "description": "An expression: event.F, state.F, meta.entity_id/version/timestamp/"
        "event_id, literals ('text', numbers, true, false, null, enum symbols), "
        "+ - * / // %, comparisons, and/or/not, in, A if C else B, " + " ".join(FUNCTIONS) + ".",
    }
    event = {
        **_object(
            build.EVENT_KEYS,
            {
                "doc": {"type": "string", "description": "Documentation of the event."},
                "fields": {
                    "$ref": "#/definitions/fields",
                    "description": "The event's fields (not the key: it travels as the "
                    "message key).",
                },
                "fold": {
                    "type": ["array", "null"],
                    "items": {"$ref": "#/definitions/foldStep"},
                    "description": "Steps applied in order to the state.",
                },
                "renamed_from": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Old full names of this event type: its old events are "
                    "read as this event (the schema carries them as Avro aliases).",
                },
                "deprecated": {
                    "type": "boolean",
                    "description": "Retired: old events are still read and folded, new ones "
                    "are never appended.",
                },
            },
        ),
        "type": ["object", "null"],
    }
    upcast = {
        **_object(
            UPCAST_KEYS,
            {
                "from": {
                    "type": "string",
                    "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*@[1-9][0-9]*$",
                    "description": "EventName@N: version N of an event type in the lock.",
                },
                "into": {
                    "type": ["array", "null"],
                    "items": {
                        "anyOf": [
                            {**pascal, "description": "An event given no fields."},
                            {"$ref": "#/definitions/emittedEvent"},
                        ]
                    },
                    "description": "Today's events the old event is read as (none: 'into: "
                    "[]'); expressions read 'event', the old event.",
                },
                "call": {
                    "type": "string",
                    "pattern": _anchored(names.FUNCTION),
                    "description": "Escape hatch instead of 'into': 'package.module:function', "
                    "called with the old event (a dict) -> list of today's events.",
                },
            },
            ("from",),
        ),
        "not": {"required": ["into", "call"]},
        "anyOf": [{"required": ["into"]}, {"required": ["call"]}],
    }
    precondition = {
        "oneOf": [
            {"$ref": "#/definitions/expression"},
            _object(
                ("check", "reason"),
                {
                    "check": {
                        "$ref": "#/definitions/expression",
                        "description": "A boolean expression over command, state and meta.",
                    },
                    "reason": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Why the command is rejected when the check fails.",
                    },
                },
                ("check", "reason"),
            ),
        ]
    }
    command = {
        **_object(
            commands.COMMAND_KEYS,
            {
                "doc": {"type": "string", "description": "Documentation of the command."},
                "fields": {
                    "$ref": "#/definitions/fields",
                    "description": "The command's fields (not the key: it travels as the "
                    "message key; read it as meta.entity_id).",
                },
                "requires": {
                    "type": ["array", "null"],
                    "items": precondition,
                    "description": "Preconditions, checked in order; the first that fails "
                    "rejects the command with its reason.",
                },
                "emits": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "anyOf": [
                            {**pascal, "description": "An event given no fields."},
                            {"$ref": "#/definitions/emittedEvent"},
                        ]
                    },
                    "description": "The events the command causes, in order: '- EventName: "
                    "{FIELD: EXPR}' (or '- EventName' for no fields), each with an optional "
                    "'when'.",
                },
                "decide": {
                    "type": "string",
                    "pattern": _anchored(names.FUNCTION),
                    "description": "Escape hatch instead of 'emits': 'package.module:function', "
                    "called as function(state, command, meta) -> list of events.",
                },
            },
        ),
        "type": ["object", "null"],
        "not": {"required": ["emits", "decide"]},
        "anyOf": [{"required": ["emits"]}, {"required": ["decide"]}],
    }
    emitted_event = {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "when": {
                "$ref": "#/definitions/expression",
                "description": "Emit this event only when the boolean expression holds.",
            }
        },
        "propertyNames": {"pattern": _anchored(f"{names.PASCAL_CASE}|when")},
        "additionalProperties": {
            "type": ["object", "null"],
            "additionalProperties": {"$ref": "#/definitions/expression"},
            "description": "The event's fields: FIELD: EXPR for every field without a default.",
        },
    }
    top: dict[str, Schema] = {
        "entity": {
            **pascal,
            "description": "PascalCase name of the entity, e.g. Account. The state record is "
            "named <entity>State.",
        },
        "namespace": {
            "type": "string",
            "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
            "description": "Avro namespace of every record, enum and fixed of this file, "
            "e.g. com.example.bank.",
        },
        "doc": {
            "type": "string",
            "description": "Documentation; goes into Avro docs and Python docstrings.",
        },
        "key": {
            **field_name,
            "description": "The state field that identifies an instance. It is set from the "
            "entity id and is also the Kafka message key.",
        },
        "topic": {
            "type": "string",
            "pattern": _anchored(names.TOPIC),
            "maxLength": names.MAX_TOPIC,
            "not": {"enum": [".", ".."]},
            "description": "Kafka topic of the events. Default: "
            "<namespace>.<entity in snake_case>.",
        },
        "compatibility": {
            "enum": [mode.value for mode in Mode],
            "description": "Schema registry compatibility level of this entity's subjects "
            "(default: the registry's).",
        },
        "types": {
            "type": ["object", "null"],
            "propertyNames": pascal,
            "additionalProperties": {"$ref": "#/definitions/namedType"},
            "description": "Named types: usable by short name in this file and by full name "
            "(namespace.Name) in other files.",
        },
        "state": {
            **_object(
                build.STATE_KEYS,
                {
                    "doc": {"type": "string", "description": "Documentation of the state."},
                    "fields": {
                        "$ref": "#/definitions/fields",
                        "description": "State fields. Every field except the key needs a "
                        "default or an optional type (T?).",
                    },
                    "invariants": {
                        "type": ["array", "null"],
                        "items": {"$ref": "#/definitions/expression"},
                        "description": "Boolean expressions over 'state' that must hold after "
                        "every event.",
                    },
                },
                ("fields",),
            ),
            "description": "The state every event folds into.",
        },
        "events": {
            "type": ["object", "null"],
            "propertyNames": pascal,
            "additionalProperties": {"$ref": "#/definitions/event"},
            "description": "Event types, in PascalCase. An event may be empty.",
        },
        "commands": {
            "type": ["object", "null"],
            "propertyNames": pascal,
            "additionalProperties": {"$ref": "#/definitions/command"},
            "description": "Command types, in PascalCase: what the entity accepts and the "
            "events each one causes (see docs/definitions.md#commands).",
        },
        "upcasts": {
            "type": ["array", "null"],
            "items": upcast,
            "description": "How events written with old versions (in the lock) are read "
            "today (see docs/definitions.md#evolution).",
        },
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://esgen.dev/definition.schema.json",
        "title": "esgen entity definition",
        "description": "One entity of an event-sourced domain: its state, its events and how "
        "each event folds into the state. See docs/definitions.md. Generated by "
        "esgen.dsl.editor_schema from the loader's tables: do not edit.",
        **_object(build.ENTITY_KEYS, top, build.REQUIRED_KEYS),
        "definitions": {
            "typeString": {
                "type": "string",
                "pattern": _type_pattern(),
                "description": " ".join((*types.BUILTIN_SPELLINGS, "T?"))
                + " or a named type (short name of this file, full name of another file).",
            },
            "field": field,
            "fields": fields,
            "namedType": named_type,
            "event": event,
            "command": command,
            "emittedEvent": emitted_event,
            "foldStep": {
                "oneOf": [_fold_step(op) for op in folds.OPS],
                "description": f"One of {', '.join(folds.OPS)}; optionally with when.",
            },
            "expression": expression,
        },
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m esgen.dsl.editor_schema: rewrite the committed file
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_PATH}\n")
