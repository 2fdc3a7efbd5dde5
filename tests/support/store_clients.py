"""Client-side helpers for the tests: a submitter thread that records which submits were
acknowledged (and when), a direct reader of job statuses, and a client whose store refuses
functions."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from boltq_core import Queue, Settings


@dataclass
class Submitter:
    """Submits one job per loop from a thread, `pause` seconds apart, until stop(). `acked`
    holds (time.monotonic(), job id, i) of every submit that returned; `errors` holds
    (time.monotonic(), "ExceptionType: message") of every one that raised."""

    queue: Queue
    job_type: str = "nap"
    data: dict[str, Any] = field(default_factory=dict)
    pause: float = 0.01
    acked: list[tuple[float, str, int]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Submitter:
        self._thread = threading.Thread(target=self._loop, name="submitter", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        i = 0
        while not self._stop.is_set():
            try:
                sub = self.queue.submit({"type": self.job_type, "data": {**self.data, "i": i}})
            except Exception as exc:  # recorded: the test decides what was acceptable
                self.errors.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
                self._stop.wait(0.05)
            else:
                self.acked.append((time.monotonic(), sub.job_id, i))
                self._stop.wait(self.pause)
            i += 1

    def wait_acked(self, n: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while len(self.acked) < n:
            if time.monotonic() > end:
                raise AssertionError(f"only {len(self.acked)} of {n} submits acknowledged "
                                     f"in {timeout}s; last error: {self.last_error()}")
            time.sleep(0.01)

    def first_ack_after(self, t: float, timeout: float) -> float | None:
        """Seconds from `t` to the first submit acknowledged after it, waiting up to
        `timeout` seconds from `t`; None if there was none."""
        while True:
            # acked grows in time order, so the first match is the earliest
            first = next((at for at, _, _ in self.acked if at >= t), None)
            if first is not None:
                return first - t
            if time.monotonic() > t + timeout:
                return None
            time.sleep(0.01)

    def last_error(self) -> str | None:
        return self.errors[-1][1] if self.errors else None

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the loop; False if the thread was still stuck in a call after `timeout`."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> Submitter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def statuses(queue: Queue, job_ids: Sequence[str]) -> dict[str, str | None]:
    """job id -> status (None when the job hash is missing), one pipeline per 1000."""
    out: dict[str, str | None] = {}
    for i in range(0, len(job_ids), 1000):
        chunk = job_ids[i : i + 1000]
        pipe = queue.redis.pipeline(transaction=False)
        for job_id in chunk:
            pipe.hget(queue.keys.job(job_id), "status")
        out.update(zip(chunk, pipe.execute(), strict=True))
    return out


def count_by(values: Any) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def quiet_close(queue: Queue) -> None:
    with contextlib.suppress(Exception):
        queue.redis.close()


@contextlib.contextmanager
def without_functions(queue: Queue) -> Iterator[Queue]:
    """A Queue on `queue`'s namespace whose store user may not run FUNCTION or FCALL (as on
    Redis 6 or under such an ACL): its scripts go by EVALSHA."""
    user = f"nofn-{uuid.uuid4().hex[:8]}"
    queue.redis.acl_setuser(user, enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                            commands=["+@all", "-function", "-fcall"])
    try:
        url = urlsplit(queue.settings.redis_url)
        limited = Queue(Settings(redis_url=f"redis://{user}:pw@{url.hostname}:{url.port}/0",
                                 key_prefix=queue.settings.key_prefix))
        try:
            yield limited
        finally:
            limited.redis.close()
    finally:
        queue.redis.acl_deluser(user)
