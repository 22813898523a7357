"""Without opentelemetry installed, the runtime imports nothing of it and works: a
subprocess that cannot import ``opentelemetry`` appends, loads, has a command decided by
a command processor and runs a projection on the real broker and registry."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.runtime.processing import topics_of

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys


class NoOpenTelemetry:
    '''An import hook that behaves as if opentelemetry were not installed.'''

    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoOpenTelemetry())

import dataclasses
import decimal

import threading

from esgen.runtime import (
    CommandClient,
    CommandProcessor,
    EventStore,
    InMemoryModelStore,
    ProjectionRunner,
    telemetry,
)
from esgen.runtime.store import EventStore as Store
from generated.bank import account
from tests.runtime.projection_support import Balances

assert telemetry.ENABLED is False
assert not hasattr(Store.append, "__wrapped__"), "append is decorated"
assert not hasattr(ProjectionRunner._process, "__wrapped__"), "_process is decorated"
assert not hasattr(CommandProcessor._decide, "__wrapped__"), "_decide is decorated"
assert not hasattr(CommandClient.send, "__wrapped__"), "send is decorated"
try:
    telemetry.use(object())
except RuntimeError as exc:
    assert "pip install 'esgen[otel]'" in str(exc), exc
else:
    raise AssertionError("use() without opentelemetry did not refuse")

bootstrap, registry, topic = sys.argv[1:4]
entity = dataclasses.replace(account.ENTITY, topic=topic)
with EventStore(entity, bootstrap, registry, auto_register=True, partitions=1) as store:
    store.append("acc-1", [account.AccountOpened(owner="Ann")])
    store.append("acc-1", [account.MoneyDeposited(amount=decimal.Decimal("2.50"))])
    assert store.load("acc-1").balance == decimal.Decimal("2.50")
processor = CommandProcessor(entity, bootstrap, registry, auto_register=True, partitions=1)
thread = threading.Thread(target=processor.run)
thread.start()
with CommandClient(entity, bootstrap, registry, auto_register=True) as client:
    assert client.send("acc-2", account.OpenAccount(owner="Bo"), timeout=60).version == 1
processor.stop()
thread.join(60)
processor.close()
model = InMemoryModelStore()
with ProjectionRunner(
    Balances(), model, group_id=topic, bootstrap=bootstrap, registry=registry,
    topics={account.ENTITY: topic},
) as runner:
    stats = runner.run(until_caught_up=True)
assert stats.processed == 3, stats
assert model.snapshot()["balance/acc-1"] == decimal.Decimal("2.50")
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry")
print("loaded:", loaded)
"""


def test_the_runtime_works_without_opentelemetry(
    kafka_bootstrap: str, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("accounts")
    try:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, kafka_bootstrap, registry_url, topic],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        doomed = [*topics_of(topic), f"{topic}.dlq"]
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded: []"
