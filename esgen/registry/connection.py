"""A connection to a Confluent-compatible registry: the runtime's client, by URL.

The client itself (credentials from the URL or the environment, timeouts, the one schema
text, errors) is :mod:`esgen.runtime.registry`, shared with the event store, so what
``esgen register`` registers is exactly what the store looks up.
"""

from __future__ import annotations

from collections.abc import Mapping

from esgen.runtime.errors import ConfigurationError, RegistryError
from esgen.runtime.registry import Reference, RegistryClient, client_config, redact

Registry = RegistryClient

__all__ = ["Reference", "Registry", "client_config", "connect", "redact"]


def connect(url: str, environ: Mapping[str, str] | None = None) -> Registry:
    """A registry client for ``url`` (credentials from it or from the environment); a
    configuration that cannot work (both basic auth and a token) is a ``RegistryError``."""
    try:
        return RegistryClient.connect(url, environ=environ)
    except ConfigurationError as exc:
        raise RegistryError(f"connect to {redact(url)}: {exc}", action="connect") from None
