"""esgen's loggers: one per part of the runtime, all under ``esgen`` (standard ``logging``).

The runtime never prints and never configures logging: the application does (for
example ``logging.basicConfig(level=logging.INFO)``, or a handler on ``esgen``). Until
it does, Python's last-resort handler shows warnings and errors on stderr.

=====================  ==============================================================
``esgen.store``        the event store: appends, loads, leases, snapshots, topics
``esgen.projections``  projection runners and their redrives
``esgen.processor``    command processors: ownership, restores, batches retried
``esgen.client``       command clients: replies they cannot read or wait for
``esgen.dlq``          dead-letter writers
``esgen.kafka``        librdkafka's own log lines (connections, retries)
=====================  ==============================================================

What each logs at which level is in ``docs/operations.md`` (Logs). Each module takes its
part's logger from here, so a part has one name wherever its code lives
(``tests/runtime/test_logging.py`` checks that no runtime module makes its own).
"""

from __future__ import annotations

import logging

ROOT = "esgen"

store = logging.getLogger("esgen.store")
projections = logging.getLogger("esgen.projections")
processor = logging.getLogger("esgen.processor")
client = logging.getLogger("esgen.client")
dlq = logging.getLogger("esgen.dlq")
kafka = logging.getLogger("esgen.kafka")

PARTS = (store, projections, processor, client, dlq, kafka)
"""Every logger of the runtime (the table above)."""
