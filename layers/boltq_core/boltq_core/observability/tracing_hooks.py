"""TracingHooks: the worker side of tracing (see tracing.py, which makes them - this module is
imported only when tracing is on): a span per attempt, restored from the trace context stored
with the job."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from boltq_core.running.attempt import JobContext, Outcome, RunnerHooks

log = logging.getLogger("boltq.tracing")


class TracingHooks(RunnerHooks):
    """`tracer`: the provider's tracer; `context_from(traceparent)`: the Context to continue."""

    def __init__(self, tracer: Any, context_from: Callable[[str | None], Any]) -> None:
        self.tracer = tracer
        self.context_from = context_from
        self._open: dict[tuple[str, int], tuple[Any, Any, Any]] = {}
        self._ending: dict[tuple[str, int], Any] = {}

    def on_start(self, ctx: JobContext) -> None:
        try:
            f = ctx.claimed.fields
            parent = self.context_from(f.get("trace"))
            queued = ctx.claimed.queued_ms if ctx.attempt == 1 else None
            if queued is not None:
                self.tracer.start_span(
                    "boltq.queue_wait", context=parent, start_time=queued[0] * 1_000_000,
                    attributes={"boltq.job_id": ctx.job_id},
                ).end(end_time=queued[1] * 1_000_000)
            attrs = {"boltq.job_id": ctx.job_id, "boltq.job_type": ctx.type,
                     "boltq.attempt": ctx.attempt, "messaging.system": "boltq"}
            if f.get("wf"):
                attrs["boltq.workflow_id"] = f["wf"]
            job = self.tracer.start_span(f"boltq.job {ctx.type}", context=parent,
                                         kind=SpanKind.CONSUMER, attributes=attrs)
            proc = self.tracer.start_span(f"boltq.process {ctx.type}",
                                          context=trace.set_span_in_context(job))
            token = otel_context.attach(trace.set_span_in_context(proc))
            self._open[(ctx.job_id, ctx.attempt)] = (job, proc, token)
        except Exception as exc:  # hooks must not raise
            log.warning("tracing hook: %s", exc)

    def on_finish(self, ctx: JobContext, outcome: Outcome, seconds: float) -> None:
        opened = self._open.pop((ctx.job_id, ctx.attempt), None)
        if opened is None:
            return
        job, proc, token = opened
        try:
            otel_context.detach(token)
            job.set_attribute("boltq.outcome", outcome.kind.label)
            if outcome.kind.is_error:
                message = f"{outcome.category}: {outcome.message[:500]}"
                proc.add_event("exception", {"exception.type": outcome.category,
                                             "exception.message": outcome.message[:2000]})
                proc.set_status(Status(StatusCode.ERROR, message))
                job.set_status(Status(StatusCode.ERROR, message))
            proc.end()
        except Exception as exc:
            log.warning("tracing hook: %s", exc)
        self._ending[(outcome.job_id, outcome.attempt)] = job

    def on_recorded(self, outcomes: Sequence[Outcome], statuses: Sequence[str]) -> None:
        for o, status in zip(outcomes, statuses, strict=False):
            job = self._ending.pop((o.job_id, o.attempt), None)
            if job is not None:
                try:
                    job.set_attribute("boltq.status", status)
                    job.end()
                except Exception as exc:
                    log.warning("tracing hook: %s", exc)
