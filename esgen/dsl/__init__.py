"""The definition language: YAML files -> the resolved, type-checked ``esgen.model``.

``load_project(folder)`` is the one entry point; it raises ``DefinitionErrors`` carrying
every problem of every file.
"""

from __future__ import annotations

from esgen.dsl.loader import load_project

__all__ = ["load_project"]
