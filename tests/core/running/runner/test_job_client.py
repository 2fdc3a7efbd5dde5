"""JobContext.redis: the client a Runner lends its jobs. Every job of the runner gets the same
one, to the queue's store; the jobs running together share its pipeline (one connection); the
runner closes it when its run ends; a context not made by a runner says it has none."""

from __future__ import annotations

from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.running.attempt import Claimed, JobContext
from boltq_core.running.processors import default_registry
from boltq_core.store.autopipeline import AutoPipelined
from tests.conftest import run_worker


def test_the_jobs_of_a_runner_share_one_auto_pipelined_client(queue: Queue) -> None:
    clients: list[Any] = []
    open_connections: list[int] = []
    key = queue.settings.key_prefix + "-jobs:count"  # the job's own key, outside the queue's

    async def count(ctx: JobContext) -> int:
        clients.append(ctx.redis)
        done = int(await ctx.redis.incr(key))
        pool = ctx.redis.connection_pool
        open_connections.append(len(pool._available_connections) + len(pool._in_use_connections))
        return done

    registry = default_registry.copy()
    registry.register("count", count)
    ids = [s.job_id for s in queue.submit_many([{"type": "count"}] * 40)]
    try:
        run_worker(queue, registry, concurrency=40, batch=40,
                   until=lambda: all(queue.get(i).status == "completed" for i in ids))
        assert int(queue.redis.get(key)) == 40
        assert sorted(int(queue.get(i).result) for i in ids) == list(range(1, 41))
        assert len({id(c) for c in clients}) == 1
        client = clients[0]
        assert isinstance(client, AutoPipelined)
        # forty jobs that ran together, their INCRs in one or two pipelines
        assert max(open_connections) <= 2
        pool = client.connection_pool
        assert not any(c.is_connected for c in pool._available_connections)  # closed at the end
        assert not pool._in_use_connections
        assert pool.connection_kwargs["port"] == queue.redis.connection_pool.connection_kwargs[
            "port"]
    finally:
        queue.redis.delete(key)


def test_a_context_not_made_by_a_runner_has_no_client() -> None:
    ctx = JobContext(Claimed({"id": "j", "type": "t", "attempts": "1", "max_attempts": "1",
                              "timeout": "5"}))
    with pytest.raises(RuntimeError, match="no store client"):
        _ = ctx.redis
