"""Project configuration: ``[tool.esgen]`` in pyproject.toml, else ``esgen.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esgen.errors import ConfigError

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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc


def _config(root: Path, source: Path | None, data: dict[str, Any]) -> Config:
    where = (
        f"{source}: [tool.esgen]" if source and source.name == "pyproject.toml" else str(source)
    )
    for key, value in data.items():
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(KNOWN_KEYS)})")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
    output = root / data.get("output", "generated")
    return Config(
        root=root,
        definitions=root / data.get("definitions", "schemas"),
        output=output,
        package=data.get("package", output.name),
        source=source,
        extra={k: v for k, v in data.items() if k not in ("definitions", "output", "package")},
    )
