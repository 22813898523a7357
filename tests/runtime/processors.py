"""A command processor process for the fault tests (killed, stopped and fenced on purpose).

``python -m tests.runtime.processors TOPIC OPTIONS_JSON [HOLD_DIR]`` with
``ESGEN_BOOTSTRAP``/``ESGEN_REGISTRY_URL`` set runs a ``CommandProcessor`` for the Account
entity on TOPIC (``OPTIONS_JSON``: its keyword options, e.g. ``{"group_id": "g"}``) until
SIGTERM, printing one line per change of the partitions it has restored
(``ready [0, 2]``) and, when it stops, ``stats {...}`` (its ProcessorStats as JSON).

With ``HOLD_DIR``: when the file ``HOLD_DIR/arm`` exists, the next transaction commit
removes it, creates ``HOLD_DIR/holding`` and waits there (everything of the transaction
produced, nothing committed) until the process is killed or stopped: the test's moment
to kill -9 (or SIGSTOP) a processor in the middle of a transaction.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from esgen.runtime import CommandProcessor
from esgen.runtime.lease import PartitionLease
from generated.bank import account


def hold_commits(folder: Path) -> None:
    commit = PartitionLease.commit

    def held(self: PartitionLease) -> Any:
        arm = folder / "arm"
        if arm.exists():
            arm.unlink()
            (folder / "holding").touch()
            while True:  # until killed; a SIGSTOP/SIGCONT passes through
                time.sleep(0.05)
                if (folder / "release").exists():
                    (folder / "release").unlink()
                    (folder / "holding").unlink()
                    break
        return commit(self)

    PartitionLease.commit = held  # type: ignore[method-assign]


def main(topic: str, options: dict[str, Any], hold: Path | None) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    logging.getLogger("esgen.kafka").setLevel(logging.ERROR)
    if hold is not None:
        hold_commits(hold)
    entity = dataclasses.replace(account.ENTITY, topic=topic)
    processor: CommandProcessor[Any, Any] = CommandProcessor(entity, **options)
    done = threading.Event()

    def report() -> None:
        shown: list[int] = []
        while not done.is_set():
            ready = processor.ready_partitions
            if ready != shown:
                print(f"ready {json.dumps(ready)}", flush=True)
                shown = ready
            time.sleep(0.02)

    watcher = threading.Thread(target=report, daemon=True)
    watcher.start()
    try:
        stats = processor.run()
    finally:
        done.set()
        processor.close()
    print(f"stats {json.dumps(dataclasses.asdict(stats))}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
