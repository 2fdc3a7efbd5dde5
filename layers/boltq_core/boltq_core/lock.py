"""Lock: a lease held in Redis (SET NX PX with a random token), renewed while its holder
works, so overlapping invocations of a singleton loop (the promoter) take turns."""

from __future__ import annotations

import time
import uuid
from typing import Any

from boltq_core.scripts import source


class Lock:
    def __init__(self, client: Any, key: str, lease_ms: int = 10_000) -> None:
        self.redis = client
        self.key = key
        self.lease_ms = lease_ms
        self.token = uuid.uuid4().hex
        self._renew = client.register_script(source("lock_renew"))
        self._release = client.register_script(source("lock_release"))

    def acquire(self, wait_until: float | None = None, every: float = 0.05) -> bool:
        """Take the lock; with `wait_until` (a time.monotonic() value) keep trying until then."""
        while True:
            if self.redis.set(self.key, self.token, nx=True, px=self.lease_ms):
                return True
            if wait_until is None or time.monotonic() + every >= wait_until:
                return False
            time.sleep(every)

    def renew(self) -> bool:
        return bool(self._renew(keys=[self.key], args=[self.token, self.lease_ms]))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token])
