"""The suite's own worker helper: a test whose condition raises fails at once with its own
error (before, the runner kept running and asyncio.run waited on it until pytest's timeout)."""

import pytest

from boltq_core.jobs.queue import Queue
from tests.conftest import run_worker


def test_a_raising_condition_stops_the_worker_and_is_reported(queue: Queue) -> None:
    def condition() -> bool:
        raise RuntimeError("the test's own failure")

    with pytest.raises(RuntimeError, match="the test's own failure"):
        run_worker(queue, until=condition)
