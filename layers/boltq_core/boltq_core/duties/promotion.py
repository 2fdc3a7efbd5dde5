"""Promotion: moves due delayed and retrying jobs to ready, recovers expired leases, expires
old finished jobs, makes the jobs of due schedule occurrences (jobs.schedules) and delivers
the messages queues leave for each other (jobs.relay), each at the moment it falls due -
sleeping on the events stream in between, so a new delayed job or schedule re-arms it at once
(far finer than EventBridge's one-minute schedule).

`promote_until` is what one promoter invocation does: under the namespace's promoter lock
(overlapping invocations take turns; a second waits for the lock, so the hand-over between
scheduled runs leaves no gap) it runs the promotion loop, and beside it, since it is the one
long-lived singleton of the namespace, the status pusher (duties.status_push) and the metrics
pusher (observability.pushgateway) in threads of their own."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from boltq_core.duties.events import EventFollower
from boltq_core.duties.lock import Lock
from boltq_core.duties.status_push import Poster, connect_pusher
from boltq_core.jobs.queue import Queue
from boltq_core.jobs.relay import Relay
from boltq_core.jobs.schedules import Schedules

log = logging.getLogger("boltq.promoter")

# may move the next due moment up; "relay": a queue's outbox has a message (jobs.relay)
WAKE_ON = frozenset({"scheduled", "retrying", "running", "relay"})
MAX_SLEEP_SECONDS = 1.0  # look again at least this often anyway (and renew the lock)
READ_COUNT = 100  # events read per wake
LOCK_LEASE_MS = 10_000
# Redis ends a blocked call's timeout only on its next check (every 100 ms at the default hz
# 10), so the promoter blocks on the events stream until this long before a due moment and
# sleeps the rest itself: a schedule's occurrence is made within ms of its time, not 100 ms
BLOCK_SLACK_SECONDS = 0.1


class Promoter:
    """The promotion loop of a deployment: every queue's due jobs, expired leases and old
    finished jobs, in one pass over the known queues."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self.follower = EventFollower(queue, READ_COUNT, queue.settings.promoter_coalesce_ms / 1000)
        self.wake_on = WAKE_ON
        if queue.settings.lease_seconds >= MAX_SLEEP_SECONDS:
            # a new lease ends no sooner than the next look: a job starting to run cannot move
            # the plan up, so `running` events need no re-plan
            self.wake_on = WAKE_ON - {"running"}
        self.schedules = Schedules(queue)
        self.relay = Relay(queue)
        self.totals = {"promoted": 0, "recovered": 0, "expired": 0, "scheduled": 0,
                       "relayed": 0, "passes": 0}

    def run(self, deadline: float, still_mine: Any = lambda: True) -> dict[str, int]:
        """Promote until time.monotonic() reaches `deadline`, or `still_mine()` (the lock)
        says another promoter took over. One failed pass is logged and the loop goes on."""
        failures = 0
        while (left := deadline - time.monotonic()) > 0:
            try:
                started = time.monotonic()
                self.totals["relayed"] += self.relay.deliver_all()
                r = self.queue.promote_all()
                fired = self.schedules.fire_due()
                self.totals["passes"] += 1
                self.totals["scheduled"] += fired.made
                for k in ("promoted", "recovered", "expired"):
                    self.totals[k] += getattr(r, k)
                if not still_mine():
                    log.warning("promoter lock taken by another promoter; stopping")
                    break
                wakes = [w for w in (r.next_wake_ms, fired.next_wake_ms) if w >= 0]
                self._sleep(deadline, started, min(wakes, default=-1))
                failures = 0
            except Exception as exc:  # one failed pass must not end the loop
                failures += 1
                self.follower.cursor = None
                log.warning("promoter pass failed; trying again: %s: %s", type(exc).__name__,
                            exc)
                time.sleep(min(left, 0.05 * 2 ** min(failures, 6)))
        return self.totals

    def _sleep(self, deadline: float, started: float, next_wake_ms: int) -> None:
        """Until the next pass is due: the next due moment, news that may move it up, or
        MAX_SLEEP_SECONDS after the last pass."""
        while True:
            now = time.monotonic()
            wait = MAX_SLEEP_SECONDS if next_wake_ms < 0 else next_wake_ms / 1000 - time.time()
            wait = min(wait, started + MAX_SLEEP_SECONDS - now, deadline - now)
            if wait <= 0:
                return
            if wait <= BLOCK_SLACK_SECONDS:  # the last stretch: slept here, to the ms
                time.sleep(wait)
                return
            batch = self.follower.next(wait - BLOCK_SLACK_SECONDS)
            if batch.skipped or batch.any_status(self.wake_on):
                return  # the re-plan sees it all


class Pusher(Protocol):
    """A duty running in a thread of its own (observability.pushgateway.MetricsPusher)."""

    pushes: int

    def start(self) -> Any: ...

    def stop(self, wait: float | None = None) -> None: ...


def promote_until(q: Queue, deadline: float, poster: Poster | None = None,
                  metrics: Pusher | None = None) -> dict[str, Any]:
    """One promoter invocation's work until time.monotonic() reaches `deadline` (see above);
    `metrics`, when given, is started once the lock is held: the one pusher of the
    namespace's metrics."""
    lock = Lock(q.redis, q.keys.promoter_lock, lease_ms=LOCK_LEASE_MS)
    if not lock.acquire(wait_until=deadline):
        return {"skipped": "another promoter held the lock until this one's deadline"}
    s = q.settings
    if metrics is not None:
        metrics.start()
    stop = threading.Event()
    pusher = connect_pusher(q, poster, coalesce_ms=s.push_coalesce_ms) if s.push_enabled else None
    pushed: list[int] = []
    thread = None
    if pusher is not None:
        thread = threading.Thread(
            target=lambda: pushed.append(pusher.run_until(deadline, stop.is_set, 500)),
            name="boltq-pusher", daemon=True,
        )
        thread.start()
    totals: dict[str, Any] = {}
    try:
        totals.update(Promoter(q).run(deadline, lambda: lock.renew() or lock.acquire()))
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
