"""The command processor on a 3-broker cluster whose partition leaders are killed mid-storm.

Replication factor 3 and ``min.insync.replicas`` 2 (the cluster's defaults, which the
processor's topics get); a command storm runs while the leader of the event partition is
killed (SIGKILL), then restarted and caught up. The outcome must be exact: every command
answered, each accepted one stored once, the balances right (see ``check_exact``).
"""

from __future__ import annotations

import dataclasses
import decimal
import time
from collections.abc import Callable

from esgen.dev.cluster import Cluster
from esgen.runtime import EventStore
from generated.bank import account
from tests.runtime.processing import Storm, check_exact, running

D = decimal.Decimal
ACCOUNTS = [f"acc-{n}" for n in range(6)]


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_partition_leaders_killed_during_a_storm_leave_an_exact_outcome(
    kafka_cluster: Cluster, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    cluster = kafka_cluster
    entity = dataclasses.replace(account.ENTITY, topic=unique_name("cluster"))
    with running(entity, cluster.bootstrap, registry_url, partitions=1, timeout=30.0) as processor:
        cluster.wait_in_sync(entity.topic)
        storm = Storm(entity, cluster.bootstrap, registry_url, ACCOUNTS, timeout=5.0)
        try:
            storm.start().wait_for(40)
            # One kill keeps the suite's time bounded (tests/cluster kills the leaders of
            # direct appends twice).
            leader = cluster.leader(entity.topic)
            cluster.kill(leader)
            _wait(lambda: cluster.leader(entity.topic) not in (-1, leader), "a new leader")
            storm.wait_for(40, timeout=180)  # commands flow with one broker down
            cluster.restart(leader)
            cluster.wait_in_sync(entity.topic)
            storm.wait_for(20, timeout=180)
        finally:
            outcomes = storm.stop()
        stats = processor.processor.stats
    balances = check_exact(cluster.bootstrap, entity.topic, outcomes)
    with EventStore(entity, cluster.bootstrap, registry_url) as store:
        for entity_id, cents in balances.items():
            assert store.load(entity_id).balance == D(cents) / 100
    assert stats.accepted > 0
