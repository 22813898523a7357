"""Generated modules import only ``esgen.runtime``, the standard library and each other,
and work in an application that has none of the generator's dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.codegen.support import REPO

ALLOWED_ROOTS = set(sys.stdlib_module_names) | {"generated", "__future__"}


def test_only_runtime_and_stdlib_imports() -> None:
    for path in (REPO / "generated").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name == "esgen.runtime" or name.split(".")[0] in ALLOWED_ROOTS, (
                    f"{path}: imports {name}"
                )


def test_importable_without_generator_dependencies() -> None:
    # Blocking a module in sys.modules makes any import of it fail.
    script = (
        "import sys\n"
        "for name in ('jinja2', 'click', 'yaml', 'esgen.codegen', 'esgen.dsl', 'esgen.cli'):\n"
        "    sys.modules[name] = None\n"
        "from generated.shop import order\n"
        "state = order.replay('o', [order.NoteAdded(topic='a', text='b')])\n"
        "assert state.notes == {'a': 'b'}, state\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True
    )
    assert result.stdout.strip() == "ok", result.stderr
