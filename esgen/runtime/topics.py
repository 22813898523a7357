"""The event and snapshot topics: created to keep events forever, checked when they exist.

Created by the store (``create_topics=True``) with these configs, each overridable through
``topic_config`` / ``snapshot_topic_config``:

==========================  ===================================  ===========================
config                      ``<topic>`` (events)                 ``<topic>.snapshots``
==========================  ===================================  ===========================
``cleanup.policy``          ``delete`` (never ``compact``)       ``compact``
``retention.ms``            ``-1`` (no deletion by age)          ``-1``
``retention.bytes``         ``-1`` (no deletion by size)         ``-1``
``min.insync.replicas``     ``min(2, replication factor)``       ``min(2, replication factor)``
==========================  ===================================  ===========================

Dead-letter topics (``<topic>.dlq``, see :mod:`esgen.runtime.deadletter`) are created with
the event topic's configs (kept forever) and one partition.

An existing event topic is checked (DescribeConfigs) before the store uses it. One that
lets Kafka delete events (a finite ``retention.ms`` or ``retention.bytes``, or
``compact`` in ``cleanup.policy``, which keeps only each key's latest record) is refused
with :class:`~esgen.runtime.errors.UnsafeTopic`, naming each config, its value and the
command that fixes it, unless the store was created with ``allow_deleting_events=True``:
then it is used with a warning logged on every start. A snapshot topic that deletes by
time or size is refused the same way (it holds the history's manifest, see
:mod:`esgen.runtime.manifest`). A ``min.insync.replicas`` of 1 on a replicated topic is
logged as a warning: ``acks=all`` then waits for the leader only.

The command processor (:mod:`esgen.runtime.processor`) creates two more, with the event
topic's partition count (co-partitioned: a command, its events and its reply share a
partition number):

==========================  ===================================  ===========================
config                      ``<topic>.commands``                 ``<topic>.replies``
==========================  ===================================  ===========================
``cleanup.policy``          ``delete`` (never ``compact``)       ``compact,delete``
``retention.ms``            the broker's default                 the idempotency window
``min.insync.replicas``     ``min(2, replication factor)``       ``min(2, replication factor)``
==========================  ===================================  ===========================

An existing command topic that compacts is refused (compaction would drop a command queued
behind a newer one for the same entity); an existing reply topic that deletes replies
sooner than the idempotency window is refused (a retried command would be applied again).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]

from esgen.runtime import logs
from esgen.runtime.errors import StoreError, UnsafeTopic

log = logs.store


@dataclass(frozen=True)
class TopicInfo:
    """What the store needs to know of an existing topic."""

    name: str
    partitions: int
    replication_factor: int
    topic_id: str | None
    """Kafka's id of this incarnation of the topic (a new one each time it is created)."""


def event_topic_config(replication_factor: int, given: Mapping[str, str]) -> dict[str, str]:
    """The configs the store creates ``<topic>`` with."""
    return {
        "cleanup.policy": "delete",
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "min.insync.replicas": str(min(2, replication_factor)),
        **given,
    }


def snapshot_topic_config(replication_factor: int, given: Mapping[str, str]) -> dict[str, str]:
    """The configs the store creates ``<topic>.snapshots`` with."""
    return {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "min.insync.replicas": str(min(2, replication_factor)),
        **given,
    }


def command_topic_config(replication_factor: int, given: Mapping[str, str]) -> dict[str, str]:
    """The configs the command processor creates ``<topic>.commands`` with."""
    return {
        "cleanup.policy": "delete",
        "min.insync.replicas": str(min(2, replication_factor)),
        **given,
    }


def reply_topic_config(
    replication_factor: int, window_ms: int, given: Mapping[str, str]
) -> dict[str, str]:
    """The configs the command processor creates ``<topic>.replies`` with: one reply per
    command id (compacted), deleted after the idempotency window."""
    return {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(window_ms),
        "retention.bytes": "-1",
        "min.insync.replicas": str(min(2, replication_factor)),
        **given,
    }


def command_topic_problems(configs: Mapping[str, str]) -> dict[str, str]:
    """Configs of a command topic that would drop commands before they are decided."""
    policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
    if "compact" in policy:
        return {
            "cleanup.policy": "compaction drops a command queued behind a newer one for the "
            "same entity"
        }
    return {}


def reply_topic_problems(configs: Mapping[str, str], window_ms: int) -> dict[str, str]:
    """Configs of a reply topic that delete replies within the idempotency window."""
    policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
    if "delete" not in policy:
        return {}
    problems = {}
    retention = int(configs.get("retention.ms", "-1"))
    if retention != -1 and retention < window_ms:
        problems["retention.ms"] = (
            f"replies are deleted after {retention} ms, sooner than the idempotency window "
            f"({window_ms} ms): a command retried later would be applied again"
        )
    if configs.get("retention.bytes", "-1") != "-1":
        problems["retention.bytes"] = "the oldest replies are deleted beyond this size"
    return problems


def dead_letter_topic_config(replication_factor: int, given: Mapping[str, str]) -> dict[str, str]:
    """The configs ``<topic>.dlq`` is created with: kept until deleted explicitly, like
    the events whose failures it records (a dead letter deleted by age is a failure
    nobody will look at): the event topic's configs."""
    return event_topic_config(replication_factor, given)


def event_topic_problems(configs: Mapping[str, str]) -> dict[str, str]:
    """Configs of an event topic that let Kafka delete events: name -> why."""
    problems: dict[str, str] = {}
    policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
    if "compact" in policy:
        problems["cleanup.policy"] = "compaction keeps only the latest record of each entity"
    if "delete" in policy:
        problems.update(_deletion(configs))
    return problems


def snapshot_topic_problems(configs: Mapping[str, str]) -> dict[str, str]:
    """Configs of a snapshot topic that let Kafka delete its manifest and snapshots."""
    policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
    return _deletion(configs) if "delete" in policy else {}


def _deletion(configs: Mapping[str, str]) -> dict[str, str]:
    problems = {}
    if configs.get("retention.ms", "-1") != "-1":
        problems["retention.ms"] = "records older than this are deleted"
    if configs.get("retention.bytes", "-1") != "-1":
        problems["retention.bytes"] = "the oldest records are deleted beyond this size"
    return problems


def unsafe_topic(
    topic: str,
    bootstrap: str,
    configs: Mapping[str, str],
    problems: Mapping[str, str],
    *,
    what: str = "can delete what the event store must keep",
    fixes: list[str] | None = None,
    instead: str = (
        ", or create the store with allow_deleting_events=True if losing history is intended"
    ),
) -> UnsafeTopic:
    """The error (or warning) that names each problem and how to fix it (by default the
    settings that keep events forever)."""
    found = "; ".join(f"{name}={configs.get(name)} ({why})" for name, why in problems.items())
    if fixes is None:
        fixes = []
        if "cleanup.policy" in problems:
            fixes.append("cleanup.policy=delete")
        fixes += [f"{name}=-1" for name in ("retention.ms", "retention.bytes") if name in problems]
    command = (
        f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics "
        f"--entity-name {topic} --add-config {','.join(fixes)}"
    )
    return UnsafeTopic(
        f"topic {topic} on Kafka at {bootstrap} {what}: {found}. Fix it with `{command}`{instead}",
        topic=topic,
        problems=dict(problems),
    )


class TopicAdmin:
    """Admin operations on the store's topics, each bounded by ``timeout``."""

    def __init__(self, admin: AdminClient, bootstrap: str, timeout: float) -> None:
        self.admin = admin
        self.bootstrap = bootstrap
        self.timeout = timeout

    def _unreachable(self, exc: KafkaException) -> StoreError:
        return StoreError(
            f"cannot reach Kafka at {self.bootstrap} within {self.timeout:g} s: "
            f"{exc.args[0]}; is the broker running and is bootstrap right?"
        )

    def describe(self, topic: str) -> TopicInfo | None:
        """The topic as Kafka describes it; None when it does not exist."""
        try:
            metadata = self.admin.list_topics(topic, timeout=self.timeout)
        except KafkaException as exc:
            raise self._unreachable(exc) from exc
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        replicas = len(found.partitions[min(found.partitions)].replicas)
        topic_id: str | None = None
        try:
            future = self.admin.describe_topics(
                TopicCollection([topic]), request_timeout=self.timeout
            )[topic]
            topic_id = str(future.result(timeout=self.timeout).topic_id) or None
        except KafkaException as exc:  # an old broker: no topic ids, the count still checks
            log.debug("no topic id for %s: %s", topic, exc)
        return TopicInfo(topic, len(found.partitions), replicas, topic_id)

    def configs(self, topic: str) -> dict[str, str]:
        resource = ConfigResource("topic", topic)
        try:
            future = self.admin.describe_configs([resource], request_timeout=self.timeout)
            entries = future[resource].result(timeout=self.timeout)
        except KafkaException as exc:
            raise StoreError(
                f"cannot read the configs of topic {topic} on Kafka at {self.bootstrap}: "
                f"{exc.args[0]} (the store needs DescribeConfigs on its topics)"
            ) from exc
        return {name: str(entry.value) for name, entry in entries.items()}

    def default_replication_factor(self) -> int:
        """The brokers' ``default.replication.factor`` (what ``replication_factor=-1`` gets)."""
        try:
            brokers = self.admin.list_topics(timeout=self.timeout).brokers
            resource = ConfigResource("broker", str(min(brokers)))
            entries = self.admin.describe_configs([resource], request_timeout=self.timeout)[
                resource
            ].result(timeout=self.timeout)
            return int(entries["default.replication.factor"].value)
        except (KafkaException, KeyError, ValueError) as exc:
            log.warning("cannot read default.replication.factor, assuming 1: %s", exc)
            return 1

    def create(
        self, topic: str, partitions: int, replication_factor: int, config: Mapping[str, str]
    ) -> None:
        """Create the topic (someone else creating it first is fine) and wait for leaders."""
        new = NewTopic(
            topic,
            num_partitions=partitions,
            replication_factor=replication_factor,
            config=dict(config),
        )
        future = self.admin.create_topics([new], operation_timeout=self.timeout)[topic]
        try:
            future.result(timeout=self.timeout)
        except KafkaException as exc:
            error = exc.args[0]
            if not (
                isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS
            ):
                raise StoreError(
                    f"cannot create topic {topic} on Kafka at {self.bootstrap}: {error}"
                ) from exc
        self._wait_for_leaders(topic)

    def _wait_for_leaders(self, topic: str) -> None:
        """A new topic's partitions get leaders a moment after creation; wait for them."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            metadata = self.admin.list_topics(topic, timeout=self.timeout)
            found = metadata.topics.get(topic)
            if (
                found is not None
                and found.error is None
                and found.partitions
                and all(p.leader >= 0 for p in found.partitions.values())
            ):
                return
            time.sleep(0.05)
        raise StoreError(
            f"topic {topic} on Kafka at {self.bootstrap} has no leader for every "
            f"partition after {self.timeout:g} s"
        )

    def describe_created(self, topic: str) -> TopicInfo:
        """A topic just created, as Kafka describes it. On a cluster the broker asked may
        not know the topic for a moment after its creation: ask again until the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            found = self.describe(topic)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise StoreError(
                    f"topic {topic} on Kafka at {self.bootstrap} was created but is not "
                    f"described after {self.timeout:g} s; was it deleted right away?"
                )
            time.sleep(0.05)

    def exists(self, topic: str) -> bool:
        """Whether the topic exists now (one metadata request; never creates it)."""
        try:
            metadata = self.admin.list_topics(topic, timeout=self.timeout)
        except KafkaException as exc:
            raise self._unreachable(exc) from exc
        found = metadata.topics.get(topic)
        return found is not None and found.error is None and bool(found.partitions)
