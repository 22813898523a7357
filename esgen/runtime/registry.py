"""The schema registry client every part of esgen uses: the runtime, ``esgen register`` and
``esgen check --registry``.

One client, so that what is registered is what is looked up:

- **Construction.** A URL (credentials as ``user:pass@`` in it, or from
  ``ESGEN_REGISTRY_USER``/``ESGEN_REGISTRY_PASSWORD``, or a bearer token from
  ``ESGEN_REGISTRY_TOKEN`` with ``ESGEN_REGISTRY_LOGICAL_CLUSTER``), a
  ``SchemaRegistryClient`` config dict, or a ready client. Every request has a timeout
  (``timeout``: 10 s by default, or the event store's ``timeout`` when shorter) and is
  tried once more after a transport failure or a 5xx answer (``max.retries`` 1): a
  registry that accepts connections and never answers fails the call within about
  ``2 * timeout`` instead of blocking forever.
- **One schema text.** :func:`canonical_text` is the only way a schema becomes the text
  sent to the registry, for lookups and registrations alike (JSON with sorted keys):
  registries differ in how they normalise text (Apicurio keeps the key order inside
  defaults), so a lookup with other text than the registration's misses.
- **One union.** :func:`union_schema` builds the ``<topic>-value`` union of references
  (TopicNameStrategy) for ``esgen register`` and for ``auto_register`` alike.
- **One error type.** Every failure is a :class:`~esgen.runtime.errors.RegistryError`
  with the registry's HTTP status and error code (``status`` 0: no answer;
  :class:`~esgen.runtime.errors.RegistryUnavailable` then), naming the URL (password
  redacted) and what was being done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from confluent_kafka.schema_registry import (
    RegisteredSchema,
    Schema,
    SchemaReference,
    SchemaRegistryClient,
)
from confluent_kafka.schema_registry.error import SchemaRegistryError

from esgen.runtime.errors import ConfigurationError, RegistryError, RegistryUnavailable

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
"""Seconds per registry request (connect, send, wait for the answer)."""
_DEFAULTS: dict[str, Any] = {
    "timeout": DEFAULT_TIMEOUT,
    "max.retries": 1,
    "retries.wait.ms": 200,
    "retries.max.wait.ms": 1000,
}


@dataclass(frozen=True)
class Reference:
    """A schema reference: the name used inside the schema, and where it is registered."""

    name: str
    subject: str
    version: int


def canonical_text(schema: Any) -> str:
    """The text of ``schema`` as esgen sends it to the registry, always the same for the
    same schema (lookups must send the registration's text)."""
    return json.dumps(schema, sort_keys=True)


def union_schema(branches: Sequence[Reference]) -> tuple[list[str], list[Reference]]:
    """The ``<topic>-value`` union of references: ``(schema, references)``; the schema
    lists the branches' names, in branch order."""
    return [branch.name for branch in branches], list(branches)


def client_config(
    url: str, environ: Mapping[str, str] | None = None, *, timeout: float | None = None
) -> dict[str, Any]:
    """The ``SchemaRegistryClient`` configuration for ``url`` and the environment."""
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    conf: dict[str, Any] = dict(_DEFAULTS)
    if timeout is not None:
        conf["timeout"] = timeout
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
        raise ConfigurationError(
            "registry credentials: give either basic auth (user:pass@ in the URL or "
            "ESGEN_REGISTRY_USER) or ESGEN_REGISTRY_TOKEN, not both"
        )
    if user:
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


class RegistryClient:
    """The registry calls esgen makes, each bounded in time and failing as ``RegistryError``.

    Build it with :meth:`connect`. ``client`` is anything with ``SchemaRegistryClient``'s
    methods (tests pass fakes).
    """

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = redact(url)

    @classmethod
    def connect(
        cls,
        registry: str | Mapping[str, Any] | SchemaRegistryClient | RegistryClient,
        *,
        timeout: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> RegistryClient:
        """A client for a URL, a ``SchemaRegistryClient`` config dict or a client.

        A URL takes its credentials from itself or the environment (module docstring); a
        config dict gets esgen's timeouts where it sets none. A ready client is used as
        it is (its own timeout applies: ``SchemaRegistryClient`` has none by default).
        """
        if isinstance(registry, RegistryClient):
            return registry
        if isinstance(registry, str):
            conf = client_config(registry, environ, timeout=timeout)
        elif isinstance(registry, Mapping):
            conf = {**_DEFAULTS, **registry}
            if timeout is not None and "timeout" not in registry:
                conf["timeout"] = timeout
        else:
            url = str(getattr(registry, "_conf", {}).get("url", "?"))
            rest = getattr(registry, "_rest_client", None)
            if rest is not None:
                url = str(getattr(rest, "base_urls", [url])[0])
            return cls(registry, url)
        url = str(conf.get("url") or "")
        if not url:
            raise ConfigurationError("the schema registry configuration has no url")
        try:
            client = SchemaRegistryClient(conf)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"schema registry at {redact(url)}: {exc}") from None
        return cls(client, url)

    # -- calls -------------------------------------------------------------------------

    def call(self, action: str, request: Callable[[], T]) -> T:
        """``request()``, its failures as ``RegistryError`` naming ``action`` and the URL."""
        try:
            return request()
        except SchemaRegistryError as exc:
            raise RegistryError(
                f"{action}: the registry answered HTTP {exc.http_status_code}, error code "
                f"{exc.error_code}: {exc.error_message or '(no message)'} (schema registry "
                f"at {self.url})",
                action=action,
                status=int(exc.http_status_code or 0),
                code=int(exc.error_code if exc.error_code is not None else -1),
            ) from None
        except (ValueError, TypeError, KeyError) as exc:  # an answer that is not what we expect
            raise RegistryError(
                f"{action}: unexpected answer from the schema registry at {self.url}: "
                f"{type(exc).__name__}: {exc}",
                action=action,
            ) from None
        except Exception as exc:  # transport: refused, DNS, TLS, timeouts (httpx's own types)
            if "Timeout" in type(exc).__name__:
                reason = f"no answer in time ({type(exc).__name__})"
            else:
                reason = f"{type(exc).__name__}: {exc}"
            raise RegistryUnavailable(
                f"cannot reach the schema registry at {self.url}: {reason} (while {action}); "
                "is it running and is the URL right?",
                action=action,
            ) from None

    @staticmethod
    def schema(schema: Any, references: Sequence[Reference] = ()) -> Schema:
        """The ``Schema`` object esgen sends: canonical text, AVRO, references."""
        refs = [SchemaReference(r.name, r.subject, r.version) for r in references]
        return Schema(canonical_text(schema), "AVRO", refs)

    def lookup(
        self, subject: str, schema: Any, references: Sequence[Reference] = ()
    ) -> tuple[int, int] | None:
        """``(id, version)`` if this schema is registered under ``subject``, else None."""
        try:
            found = self.call(
                f"look up {subject}",
                lambda: self.client.lookup_schema(subject, self.schema(schema, references)),
            )
        except RegistryError as exc:
            if exc.code in (40401, 40403) or exc.status == 404:
                return None
            raise
        return int(found.schema_id or 0), int(found.version or 0)

    def register(self, subject: str, schema: Any, references: Sequence[Reference] = ()) -> int:
        """Register ``schema`` under ``subject``; its id (the existing one if it is there)."""
        return int(
            self.call(
                f"register {subject}",
                lambda: self.client.register_schema(subject, self.schema(schema, references)),
            )
        )

    def schema_by_id(self, schema_id: int) -> Schema:
        """The schema registered with ``schema_id`` (a 404 ``RegistryError`` if none)."""
        found: Schema = self.call(
            f"fetch schema id {schema_id}", lambda: self.client.get_schema(schema_id)
        )
        return found

    def version(self, subject: str, number: int) -> RegisteredSchema:
        found: RegisteredSchema = self.call(
            f"read {subject} version {number}", lambda: self.client.get_version(subject, number)
        )
        return found

    def latest(self, subject: str) -> RegisteredSchema | None:
        """The latest version of ``subject``; None when the subject does not exist."""
        try:
            found: RegisteredSchema = self.call(
                f"read the latest version of {subject}",
                lambda: self.client.get_latest_version(subject),
            )
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def versions(self, subject: str) -> list[tuple[int, Any]]:
        """Every version of ``subject`` (oldest first) as parsed JSON; none if it is unknown."""
        try:
            numbers = self.call(
                f"list versions of {subject}", lambda: self.client.get_versions(subject)
            )
        except RegistryError as exc:
            if exc.code == 40401 or exc.status == 404:
                return []
            raise
        out: list[tuple[int, Any]] = []
        for number in sorted(numbers):
            registered = self.version(subject, number)
            out.append((number, json.loads(registered.schema.schema_str or "null")))
        return out

    def subjects(self, prefix: str = "") -> list[str]:
        """Every subject (starting with ``prefix``), page by page.

        Apicurio answers at most 1000 subjects per call and ignores ``subjectPrefix``, so
        esgen pages with offset/limit and filters the prefix itself.
        """
        page = 1000
        found: list[str] = []
        offset = 0
        while True:
            batch: list[str] = self.call(
                "list subjects",
                lambda o=offset: self.client.get_subjects(  # type: ignore[misc]
                    subject_prefix=prefix or None, offset=o, limit=page
                ),
            )
            found.extend(s for s in batch if s.startswith(prefix))
            if len(batch) < page:
                return found
            offset += page

    def test(self, subject: str, schema: Any) -> bool:
        """The registry's own compatibility verdict for ``schema`` against ``subject``."""
        return self.call(
            f"test compatibility of {subject}",
            lambda: bool(self.client.test_compatibility(subject, self.schema(schema))),
        )

    def set_level(self, subject: str, level: str) -> None:
        self.call(
            f"set compatibility of {subject} to {level}",
            lambda: self.client.set_compatibility(subject, level),
        )

    def subject_level(self, subject: str) -> str | None:
        """The level set on the subject itself (None if it has none of its own)."""
        try:
            result = self.call(
                f"read compatibility of {subject}",
                lambda: self.client._rest_client.get(f"config/{quote(subject, safe='')}"),
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
        result = self.call(
            f"read effective compatibility of {subject}",
            lambda: self.client._rest_client.get(
                f"config/{quote(subject, safe='')}", {"defaultToGlobal": "true"}
            ),
        )
        return str(result.get("compatibilityLevel") or result.get("compatibility") or "")
