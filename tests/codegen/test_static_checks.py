"""Generated code passes mypy --strict, ruff check and ruff format --check as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.codegen.support import CASE_NAMES, CASES, REPO

# Docs and string defaults are the definition's own text, kept as written: ruff's rules
# against letters that look like ASCII ones (RUF001, RUF002) would judge the user's prose.
RULES = ["--select", "E,F,W,I,UP,B,SIM,RUF,N,C4,PIE", "--ignore", "RUF001,RUF002"]

# (folder that holds the package, package name)
TARGETS = [(REPO, "generated")] + [
    (CASES / case / "expected", f"gen_{case}") for case in CASE_NAMES
]
IDS = ["example", *CASE_NAMES]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache new to this run, shared by its mypy runs: the standard library and esgen
    are checked once, not once per package (6 s -> about 1 s a package)."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.parametrize(("folder", "package"), TARGETS, ids=IDS)
def test_mypy_strict(folder: Path, package: str, mypy_cache: Path) -> None:
    env = {**os.environ, "MYPYPATH": os.pathsep.join([str(folder), str(REPO)])}
    _run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(mypy_cache), "-p", package],
        cwd=folder,
        env=env,
    )


@pytest.mark.parametrize(("folder", "package"), TARGETS, ids=IDS)
def test_ruff_check_and_format(folder: Path, package: str) -> None:
    config = [
        "--isolated",
        "--config",
        'lint.isort.known-third-party=["esgen"]',
        "--config",
        f'lint.isort.known-first-party=["{package}"]',
    ]
    _run([sys.executable, "-m", "ruff", "check", *config, *RULES, package], folder)
    _run([sys.executable, "-m", "ruff", "format", "--isolated", "--check", package], folder)
