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


def _settings(layout: config.KafkaLayout) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in config.kafka_properties(layout).splitlines()
        if line and not line.startswith("#")
    )


def test_cluster_nodes_replicate_everything_three_times_and_need_two_in_sync(
    tmp_path: Path,
) -> None:
    quorum = ((1, 19192), (2, 19193), (3, 19194))
    layout = config.KafkaLayout(
        workdir=tmp_path, port=19093, controller_port=19193, node_id=2, quorum=quorum
    )
    props = _settings(layout)
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"
    )
    assert props["process.roles"] == "broker,controller"
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "3", key
    for key in (
        "min.insync.replicas",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "2", key
    assert props["unclean.leader.election.enable"] == "false"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19093,CONTROLLER://127.0.0.1:19193"
    (tmp_path / "server.properties").write_text(config.kafka_properties(layout))
    assert config.controller_port(tmp_path / "server.properties") == 19193


def test_the_single_broker_is_its_own_quorum(tmp_path: Path) -> None:
    props = _settings(config.KafkaLayout(workdir=tmp_path, port=9092, controller_port=9093))
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["min.insync.replicas"] == "1"
    assert "broker.session.timeout.ms" not in props  # the single broker's settings as before
