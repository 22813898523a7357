"""OpenTelemetry traces and metrics of the runtime: an optional extra, ``esgen[otel]``.

With ``opentelemetry-api`` installed, the event store, projection runners and dead-letter
writers report spans and metrics through the API (:mod:`esgen.runtime.telemetry.otel`),
and the trace context travels in Kafka headers (``traceparent``/``tracestate``, W3C
Trace Context, or whatever propagators the application configured) from an append to the
events it writes to the projections that apply them. With the API but no SDK configured,
the API's no-op providers answer and no span is made. Without the API, nothing here
imports it: each hook below is a no-op, and each decorator returns the function it is
given, unchanged (``tests/runtime/test_telemetry_absent.py`` proves it).

The hooks are what the runtime calls, one line per call site:

=============================  ==========================================================
``traced_append``              decorates ``EventStore.append``: span ``append <topic>``,
                               histogram ``esgen.append.duration``
``traced_load``                decorates ``EventStore.load``: span ``load <topic>``,
                               histogram ``esgen.load.events`` (events replayed)
``trace_headers()``            the current trace context as Kafka headers, for the
                               records being written
``traced_projection_batch``    decorates ``ProjectionRunner._process``: span ``process
                               <topic>`` per batch, and one per trace context its
                               records carry (per append), in that trace
``traced_send``                decorates ``CommandClient.send``/``send_async``: span
                               ``send <topic>.commands``
``traced_decide``              decorates ``CommandProcessor._decide``: span ``process
                               <topic>.commands`` in the command's trace
``traced_commit``              decorates ``CommandProcessor._commit``: span ``commit
                               <topic>.commands`` per batch transaction, counters
                               ``esgen.commands`` (by outcome) and
                               ``esgen.commands.rejected`` (by reason)
``dead_letter(...)``           counter ``esgen.dead_letters`` (by stage and error type)
``watch_lag(runner)``          observable gauge ``esgen.projection.lag``
=============================  ==========================================================

Applications configure the SDK as usual (the global providers); :func:`use` gives esgen
providers of its own instead (tests, or an application that keeps esgen apart). The
names, attributes and what to alert on are in ``docs/operations.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from esgen.runtime.projections.runner import ProjectionRunner

try:
    from esgen.runtime.telemetry import otel as _otel
except ImportError as exc:  # the extra is not installed: every hook is a no-op
    if not (exc.name or "").startswith("opentelemetry"):
        raise
    _otel = None  # type: ignore[assignment]

ENABLED = _otel is not None
"""Whether opentelemetry-api is installed (then the hooks report through it)."""

_NO_HEADERS: list[tuple[str, bytes]] = []


def _unchanged(func: F) -> F:
    return func


def _no_headers() -> list[tuple[str, bytes]]:
    return _NO_HEADERS


if _otel is not None:
    traced_append = _otel.traced_append
    traced_load = _otel.traced_load
    traced_projection_batch = _otel.traced_projection_batch
    trace_headers = _otel.trace_headers
    dead_letter = _otel.dead_letter
    watch_lag = _otel.watch_lag
    traced_send = _otel.traced_send
    traced_decide = _otel.traced_decide
    traced_commit = _otel.traced_commit
else:
    traced_append = traced_load = traced_projection_batch = _unchanged
    traced_send = traced_decide = traced_commit = _unchanged
    trace_headers = _no_headers

    def dead_letter(
        topic: str, partition: int, offset: int, stage: str, error: BaseException, consumer: str
    ) -> None:
        return None

    def watch_lag(runner: ProjectionRunner) -> None:
        return None


def use(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Report to these providers from now on instead of the global ones (None: the
    global one again). Without opentelemetry-api installed: a ``RuntimeError``."""
    if _otel is None:
        raise RuntimeError(
            "esgen.runtime.telemetry.use(): opentelemetry-api is not installed; "
            "pip install 'esgen[otel]' (and opentelemetry-sdk to export)"
        )
    _otel.use(tracer_provider, meter_provider)


__all__ = [
    "ENABLED",
    "dead_letter",
    "trace_headers",
    "traced_append",
    "traced_commit",
    "traced_decide",
    "traced_load",
    "traced_projection_batch",
    "traced_send",
    "use",
    "watch_lag",
]
