"""Declared evolution on the real broker and registry: old-shape events written by a raw
producer with the old schemas registered are read as today's events by ``read``, ``load``,
a projection and ``esgen tail``; a retired event is never appended.

The entity is the evolution case's (tests/codegen/cases/evolution): its lock holds the old
schemas, its generated module the upcasts."""

from __future__ import annotations

import copy
import dataclasses
import decimal
import io
import json
from collections.abc import Callable
from typing import Any

import fastavro
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from esgen.check.lock import old_versions
from esgen.cli import main
from esgen.runtime import EntityDescriptor, EsgenError, EventMeta, framing
from esgen.runtime.models import InMemoryModelStore, ReadModel
from esgen.runtime.projections import Projection, ProjectionRunner, handles
from tests.codegen.support import CASES
from tests.runtime.conftest import StoreFactory

shelf = pytest.importorskip("gen_evolution.shelf")  # on sys.path: tests/codegen/support.py

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

D = decimal.Decimal
LOCK = old_versions(CASES / "evolution" / "schemas.lock")


def _old(full_name: str, version: int) -> dict[str, Any]:
    return LOCK[full_name][version - 1].schema


def _value(schema_id: int, schema: dict[str, Any], datum: dict[str, Any]) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(copy.deepcopy(schema)), datum)
    return framing.frame(schema_id, body.getvalue())


@pytest.fixture
def old_history(
    unique_name: Callable[[str], str],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    schema_registry_client: SchemaRegistryClient,
) -> EntityDescriptor[Any, Any]:
    """Item i-1 on a topic of its own: five records written by an older release (its
    schemas registered as they were), then one of today's appended by the store."""
    entity = dataclasses.replace(shelf.ENTITY, topic=unique_name("items"))
    store = make_store(entity)  # creates the topics
    records = [
        ("test.evo.PriceSet", 1, {"price_cents": 250}),  # v1: no currency yet
        ("test.evo.OwnerNamed", 1, {"name": "Ada Lovelace"}),
        ("test.evo.OwnerNamed", 1, {"name": ""}),  # upcast into no event
        ("test.evo.Noted", 1, {}),  # renamed since: Remarked
        ("test.evo.Tagged", 1, {"tag": "red,blue"}),  # gone: a call: upcast, two events
    ]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for full_name, version, datum in records:
        schema = _old(full_name, version)
        subject = f"{entity.topic}-{full_name}"
        schema_id = schema_registry_client.register_schema(
            subject, Schema(json.dumps(schema), "AVRO")
        )
        producer.produce(entity.topic, _value(schema_id, schema, datum), b"i-1")
    assert producer.flush(30) == 0
    # The registry checks compatibility itself: a change only an upcast reads (long cents
    # -> decimal) is refused at BACKWARD, so that subject's level is NONE, as `esgen
    # register` sets it (docs/evolution.md).
    schema_registry_client.set_compatibility(f"{entity.topic}-test.evo.PriceSet", "NONE")
    store.append("i-1", [shelf.PriceSet(price=D("9.99"), currency="USD")])
    return entity


def test_read_and_load_see_todays_events(
    old_history: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    store = make_store(old_history)
    read = [(event, meta.version) for event, meta in store.read("i-1")]
    assert read == [
        (shelf.PriceSet(price=D("2.50"), currency="EUR"), 1),
        (shelf.OwnerNamed(first_name="Ada", last_name="Lovelace"), 2),
        # record 3 is read as no event: versions count records, so Remarked is 4
        (shelf.Remarked(), 4),
        (shelf.Labelled(label="red"), 5),  # one record, two events: one version
        (shelf.Labelled(label="blue"), 5),
        (shelf.PriceSet(price=D("9.99"), currency="USD"), 6),
    ]
    state = store.load("i-1")
    assert (state.price, state.currency, state.first_name, state.last_name) == (
        D("9.99"),
        "USD",
        "Ada",
        "Lovelace",
    )
    assert (state.notes, state.tags) == (1, ["red", "blue"])
    assert store.version("i-1") == 6


def test_a_retired_event_is_never_appended_to_kafka(
    old_history: EntityDescriptor[Any, Any], make_store: StoreFactory
) -> None:
    store = make_store(old_history)
    with pytest.raises(EsgenError, match=r"Cleared is retired \(deprecated: true"):
        store.append("i-1", [shelf.Remarked(), shelf.Cleared()])
    assert store.version("i-1") == 6
    assert [p.version for p in store.append("i-1", [shelf.Remarked()])] == [7]


class Names(Projection):
    name = "names"
    entities = (shelf.ENTITY,)

    @handles(shelf.OwnerNamed)
    def named(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
        model.put(f"owner/{meta.entity_id}", f"{event.last_name}, {event.first_name}")

    @handles(shelf.Labelled)
    def labelled(self, model: ReadModel, event: Any, meta: EventMeta) -> None:
        model.put(
            f"tags/{meta.entity_id}", [*model.get(f"tags/{meta.entity_id}", []), event.label]
        )


def test_a_projection_reads_upcast_events(
    old_history: EntityDescriptor[Any, Any],
    kafka_bootstrap: str,
    registry_url: str,
    unique_name: Callable[[str], str],
) -> None:
    store = InMemoryModelStore()
    runner = ProjectionRunner(
        Names(),
        store,
        group_id=unique_name("group"),
        bootstrap=kafka_bootstrap,
        registry=registry_url,
        topics={shelf.ENTITY: old_history.topic},
    )
    try:
        stats = runner.run(until_caught_up=True)
    finally:
        runner.close()
    assert stats.dead_lettered == 0
    assert store.get("owner/i-1") == "Lovelace, Ada"
    assert store.get("tags/i-1") == ["red", "blue"]


def test_tail_prints_upcast_events(
    old_history: EntityDescriptor[Any, Any],
    kafka_bootstrap: str,
    registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shelf, "ENTITY", old_history)  # tail reads the module's ENTITY
    result = CliRunner().invoke(
        main,
        [
            "tail",
            "gen_evolution.shelf",
            "--from-beginning",
            "--max-events",
            "6",
            "--bootstrap",
            kafka_bootstrap,
            "--registry",
            registry_url,
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "i-1" in line]
    kinds = [line.split()[3] for line in lines]
    # six records; the fifth is two events, the third none
    assert kinds == [
        "PriceSet",
        "OwnerNamed",
        "(upcast",
        "Remarked",
        "Labelled",
        "Labelled",
        "PriceSet",
    ]


def test_the_command_processor_restores_through_the_upcasts(
    old_history: EntityDescriptor[Any, Any], kafka_bootstrap: str, registry_url: str
) -> None:
    """The processor's restore reads the partition through the same decode: the owner's
    first name exists only in the upcast of OwnerNamed v1, and the version counts the
    record read as no event."""
    from esgen.runtime import CommandClient, CommandFailed, CommandRejected
    from tests.runtime.processing import delete_topics, running, topics_of

    try:
        with (
            running(old_history, kafka_bootstrap, registry_url),
            CommandClient(
                old_history, kafka_bootstrap, registry_url, auto_register=True
            ) as client,
        ):
            result = client.send("i-1", shelf.Discount(off=D("1.00")))
            assert (result.version, result.events) == (
                7,
                [shelf.PriceSet(price=D("8.99"), currency="USD")],
            )
            with pytest.raises(CommandRejected, match="the item has no owner"):
                client.send("i-2", shelf.Discount(off=D("1.00")))
            # the processor's decide output goes through the shared append check
            with pytest.raises(CommandFailed, match=r"Cleared is retired \(deprecated: true"):
                client.send("i-1", shelf.Clear())
    finally:
        delete_topics(kafka_bootstrap, topics_of(old_history.topic))
