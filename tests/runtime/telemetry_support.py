"""The OpenTelemetry SDK's in-memory span exporter and metric reader, with esgen reporting
to them (``esgen.runtime.telemetry.use``): the ``otel`` fixture of the telemetry tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from esgen.runtime import telemetry


@dataclass
class Otel:
    """The SDK's in-memory exporter and reader, with esgen reporting to them."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer: Any

    def finished(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]

    def points(self, metric: str) -> list[Any]:
        """The data points of ``metric`` collected now."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found.extend(item.data.data_points)
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry.use(tracer_provider, meter_provider)
    try:
        yield Otel(exporter, reader, tracer_provider.get_tracer("test"))
    finally:
        telemetry.use(None, None)
        meter_provider.shutdown()
        tracer_provider.shutdown()
