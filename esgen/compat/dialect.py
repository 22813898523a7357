# ruff: noqa: E501  (the dialect table below is one Markdown row per dialect)
"""Which Java Avro parser the validity checks imitate.

Compatibility verdicts are the same for every Avro Java version since 1.9; what differs is
which schemas the parser accepts on their own:

| dialect | union default | bytes/fixed/enum default | namespaces | forward references | names |
| --- | --- | --- | --- | --- | --- |
| ``strict`` (default) | first branch | code points <= 255, exact fixed size, enum symbol | checked | rejected | ASCII; no primitive name in any namespace |
| ``avro-1.11`` (Confluent Platform 7.x) | first branch | any string | not checked | rejected | Unicode letters; ``x.int`` allowed |
| ``avro-1.12`` (Confluent Platform 8, Apicurio 3) | any branch | any string | checked | allowed | Unicode letters; ``x.int`` allowed |

``strict`` is what the Avro specification says and what every Avro implementation can decode;
a schema it accepts is accepted by all three. Use a Java dialect to predict one registry's
verdict exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    union_default_any_branch: bool
    strict_string_defaults: bool  # bytes/fixed: code points <= 255 (fixed: exact size); enum
    validate_namespaces: bool
    forward_references: bool
    # The specification's names ([A-Za-z_][A-Za-z0-9_]*, and "primitive type names may not be
    # defined in any namespace"), else Java's (Character.isLetter; only the full name ``int``
    # is refused, so ``x.int`` passes).
    spec_names: bool

    def __str__(self) -> str:
        return self.name


STRICT = Dialect("strict", False, True, True, False, True)
AVRO_1_11 = Dialect("avro-1.11", False, False, False, False, False)
AVRO_1_12 = Dialect("avro-1.12", True, False, True, True, False)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (STRICT, AVRO_1_11, AVRO_1_12)}


def get_dialect(value: Dialect | str) -> Dialect:
    if isinstance(value, Dialect):
        return value
    try:
        return DIALECTS[value]
    except KeyError:
        choices = ", ".join(DIALECTS)
        raise ValueError(f"unknown dialect {value!r} (choose from {choices})") from None
