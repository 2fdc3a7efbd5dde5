"""A store outage mid-run: the runner backs off, reconnects and finishes every job once: no
job runs a second attempt, nothing is counted as retried."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from boltq_core import Queue, Settings
from boltq_local.valkey import ValkeyServer, free_port
from tests.conftest import run_worker

pytestmark = pytest.mark.slow


def test_runner_survives_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    server = ValkeyServer(port=port, data_dir=tmp_path).start()
    settings = Settings(redis_url=server.url, key_prefix=f"o-{uuid.uuid4().hex[:8]}",
                        lease_seconds=5.0)
    queue = Queue(settings)
    started: list[threading.Thread] = []
    try:
        subs = queue.submit_many(
            [{"type": "sleep", "data": {"seconds": 0.2}} for _ in range(30)]
        )

        def restart() -> None:
            time.sleep(0.5)
            server.stop()  # SIGTERM: the append-only file is flushed
            time.sleep(1.0)
            server.start()

        t = threading.Thread(target=restart)
        t.start()
        started.append(t)

        def all_done() -> bool:
            try:
                return queue.stats().totals["completed"] == 30
            except Exception:  # the test's own client during the outage
                return False

        run_worker(queue, until=all_done, timeout=30, concurrency=5, batch=5)
        jobs = [queue.get(s.job_id) for s in subs]
        assert {j.status for j in jobs} == {"completed"}
        # once: the outage (1 s) is shorter than the lease (5 s), so no job may have been
        # recovered and run again, and no outcome may have been recorded as a retry
        assert {j.attempts for j in jobs} == {1}
        totals = queue.stats().totals
        assert totals["completed"] == 30
        assert totals["retried"] == 0
    finally:
        for t in started:
            t.join()  # never leave a server started behind the test's back
        queue.redis.close()
        server.stop()
