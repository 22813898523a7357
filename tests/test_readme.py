"""The README's Python examples run, and its set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
CI = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, "the README has no Python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command() -> None:
    setup = re.search(r"## Set-up.*?```bash\n(.*?)```", README, flags=re.DOTALL)
    assert setup is not None
    install, test = setup.group(1).strip().splitlines()
    assert "esgen generate" in install
    assert test.strip() in CI.splitlines()
