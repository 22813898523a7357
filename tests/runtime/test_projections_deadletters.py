"""Dead letters are written once per record and consumer, to a topic kept forever, on the
real broker: a replay (observation 13 of issue 8: 8 dead letters became 16), a second
event store (item 5), a crash between the dead letters and the model commit."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]

from esgen.cli import main
from esgen.runtime import EntityDescriptor, deadletter
from esgen.runtime.models import InMemoryModelStore, ModelStore
from esgen.runtime.projections import DeadLetter, ProjectionRunner
from esgen.runtime.subjects import dead_letter_topic
from generated.bank import account
from tests.runtime.conftest import StoreFactory
from tests.runtime.projection_support import (
    Balances,
    EventProducer,
    headers_of,
    history,
    read_topic,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.registry]


@pytest.fixture
def admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


@pytest.fixture
def dead_letter_topics(admin: AdminClient) -> Iterator[list[str]]:
    """Source topics whose ``.dlq`` the test creates: deleted afterwards."""
    sources: list[str] = []
    yield sources
    doomed = sorted({dead_letter_topic(t) for t in sources})
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


@pytest.fixture
def make_runner(
    kafka_bootstrap: str,
    registry_url: str,
    unique_name: Callable[[str], str],
    dead_letter_topics: list[str],
) -> Iterator[Callable[..., ProjectionRunner]]:
    runners: list[ProjectionRunner] = []

    def make(topic: str, store: ModelStore | None = None, **kw: Any) -> ProjectionRunner:
        dead_letter_topics.append(topic)
        runner = ProjectionRunner(
            kw.pop("projection", Balances()),
            InMemoryModelStore() if store is None else store,
            group_id=kw.pop("group", None) or unique_name("group"),
            bootstrap=kafka_bootstrap,
            registry=registry_url,
            topics={account.ENTITY: topic},
            **kw,
        )
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        with contextlib.suppress(Exception):
            runner.close()


def poisoned_topic(
    kafka_bootstrap: str, registry_url: str, new_topic: Callable[..., str], poison: int = 8
) -> str:
    """A topic of 3 accounts' events with ``poison`` records among them that are no
    events (garbage, a bad magic byte, an unknown schema id, a tombstone...)."""
    topic = new_topic("accounts", partitions=2)
    producer = EventProducer(kafka_bootstrap, registry_url, topic)
    events = history(accounts=3, per_account=4).events
    producer.send(events[:6])
    for n in range(poison):
        producer.raw(f"acc-{n % 3}", b"\x07garbage %d" % n)
    producer.send(events[6:])
    return topic


def test_a_replay_does_not_write_dead_letters_again(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Callable[..., ProjectionRunner],
    admin: AdminClient,
) -> None:
    """Observation 13: every replay wrote all dead letters again (8 became 16). Item 4:
    the dead-letter topic was created with the broker's default retention (7 days)."""
    topic = poisoned_topic(kafka_bootstrap, registry_url, new_topic)
    live = make_runner(topic)
    stats = live.run(until_caught_up=True)
    assert (stats.processed, stats.dead_lettered) == (12, 8)
    assert len(read_topic(kafka_bootstrap, dead_letter_topic(topic), expected=8)) == 8

    replayed = make_runner(topic).replay()  # another group, another process's runner
    assert (replayed.processed, replayed.dead_lettered) == (12, 8)  # still counted
    env = {"ESGEN_BOOTSTRAP": kafka_bootstrap, "ESGEN_REGISTRY_URL": registry_url}
    spec = "tests.runtime.projection_support:Balances"
    for _ in range(2):
        result = CliRunner().invoke(main, ["replay", spec, "--topic", f"Account={topic}"], env=env)
        assert result.exit_code == 0, result.output
        assert "12 events applied, 0 skipped, 8 dead-lettered" in result.stdout

    class Owners(Balances):  # another projection: its own dead letters, once too
        name = "owners"

    make_runner(topic, projection=Owners()).run(until_caught_up=True)
    make_runner(topic, projection=Owners()).replay()
    letters = [headers_of(m) for m in read_topic(kafka_bootstrap, dead_letter_topic(topic), 16)]
    assert len(letters) == 16  # (read_topic waits a second more for any beyond those)
    for consumer in ("projection balances", "projection owners"):
        places = {
            (h[deadletter.H_PARTITION], h[deadletter.H_OFFSET])
            for h in letters
            if h[deadletter.H_CONSUMER] == consumer
        }
        assert len(places) == 8, consumer

    resource = ConfigResource("topic", dead_letter_topic(topic))
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    assert {name: configs[name].value for name in ("retention.ms", "retention.bytes")} == {
        "retention.ms": "-1",
        "retention.bytes": "-1",
    }
    assert configs["cleanup.policy"].value == "delete"
    assert configs["min.insync.replicas"].value == "1"  # min(2, replication factor 1)


def test_a_crash_after_the_dead_letters_and_before_the_model_commit_writes_none_again(
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    make_runner: Callable[..., ProjectionRunner],
) -> None:
    """Before: at-least-once, so the dead letters of the uncommitted batch came twice."""
    topic = poisoned_topic(kafka_bootstrap, registry_url, new_topic, poison=3)
    store = InMemoryModelStore()
    crashing = make_runner(topic, store)
    written = crashing._write_dead_letters

    def write_then_crash(letters: list[DeadLetter]) -> None:
        written(letters)  # flushed: Kafka has them
        raise OSError("the process died here")

    crashing._write_dead_letters = write_then_crash  # type: ignore[method-assign]
    with pytest.raises(OSError, match="died"):
        crashing.run(until_caught_up=True)
    assert store.offsets() == {}  # the model has nothing of the batch

    again = make_runner(topic, store).run(until_caught_up=True)
    assert (again.processed, again.dead_lettered) == (12, 3)
    assert len(read_topic(kafka_bootstrap, dead_letter_topic(topic), expected=3)) == 3


def test_a_topic_created_again_gets_dead_letters_at_the_same_offsets(
    kafka_bootstrap: str,
    registry_url: str,
    make_runner: Callable[..., ProjectionRunner],
    admin: AdminClient,
    unique_name: Callable[[str], str],
) -> None:
    """The place of a record includes its topic's id: a new incarnation starts afresh."""
    topic = unique_name("accounts")

    def create() -> None:
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(topic, b"garbage", b"acc-1")
        assert producer.flush(30) == 0

    def delete() -> None:
        admin.delete_topics([topic])[topic].result(timeout=30)
        wait_for(lambda: topic not in admin.list_topics(timeout=10).topics, 30, "deletion")

    create()
    try:
        make_runner(topic).run(until_caught_up=True)
        delete()
        time.sleep(1)  # let every broker forget the old incarnation before the new one
        create()
        assert make_runner(topic).run(until_caught_up=True).dead_lettered == 1
    finally:
        with contextlib.suppress(Exception):
            delete()
    letters = [headers_of(m) for m in read_topic(kafka_bootstrap, f"{topic}.dlq", expected=2)]
    assert [h[deadletter.H_OFFSET] for h in letters] == ["0", "0"]
    ids = {h[deadletter.H_TOPIC_ID] for h in letters}
    assert len(ids) == 2 and "" not in ids


def test_a_second_event_store_does_not_dead_letter_a_foreign_record_again(
    account_entity: EntityDescriptor[Any, Any],
    make_store: StoreFactory,
    kafka_bootstrap: str,
    dead_letter_topics: list[str],
) -> None:
    """Item 5: each store (each process) wrote the same foreign record again. Two store
    instances share nothing, as two processes would not."""
    first = make_store(account_entity)
    dead_letter_topics.append(first.topic)
    first.append("acc-1", [account.AccountOpened(owner="Ann")])
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(first.topic, b'{"not": "avro"}', b"acc-1", partition=0)
    producer.produce(first.topic, None, b"acc-1", partition=0)  # a tombstone
    assert producer.flush(30) == 0
    assert first.version("acc-1") == 1
    for _ in range(2):
        other = make_store(account_entity)
        assert [meta.version for _, meta in other.read("acc-1")] == [1]
        assert other.stats.foreign_records == 2
        other.close(snapshot=False)
    letters = read_topic(kafka_bootstrap, dead_letter_topic(first.topic), expected=2)
    assert sorted(headers_of(m)[deadletter.H_OFFSET] for m in letters) == ["2", "3"]
    assert {headers_of(m)[deadletter.H_CONSUMER] for m in letters} == {"event store of Account"}
