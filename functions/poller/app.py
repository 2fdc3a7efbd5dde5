"""poller: on a schedule (once a minute in AWS), it loops until shortly before its timeout,
blocked on the namespace's events stream (XREAD BLOCK: it consumes nothing the workers need),
so new ready work wakes it within milliseconds. Each time it counts the ready backlog, works
out how many workers that needs (one per JOBS_PER_WORKER ready jobs, at most NUM_WORKERS),
subtracts the worker invocations still alive (boltq_core.duties.fleet) and starts the rest with
lambda:Invoke (InvocationType=Event). While workers run, only a backlog still there at the next
check counts: short bursts the live workers absorb start no extra invocations.
LAMBDA_ENDPOINT_URL points boto3 at the local runtime; it is unset in AWS. WORKER_FUNCTION_NAME
names the worker function.

Wake-ups are coalesced: the first event after a quiet spell is acted on at once, but after a
wake the poller reads the stream again only POLLER_COALESCE_MS (default 10) later, so a burst
of submits (and the running/completed events the workers add) costs one read and one backlog
check per interval instead of one per event. A burst larger than one read skips ahead to the
stream's end: the backlog check that follows counts everything before it."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.duties.fleet import Fleet, workers_needed
from boltq_core.jobs.queue import Queue, shared_queue
from boltq_core.observability.metrics import count_invocation

logger = Logger(service="boltq-poller")
_state: dict[str, Any] = {}
WAKE_ON = frozenset({"pending"})  # a job became ready: submitted, promoted, requeued, retried
RESCAN_MS = 1000  # look at the backlog at least this often anyway
READ_COUNT = 500  # events read per wake




def lambda_client() -> Any:
    endpoint = os.environ.get("LAMBDA_ENDPOINT_URL") or None
    c = _state.get("lambda")
    if c is None or _state.get("lambda_endpoint") != endpoint:
        import boto3
        from botocore.config import Config

        cfg = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3,
                                                                  "mode": "standard"})
        c = _state["lambda"] = boto3.client("lambda", endpoint_url=endpoint, config=cfg)
        _state["lambda_endpoint"] = endpoint
    return c


class Scaler:
    """Starts the workers the backlog needs, never more than the cap counting live ones."""

    def __init__(self, q: Queue, invoke: Any, function_name: str) -> None:
        self.q = q
        self.fleet = Fleet(q.redis, q.keys.tag)
        self.invoke = invoke
        self.function_name = function_name
        self.cap = q.settings.num_workers
        raw = os.environ.get("JOBS_PER_WORKER", "")
        self.per_worker = int(raw) if raw else q.settings.worker_concurrency
        self.invoked = 0
        self.failed = 0
        self.backlog: int | None = None  # ready jobs at the last check (None: none yet)

    def scale(self) -> int:
        depth = self.q.ready_depth()
        # with workers running, only a backlog that outlived one check (POLLER_COALESCE_MS)
        # asks for more: a burst the live workers clear meanwhile starts none; the first
        # worker starts at once
        lasting = depth if self.backlog is None else min(depth, self.backlog)
        self.backlog = depth
        if depth <= 0:
            return 0
        live = self.fleet.live()
        need = workers_needed(lasting if live else depth, self.per_worker, self.cap)
        if need <= live:
            return 0
        tokens = self.fleet.reserve(need - live, self.cap)
        if not tokens:
            return 0
        with ThreadPoolExecutor(min(16, len(tokens))) as pool:
            results = list(pool.map(self._start, tokens))
        started = sum(results)
        self.invoked += started
        return started

    def _start(self, token: str) -> bool:
        payload = json.dumps({"source": "boltq.poller", "token": token}).encode()
        try:
            self.invoke(FunctionName=self.function_name, InvocationType="Event", Payload=payload)
            return True
        except Exception as exc:
            self.failed += 1
            self.fleet.leave(token)  # frees the slot at once
            logger.warning("worker invoke failed", extra={"error": str(exc)})
            return False


def _coalesce_seconds() -> float:
    raw = os.environ.get("POLLER_COALESCE_MS", "")
    return max(0.0, float(raw) if raw else 10.0) / 1000


def _last_event_id(q: Queue) -> str:
    last = q.read(lambda: q.redis.xrevrange(q.keys.events, count=1), "events")
    return last[0][0] if last else "0-0"


def run(q: Queue, deadline: float, invoke: Any, function_name: str) -> dict[str, Any]:
    scaler = Scaler(q, invoke, function_name)
    coalesce = _coalesce_seconds()
    last_event: str | None = None
    wakes = reads = failures = 0
    woke_at = float("-inf")
    while (left := deadline - time.monotonic()) > 0:
        try:
            if last_event is None:  # the first pass, or the first after a failed one
                last_event = _last_event_id(q)
                scaler.scale()
            # coalesce: after a wake, let the next events pile up for a moment and take them
            # in one read (the first event after a quiet spell is still taken at once)
            hold = woke_at + coalesce - time.monotonic()
            if hold > 0:
                time.sleep(min(hold, left))
                continue
            # work left waiting (deferred, or its worker is on the way out): look again soon
            # even if no event comes
            block_ms = max(1, int(coalesce * 1000)) if scaler.backlog else RESCAN_MS
            events = q.events(last_event, READ_COUNT, max(1, min(block_ms, int(left * 1000))))
            reads += 1
            if events:
                woke_at = time.monotonic()
                last_event = events[-1][0]
                if len(events) >= READ_COUNT:
                    # more than one read's worth: skip to the end; the check below counts it
                    last_event = _last_event_id(q)
                elif not any(f.get("st") in WAKE_ON for _, f in events):
                    continue
                wakes += 1
            scaler.scale()
            failures = 0
        except Exception as exc:  # one failed pass must not end the loop
            failures += 1
            last_event = None
            logger.warning("poller pass failed; trying again",
                           extra={"error": f"{type(exc).__name__}: {exc}"})
            time.sleep(min(max(0.0, deadline - time.monotonic()), 0.05 * 2 ** min(failures, 6)))
    return {"invoked": scaler.invoked, "invoke_failures": scaler.failed, "wakes": wakes,
            "reads": reads, "failed_passes": failures}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raw = os.environ.get("POLLER_STOP_BEFORE_SECONDS", "")
    stop_before = float(raw) if raw else 2.0
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - stop_before
    function_name = os.environ.get("WORKER_FUNCTION_NAME", "")
    if not function_name:
        raise RuntimeError("WORKER_FUNCTION_NAME is not set")
    q = shared_queue()
    count_invocation(q.redis, q.keys.tag, "poller")
    result = run(q, deadline, lambda_client().invoke, function_name)
    logger.info("poller pass finished", extra=result)
    return result
