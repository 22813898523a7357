"""A projection runner process for the tests that stop runners with signals.

``python -m tests.runtime.projection_worker NAME TOPIC GROUP DB`` with
``ESGEN_BOOTSTRAP``/``ESGEN_REGISTRY_URL`` set: runs the ``Balances`` projection of
TOPIC in consumer group GROUP into the SQLite model DB (shared by every worker of the
group), as client id NAME, until it is stopped; then prints one JSON line with its
stats. The session timeout is librdkafka's default, 45 s, set explicitly: a member
that does not leave its group keeps its partitions that long.
"""

from __future__ import annotations

import json
import sys

from esgen.runtime.models import SqliteModelStore
from esgen.runtime.projections import ProjectionRunner
from generated.bank import account
from tests.runtime.projection_support import Balances


def main(name: str, topic: str, group: str, db: str) -> None:
    store = SqliteModelStore(db)
    runner = ProjectionRunner(
        Balances(),
        store,
        group_id=group,
        topics={account.ENTITY: topic},
        consumer_config={"client.id": name, "session.timeout.ms": 45_000},
        batch_size=20,
    )
    with runner:
        stats = runner.run()
    store.close()
    print(
        json.dumps(
            {
                "processed": stats.processed,
                "skipped": stats.skipped,
                "dead_lettered": stats.dead_lettered,
                "stopped_by": stats.stopped_by,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
