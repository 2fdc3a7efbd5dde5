"""A job handed to a worker that died while it waited (lua/includes/lease.lua): the submit
leased it to the dead worker's inbox; nothing is lost, its lease brings it back and another
worker runs it, uncharged (the dead worker never ran it beside anything of its own)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.support.worker_fleet import Workers

pytestmark = pytest.mark.slow


def test_a_job_handed_to_a_killed_worker_runs_again_after_its_lease(
    make_queue, tmp_path: Path,
) -> None:
    queue = make_queue(lease_seconds=1.0)
    idle = queue.keys.named("idle")
    with Workers(queue.settings.url, queue.settings.key_prefix, tmp_path, lease=1.0) as w:
        dead = w.spawn()
        wait_for(lambda: queue.redis.zcard(idle) == 1)  # it waits, registered
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait(5)
        job = queue.submit({"type": "record"}).job_id
        # the submit leased it to the dead worker (taken off the waiting ones): running, in
        # that worker's inbox
        assert queue.redis.zcard(idle) == 0
        assert queue.get(job).status == "running"
        inboxes = list(queue.redis.scan_iter(queue.keys.named("inbox:") + "*"))
        assert len(inboxes) == 1
        w.spawn()
        wait_for(lambda: queue.get(job).status == "completed", timeout=15, every=0.05)
    done = queue.get(job)
    assert done.last_error is not None and done.last_error.category == "lease_expired"
    assert queue.redis.hget(queue.keys.job(job), "free") == "1"  # the lost lease not charged
    ran = queue.redis.lrange(queue.keys.tag + ":test:ran", 0, -1)
    assert [e.split(":")[-1] for e in ran] != [str(dead.pid)] and len(ran) == 1
