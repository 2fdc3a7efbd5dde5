"""Heartbeat: keeps the leases of the jobs a runner holds alive, from a thread and a store
connection of its own, so a job that blocks the event loop (a `time.sleep` in an async
processor) never costs the jobs beside it their leases, and reports which jobs were asked to
cancel or lost their lease.

A job is extended only until its own timeout has passed (`hold(until=...)`): a job that hangs
past it - its event loop stuck, its runner gone mad - stops being extended, its lease runs out
and the job is recovered elsewhere. A sync job whose thread outlives its timeout is held
(`hold(until=None)`) for as long as that thread runs, so it never runs twice at once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from boltq_core.config import Settings
from boltq_core.jobs.calls import ScriptCalls
from boltq_core.keys import queue_of

log = logging.getLogger("boltq.heartbeat")

# news(lost job ids, job ids asked to cancel), called from the heartbeat's thread
News = Callable[[list[str], list[str]], None]


class Heartbeat:
    def __init__(self, settings: Settings, news: News, client: Any = None) -> None:
        self.settings = settings
        self.interval = min(settings.lease_seconds / 3, 1.0)
        self._news = news
        self._client = client
        self._calls: dict[str, ScriptCalls] = {}  # per queue
        self._held: dict[str, tuple[int, float | None]] = {}  # id -> (attempt, until)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.beats = 0  # extend calls made (tests, diagnostics)

    def hold(self, job_id: str, attempt: int, until: float | None) -> None:
        """Keep `job_id`'s lease alive until time.monotonic() reaches `until` (None: until it
        is released)."""
        with self._lock:
            self._held[job_id] = (attempt, until)

    def release(self, job_id: str) -> None:
        with self._lock:
            self._held.pop(job_id, None)

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._loop, name="boltq-heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)

    def _due(self) -> list[tuple[str, int]]:
        now = time.monotonic()
        with self._lock:
            return [(j, a) for j, (a, until) in self._held.items() if until is None or now < until]

    def _loop(self) -> None:
        from boltq_core.jobs.scripts import Scripts
        from boltq_core.store.connect import connect

        client = self._client if self._client is not None else connect(self.settings)
        scripts = Scripts(client)
        try:
            while not self._stop.wait(self.interval):
                held = self._due()
                if not held:
                    continue
                by_queue: dict[str, list[tuple[str, int]]] = {}
                for job in held:
                    by_queue.setdefault(queue_of(job[0]), []).append(job)
                for name, jobs in by_queue.items():  # one extend per queue (its own slot)
                    calls = self._calls.get(name) or self._calls.setdefault(
                        name, ScriptCalls(self.settings, name))
                    call = calls.extend(jobs, self.settings.lease_seconds)
                    try:
                        lost, cancel = scripts[call.script](keys=call.keys, args=call.args)
                    except Exception as exc:  # a blip must not end the heartbeat: leases outlast it
                        log.warning("heartbeat failed: %s", exc)
                        continue
                    self.beats += 1
                    if lost or cancel:
                        self._news(list(lost), list(cancel))
        finally:
            if self._client is None:
                client.close()
