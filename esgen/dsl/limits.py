"""How big and how deep a definition may be: each limit in one place, documented.

Real definitions stay far below every limit. They exist so that no input, however
hostile, makes validation or generation fail with anything but a located error: past
them Python's recursion limit, its integer-to-text limit or a file system's name limit
would be hit somewhere later (in the checker, the code generator or the compiler of the
generated module). ``docs/definitions.md`` lists them.
"""

from __future__ import annotations

# Mappings and lists inside each other in one file (a definition uses about 8).
MAX_YAML_DEPTH = 64
# array<...>, map<...> and ? inside each other in one type (array<map<string?>> is 3).
MAX_TYPE_DEPTH = 32
# Operators, calls and conditionals inside each other in one expression: a chain
# ``a + b + c`` nests one level per operator.
MAX_EXPRESSION_DEPTH = 100
# Characters of one expression (the generated code is one line per expression part).
MAX_EXPRESSION_LENGTH = 10_000
# Digits of a number written in a definition: more than any Avro type holds (a double is
# at most 309 digits before the point), far below Python's own 4,300.
MAX_NUMBER_DIGITS = 400
# A file name on common file systems (ext4, APFS, NTFS): a generated ``.avsc`` is named
# after the full name of its type.
MAX_FILE_NAME_BYTES = 255
# decimal(P,S): generated folds compute with Python's decimal context, exact to 28 digits.
MAX_DECIMAL_PRECISION = 28
# The size of a fixed type: Avro Java keeps it in an int.
MAX_FIXED_SIZE = 2**31 - 1


def too_deep(what: str, limit: int) -> str:
    """The message for input past a depth limit."""
    return f"{what} is nested too deeply (limit {limit} levels)"
