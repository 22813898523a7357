"""A writer process for the multi-process tests of the partition lease.

``python -m tests.runtime.writers MODE TOPIC ENTITY_ID COUNT READY GO`` with
``ESGEN_BOOTSTRAP``/``ESGEN_REGISTRY_URL`` set: builds an event store for the Account
entity on TOPIC, creates the file READY, waits for GO (so every writer starts at once),
then writes and prints one JSON line with what happened:

- ``deposits``: COUNT appends of a 1.00 deposit without ``expected_version``;
- ``withdrawals``: COUNT appends of a 1.00 withdrawal (refused ones are counted);
- ``expected``: COUNT rounds of "read the version, append with expected_version=it".
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import sys
import time
from pathlib import Path

from esgen.runtime import ConcurrencyError, EventStore, InvariantViolation
from generated.bank import account

ONE = decimal.Decimal("1.00")


def main(mode: str, topic: str, entity_id: str, count: int, ready: Path, go: Path) -> None:
    entity = dataclasses.replace(account.ENTITY, topic=topic)
    store: EventStore[account.AccountState, account.AccountEvent] = EventStore(
        entity, create_topics=False, auto_register=True, snapshot_every=10_000
    )
    store.load(entity_id)  # restore and connect before the start
    ready.touch()
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.01)
    began = time.monotonic()
    done = refused = 0
    for _ in range(count):
        if mode == "deposits":
            store.append(entity_id, [account.MoneyDeposited(amount=ONE)])
            done += 1
        elif mode == "withdrawals":
            try:
                store.append(entity_id, [account.MoneyWithdrawn(amount=ONE)])
                done += 1
            except InvariantViolation:
                refused += 1
        elif mode == "expected":
            version = store.version(entity_id)
            try:
                store.append(
                    entity_id, [account.MoneyDeposited(amount=ONE)], expected_version=version
                )
                done += 1
            except ConcurrencyError:
                refused += 1
        else:
            raise SystemExit(f"unknown mode {mode}")
    seconds = time.monotonic() - began
    stats = store.stats
    store.close(snapshot=False)
    print(
        json.dumps(
            {
                "done": done,
                "refused": refused,
                "seconds": seconds,
                "retries": stats.append_retries,
                "leases": stats.lease_acquisitions,
            }
        )
    )


if __name__ == "__main__":
    mode, topic, entity_id, count, ready, go = sys.argv[1:7]
    main(mode, topic, entity_id, int(count), Path(ready), Path(go))
