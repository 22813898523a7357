"""SIGTERM and SIGINT as a request to stop: finish the work in hand, then return.

A long-running loop (the projection runner, ``esgen tail``, the command processor) runs
inside :class:`StopSignals`::

    with StopSignals(runner.stop) as signals:
        runner.loop()  # checks the flag stop() sets after every batch
    if signals.received is not None:
        ...  # stopped by signals.received.name ("SIGTERM" or "SIGINT")

While the block runs, the first SIGTERM or SIGINT calls ``stop()`` and is remembered in
``received``; the loop notices at its next check, finishes its batch, commits and closes
(a consumer leaving its group hands its partitions over at once instead of after the
session timeout). ``stop`` runs in the main thread between two bytecodes, possibly in
the middle of the loop: it must only set a flag. A second signal gets the behaviour the
signal had before (SIGINT: ``KeyboardInterrupt``; SIGTERM: the process ends), for when
the graceful stop itself hangs. Leaving the block restores the previous handlers.

Python runs signal handlers in the main thread, and only the main thread may install
them: entered in any other thread, :class:`StopSignals` does nothing (``active`` is
False) and the loop is stopped by whoever owns that thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """While entered (in the main thread), ``signals`` call ``stop`` instead of ending the
    process; see the module docstring."""

    def __init__(
        self, stop: Callable[[], None], signals: Iterable[signal.Signals] = STOP_SIGNALS
    ) -> None:
        self._stop = stop
        self._signals = tuple(signals)
        self._previous: dict[signal.Signals, Any] = {}
        self.received: signal.Signals | None = None
        """The first signal that asked to stop, or None."""

    @property
    def active(self) -> bool:
        """Whether the handlers are installed (entered, in the main thread)."""
        return bool(self._previous)

    def __enter__(self) -> StopSignals:
        self.received = None
        if threading.current_thread() is threading.main_thread():
            for signum in self._signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._restore()

    def _restore(self) -> None:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            # None: a handler installed from C that Python cannot name; the default is safest.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)
            self._stop()
            return
        # Asked twice: the graceful stop is not wanted (or hangs); behave as before.
        previous = self._previous.get(signal.Signals(signum), signal.SIG_DFL)
        self._restore()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.raise_signal(signum)
