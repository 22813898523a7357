"""Child processes started together: each gets ready, all are let go at once.

A child is ``python -m MODULE ARGS... READY GO``: it touches READY when it is set up, waits
for GO to exist, does its work and prints a JSON report as its last line of output.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]


def run_at_once(
    module: str, args: Sequence[str], processes: int, folder: Path, env: dict[str, str]
) -> list[dict[str, Any]]:
    """Start ``processes`` children of ``module``, let them go at once, return their reports."""
    go = folder / "go"
    ready = [folder / f"ready-{n}" for n in range(processes)]
    children = [
        subprocess.Popen(
            [sys.executable, "-m", module, *args, str(ready[n]), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):
            failed = [c for c in children if c.poll() not in (None, 0)]
            assert not failed, failed[0].communicate()[1]
            assert time.monotonic() < deadline, f"the {module} processes did not start"
            time.sleep(0.05)
        go.touch()
        reports = []
        for child in children:
            out, err = child.communicate(timeout=300)
            assert child.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
