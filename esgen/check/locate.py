"""Point a checker path (``com.example.bank.Account.balance[]``) at the YAML line it came from."""

from __future__ import annotations

import re

from esgen.errors import Location
from esgen.model import NamedRef, NamedType, RecordDef, TypeRef, innermost

# ``.name`` field steps; ``[]``, ``{}`` and ``<branch>`` steps go inside a field's type.
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[\]|\{\}|<[^>]*>")


def _record_of(types: dict[str, NamedType], type_: TypeRef) -> RecordDef | None:
    type_ = innermost(type_)
    if isinstance(type_, NamedRef):
        named = types.get(type_.full_name)
        if isinstance(named, RecordDef):
            return named
    return None


def locate(types: dict[str, NamedType], full_name: str, path: str) -> Location | None:
    """The deepest definition node that ``path`` (rooted at ``full_name``) still names.

    ``types`` is ``project.all_types()``.
    """
    named = types.get(full_name)
    if named is None:
        return None
    location = named.location
    if not path.startswith(full_name):
        return location
    record: RecordDef | None = named if isinstance(named, RecordDef) else None
    for match in _STEP.finditer(path, len(full_name)):
        field_name = match.group(1)
        if field_name is None:
            continue  # a container or branch step: stay on the field that holds it
        if record is None:
            break
        found = record.field(field_name)
        if found is None:
            break  # a removed field: the record itself is the closest line
        location = found.location
        record = _record_of(types, found.type)
    return location
