"""Fewer cyclic garbage collections while definitions are loaded or rendered.

Loading and rendering allocate hundreds of thousands of small objects (YAML nodes, parsed
expressions, model records) that all stay alive until the work ends, so every collection of
the older generations walks them again for nothing: with Python's default thresholds that
was a third of the time of loading 1,000 event types. Inside :func:`fewer_collections` the
first threshold is raised (as mypy does for the same reason); collection still runs, so the
memory of a pathological input stays bounded. Nested and concurrent uses restore the
previous thresholds when the last one leaves.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_THRESHOLD = 200_000  # allocations between young collections (default 700)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the first collection threshold while the block runs (or the decorated
    function); the caller's thresholds come back when the last user leaves."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(_THRESHOLD, _saved[0]), *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
