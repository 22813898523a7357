"""Escape hatches (the ``call:`` fold step, ``decide:`` of a command): user functions named
as ``package.module:function``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

from esgen.runtime.errors import EsgenError


@cache
def resolve_function(spec: str) -> Callable[..., Any]:
    """Import ``package.module:function`` once and return the function.

    Resolved lazily (on the first event that needs it) so that a rules module may
    import the generated module it serves without an import cycle.
    """
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise EsgenError(f"escape hatch {spec!r}: cannot import it: {exc}") from exc
    if not callable(function):
        raise EsgenError(f"escape hatch {spec!r}: {attribute} is not callable")
    return function  # type: ignore[no-any-return]
