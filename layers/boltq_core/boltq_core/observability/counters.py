"""Counting function invocations into the metrics hash (metric_layout): one HINCRBY for the
long-running functions, a batched one for the request-driven ones. Never raises."""

from __future__ import annotations

import atexit
import logging
import time
from typing import Any

from boltq_core.keys import Keys

log = logging.getLogger("boltq.metrics")


def count_invocation(redis: Any, keys: Keys, function: str) -> None:
    """One HINCRBY per function invocation; never raises. For the long-running functions
    (worker, poller, promoter); request-driven ones use InvocationCounter."""
    try:
        redis.hincrby(keys.metrics, f"inv|{function}", 1)
    except Exception as exc:  # metrics must never fail an invocation
        log.warning("could not count the invocation: %s", exc)


class InvocationCounter:
    """Invocations of a request-driven function (api, ws), counted in memory and added to the
    metrics hash at most once every `every` seconds: a HINCRBY per request would be a round
    trip as long as the request's own work. The first invocation of a container is sent at
    once; the rest go with the first invocation after the interval (metrics are pushed every
    METRICS_PUSH_SECONDS anyway) and at interpreter exit. A container that is frozen for good
    or killed loses at most one interval's count. Never raises."""

    def __init__(self, function: str, every: float = 1.0) -> None:
        self.field = f"inv|{function}"
        self.every = every
        self.pending = 0
        self._sent_at = float("-inf")
        self._target: tuple[Any, str] | None = None  # (client, metrics hash key)
        atexit.register(self.flush, at_exit=True)

    def __call__(self, redis: Any, keys: Keys) -> None:
        key = keys.metrics
        if self._target is None or self._target[0] is not redis or self._target[1] != key:
            self.flush()  # the store or namespace changed (tests): settle the old one first
            self._target, self._sent_at = (redis, key), float("-inf")
        self.pending += 1
        if time.monotonic() - self._sent_at >= self.every:
            self.flush()

    def flush(self, at_exit: bool = False) -> None:
        if not self.pending or self._target is None:
            return
        redis, key = self._target
        n, self.pending = self.pending, 0
        self._sent_at = time.monotonic()
        try:
            redis.hincrby(key, self.field, n)
        except Exception as exc:  # metrics must never fail an invocation; try again later
            self.pending += n
            (log.debug if at_exit else log.warning)("could not count %d invocations: %s", n, exc)
