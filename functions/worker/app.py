"""worker: started by the poller (lambda:Invoke, InvocationType=Event). Runs the core Runner:
claims batches, runs processors, records outcomes (retries, dead letters, workflow steps; every
transition lands on the events stream the StatusPusher reads), until the queue has been empty
for WORKER_IDLE_SECONDS or its time is nearly up, or it has had spare capacity for that long
while other workers run (it retires: a fleet scaled up for a burst shrinks back). With the
deadline taken from context.get_remaining_time_in_millis() the runner never claims a job whose
timeout would outlive the invocation. It reports in to the fleet (boltq_core.duties.fleet) so the
poller counts it.

Processors: the built-ins (echo, sleep, fail) plus the modules named in BOLTQ_PROCESSORS
(comma-separated, imported at cold start; they register with @processor("type"))."""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.config import Settings
from boltq_core.duties.fleet import Fleet, retirer
from boltq_core.observability import tracing
from boltq_core.observability.job_logs import JobLogHooks
from boltq_core.observability.metrics import MetricsHooks, count_invocation
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.runner import Runner, RunStats
from boltq_core.store.connect import connect

logger = Logger(service="boltq-worker")
tracing.setup_from_env("boltq-worker")  # OTLP export only when OTEL_EXPORTER_OTLP_ENDPOINT is set

for _name in filter(None, (m.strip() for m in os.environ.get("BOLTQ_PROCESSORS", "").split(","))):
    importlib.import_module(_name)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw else default


def _metrics_off() -> bool:
    return os.environ.get("BOLTQ_METRICS", "1").lower() in ("0", "false", "no", "off")


# a crashed worker stops counting after FLEET_TTL_MS, so the poller replaces it soon
FLEET_TTL_MS = 30_000


async def _stay_in_fleet(aq: AsyncQueue, fleet_key: str, token: str) -> None:
    while True:
        try:
            # XX: renews only; a token that retired or left is not brought back
            await aq.redis.zadd(fleet_key, {token: int(time.time() * 1000) + FLEET_TTL_MS},
                                xx=True)
        except Exception as exc:  # the store is away: the runner rides it out, so do we
            logger.warning("fleet renewal failed", extra={"error": str(exc)})
        await asyncio.sleep(FLEET_TTL_MS / 3000)


async def work(
    settings: Settings, deadline: float, idle_timeout: float, fleet_key: str, token: str
) -> RunStats:
    aq = AsyncQueue(settings)
    renew = asyncio.create_task(_stay_in_fleet(aq, fleet_key, token))
    # processing-time / queue-wait histograms in Redis (boltq_core.observability.metrics), sent
    # with the runner's finish round trips; BOLTQ_METRICS=0: off
    metrics = None if _metrics_off() else MetricsHooks("{" + settings.key_prefix + "}")
    try:
        # spare capacity for WORKER_IDLE_SECONDS: leave unless this is the last worker
        retire = retirer(aq.redis, fleet_key, token)
        runner = Runner(aq, deadline=deadline, idle_timeout=idle_timeout, retire=retire,
                        hooks=[JobLogHooks(logger), *([metrics] if metrics else []),
                               *tracing.runner_hooks()])
        return await runner.run()
    finally:
        renew.cancel()
        await asyncio.gather(renew, return_exceptions=True)
        await aq.aclose()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_env()
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - _env_float("WORKER_STOP_BEFORE_SECONDS", 3.0)
    token = (event or {}).get("token") or context.aws_request_id
    # bookkeeping on short timeouts: an unreachable store must not hold the invocation past
    # its end (the runner itself returns by its deadline)
    client = connect(settings.model_copy(update={
        "store_timeout_seconds": 1.0, "store_connect_timeout_seconds": 1.0,
        "store_retry_seconds": 0.5}))
    fleet = Fleet(client, "{" + settings.key_prefix + "}")
    _bookkeep(lambda: fleet.join(token, int(time.time() * 1000) + FLEET_TTL_MS), "join fleet")
    if not _metrics_off():
        count_invocation(client, "{" + settings.key_prefix + "}", "worker")
    try:
        idle = _env_float("WORKER_IDLE_SECONDS", 2.0)
        stats = asyncio.run(work(settings, deadline, idle, fleet.key, token))
    finally:
        _bookkeep(lambda: fleet.leave(token), "leave fleet")
        client.close()
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


def _bookkeep(fn: Any, what: str) -> None:
    try:
        fn()
    except Exception as exc:  # never worth failing the invocation over
        logger.warning(f"could not {what}", extra={"error": str(exc)})
