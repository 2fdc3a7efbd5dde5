"""promoter: on an EventBridge schedule (once a minute in AWS). Within one invocation it loops
until shortly before its timeout, moving due delayed and retrying jobs to ready and recovering
expired leases at the moment they fall due (it sleeps on the events stream, so a new delayed
job re-arms it at once), and pushes status changes to WebSocket subscribers from a second
thread (boltq_core.push). A lock in Redis makes overlapping invocations take turns: a second
one waits for the lock, so the hand-over between scheduled runs leaves no gap."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.config import Settings
from boltq_core.lock import Lock
from boltq_core.push import Poster, connect_pusher
from boltq_core.queue import Queue

logger = Logger(service="boltq-promoter")
_state: dict[str, Any] = {}
WAKE_ON = frozenset({"scheduled", "retrying", "running"})  # may move the next due moment up
MAX_SLEEP_MS = 1000


def queue() -> Queue:
    settings = Settings.from_env()
    q = _state.get("queue")
    if q is None or q.settings != settings:
        if q is not None:
            q.redis.close()
        q = _state["queue"] = Queue(settings)
    return q


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
    stop = threading.Event()
    pusher = connect_pusher(q, poster) if _push_enabled() else None
    pushed: list[int] = []
    thread = None
    if pusher is not None:
        thread = threading.Thread(
            target=lambda: pushed.append(pusher.run_until(deadline, stop.is_set, 500)),
            name="boltq-pusher", daemon=True,
        )
        thread.start()
    try:
        last_event = _last_event_id(q)
        next_wake = 0
        while True:
            now_ms = int(time.time() * 1000)
            r = q.promote()
            totals["passes"] += 1
            for k in ("promoted", "recovered", "expired"):
                totals[k] += getattr(r, k)
            next_wake = r.next_wake_ms
            if not lock.renew():
                logger.warning("promoter lock lost; stopping")
                break
            while True:
                left_ms = int((deadline - time.monotonic()) * 1000)
                if left_ms <= 0:
                    return totals
                now_ms = int(time.time() * 1000)
                wait = MAX_SLEEP_MS if next_wake < 0 else next_wake - now_ms
                if wait <= 0:
                    break
                events = q.events(last_event, 100, max(1, min(wait, MAX_SLEEP_MS, left_ms)))
                if events:
                    last_event = events[-1][0]
                    if any(f.get("st") in WAKE_ON for _, f in events):
                        break
                elif wait >= MAX_SLEEP_MS:
                    break  # a second without news: renew the lock, look again
        return totals
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        if pusher is not None:
            pusher.close()
            totals["pushed"] = sum(pushed)
        lock.release()


def _last_event_id(q: Queue) -> str:
    last = q.redis.xrevrange(q.keys.events, count=1)
    return last[0][0] if last else "0-0"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    stop_before = _env_float("PROMOTER_STOP_BEFORE_SECONDS", 2.0)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - stop_before
    totals = run(queue(), deadline)
    logger.info("promoter pass finished", extra=totals)
    return totals
