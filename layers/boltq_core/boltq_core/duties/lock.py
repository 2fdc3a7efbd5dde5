"""Lock: a lease held in Redis (SET NX PX with a random token), renewed while its holder
works, so overlapping invocations of a singleton loop (the promoter) take turns."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from boltq_core.jobs.scripts import source
from boltq_core.store.failover import is_store_trouble

log = logging.getLogger("boltq.lock")


class Lock:
    def __init__(self, client: Any, key: str, lease_ms: int = 10_000) -> None:
        self.redis = client
        self.key = key
        self.lease_ms = lease_ms
        self.token = uuid.uuid4().hex
        self._renew = client.register_script(source("lock_renew"))
        self._release = client.register_script(source("lock_release"))

    def acquire(self, wait_until: float | None = None, every: float = 0.05) -> bool:
        """Take the lock; with `wait_until` (a time.monotonic() value) keep trying until then,
        through store outages too."""
        while True:
            try:
                if self.redis.set(self.key, self.token, nx=True, px=self.lease_ms):
                    return True
            except Exception as exc:
                if not is_store_trouble(exc) or wait_until is None:
                    raise
                log.warning("lock %s: the store is unavailable (%s)", self.key, exc)
            if wait_until is None or time.monotonic() + every >= wait_until:
                return False
            time.sleep(every)

    def renew(self) -> bool:
        return bool(self._renew(keys=[self.key], args=[self.token, self.lease_ms]))

    def release(self) -> None:
        """Give the lock up; if the store is unavailable it simply expires."""
        try:
            self._release(keys=[self.key], args=[self.token])
        except Exception as exc:
            if not is_store_trouble(exc):
                raise
            log.warning("lock %s: could not release it (%s); it expires", self.key, exc)
