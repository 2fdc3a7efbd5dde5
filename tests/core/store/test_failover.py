"""A client whose store comes back is served again at once: a refused or cut connect is tried
again within the retry budget, and a failed call does not keep the next ones away once the
store answers (found by bench/reliability.py: 4-5 s of 503s after the store was back)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from boltq_core import Queue, Settings
from boltq_local.valkey import ValkeyServer, free_port
from tests.support.faults import Proxy

pytestmark = pytest.mark.slow


def test_submits_work_again_as_soon_as_the_endpoint_reaches_a_store_again() -> None:
    with ValkeyServer() as server, Proxy(server.port) as proxy:
        q = Queue(Settings(redis_url=proxy.url, key_prefix=f"rc-{uuid.uuid4().hex[:8]}"))
        try:
            q.submit({"type": "echo"})
            proxy.switch(free_port())  # the endpoint points at nothing for a moment
            proxy.cut()
            back_at: list[float] = []

            def move_back() -> None:
                time.sleep(0.5)
                proxy.switch(server.port)
                back_at.append(time.monotonic())

            t = threading.Thread(target=move_back)
            t.start()
            # this submit starts while nothing answers and rides the failover through
            q.submit({"type": "echo"})
            t.join()
            done_at = time.monotonic()
            # and the next ones are served at once, not after a "down" window
            t0 = time.monotonic()
            for _ in range(5):
                q.submit({"type": "echo"})
            assert time.monotonic() - t0 < 0.5
            assert done_at - back_at[0] < 1.0, done_at - back_at[0]
            assert q.stats().pending_total == 7
        finally:
            q.redis.close()


def test_a_store_restarted_on_its_port_is_served_at_once(tmp_path) -> None:
    port = free_port()
    server = ValkeyServer(port=port, data_dir=tmp_path).start()
    q = Queue(Settings(redis_url=server.url, key_prefix=f"rc-{uuid.uuid4().hex[:8]}",
                       store_retry_seconds=5.0))
    try:
        q.submit({"type": "echo"})
        server.stop()
        restarted: list[float] = []

        def restart() -> None:
            time.sleep(0.7)
            server.start()
            restarted.append(time.monotonic())

        t = threading.Thread(target=restart)
        t.start()
        q.submit({"type": "echo"})  # refused connects are tried again within the budget
        done = time.monotonic()
        t.join()
        assert done - restarted[0] < 1.0, done - restarted[0]
        assert q.stats().pending_total == 2
    finally:
        q.redis.close()
        server.stop()
