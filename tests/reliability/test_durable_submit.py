"""Durable submit (SUBMIT_WAIT_REPLICAS, SUBMIT_WAIT_AOF): a submit is acknowledged only once a
replica / the append-only file has it, and is refused (503) when that is not confirmed in
time - real servers, a replica stopped for real."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from boltq_core import Queue, Settings, StoreUnavailable
from boltq_local.valkey import ValkeyServer
from tests.support.faults import ReplicaPair

pytestmark = pytest.mark.slow


def queue_on(url: str, **settings: object) -> Queue:
    return Queue(Settings(redis_url=url, key_prefix=f"ds-{uuid.uuid4().hex[:8]}", **settings))


def test_a_durable_submit_waits_for_the_replica_and_refuses_without_one() -> None:
    with ReplicaPair() as pair:
        # a loaded machine can take longer than a short wait to get the replica's ack: the
        # acknowledged path waits long, only the refusal below waits the short time
        q = queue_on(pair.primary.url, submit_wait_replicas=1, submit_wait_timeout_ms=20_000)
        short = Queue(q.settings.model_copy(update={"submit_wait_timeout_ms": 300}))
        replica = redis.Redis.from_url(pair.replica.url, decode_responses=True)
        try:
            sub = q.submit({"type": "echo"})
            # acknowledged means the replica has it already: read it there at once
            assert replica.hget(q.keys.job(sub.job_id), "status") == "pending"
            many = q.submit_many([{"type": "echo"} for _ in range(700)], chunk=300)
            assert replica.zcard(q.keys.index) == 701 and len(many) == 700

            pair.replica.stop()  # a replica gone: nothing confirms the next write
            t0 = time.monotonic()
            with pytest.raises(StoreUnavailable, match=r"within 300 ms.*SUBMIT_WAIT_REPLICAS"):
                short.submit({"type": "echo", "idempotency_key": "k-1"})
            assert 0.25 <= time.monotonic() - t0 < 10  # waited the timeout, then said so
            # it is on the primary: the same idempotency key answers with that job, once
            again = Queue(q.settings.model_copy(update={"submit_wait_replicas": 0}))
            first = again.submit({"type": "echo", "idempotency_key": "k-1"})
            assert first.duplicate
            again.redis.close()
        finally:
            replica.close()
            q.redis.close()
            short.redis.close()


def test_a_durable_submit_waits_for_the_append_only_file(tmp_path: Path) -> None:
    with ValkeyServer(data_dir=tmp_path) as server:  # appendonly yes, appendfsync everysec
        q = queue_on(server.url, submit_wait_aof=True, submit_wait_timeout_ms=2000)
        try:
            t0 = time.monotonic()
            sub = q.submit({"type": "echo"})
            assert time.monotonic() - t0 < 2
            assert q.get(sub.job_id).status == "pending"
        finally:
            q.redis.close()
    with ValkeyServer() as no_aof:  # appendonly no: a clear error, not a silent ack
        q = queue_on(no_aof.url, submit_wait_aof=True)
        try:
            with pytest.raises(Exception, match="SUBMIT_WAIT_AOF needs a store with appendonly"):
                q.submit({"type": "echo"})
        finally:
            q.redis.close()


def test_durable_submit_is_refused_in_cluster_mode() -> None:
    with pytest.raises(Exception, match="need a non-cluster store"):
        Settings.from_env({"REDIS_CLUSTER": "true", "SUBMIT_WAIT_REPLICAS": "1"})
