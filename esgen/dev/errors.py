"""The one error type of service management: its message says what failed and why."""

from __future__ import annotations


class ServiceError(RuntimeError):
    """A service could not be resolved, started, reached or stopped."""
