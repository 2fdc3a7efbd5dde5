"""Following the events streams of every queue (every state change lands on its queue's
stream, inside its script): how the poller and the promoter learn that something happened
without polling, and without paying a read per event in a burst.

- Pacer: after a read that returned events, the next read waits until `coalesce` seconds have
  passed, so a burst costs one read per interval; the first event after a quiet spell is taken
  at once, and a full read (more waiting) is followed at once.
- EventFollower: a Pacer, a cursor per queue and the blocking read (XREAD BLOCK over every
  queue's stream, which consumes nothing the workers need). A burst larger than one read skips
  to the streams' end: whoever acts on the news looks at the state itself, which holds
  everything before it. Queues created since the follower started are looked up every
  REFRESH_SECONDS and followed from their first event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from boltq_core.jobs.event_log import Event, entries
from boltq_core.jobs.queue import Queue

REFRESH_SECONDS = 2.0  # how often a follower looks for new queues


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
        # queue -> the last id seen; None: start at the streams' end (on the next read)
        self.cursor: dict[str, str] | None = None
        self._looked = float("-inf")
        self.reads = 0

    def _cursors(self) -> dict[str, str]:
        now = time.monotonic()
        if self.cursor is None:
            self._looked = now
            self.cursor = self.queue.stream_ends(self.queue.known_queues())
        elif now - self._looked >= REFRESH_SECONDS:
            self._looked = now
            for name in self.queue.known_queues():
                self.cursor.setdefault(name, "0-0")  # new since: all its events are news
        return self.cursor

    def next(self, timeout: float) -> Batch:
        """The events after the cursors, waiting (pacing included) at most `timeout` seconds;
        an empty Batch when nothing came."""
        cursors = self._cursors()
        start = time.monotonic()
        if not self.pacer.hold(timeout):
            return Batch()
        left = timeout - (time.monotonic() - start)
        got = self.queue.read_streams(cursors, self.count, max(1, int(left * 1000)))
        self.reads += 1
        events = [e for evs in got.values() for e in evs]
        if not events:
            return Batch()
        full = any(entries(evs) >= self.count for evs in got.values())
        self.pacer.read(len(events), full)
        if full:
            cursors.update(self.queue.stream_ends(list(cursors)))
        else:
            cursors.update({name: evs[-1][0] for name, evs in got.items()})
        return Batch(events, skipped=full)
