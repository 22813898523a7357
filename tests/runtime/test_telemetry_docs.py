"""docs/operations.md's monitoring and logging snippets, executed: the SDK configured
globally as the docs say (OTLP exporters stood in for by in-memory ones), an append in a
request's span is exported under it, its metric is exported, and the logging set-up puts
esgen's parts at INFO."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"


def snippet(section: str) -> str:
    """The first Python block of a section of docs/operations.md."""
    text = DOC.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", text, re.S)
    assert found is not None, f"no Python snippet in {section}"
    return found.group(1)


SCRIPT = """
import io, logging, sys, types
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# The OTLP exporters of the docs, stood in for: nothing here may leave the machine.
SPANS, METRICS = InMemorySpanExporter(), io.StringIO()
for name, attribute, make in (
    ("trace_exporter", "OTLPSpanExporter", lambda: SPANS),
    ("metric_exporter", "OTLPMetricExporter", lambda: ConsoleMetricExporter(out=METRICS)),
):
    module = types.ModuleType(f"opentelemetry.exporter.otlp.proto.http.{name}")
    setattr(module, attribute, make)
    sys.modules[module.__name__] = module

exec(sys.argv[4])  # the monitoring snippet
exec(sys.argv[5])  # the logging snippet
assert logging.getLogger("esgen.store").getEffectiveLevel() == logging.INFO

import dataclasses
from opentelemetry import metrics, trace
from esgen.runtime import EventStore
from generated.bank import account

bootstrap, registry, topic = sys.argv[1:4]
entity = dataclasses.replace(account.ENTITY, topic=topic)
with EventStore(entity, bootstrap, registry, auto_register=True, partitions=1) as store:
    with trace.get_tracer("app").start_as_current_span("handle request") as request:
        store.append("acc-1", [account.AccountOpened(owner="Ann")])
trace.get_tracer_provider().force_flush()
metrics.get_meter_provider().shutdown()
(append,) = [s for s in SPANS.get_finished_spans() if s.name == f"append {topic}"]
assert append.parent.span_id == request.get_span_context().span_id, append.parent
assert '"esgen.append.duration"' in METRICS.getvalue(), METRICS.getvalue()[:2000]
print("ok")
"""


def test_the_documented_set_up_exports_esgens_spans_and_metrics(
    kafka_bootstrap: str, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("accounts")
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                SCRIPT,
                kafka_bootstrap,
                registry_url,
                topic,
                snippet("Monitoring: traces and metrics"),
                snippet("Logs"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for future in admin.delete_topics([topic, f"{topic}.snapshots"]).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
