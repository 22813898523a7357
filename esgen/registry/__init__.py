"""Generator-side Schema Registry plumbing: connect (with auth), register, read history.

The client (HTTP through confluent-kafka's ``SchemaRegistryClient``, credentials from the
environment, timeouts, one schema text, one error type) is the runtime's
:mod:`esgen.runtime.registry`; this package adds what the generator needs on top: the
subject plan of a project, idempotent registration and effective-level checks.
"""

from esgen.registry.connection import Registry, connect
from esgen.registry.errors import RegistryError, RegistryUnavailable

__all__ = ["Registry", "RegistryError", "RegistryUnavailable", "connect"]
