"""Paths shared by the code generator tests (imported as ``tests.codegen.support``).

Each folder under ``cases/`` holds ``schemas/`` (definitions), ``expected/gen_<case>/``
(the exact output) and, where its upcasts need old schemas, ``schemas.lock/``.
``ESGEN_UPDATE_EXPECTED=1 pytest tests/codegen`` rewrites the expected output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from esgen.check.lock import load_definitions
from esgen.model import Project

REPO = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "schemas").is_dir())

for case in CASE_NAMES:  # so tests can import gen_<case>.* like users import theirs
    sys.path.insert(0, str(CASES / case / "expected"))


def load_case(schemas: Path) -> Project:
    """The definitions of ``schemas``, upcasts checked against the ``schemas.lock`` beside."""
    return load_definitions(schemas, schemas.parent / "schemas.lock")
