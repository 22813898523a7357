"""Finding a Java runtime new enough for a service.

Kafka 4 needs Java 17+; Apicurio Registry 3.3 is compiled for Java 21+. The first JVM
that is new enough wins, looked up in this order: ``ESGEN_JAVA_HOME``, ``JAVA_HOME``,
the ``java`` on ``PATH``, then every JDK under ``/usr/lib/jvm``, ``/usr/local/lib/jvm``,
``/opt/java`` and ``~/.sdkman/candidates/java`` (newest first).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from esgen.dev.errors import ServiceError


def _major(version: str) -> int | None:
    match = re.match(r"(\d+)(?:\.(\d+))?", version)
    if not match:
        return None
    first = int(match.group(1))
    if first == 1 and match.group(2):  # 1.8 -> 8
        return int(match.group(2))
    return first


@cache
def java_major(home: Path) -> int | None:
    """The feature version of the JDK or JRE at ``home``, or None when it is not one."""
    exe = home / "bin" / "java"
    if not exe.is_file():
        return None
    release = home / "release"
    if release.is_file():
        for line in release.read_text(errors="replace").splitlines():
            if line.startswith("JAVA_VERSION="):
                return _major(line.split("=", 1)[1].strip().strip('"'))
    try:
        out = subprocess.run(
            [str(exe), "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "([^"]+)"', out)
    return _major(match.group(1)) if match else None


def _candidates() -> list[Path]:
    homes: list[Path] = []
    for var in ("ESGEN_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            homes.append(Path(os.environ[var]))
    on_path = shutil.which("java")
    if on_path:
        homes.append(Path(os.path.realpath(on_path)).parent.parent)
    scanned: list[tuple[int, Path]] = []
    for root in (
        Path("/usr/lib/jvm"),
        Path("/usr/local/lib/jvm"),
        Path("/opt/java"),
        Path.home() / ".sdkman" / "candidates" / "java",
    ):
        if root.is_dir():
            for child in root.iterdir():
                major = java_major(child) if child.is_dir() else None
                if major is not None:
                    scanned.append((major, child))
    homes.extend(home for _, home in sorted(scanned, key=lambda pair: -pair[0]))
    unique: list[Path] = []
    for home in homes:
        resolved = home.resolve()
        if resolved not in unique:
            unique.append(resolved)
    return unique


def find_java(min_major: int, purpose: str) -> Path:
    """The ``java`` executable of the first JVM with feature version >= ``min_major``."""
    seen: list[str] = []
    for home in _candidates():
        major = java_major(home)
        seen.append(f"{home} ({major})")
        if major is not None and major >= min_major:
            return home / "bin" / "java"
    raise ServiceError(
        f"{purpose} needs Java {min_major} or newer; found: {', '.join(seen) or 'no Java'}. "
        f"Install one or point ESGEN_JAVA_HOME at it."
    )
