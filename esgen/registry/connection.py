"""A connection to a Confluent-compatible registry, credentials taken from the environment.

Basic auth: ``user:pass@`` in the URL, or ``ESGEN_REGISTRY_USER``/``ESGEN_REGISTRY_PASSWORD``.
Bearer: ``ESGEN_REGISTRY_TOKEN`` (plus ``ESGEN_REGISTRY_LOGICAL_CLUSTER`` for Confluent Cloud;
confluent-kafka always sends that header with a bearer token).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from confluent_kafka.schema_registry import (
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    SchemaRegistryError,
)

from esgen.registry.errors import RegistryError, RegistryUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class Reference:
    """A schema reference: the name used inside the schema, and where it is registered."""

    name: str
    subject: str
    version: int


def client_config(url: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``SchemaRegistryClient`` configuration for ``url`` and the environment."""
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    conf: dict[str, Any] = {"max.retries": 1, "retries.wait.ms": 200, "timeout": 20}
    user = env.get("ESGEN_REGISTRY_USER")
    password = env.get("ESGEN_REGISTRY_PASSWORD", "")
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    conf["url"] = urlunsplit(parts)
    token = env.get("ESGEN_REGISTRY_TOKEN")
    if token and user:
        raise ValueError("give either basic auth or ESGEN_REGISTRY_TOKEN, not both")
    if user:
        conf["basic.auth.credentials.source"] = "USER_INFO"
        conf["basic.auth.user.info"] = f"{user}:{password}"
    elif token:
        conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
        conf["bearer.auth.token"] = token
        conf["bearer.auth.logical.cluster"] = env.get("ESGEN_REGISTRY_LOGICAL_CLUSTER", "")
    return conf


def redact(url: str) -> str:
    """The URL without a password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Registry:
    """The registry calls esgen makes, each turning failures into ``RegistryError``."""

    def __init__(self, url: str, client: SchemaRegistryClient) -> None:
        self.url = redact(url)
        self.client = client

    def _call(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except SchemaRegistryError as exc:
            raise RegistryError(
                action, exc.http_status_code, exc.error_code, exc.error_message
            ) from None
        except (ValueError, TypeError) as exc:  # bad configuration or an unexpected answer
            raise RegistryError(action, 0, -1, str(exc)) from None
        except Exception as exc:  # transport errors: connection refused, DNS, TLS, timeout
            raise RegistryUnavailable(self.url, f"{type(exc).__name__}: {exc}") from None

    def subjects(self, prefix: str = "") -> list[str]:
        """Every subject (starting with ``prefix``), page by page.

        Apicurio answers at most 1000 subjects per call and ignores ``subjectPrefix``, so
        esgen pages with offset/limit and filters the prefix itself.
        """
        page = 1000
        found: list[str] = []
        offset = 0
        while True:
            batch: list[str] = self._call(
                "list subjects",
                lambda o=offset: self.client.get_subjects(  # type: ignore[misc]
                    subject_prefix=prefix or None, offset=o, limit=page
                ),
            )
            found.extend(s for s in batch if s.startswith(prefix))
            if len(batch) < page:
                return found
            offset += page

    def versions(self, subject: str) -> list[tuple[int, dict[str, Any]]]:
        """Every version of ``subject`` (oldest first) as parsed JSON; none if it is unknown."""
        try:
            numbers = self._call(
                f"list versions of {subject}", lambda: self.client.get_versions(subject)
            )
        except RegistryError as exc:
            if exc.code == 40401:
                return []
            raise
        out: list[tuple[int, dict[str, Any]]] = []
        for number in sorted(numbers):
            registered = self._call(
                f"read {subject} version {number}",
                lambda n=number: self.client.get_version(subject, n),  # type: ignore[misc]
            )
            out.append((number, json.loads(registered.schema.schema_str or "null")))
        return out

    @staticmethod
    def _schema(schema: Any, references: Sequence[Reference]) -> Schema:
        refs = [SchemaReference(r.name, r.subject, r.version) for r in references]
        return Schema(json.dumps(schema, sort_keys=True), "AVRO", refs)

    def lookup(
        self, subject: str, schema: Any, references: Sequence[Reference] = ()
    ) -> tuple[int, int] | None:
        """``(id, version)`` if this schema is already registered under ``subject``."""
        try:
            found = self._call(
                f"look up {subject}",
                lambda: self.client.lookup_schema(subject, self._schema(schema, references)),
            )
        except RegistryError as exc:
            if exc.code in (40401, 40403) or exc.status == 404:
                return None
            raise
        return int(found.schema_id or 0), int(found.version or 0)

    def register(self, subject: str, schema: Any, references: Sequence[Reference] = ()) -> int:
        return self._call(
            f"register {subject}",
            lambda: self.client.register_schema(subject, self._schema(schema, references)),
        )

    def test(self, subject: str, schema: Any) -> bool:
        """The registry's own compatibility verdict for ``schema`` against ``subject``."""
        return self._call(
            f"test compatibility of {subject}",
            lambda: bool(self.client.test_compatibility(subject, self._schema(schema, ()))),
        )

    def set_level(self, subject: str, level: str) -> None:
        self._call(
            f"set compatibility of {subject} to {level}",
            lambda: self.client.set_compatibility(subject, level),
        )

    def subject_level(self, subject: str) -> str | None:
        """The level set on the subject itself (None if it has none of its own)."""
        try:
            result = self._call(
                f"read compatibility of {subject}",
                lambda: self.client._rest_client.get(f"config/{_quote(subject)}"),
            )
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        return str(result.get("compatibilityLevel") or result.get("compatibility") or "")

    def effective_level(self, subject: str) -> str:
        """The level the registry enforces for ``subject`` (its own, else the global one).

        ``defaultToGlobal=true`` because some registries (Apicurio) answer NONE for a subject
        without a level of its own while enforcing the global level. The client's REST helper
        is used because ``get_compatibility`` cannot pass the query parameter.
        """
        result = self._call(
            f"read effective compatibility of {subject}",
            lambda: self.client._rest_client.get(
                f"config/{_quote(subject)}", {"defaultToGlobal": "true"}
            ),
        )
        return str(result.get("compatibilityLevel") or result.get("compatibility") or "")


def _quote(subject: str) -> str:
    from urllib.parse import quote

    return quote(subject, safe="")


def connect(url: str, environ: Mapping[str, str] | None = None) -> Registry:
    try:
        conf = client_config(url, environ)
        client = SchemaRegistryClient(conf)
    except (ValueError, TypeError) as exc:
        raise RegistryError(f"connect to {redact(url)}", 0, -1, str(exc)) from None
    return Registry(url, client)
