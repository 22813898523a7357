"""Every Kafka client esgen creates, built from one configuration by one convention.

:class:`KafkaClients` holds the bootstrap servers and the user's ``kafka_config`` (shared
by every client: ``security.protocol``, ``sasl.*``, ``ssl.*``, ``client.id``...) and
builds the clients the runtime needs:

=============================  ==========================================================
``producer()``                 idempotent (``enable.idempotence``, ``acks=all``), Java's
                               murmur2 partitioner, ``linger.ms=5``
``transactional_producer(id)`` the same with a ``transactional.id`` (partition leases,
                               see :mod:`esgen.runtime.lease`)
``reader()``                   an assigned consumer that joins no group and commits
                               nothing, ``read_committed``, partition EOF events on
``group_consumer(group)``      a group member, ``read_committed``, offsets committed by
                               the caller only
``admin()``                    topics, configs, offsets
=============================  ==========================================================

Each client's configuration is its role's defaults, then ``kafka_config``, then the
caller's overrides for that one client (e.g. a projection's ``consumer_config``). What the
guarantees rest on is pinned per role (producers: idempotence and ``acks=all``;
consumers: ``read_committed`` and no auto-commit): setting it otherwise is a
:class:`~esgen.runtime.errors.ConfigurationError` naming the setting, as is a setting
librdkafka does not know. Producers and consumers never let the broker create a topic
(``allow.auto.create.topics=false``): a topic made by the broker's defaults would delete
events after 7 days. librdkafka's log lines go to the ``esgen.kafka`` logger.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from esgen.runtime import logs
from esgen.runtime.errors import ConfigurationError

C = TypeVar("C", Producer, Consumer, AdminClient)

KAFKA_LOGGER = logs.kafka
"""Where librdkafka's own log lines go (connection failures, retries), not stderr."""

_PRODUCER: dict[str, Any] = {
    "partitioner": "murmur2_random",
    "linger.ms": 5,
    "message.timeout.ms": 120_000,
    "allow.auto.create.topics": False,
}
_CONSUMER: dict[str, Any] = {
    "auto.offset.reset": "earliest",
    "allow.auto.create.topics": False,
}
_READER: dict[str, Any] = {
    **_CONSUMER,
    # An offset that is gone is an error to report, never a silent jump to another one.
    "auto.offset.reset": "error",
    "enable.partition.eof": True,
    # Bounded scans need no long polls; a held fetch would also delay the offset
    # requests queued behind it on the same connection (500 ms by default).
    "fetch.wait.max.ms": 10,
}
# Setting -> the values it may have (as lower-case text), for what the guarantees rest on.
_PINNED_PRODUCER = {"enable.idempotence": {"true"}, "acks": {"all", "-1"}}
_PINNED_CONSUMER = {"isolation.level": {"read_committed"}, "enable.auto.commit": {"false"}}


class KafkaClients:
    """Builds esgen's Kafka clients for one cluster (see the module docstring)."""

    def __init__(self, bootstrap: str, kafka_config: Mapping[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.kafka_config = dict(kafka_config or {})
        for name in ("bootstrap.servers", "transactional.id", "group.id"):
            if name in self.kafka_config:
                raise ConfigurationError(
                    f"kafka_config: {name!r} is set by esgen"
                    + (" (pass bootstrap= instead)" if name == "bootstrap.servers" else "")
                )
        # Shared by every client: what any role pins is checked now, before any is made.
        self._config({}, {**_PINNED_PRODUCER, **_PINNED_CONSUMER}, None, {})

    def _config(
        self,
        defaults: Mapping[str, Any],
        pinned: Mapping[str, set[str]],
        overrides: Mapping[str, Any] | None,
        fixed: Mapping[str, Any],
    ) -> dict[str, Any]:
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "logger": KAFKA_LOGGER}
        config.update(defaults)
        for source, values in (("kafka_config", self.kafka_config), ("overrides", overrides)):
            for name, value in (values or {}).items():
                allowed = pinned.get(name)
                if allowed is not None and str(value).lower() not in allowed:
                    raise ConfigurationError(
                        f"{source}: Kafka setting {name}={value!r} would break esgen's "
                        f"guarantees (it must be {sorted(allowed)[0]}); remove it"
                    )
                config[name] = value
        config.update(fixed)
        return config

    def producer(self, overrides: Mapping[str, Any] | None = None) -> Producer:
        """An idempotent producer (``acks=all``)."""
        fixed = {"enable.idempotence": True, "acks": "all"}
        return _build(Producer, self._config(_PRODUCER, _PINNED_PRODUCER, overrides, fixed))

    def transactional_producer(
        self, transactional_id: str, overrides: Mapping[str, Any] | None = None
    ) -> Producer:
        """An idempotent producer with ``transactional.id``; call ``init_transactions``."""
        fixed = {"enable.idempotence": True, "acks": "all", "transactional.id": transactional_id}
        return _build(Producer, self._config(_PRODUCER, _PINNED_PRODUCER, overrides, fixed))

    def reader(self, overrides: Mapping[str, Any] | None = None) -> Consumer:
        """An assigned consumer: joins no group, commits nothing, reads committed records."""
        fixed = {
            # Required by librdkafka, never used: partitions are assigned, not subscribed.
            "group.id": f"esgen-reader-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
        return _build(Consumer, self._config(_READER, _PINNED_CONSUMER, overrides, fixed))

    def group_consumer(
        self, group_id: str, overrides: Mapping[str, Any] | None = None
    ) -> Consumer:
        """A consumer group member; its offsets are committed by the caller only."""
        fixed = {
            "group.id": group_id,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
        return _build(Consumer, self._config(_CONSUMER, _PINNED_CONSUMER, overrides, fixed))

    def admin(self) -> AdminClient:
        """An admin client (topics, configs, offsets) with ``kafka_config``; its metadata
        requests never create a topic either."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "logger": KAFKA_LOGGER,
            "allow.auto.create.topics": False,
        }
        return _build(AdminClient, {**config, **self.kafka_config})


def _build(kind: type[C], config: dict[str, Any]) -> C:
    try:
        return kind(config)
    except KafkaException as exc:
        raise ConfigurationError(f"Kafka configuration: {exc.args[0].str()}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"Kafka configuration: {exc}") from None


def take(consumer: Consumer, count: int, timeout: float) -> list[Message]:
    """Up to ``count`` records: those fetched already, else the first one to arrive within
    ``timeout`` (and any fetched with it). ``consume(count, timeout)`` would wait for a full
    batch until the timeout passes: latency a command or a reply cannot afford."""
    batch = consumer.consume(count, timeout=0)
    if batch:
        return batch
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(count - 1, timeout=0)] if count > 1 else [first]
