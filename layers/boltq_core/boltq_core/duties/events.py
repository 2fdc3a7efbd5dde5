"""Following the namespace's events stream (every state change lands on it, inside its script):
how the poller, the promoter and the status pusher learn that something happened without
polling, and without paying a read per event in a burst.

- Pacer: after a read that returned events, the next read waits until `coalesce` seconds have
  passed, so a burst costs one read per interval; the first event after a quiet spell is taken
  at once, and a full read (more waiting) is followed at once.
- EventFollower: a Pacer, a cursor and the blocking read (XREAD BLOCK, which consumes nothing
  the workers need). A burst larger than one read skips to the stream's end: whoever acts on
  the news looks at the state itself, which holds everything before it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from boltq_core.jobs.queue import Queue

Event = tuple[str, dict[str, str]]  # (stream id, fields: k, id, wf, st, ty, ts[, p])


class Pacer:
    def __init__(self, coalesce_seconds: float) -> None:
        self.coalesce = max(0.0, coalesce_seconds)
        self._read_at = float("-inf")

    def hold(self, at_most: float) -> bool:
        """Sleep out what is left of the interval after the last read, but at most `at_most`
        seconds; True when it is time to read."""
        left = self._read_at + self.coalesce - time.monotonic()
        if left <= 0:
            return True
        time.sleep(max(0.0, min(left, at_most)))
        return left <= at_most

    def read(self, n: int, full: bool) -> None:
        """A read returned `n` events (`full`: as many as it asked for, more may be waiting)."""
        if n and not full:
            self._read_at = time.monotonic()


@dataclass
class Batch:
    events: list[Event] = field(default_factory=list)
    skipped: bool = False  # more than one read's worth: the cursor jumped to the stream's end

    def any_status(self, statuses: frozenset[str]) -> bool:
        return any(f.get("st") in statuses for _, f in self.events)


class EventFollower:
    def __init__(self, queue: Queue, count: int, coalesce_seconds: float) -> None:
        self.queue = queue
        self.count = count
        self.pacer = Pacer(coalesce_seconds)
        self.cursor: str | None = None  # None: start at the stream's end (on the next read)
        self.reads = 0

    def end(self) -> str:
        """The stream's last id ("0-0" when it is empty)."""
        q = self.queue
        last = q.read(lambda: q.redis.xrevrange(q.keys.events, count=1), "events")
        return last[0][0] if last else "0-0"

    def next(self, timeout: float) -> Batch:
        """The events after the cursor, waiting (pacing included) at most `timeout` seconds;
        an empty Batch when nothing came."""
        if self.cursor is None:
            self.cursor = self.end()
        start = time.monotonic()
        if not self.pacer.hold(timeout):
            return Batch()
        left = timeout - (time.monotonic() - start)
        events = self.queue.events(self.cursor, self.count, max(1, int(left * 1000)))
        self.reads += 1
        if not events:
            return Batch()
        full = len(events) >= self.count
        self.pacer.read(len(events), full)
        self.cursor = self.end() if full else events[-1][0]
        return Batch(events, skipped=full)
