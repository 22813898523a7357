"""Registry failures: the runtime's one error type (and its "no answer" subclass).

Re-exported here so the generator's commands and the runtime catch the same classes.
"""

from __future__ import annotations

from esgen.runtime.errors import RegistryError, RegistryUnavailable

__all__ = ["RegistryError", "RegistryUnavailable"]
