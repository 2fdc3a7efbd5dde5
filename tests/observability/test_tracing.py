"""Tracing (SPEC §6, issue 5) with an in-memory exporter: one trace from the API request through
the queue wait to each worker attempt and the processor, across the Redis hop; a retried attempt
is a new span in the same trace with its error recorded; nothing is traced when tracing is off."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from boltq_core import Queue
from boltq_core.observability import tracing
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import processor
from tests.conftest import wait_for
from tests.functions.conftest import LambdaContext, load_function, rest_event
from tests.observability.helpers import Promoters, run_workers

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@processor("obs_traced")
async def obs_traced(ctx: JobContext) -> Any:
    """Fails its first attempt; on the second opens a span of its own (through the global
    OpenTelemetry API, as user code would)."""
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    with trace.get_tracer("user.code").start_as_current_span("user work"):
        return {"ok": True}


@pytest.fixture(scope="session")
def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    return provider, exporter


@pytest.fixture
def spans(_provider: tuple[TracerProvider, InMemorySpanExporter]
          ) -> Iterator[InMemorySpanExporter]:
    provider, exporter = _provider
    exporter.clear()
    tracing.use_provider(provider)
    yield exporter
    tracing.use_provider(None)
    exporter.clear()


def submit(body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    api = load_function("api")
    resp = api.handler(rest_event("POST", "/api/v1/jobs", body, headers=headers),
                       LambdaContext("boltq-api"))
    assert resp["statusCode"] in (200, 201, 202), resp
    return str(json.loads(resp["body"])["data"]["job_id"])


def test_one_trace_from_the_request_to_every_attempt(env: Queue,
                                                     spans: InMemorySpanExporter) -> None:
    job_id = submit({"type": "obs_traced", "max_attempts": 3, "timeout_seconds": 5},
                    {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert env.redis.hget(env.keys.tag + ":job:" + job_id, "trace").startswith(
        f"00-{CLIENT_TRACE}-")
    with Promoters():  # brings the retry back
        wait_for(lambda: run_workers(1) and env.get(job_id).status == "completed", timeout=20)
    finished = spans.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for s in finished:
        by_name.setdefault(s.name, []).append(s)
    assert {s.context.trace_id for s in finished} == {int(CLIENT_TRACE, 16)}
    (sub,) = by_name["boltq.submit"]
    assert sub.kind == SpanKind.PRODUCER and sub.parent.span_id == int(CLIENT_SPAN, 16)
    assert sub.attributes["boltq.job_id"] == job_id
    (wait,) = by_name["boltq.queue_wait"]
    assert wait.parent.span_id == sub.context.span_id and wait.end_time >= wait.start_time
    jobs = sorted(by_name["boltq.job obs_traced"], key=lambda s: s.attributes["boltq.attempt"])
    assert [j.attributes["boltq.attempt"] for j in jobs] == [1, 2]
    assert all(j.kind == SpanKind.CONSUMER and j.parent.span_id == sub.context.span_id
               for j in jobs)
    assert [j.attributes["boltq.status"] for j in jobs] == ["retrying", "completed"]
    assert jobs[0].status.status_code == StatusCode.ERROR
    assert jobs[1].status.status_code != StatusCode.ERROR
    procs = sorted(by_name["boltq.process obs_traced"], key=lambda s: s.start_time)
    assert [p.parent.span_id for p in procs] == [j.context.span_id for j in jobs]
    assert procs[0].status.status_code == StatusCode.ERROR
    (err,) = [e for e in procs[0].events if e.name == "exception"]
    assert "first attempt fails" in err.attributes["exception.message"]
    (user,) = by_name["user work"]
    assert user.parent.span_id == procs[1].context.span_id


def test_without_a_client_trace_the_submit_span_is_the_root(env: Queue,
                                                            spans: InMemorySpanExporter) -> None:
    job_id = submit({"type": "echo", "timeout_seconds": 5})
    run_workers(1)
    assert env.get(job_id).status == "completed"
    finished = spans.get_finished_spans()
    (sub,) = [s for s in finished if s.name == "boltq.submit"]
    assert sub.parent is None
    assert {s.context.trace_id for s in finished} == {sub.context.trace_id}
    assert {s.name for s in finished} == {"boltq.submit", "boltq.queue_wait", "boltq.job echo",
                                          "boltq.process echo"}


def test_workflow_steps_are_in_the_workflow_trace(env: Queue,
                                                 spans: InMemorySpanExporter) -> None:
    api = load_function("api")
    body = {"name": "traced", "steps": [
        {"job_type": "echo", "timeout_seconds": 5},
        {"job_type": "echo", "timeout_seconds": 5, "depends_on": ["step-1"]},
    ]}
    resp = api.handler(rest_event("POST", "/api/v1/workflows", body,
                                  headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}),
                       LambdaContext("boltq-api"))
    assert resp["statusCode"] == 200, resp
    wf_id = json.loads(resp["body"])["data"]["workflow_id"]
    from boltq_core.jobs.workflows import Workflows

    wait_for(lambda: run_workers(1) and Workflows(env).get(wf_id)["status"] == "completed",
             timeout=20)
    finished = spans.get_finished_spans()
    assert {s.context.trace_id for s in finished} == {int(CLIENT_TRACE, 16)}
    (root,) = [s for s in finished if s.name == "boltq.workflow"]
    assert root.attributes["boltq.workflow_id"] == wf_id
    steps = [s for s in finished if s.name == "boltq.job echo"]
    assert len(steps) == 2 and all(s.parent.span_id == root.context.span_id for s in steps)


def test_tracing_off_stores_and_exports_nothing(env: Queue,
                                                _provider: tuple[TracerProvider, Any]) -> None:
    _provider[1].clear()
    assert not tracing.enabled() and tracing.runner_hooks() == []
    job_id = submit({"type": "echo", "timeout_seconds": 5},
                    {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert env.redis.hget(env.keys.tag + ":job:" + job_id, "trace") is None
    run_workers(1)
    assert env.get(job_id).status == "completed"
    assert _provider[1].get_finished_spans() == ()


def test_otlp_export_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not tracing.setup_from_env("boltq-test")  # no endpoint: stays off
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    try:
        assert tracing.setup_from_env("boltq-test") and tracing.enabled()
        provider = tracing._state["provider"]
        assert provider.resource.attributes["service.name"] == "boltq-test"
        exporters = [type(p.span_exporter).__name__ for p in
                     provider._active_span_processor._span_processors]
        assert exporters == ["OTLPSpanExporter"]
    finally:
        provider = tracing._state["provider"]
        tracing.use_provider(None)
        if provider is not None:
            provider.shutdown()


def test_every_job_log_line_carries_the_trace_id(env: Queue, spans: InMemorySpanExporter,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The worker's JSON lines inside a job carry the stored trace context's trace id (with job
    id, type and attempt), so a log line leads to its trace."""
    job_id = submit({"type": "echo", "data": {"x": 1}, "timeout_seconds": 5},
                    {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    worker = load_function("worker")
    level = worker.logger.log_level
    worker.logger.setLevel("INFO")
    try:
        with caplog.at_level(logging.INFO, logger="boltq-worker"):
            wait_for(lambda: run_workers(1) and env.get(job_id).status == "completed",
                     timeout=20)
    finally:
        worker.logger.setLevel(level)
    # each record as the worker's Powertools formatter writes it: one JSON object per line
    fmt = worker.logger.registered_formatter
    lines = [json.loads(fmt.format(r)) for r in caplog.records if r.name == "boltq-worker"]
    mine = [r for r in lines if r.get("job_id") == job_id]
    assert [r["message"] for r in mine] == ["job started", "job finished"]
    assert all(r["trace_id"] == CLIENT_TRACE and r["job_type"] == "echo" and r["attempt"] == 1
               for r in mine), mine
