"""Generator-side Schema Registry plumbing: connect (with auth), register, read history.

confluent-kafka's ``SchemaRegistryClient`` does the HTTP; this package adds what esgen needs
on top: credentials from the environment, errors as plain messages with the registry's own
code, the subject plan of a project, idempotent registration and effective-level checks.
"""

from esgen.registry.connection import Registry, connect
from esgen.registry.errors import RegistryError, RegistryUnavailable

__all__ = ["Registry", "RegistryError", "RegistryUnavailable", "connect"]
