"""The promoter's and the poller's loops through a store outage: a failed pass is logged and
the loop goes on, so a job submitted after the store is back is still promoted / started
within the same invocation (real Valkey servers, stopped and started again mid-run)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from boltq_core import Queue, Settings
from boltq_core.duties.fleet import scale_until
from boltq_core.duties.promotion import promote_until
from boltq_local.valkey import ValkeyServer, free_port
from tests.conftest import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[ValkeyServer, Queue]]:
    server = ValkeyServer(port=free_port(), data_dir=tmp_path).start()
    queue = Queue(Settings(redis_url=server.url, key_prefix=f"out-{uuid.uuid4().hex[:8]}",
                           store_retry_seconds=0.3, store_timeout_seconds=1.0))
    try:
        yield server, queue
    finally:
        queue.redis.close()
        server.stop()


def outage(server: ValkeyServer, after: float, seconds: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after)
        server.stop()
        time.sleep(seconds)
        server.start()

    t = threading.Thread(target=run)
    t.start()
    return t


def test_promoter_carries_on_after_a_failed_pass(store: tuple[ValkeyServer, Queue],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    server, q = store
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(
        promote_until(q, time.monotonic() + 6.0)))
    runner.start()
    down = outage(server, after=0.5, seconds=1.0)
    down.join()
    job = wait_for(lambda: _try(lambda: q.submit({"type": "echo", "delay_seconds": 0.5})),
                   timeout=5).job_id
    wait_for(lambda: q.get(job).status == "pending", timeout=3)
    runner.join()
    assert result["promoted"] >= 1 and result["passes"] >= 2
    assert any("promoter pass failed" in r.getMessage() for r in caplog.records)


def test_poller_carries_on_after_a_failed_pass(store: tuple[ValkeyServer, Queue],
                                               caplog: pytest.LogCaptureFixture) -> None:
    server, q = store
    invoked: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(scale_until(
        q, time.monotonic() + 6.0, lambda **kw: invoked.append(kw), "boltq-worker")))
    runner.start()
    down = outage(server, after=0.5, seconds=1.0)
    down.join()
    wait_for(lambda: _try(lambda: q.submit({"type": "echo"})), timeout=5)
    wait_for(lambda: invoked, timeout=3)
    runner.join()
    assert result["invoked"] >= 1 and invoked[0]["FunctionName"] == "boltq-worker"
    assert any("poller pass failed" in r.getMessage() for r in caplog.records)


def _try(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        return None
