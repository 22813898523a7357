"""Hypothesis strategies for values of any model type, built from the definitions.

Values are what users put into generated classes: aware UTC datetimes for
``timestamp-*`` (at the type's precision), naive ones for ``local-timestamp-*``,
Decimals within precision and scale, UUIDs, nested records, lists, maps, None.
"""

from __future__ import annotations

import datetime
import decimal
import enum
from typing import Any

from hypothesis import strategies as st

from esgen.model import (
    ArrayType,
    DecimalType,
    EnumDef,
    FixedDef,
    Logical,
    MapType,
    NamedRef,
    NamedType,
    OptionalType,
    Primitive,
    RecordDef,
    TypeRef,
)

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
# Avro timestamps are 64-bit micro/milliseconds; Python datetimes span years 1..9999.
_MOMENTS = st.datetimes(
    min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)
)


def _truncate(moment: datetime.datetime, millis: bool) -> datetime.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000) if millis else moment


def for_type(t: TypeRef, types: dict[str, NamedType], classes: dict[str, Any]) -> Any:
    """A strategy for Python values of ``t``; ``classes`` maps full names to classes."""
    if isinstance(t, OptionalType):
        return st.none() | for_type(t.inner, types, classes)
    if isinstance(t, Primitive):
        return {
            "boolean": st.booleans(),
            "int": st.integers(*_INT32),
            "long": st.integers(*_INT64),
            "float": st.floats(width=32, allow_nan=False),
            "double": st.floats(allow_nan=False),
            "string": st.text(),
            "bytes": st.binary(),
        }[t.name]
    if isinstance(t, DecimalType):
        limit = decimal.Decimal(10) ** (t.precision - t.scale) - decimal.Decimal(10) ** -t.scale
        return st.decimals(min_value=-limit, max_value=limit, places=t.scale, allow_nan=False)
    if isinstance(t, Logical):
        name = t.name
        if name == "uuid":
            return st.uuids()
        if name == "date":
            return st.dates()
        if name.startswith("time-"):
            return st.times().map(
                lambda v: (
                    v.replace(microsecond=v.microsecond // 1000 * 1000)
                    if name == "time-millis"
                    else v
                )
            )
        millis = name.endswith("millis")
        if name.startswith("local-"):
            return _MOMENTS.map(lambda m: _truncate(m, millis))
        return _MOMENTS.map(lambda m: _truncate(m, millis).replace(tzinfo=datetime.UTC))
    if isinstance(t, ArrayType):
        return st.lists(for_type(t.items, types, classes), max_size=4)
    if isinstance(t, MapType):
        return st.dictionaries(st.text(max_size=8), for_type(t.values, types, classes), max_size=4)
    assert isinstance(t, NamedRef)
    named = types[t.full_name]
    if isinstance(named, FixedDef):
        return st.binary(min_size=named.size, max_size=named.size)
    cls = classes[named.full_name]
    if isinstance(named, EnumDef):
        assert issubclass(cls, enum.Enum)
        return st.sampled_from(list(cls))
    return for_record(named, types, classes)


def for_record(record: RecordDef, types: dict[str, NamedType], classes: dict[str, Any]) -> Any:
    cls = classes[record.full_name]
    fields = {f.name: for_type(f.type, types, classes) for f in record.fields}
    return st.builds(cls, **fields)
