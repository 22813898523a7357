"""Where downloads are cached and where ``esgen dev up`` keeps its state.

``ESGEN_CACHE_DIR`` overrides the cache root (default ``~/.cache/esgen``, or
``$XDG_CACHE_HOME/esgen``). Downloads live under ``<root>/dist``; the services that
``esgen dev up`` starts keep their config, data, logs and state under ``<root>/dev``
(the cluster's nodes in ``<root>/dev/cluster/node-N``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def cache_root() -> Path:
    explicit = os.environ.get("ESGEN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "esgen"


def dist_dir() -> Path:
    """Resolved service distributions, one folder per service and version."""
    return cache_root() / "dist"


def dev_dir() -> Path:
    """Home of the services started by ``esgen dev up``."""
    return cache_root() / "dev"


def fresh(folder: Path) -> Path:
    """``folder`` emptied (created when missing): services start from a clean work folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
