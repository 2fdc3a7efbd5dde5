"""JobLogHooks: a RunnerHooks that writes one structured line when a job starts and one when
its attempt ends, with job id, type, attempt, workflow id and (when the job was submitted with
tracing on) the trace id. Give it a Powertools Logger (JSON lines in Lambda) or any
logging.Logger; the fields travel in `extra`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boltq_core.running.attempt import JobContext, Outcome, RunnerHooks


def trace_id(traceparent: Any) -> str | None:
    """The trace id of a stored W3C traceparent ("00-<trace id>-<span id>-<flags>"), if valid."""
    parts = traceparent.split("-") if isinstance(traceparent, str) else ()
    if len(parts) == 4 and len(parts[1]) == 32 and parts[1].strip("0"):
        return parts[1]
    return None


def job_fields(ctx: JobContext) -> dict[str, Any]:
    fields = {
        "job_id": ctx.job_id,
        "job_type": ctx.type,
        "attempt": ctx.attempt,
        "max_attempts": ctx.claimed.max_attempts,
        "workflow_id": ctx.workflow_id,
    }
    # the trace context stored with the job (only when tracing was on at submit): the same
    # trace id as the job's spans, so a log line leads to its trace
    tid = trace_id(ctx.claimed.fields.get("trace"))
    if tid:
        fields["trace_id"] = tid
    return fields


class JobLogHooks(RunnerHooks):
    def __init__(self, logger: Any) -> None:
        self.log = logger

    def on_start(self, ctx: JobContext) -> None:
        self.log.info("job started", extra=job_fields(ctx))

    def on_finish(self, ctx: JobContext, outcome: Outcome, seconds: float) -> None:
        fields = {**job_fields(ctx), "outcome": outcome.kind.label,
                  "duration_ms": round(seconds * 1000, 1)}
        if outcome.kind.is_error:
            fields["error_category"] = outcome.category
            fields["error"] = outcome.message[:500]
            self.log.warning("job attempt failed", extra=fields)
        else:
            self.log.info("job finished", extra=fields)

    def on_recorded(self, outcomes: Sequence[Outcome], statuses: Sequence[str]) -> None:
        for o, status in zip(outcomes, statuses, strict=False):
            if status == "stale":
                self.log.warning("outcome refused: the job's lease was lost",
                                 extra={"job_id": o.job_id, "attempt": o.attempt})
