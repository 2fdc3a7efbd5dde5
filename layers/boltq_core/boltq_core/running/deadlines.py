"""The timeouts of the async jobs a runner runs, on shared timers: the jobs whose deadlines
fall in the same slot (a thousandth of their timeout, at least 10 ms, rounded up) share one
event-loop timer, where asyncio.timeout() would arm and cancel one per job. A job fires at
most a slot after its deadline. A slot whose jobs all ended keeps its timer until it fires
(cancelling it would cost a timer per job again for jobs that end at once); there are at
most about a thousand slots per timeout value."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

MIN_SLOT_SECONDS = 0.01


class Deadlines:
    def __init__(self, expire: Callable[[str], None]) -> None:
        """`expire(job_id)` is called on the loop for each job still armed at its deadline."""
        self._expire = expire
        self._slots: dict[float, tuple[asyncio.TimerHandle, set[str]]] = {}

    def arm(self, job_id: str, deadline: float, timeout: float) -> float:
        """Expire `job_id` once time.monotonic() passes `deadline`; returns its slot, for
        disarm()."""
        step = max(MIN_SLOT_SECONDS, timeout / 1000)
        when = math.ceil(deadline / step) * step
        slot = self._slots.get(when)
        if slot is None:
            timer = asyncio.get_running_loop().call_later(
                max(0.0, when - time.monotonic()), self._fire, when)
            slot = self._slots[when] = (timer, set())
        slot[1].add(job_id)
        return when

    def disarm(self, job_id: str, when: float) -> None:
        slot = self._slots.get(when)
        if slot is not None:
            slot[1].discard(job_id)

    def _fire(self, when: float) -> None:
        _, ids = self._slots.pop(when, (None, set()))
        for job_id in list(ids):
            self._expire(job_id)

    def __len__(self) -> int:
        """The jobs armed."""
        return sum(len(ids) for _, ids in self._slots.values())

    def close(self) -> None:
        """Cancel every timer (the run is over)."""
        for timer, _ in self._slots.values():
            timer.cancel()
        self._slots.clear()
