"""Registry failures as messages a user can act on (no traceback reaches the CLI).

Both are :class:`esgen.runtime.RegistryError`, so one ``except`` serves the generator's
commands and the runtime alike.
"""

from __future__ import annotations

from esgen.runtime import errors as runtime_errors


class RegistryError(runtime_errors.RegistryError):
    """The registry answered with an error: its HTTP status, error code and message."""

    def __init__(self, action: str, status: int, code: int, message: str) -> None:
        self.action = action
        self.status = status
        self.code = code
        self.registry_message = message
        super().__init__(
            f"{action}: the registry answered HTTP {status}, error code {code}: "
            f"{message or '(no message)'}"
        )


class RegistryUnavailable(runtime_errors.RegistryError):
    """The registry could not be reached at all."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"cannot reach the schema registry at {url}: {reason}. Is it running? "
            "(`esgen dev status` for the local one)"
        )
