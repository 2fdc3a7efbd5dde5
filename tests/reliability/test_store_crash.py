"""The store process dies (SIGKILL, no shutdown) in the middle of a stream of submits and comes
back on the same port and data dir: with `appendfsync always` every submit the store
acknowledged is still there, ready to run."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from boltq_core import Queue, Settings
from boltq_local.valkey import ValkeyServer
from tests.support.store_clients import Submitter, quiet_close, statuses

pytestmark = pytest.mark.slow


def kill_mid_submit(data_dir: Path, fsync: str, acked_before_kill: int = 1000) -> dict[str, int]:
    """Two threads submit as fast as they can; SIGKILL the server, restart it, count what came
    back. Returns acked, missing (acked but gone) and not_ready (there but not in a ready
    list)."""
    server = ValkeyServer(data_dir=data_dir, extra=["--appendfsync", fsync]).start()
    prefix = f"sc-{uuid.uuid4().hex[:8]}"
    queue = Queue(Settings(redis_url=server.url, key_prefix=prefix))
    subs = [Submitter(queue, job_type="echo", pause=0) for _ in range(2)]
    try:
        # later arguments win in valkey's config parsing: ours over ValkeyServer's everysec
        with redis.Redis(port=server.port, decode_responses=True) as c:
            assert c.config_get("appendfsync") == {"appendfsync": fsync}
        for s in subs:
            s.start()
        end = time.monotonic() + 15
        while sum(len(s.acked) for s in subs) < acked_before_kill:
            assert time.monotonic() < end, "the submitters are too slow"
            time.sleep(0.005)
        assert server.proc is not None
        server.proc.kill()  # mid-submit: both threads have a call in flight
        server.proc.wait()
        time.sleep(0.2)
        server.start()  # same port, same data dir: it loads the append-only file
        restarted = time.monotonic()
        for s in subs:
            assert s.first_ack_after(restarted, timeout=10) is not None, s.last_error()
        for s in subs:
            assert s.stop()
        acked = [job_id for s in subs for _, job_id, _ in s.acked]
        st = statuses(queue, acked)
        ready = {i for p in range(3) for i in queue.redis.lrange(queue.keys.ready(p), 0, -1)}
        return {
            "acked": len(acked),
            "missing": sum(1 for v in st.values() if v is None),
            "not_ready": sum(1 for j, v in st.items() if v is not None
                             and (v != "pending" or j not in ready)),
        }
    finally:
        for s in subs:
            s.stop()
        quiet_close(queue)
        server.stop()


def test_acknowledged_submits_survive_a_store_sigkill_with_appendfsync_always(
    tmp_path: Path,
) -> None:
    result = kill_mid_submit(tmp_path, "always")
    assert result["acked"] > 1000
    assert result["missing"] == 0, result
    assert result["not_ready"] == 0, result
