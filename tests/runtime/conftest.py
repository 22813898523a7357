"""Event stores on the shared broker and registry, each on its own uniquely named topics."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from esgen.runtime import EntityDescriptor, EventStore
from esgen.runtime.subjects import snapshot_topic
from generated.bank import account

StoreFactory = Callable[..., EventStore[Any, Any]]


@pytest.fixture
def account_entity(unique_name: Callable[[str], str]) -> EntityDescriptor[Any, Any]:
    """The generated Account descriptor on a topic of its own."""
    return dataclasses.replace(account.ENTITY, topic=unique_name("accounts"))


_SHARED: Any = object()


@pytest.fixture
def make_store(kafka_bootstrap: str, registry_url: str) -> Iterator[StoreFactory]:
    """``make_store(descriptor, **options)``: a store closed and its topics deleted after.

    It uses the shared broker and registry unless ``bootstrap``/``registry`` are given
    (None: found by the runtime's own rule, environment then ``[tool.esgen]``).
    """
    stores: list[EventStore[Any, Any]] = []

    def make(
        descriptor: EntityDescriptor[Any, Any],
        bootstrap: str | None = _SHARED,
        registry: Any = _SHARED,
        **options: Any,
    ) -> EventStore[Any, Any]:
        options.setdefault("auto_register", True)
        options.setdefault("partitions", 1)
        options.setdefault("timeout", 20.0)
        store: EventStore[Any, Any] = EventStore(
            descriptor,
            kafka_bootstrap if bootstrap is _SHARED else bootstrap,
            registry_url if registry is _SHARED else registry,
            **options,
        )
        stores.append(store)
        return store

    yield make
    topics = set()
    for store in stores:
        with contextlib.suppress(Exception):
            store.close(snapshot=False)
        topics |= {store.topic, snapshot_topic(store.topic)}
    if not topics:
        return
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_topics(sorted(topics), operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


@pytest.fixture
def command_entity(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> Iterator[EntityDescriptor[Any, Any]]:
    """The Account descriptor on a topic of its own; every topic a command processor of it
    creates (events, snapshots, commands, replies, dead letters) is deleted after."""
    from tests.runtime.processing import delete_topics, topics_of

    entity = dataclasses.replace(account.ENTITY, topic=unique_name("accounts"))
    yield entity
    delete_topics(kafka_bootstrap, topics_of(entity.topic))
