"""``esgen.runtime`` imports without services and without the generator's dependencies."""

from __future__ import annotations

import subprocess
import sys


def test_runtime_imports_no_generator_dependencies_and_needs_no_services() -> None:
    code = (
        "import sys, esgen.runtime, esgen.runtime.testing\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'jinja2', 'click', 'yaml'}"
        " or (m.startswith('esgen.') and m.split('.')[1] not in {'runtime'}))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "", "ESGEN_BOOTSTRAP": "127.0.0.1:1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
