"""Project configuration: ``[tool.esgen]`` in pyproject.toml, else ``esgen.toml``.

Every problem is a ``ConfigError`` (a usage error, exit 2) that names the file: a file
that is not UTF-8 TOML, an unknown key, a value that is not a string, a ``package`` that
is not a Python import name (it is written into the generated ``import`` statements).
"""

from __future__ import annotations

import keyword
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esgen.errors import ConfigError, quote

KNOWN_KEYS = (
    "definitions",
    "output",
    "package",
    "registry",
    "bootstrap",  # read by the runtime (esgen.runtime.settings)
    "subject_strategy",
    "lock",
)


@dataclass(frozen=True)
class Config:
    root: Path  # folder of the configuration file (or the working directory)
    definitions: Path
    output: Path
    package: str
    source: Path | None  # the file the settings came from
    extra: dict[str, Any]  # keys other commands read (registry, lock, ...)

    @property
    def lock(self) -> Path:
        """The lock folder (``esgen lock``): ``lock``, else ``schemas.lock``."""
        return self.root / str(self.extra.get("lock", "schemas.lock"))


def load_config(start: Path | None = None) -> Config:
    """Find the configuration from ``start`` (default: the working directory) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = _read_toml(pyproject).get("tool", {}).get("esgen")
            if isinstance(data, dict):
                return _config(folder, pyproject, data)
        esgen_toml = folder / "esgen.toml"
        if esgen_toml.is_file():
            return _config(folder, esgen_toml, _read_toml(esgen_toml))
    return _config(here, None, {})


def package_problem(name: str) -> str | None:
    """Why ``name`` cannot be the import name of the generated package (None if it can)."""
    parts = name.split(".")
    if not all(part.isidentifier() and part.isascii() for part in parts):
        return (
            f"package {quote(name)} is not a Python import name (dot-separated names of "
            "letters, digits and '_')"
        )
    if any(keyword.iskeyword(part) for part in parts):
        return f"package {quote(name)} contains a Python keyword"
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read configuration: the file is not UTF-8") from None
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        # ValueError: an integer too long for Python to convert
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: cannot read configuration: nested too deeply") from None


def _config(root: Path, source: Path | None, data: dict[str, Any]) -> Config:
    where = (
        f"{source}: [tool.esgen]" if source and source.name == "pyproject.toml" else str(source)
    )
    for key, value in data.items():
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(KNOWN_KEYS)})")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string, got {type(value).__name__}")
    output = root / data.get("output", "generated")
    package = data.get("package", output.name)
    if problem := package_problem(package):
        raise ConfigError(f"{where}: {problem}")
    return Config(
        root=root,
        definitions=root / data.get("definitions", "schemas"),
        output=output,
        package=package,
        source=source,
        extra={k: v for k, v in data.items() if k not in ("definitions", "output", "package")},
    )
