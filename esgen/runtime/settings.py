"""Where esgen finds Kafka and the schema registry: one rule for every entry point.

``EventStore``, ``ProjectionRunner``, ``esgen replay``/``tail``, ``esgen register`` and
``esgen check --registry`` all take each setting from the first of:

1. the explicit argument (``EventStore(bootstrap=...)``, ``--bootstrap``, ``--registry``);
2. the environment: ``ESGEN_BOOTSTRAP``, ``ESGEN_REGISTRY_URL``;
3. ``[tool.esgen]`` of the nearest ``pyproject.toml`` (or ``esgen.toml``) from the working
   directory upwards: ``bootstrap = "host:9092"``, ``registry = "http://host:8081"``.

Registry credentials are never flags or file settings: ``user:pass@`` in the URL, else
``ESGEN_REGISTRY_USER``/``ESGEN_REGISTRY_PASSWORD``, or ``ESGEN_REGISTRY_TOKEN`` (plus
``ESGEN_REGISTRY_LOGICAL_CLUSTER``), whichever source the URL came from (see
:mod:`esgen.runtime.registry`). Kafka security settings (``security.protocol``,
``sasl.*``, ``ssl.*``) go in ``kafka_config``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from esgen.runtime.errors import ConfigurationError

ENV_BOOTSTRAP = "ESGEN_BOOTSTRAP"
ENV_REGISTRY = "ESGEN_REGISTRY_URL"


def project_settings(start: Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """``([tool.esgen] as a dict, the file)`` nearest to ``start`` (default: the working
    directory), looking upwards; ``({}, None)`` when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = _read(pyproject).get("tool", {}).get("esgen")
            if isinstance(data, dict):
                return data, pyproject
        esgen_toml = folder / "esgen.toml"
        if esgen_toml.is_file():
            return _read(esgen_toml), esgen_toml
    return {}, None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read configuration: {exc}") from exc


def setting(
    key: str,
    env: str,
    given: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> str | None:
    """The value of one setting: ``given``, else ``$env``, else ``[tool.esgen] key``."""
    if given:
        return given
    value = (os.environ if environ is None else environ).get(env)
    if value:
        return value
    data, source = project_settings(start)
    found = data.get(key)
    if found is None or found == "":
        return None
    if not isinstance(found, str):
        raise ConfigurationError(f"{source}: [tool.esgen] {key} must be a string, got {found!r}")
    return found


def bootstrap_servers(
    given: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> str:
    """Kafka's bootstrap servers by the rule above; ``ConfigurationError`` when unset."""
    value = setting("bootstrap", ENV_BOOTSTRAP, given, environ=environ, start=start)
    if value is None:
        raise ConfigurationError(
            f"no Kafka bootstrap servers: pass bootstrap=..., set {ENV_BOOTSTRAP} or "
            '[tool.esgen] bootstrap = "host:9092"'
        )
    return value


def registry_setting(
    given: Any = None,
    *,
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> Any:
    """The registry by the rule above: ``given`` when it is a config dict or a client,
    else a URL; ``ConfigurationError`` when unset."""
    if given is not None and not isinstance(given, str):
        return given
    value = setting("registry", ENV_REGISTRY, given, environ=environ, start=start)
    if value is None:
        raise ConfigurationError(
            f"no schema registry: pass registry=..., set {ENV_REGISTRY} or "
            '[tool.esgen] registry = "http://host:8081"'
        )
    return value
