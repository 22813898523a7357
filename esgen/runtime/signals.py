"""Stopping long-running loops cleanly on SIGTERM and SIGINT.

Processes that run until told to stop (the command processor, projection runners)
finish their batch, commit, leave their consumer group and return when the process
manager sends SIGTERM (or the user presses Ctrl-C). :func:`stop_on_signals` installs
handlers that call the loop's ``stop()`` while the loop runs::

    with stop_on_signals(processor.stop):
        processor.run()

A second signal while stopping is not caught: the previous handler gets it (by default
SIGTERM ends the process and SIGINT raises ``KeyboardInterrupt``: Ctrl-C twice).
Handlers can only be installed in the main thread; elsewhere (a loop run in a worker
thread) nothing is installed and the caller's ``stop()`` is the way to stop. The previous
handlers are put back on exit.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(
    stop: Callable[[], None], signals: tuple[signal.Signals, ...] = STOP_SIGNALS
) -> Iterator[list[int]]:
    """While inside, the first of ``signals`` calls ``stop()``; yields the list of
    signals received (empty if none), so the caller can tell a signalled stop."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous: dict[signal.Signals, Any] = {}

    def handle(number: int, _frame: FrameType | None) -> None:
        received.append(number)
        for sig, handler in previous.items():  # the next one is not caught
            signal.signal(sig, handler)
        stop()

    for sig in signals:
        previous[sig] = signal.signal(sig, handle)
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
