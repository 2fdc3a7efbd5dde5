"""Tracing (SPEC §6): one OpenTelemetry trace per job, across the Redis hop.

- Submit: `submit_span(...)` opens a PRODUCER span (a child of the caller's W3C `traceparent`,
  when given) and yields the traceparent to store with the job (`Queue.submit(spec, trace=tp)`
  keeps it in the job hash, field "trace").
- Worker: `TracingHooks` (a RunnerHooks) restores that context for every attempt:
    boltq.queue_wait   submit -> first start (attempt 1; from the hash's created/started times)
    boltq.job <type>   CONSUMER, one per attempt (a retry is a new span in the same trace),
                       ends when the outcome is stored (attribute boltq.status)
      boltq.process <type>   the processor's run; made current, so spans an async processor
                             opens are its children; a failed attempt records the error
- Export: OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (`setup_from_env`, once per
  process; `flush()` before a Lambda invocation returns). Otherwise nothing is configured,
  `enabled()` is False, the functions install no hooks and store no context: no overhead.
  opentelemetry is optional: without it tracing stays off."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boltq_core.running.attempt import RunnerHooks

log = logging.getLogger("boltq.tracing")
_state: dict[str, Any] = {"provider": None}


def _otel() -> Any:
    """The opentelemetry API, imported on first use: with tracing off (the usual case) the
    functions' cold start never pays for it. None when it is not installed."""
    if "api" not in _state:
        try:
            from opentelemetry import trace
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )

            _state["api"] = trace
            _state["propagator"] = TraceContextTextMapPropagator()
        except ImportError:
            _state["api"] = _state["propagator"] = None
    return _state["api"]


def use_provider(provider: Any) -> None:
    """Trace with this TracerProvider (None: tracing off). setup_from_env calls it; tests pass
    one with an in-memory exporter."""
    _state["provider"] = provider


def enabled() -> bool:
    return _state["provider"] is not None


def tracer() -> Any:
    return _state["provider"].get_tracer("boltq")


def setup_from_env(service: str) -> bool:
    """Configure OTLP/HTTP export once per process when OTEL_EXPORTER_OTLP_ENDPOINT is set
    (service.name: OTEL_SERVICE_NAME or `service`). Returns enabled()."""
    if enabled() or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return enabled()
    trace = _otel()
    try:
        if trace is None:
            raise ImportError("no module named 'opentelemetry'")
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK or its OTLP "
                    "exporter is missing: %s", exc)
        return False
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use_provider(provider)
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # processors' own spans are exported too
    return True


def flush(timeout_ms: int = 2000) -> None:
    """Export what is buffered (a Lambda is frozen after it returns); never raises."""
    if enabled():
        try:
            _state["provider"].force_flush(timeout_ms)
        except Exception as exc:
            log.warning("trace export failed: %s", exc)


def traceparent() -> str | None:
    """The current span's W3C traceparent, or None."""
    if not enabled():
        return None
    carrier: dict[str, str] = {}
    _otel()
    _state["propagator"].inject(carrier)
    return carrier.get("traceparent")


def context_from(value: str | None) -> Any:
    """The OpenTelemetry Context of a stored traceparent (None when there is none)."""
    if not value or _otel() is None:
        return None
    return _state["propagator"].extract({"traceparent": value})


@contextmanager
def submit_span(parent: str | None = None, name: str = "boltq.submit",
                **attributes: Any) -> Iterator[str | None]:
    """A PRODUCER span around a submit, child of `parent` (a traceparent header) when given;
    yields the traceparent to store with the job(s), None when tracing is off."""
    if not enabled():
        yield None
        return
    kind = _otel().SpanKind.PRODUCER
    with tracer().start_as_current_span(name, context=context_from(parent),
                                        kind=kind, attributes=attributes):
        yield traceparent()


def set_attribute(key: str, value: Any) -> None:
    if enabled():
        _otel().get_current_span().set_attribute(key, value)


def runner_hooks() -> list[RunnerHooks]:
    """[TracingHooks()] when tracing is on, else []."""
    if not enabled():
        return []
    from boltq_core.observability.tracing_hooks import TracingHooks

    return [TracingHooks(tracer(), context_from)]


__all__ = ["context_from", "enabled", "flush", "runner_hooks", "set_attribute",
           "setup_from_env", "submit_span", "traceparent", "use_provider"]
