"""worker: started by the poller (lambda:Invoke, InvocationType=Event). One worker invocation
(boltq_core.running.invocation): claims batches, runs processors, records outcomes, until the
queue has been empty for WORKER_IDLE_SECONDS, its time is nearly up (WORKER_STOP_BEFORE_SECONDS
before the Lambda's end; it never claims a job whose timeout would outlive the invocation), or
it retires. Here: the hooks (JSON log lines, metrics, traces) and the Lambda's deadline.

Processors: the built-ins (echo, sleep, fail) plus the modules named in BOLTQ_PROCESSORS
(comma-separated, imported at cold start; they register with @processor("type"))."""

from __future__ import annotations

import importlib
import os
import time
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.config import shared_settings
from boltq_core.observability import tracing
from boltq_core.observability.counters import count_invocation
from boltq_core.observability.job_logs import JobLogHooks
from boltq_core.observability.metrics_hooks import MetricsHooks
from boltq_core.running.invocation import bookkeeping_client, work

logger = Logger(service="boltq-worker")
tracing.setup_from_env("boltq-worker")  # OTLP export only when OTEL_EXPORTER_OTLP_ENDPOINT is set

for _name in shared_settings().processor_modules:
    importlib.import_module(_name)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = shared_settings()
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - settings.worker_stop_before_seconds
    token = (event or {}).get("token") or context.aws_request_id
    # processing-time / queue-wait histograms ride on the runner's round trips (BOLTQ_METRICS)
    hooks = [JobLogHooks(logger), *([MetricsHooks(settings.keys)] if settings.metrics_enabled
                                    else []), *tracing.runner_hooks()]
    client = bookkeeping_client(settings)
    if settings.metrics_enabled:
        count_invocation(client, settings.keys, "worker")
    try:
        stats = work(settings, deadline, token, hooks, client)
    finally:
        tracing.flush()
    result = {"claimed": stats.claimed, "recorded": stats.recorded}
    logger.info("worker finished", extra=result)
    if stats.abandoned:
        # a sync processor ignored its timeout and still runs: end the process (Lambda starts
        # a fresh one), so that thread cannot run on once its job's lease lapses and the job
        # runs elsewhere
        logger.error("sync processor threads outlived their timeout; ending the process",
                     extra={"abandoned": stats.abandoned})
        os._exit(1)
    return result
