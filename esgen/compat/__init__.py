"""Offline Avro compatibility checking with Confluent Schema Registry's semantics.

``check(new, previous, mode)`` parses plain Avro schema JSON (no generator, no runtime), checks
that the new schema is valid on its own the way Java Avro does, then runs Avro schema
resolution against the previous versions the mode selects, and returns a ``Report`` whose
``problems`` explain each failure with a stable rule id (see ``esgen.compat.rules``).
"""

from __future__ import annotations

from esgen.compat.check import check
from esgen.compat.dialect import AVRO_1_11, AVRO_1_12, DIALECTS, STRICT, Dialect
from esgen.compat.report import Problem, Report
from esgen.compat.rules import ALL_RULES, RULES_BY_ID, Rule
from esgen.model import Direction, Mode

__all__ = [
    "ALL_RULES",
    "AVRO_1_11",
    "AVRO_1_12",
    "DIALECTS",
    "RULES_BY_ID",
    "STRICT",
    "Dialect",
    "Direction",
    "Mode",
    "Problem",
    "Report",
    "Rule",
    "check",
]
