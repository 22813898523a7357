"""A command client process for the multi-process command tests.

``python -m tests.runtime.senders TOPIC ENTITY_ID COUNT READY GO`` with
``ESGEN_BOOTSTRAP``/``ESGEN_REGISTRY_URL`` set: builds a ``CommandClient`` for the Account
entity on TOPIC, creates the file READY, waits for GO (so every sender starts at once),
then sends COUNT withdrawals of 1.00 to ENTITY_ID, 25 at a time, each retried with its own
id after a timeout, and prints one JSON line: ``{"accepted": [versions...], "rejected":
{reason: count}}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from esgen.runtime import CommandClient, CommandRejected, CommandTimeout
from generated.bank import account


async def withdraw(client: CommandClient[Any, Any], entity_id: str, count: int) -> dict[str, Any]:
    accepted: list[int] = []
    rejected: dict[str, int] = {}
    slots = asyncio.Semaphore(25)

    async def one() -> None:
        command_id = str(uuid.uuid4())
        async with slots:
            while True:
                try:
                    result = await client.send_async(
                        entity_id,
                        account.Withdraw(amount=decimal.Decimal("1.00")),
                        command_id=command_id,
                    )
                except CommandTimeout:
                    continue
                except CommandRejected as refused:
                    rejected[refused.reason] = rejected.get(refused.reason, 0) + 1
                else:
                    accepted.append(result.version)
                return

    await asyncio.gather(*(one() for _ in range(count)))
    return {"accepted": accepted, "rejected": rejected}


def main(topic: str, entity_id: str, count: int, ready: Path, go: Path) -> None:
    entity = dataclasses.replace(account.ENTITY, topic=topic)
    with CommandClient(entity, timeout=10.0) as client:
        client.serde.encode_command(account.Withdraw(amount=decimal.Decimal("1.00")))  # ids
        ready.touch()
        deadline = time.monotonic() + 120
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("never told to go")
            time.sleep(0.01)
        print(json.dumps(asyncio.run(withdraw(client, entity_id, count))), flush=True)


if __name__ == "__main__":
    topic, entity_id, count, ready, go = sys.argv[1:6]
    main(topic, entity_id, int(count), Path(ready), Path(go))
