"""Shared by the observability tests: a processor that fails its first attempt, promoter
invocations back to back, concurrent worker invocations (the real function handlers)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import processor
from tests.functions.conftest import LambdaContext, load_function, scheduled_event


@processor("obs_flaky")
async def obs_flaky(ctx: JobContext) -> Any:
    """Fails its first attempt, succeeds on the second."""
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return {"attempt": ctx.attempt}


class Promoters:
    """Promoter invocations back to back (as its schedule starts them), ~0.5 s each, in a thread."""

    def __init__(self) -> None:
        self.fn = load_function("promoter")
        self.results: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []  # invocations that raised: counted, no result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _invoke(self) -> bool:
        try:
            self.results.append(self.fn.handler(
                scheduled_event(), LambdaContext("boltq-promoter", remaining_ms=2500)))
            return True
        except Exception as exc:  # a test that counts invocations must hear of it
            self.errors.append(exc)
            return False

    def _loop(self) -> None:
        while not self._stop.is_set() and self._invoke():
            pass

    def __enter__(self) -> Promoters:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)
        assert not self._thread.is_alive()
        if exc[0] is None and not self.errors:
            # the schedule's next run: the last invocation may have read the fleet while the
            # workers were still leaving it, and its push would then be the last word
            self._invoke()
        assert not self.errors, f"a promoter invocation raised: {self.errors!r}"


def run_workers(n: int) -> list[dict[str, Any]]:
    """n worker invocations at once, each in its own thread (as concurrent Lambdas)."""
    worker = load_function("worker")
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(worker.handler(
        {"source": "boltq.poller", "token": uuid.uuid4().hex},
        LambdaContext("boltq-worker", remaining_ms=20_000)))) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == n
    return results
