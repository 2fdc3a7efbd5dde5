"""promoter: on an EventBridge schedule (once a minute in AWS). Within one invocation it loops
until shortly before its timeout, moving due delayed and retrying jobs to ready and recovering
expired leases at the moment they fall due (it sleeps on the events stream, so a new delayed
job re-arms it at once), and pushes status changes to WebSocket subscribers from a second
thread (boltq_core.duties.status_push). A lock in Redis makes overlapping invocations take
turns: a second one waits for the lock, so the hand-over between scheduled runs leaves no gap.

Wake-ups are coalesced: after reading events, the promoter reads the stream again only
PROMOTER_COALESCE_MS (default 10) later (never past a job's due moment), so a burst of
`scheduled`/`running` events costs one re-plan per interval rather than one per event; the
pusher coalesces the same way (BOLTQ_PUSH_COALESCE_MS). A burst larger than one read skips to
the stream's end: the re-plan that follows sees everything before it."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.duties.lock import Lock
from boltq_core.duties.status_push import Poster, connect_pusher
from boltq_core.jobs.queue import Queue, shared_queue
from boltq_core.observability.metrics import count_invocation, pusher_from_env
from boltq_core.store.connect import eviction_warning

logger = Logger(service="boltq-promoter")
WAKE_ON = frozenset({"scheduled", "retrying", "running"})  # may move the next due moment up
MAX_SLEEP_MS = 1000
READ_COUNT = 100  # events read per wake
_checked: list[bool] = []  # the store's eviction policy was checked by this container




def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw else default


def _push_enabled() -> bool:
    return os.environ.get("BOLTQ_PUSH", "1").lower() not in ("0", "false", "no", "off")


def run(q: Queue, deadline: float, poster: Poster | None = None) -> dict[str, Any]:
    """Promote (and push) until time.monotonic() reaches `deadline`."""
    lock = Lock(q.redis, f"{q.keys.tag}:promoter:lock", lease_ms=10_000)
    if not lock.acquire(wait_until=deadline):
        return {"skipped": "another promoter held the lock until this one's deadline"}
    totals = {"promoted": 0, "recovered": 0, "expired": 0, "passes": 0, "pushed": 0}
    # the one pusher of the namespace's metrics (it holds the lock): PUSHGATEWAY_URL, own thread
    metrics = pusher_from_env(q, os.environ.get, logger)
    stop = threading.Event()
    coalesce_ms = max(0.0, _env_float("PROMOTER_COALESCE_MS", 10.0))
    wake_on = WAKE_ON
    if q.settings.lease_seconds * 1000 >= MAX_SLEEP_MS:
        # a new lease ends no sooner than the next look (at most MAX_SLEEP_MS away): a job
        # starting to run cannot move the plan up, so `running` events need no re-plan
        wake_on = WAKE_ON - {"running"}
    pusher = connect_pusher(q, poster, coalesce_ms=max(0.0, _env_float(
        "BOLTQ_PUSH_COALESCE_MS", 10.0))) if _push_enabled() else None
    pushed: list[int] = []
    thread = None
    if pusher is not None:
        thread = threading.Thread(
            target=lambda: pushed.append(pusher.run_until(deadline, stop.is_set, 500)),
            name="boltq-pusher", daemon=True,
        )
        thread.start()
    try:
        failures = 0
        last_event: str | None = None
        read_at = float("-inf")  # time.monotonic() of the last read that returned events
        while (left := deadline - time.monotonic()) > 0:
            try:
                if last_event is None:
                    last_event = _last_event_id(q)
                pass_ms = int(time.time() * 1000)
                r = q.promote()
                totals["passes"] += 1
                for k in ("promoted", "recovered", "expired"):
                    totals[k] += getattr(r, k)
                if not lock.renew() and not lock.acquire():
                    logger.warning("promoter lock taken by another promoter; stopping")
                    break
                last_event, read_at = _wait(q, deadline, pass_ms, r.next_wake_ms, last_event,
                                            read_at, coalesce_ms, wake_on)
                failures = 0
            except Exception as exc:  # one failed pass must not end the loop
                failures += 1
                logger.warning("promoter pass failed; trying again",
                               extra={"error": f"{type(exc).__name__}: {exc}"})
                time.sleep(min(left, 0.05 * 2 ** min(failures, 6)))
        return totals
    finally:
        stop.set()
        if metrics is not None:
            metrics.stop(wait=1.0)  # a last push; a hanging Pushgateway holds us 1 s at most
            totals["metrics_pushes"] = metrics.pushes
        if thread is not None:
            thread.join(timeout=10)
        if pusher is not None:
            pusher.close()
            totals["pushed"] = sum(pushed)
        lock.release()


def _wait(q: Queue, deadline: float, pass_ms: int, next_wake: int, last_event: str,
          read_at: float, coalesce_ms: float, wake_on: frozenset[str]) -> tuple[str, float]:
    """Sleep on the events stream until the next pass is due: the next due moment, news that
    may move it up, or MAX_SLEEP_MS after the last pass. Returns the stream position and the
    time of the last read that returned events."""
    while True:
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            return last_event, read_at
        now_ms = int(time.time() * 1000)
        wait = MAX_SLEEP_MS if next_wake < 0 else next_wake - now_ms
        # look again at least every MAX_SLEEP_MS, however busy the stream is
        wait = min(wait, pass_ms + MAX_SLEEP_MS - now_ms)
        if wait <= 0:
            return last_event, read_at
        # coalesce: let events pile up for a moment after a read (not past `wait`)
        hold_ms = (read_at - time.monotonic()) * 1000 + coalesce_ms
        if hold_ms >= 1:
            time.sleep(min(hold_ms, wait, left_ms) / 1000)
            continue
        events = q.events(last_event, READ_COUNT, max(1, min(wait, MAX_SLEEP_MS, left_ms)))
        if events:
            read_at = time.monotonic()
            last_event = events[-1][0]
            if len(events) >= READ_COUNT:
                return _last_event_id(q), read_at  # skip ahead: the re-plan sees it all
            if any(f.get("st") in wake_on for _, f in events):
                return last_event, read_at
        elif wait >= MAX_SLEEP_MS:
            return last_event, read_at  # a second without news: renew the lock, look again


def _last_event_id(q: Queue) -> str:
    last = q.read(lambda: q.redis.xrevrange(q.keys.events, count=1), "events")
    return last[0][0] if last else "0-0"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    stop_before = _env_float("PROMOTER_STOP_BEFORE_SECONDS", 2.0)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - stop_before
    q = shared_queue()
    count_invocation(q.redis, q.keys.tag, "promoter")
    if not _checked:
        _checked.append(True)
        warning = eviction_warning(q.redis)  # once per container: a misconfigured store
        if warning:
            logger.warning(warning)
    totals = run(q, deadline)
    logger.info("promoter pass finished", extra=totals)
    return totals
