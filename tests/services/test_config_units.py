"""Unit tests of the generated service configuration (no service needed)."""

from __future__ import annotations

from pathlib import Path

from esgen.dev import config, ports


def test_cluster_ids_never_look_like_options() -> None:
    ids = {config.new_cluster_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_kafka_properties_hold_what_esgen_needs(tmp_path: Path) -> None:
    layout = config.KafkaLayout(workdir=tmp_path, port=19092, controller_port=19093)
    props = dict(
        line.split("=", 1)
        for line in config.kafka_properties(layout).splitlines()
        if line and not line.startswith("#")
    )
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.cleaner.enable"] == "true"
    assert props["auto.create.topics.enable"] == "false"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"


def test_port_choice_falls_back_when_the_usual_one_is_taken() -> None:
    taken: set[int] = set()
    first = ports.pick(None, taken)
    assert ports.pick(first, taken) != first  # already handed out in this round
