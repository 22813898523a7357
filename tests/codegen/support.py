"""Paths shared by the code generator tests (imported as ``tests.codegen.support``).

Each folder under ``cases/`` holds ``schemas/`` (definitions) and ``expected/gen_<case>/``
(the exact output). ``ESGEN_UPDATE_EXPECTED=1 pytest tests/codegen`` rewrites them.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "schemas").is_dir())

for case in CASE_NAMES:  # so tests can import gen_<case>.* like users import theirs
    sys.path.insert(0, str(CASES / case / "expected"))
