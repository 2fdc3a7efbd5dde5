"""A network black hole between BoltQ and its store: sockets stay open, no byte comes back.
Clients must give up within bounded time (connect and read timeouts), a runner must return by
its deadline (a Lambda is killed at its own), and after heal() work resumes."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from boltq_core import Queue, Settings, StoreUnavailable
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.runner import Runner
from boltq_local.valkey import ValkeyServer
from tests.conftest import run_worker, wait_for
from tests.support.faults import Proxy
from tests.support.store_clients import quiet_close, statuses

pytestmark = pytest.mark.slow

# a submit into a black hole must raise within this: connect + read timeouts, retries
# included, must add up to at most ~10 s (an API Gateway request gives up after 29 s)
SUBMIT_BOUND = 10.0
# how late a runner may return after its deadline: scheduling on a loaded 2-core machine, not
# a store call (those must be bounded by the deadline itself)
RUNNER_SLACK = 1.0
GIVE_UP = (StoreUnavailable, redis.TimeoutError, redis.ConnectionError)


@pytest.fixture
def endpoint() -> Iterator[tuple[ValkeyServer, Proxy]]:
    with ValkeyServer() as server, Proxy(server.port) as proxy:
        try:
            yield server, proxy
        finally:
            proxy.heal()  # let whatever a failed test left stuck in a call finish


def settings_for(url: str, prefix: str) -> Settings:
    return Settings(redis_url=url, key_prefix=prefix, lease_seconds=2.0,
                    retry_base_seconds=0.05, retry_max_seconds=0.2)


def in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run fn() in a daemon thread; the dict gets 'value' or 'error', and 'at' (monotonic)."""
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # reported by the test
            out["error"] = exc
        out["at"] = time.monotonic()

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, out


def test_a_submit_into_a_black_hole_raises_in_bounded_time_and_works_after_heal(
    endpoint: tuple[ValkeyServer, Proxy],
) -> None:
    server, proxy = endpoint
    prefix = f"bh-{uuid.uuid4().hex[:8]}"
    queue = Queue(settings_for(proxy.url, prefix))
    fresh = Queue(settings_for(proxy.url, prefix))  # no connection yet: connects into the hole
    direct = Queue(settings_for(server.url, prefix))
    try:
        first = queue.submit({"type": "echo"})  # a pooled connection, open before the fault
        proxy.blackhole()
        t0 = time.monotonic()
        calls = {name: in_thread(lambda q=q: q.submit({"type": "echo"}))  # type: ignore[misc]
                 for name, q in (("pooled", queue), ("fresh", fresh))}
        for name, (t, out) in calls.items():
            t.join(max(0.0, t0 + SUBMIT_BOUND + 1 - time.monotonic()))
            took = out.get("at", time.monotonic()) - t0
            assert not t.is_alive(), f"{name}: submit still blocked {took:.1f}s into the hole"
            assert "error" in out, f"{name}: submit returned {out.get('value')} from a hole"
            assert isinstance(out["error"], GIVE_UP), f"{name}: raised {out['error']!r}"
            assert took <= SUBMIT_BOUND, f"{name}: submit raised only after {took:.1f}s"

        proxy.heal()
        again = wait_for(lambda: _try_submit(queue), timeout=5)
        assert statuses(direct, [first.job_id, again.job_id]) == {
            first.job_id: "pending", again.job_id: "pending"}
    finally:
        proxy.heal()
        for q in (queue, fresh, direct):
            quiet_close(q)


def _try_submit(queue: Queue) -> Any:
    try:
        return queue.submit({"type": "echo"})
    except GIVE_UP:
        return None


def test_a_runner_returns_by_its_deadline_while_the_store_is_black_holed(
    endpoint: tuple[ValkeyServer, Proxy],
) -> None:
    server, proxy = endpoint
    prefix = f"bh-{uuid.uuid4().hex[:8]}"
    settings = settings_for(proxy.url, prefix)
    direct = Queue(settings_for(server.url, prefix))
    try:
        # a short timeout, or a runner with a deadline would not claim them
        subs = direct.submit_many([{"type": "sleep", "data": {"seconds": 0.3},
                                    "timeout_seconds": 2} for _ in range(40)])
        deadline = time.monotonic() + 6.0

        async def work() -> Any:
            aq = AsyncQueue(settings)
            try:
                return await Runner(aq, concurrency=5, batch=5, deadline=deadline).run()
            finally:
                await aq.aclose()

        t, out = in_thread(lambda: asyncio.run(work()))
        # mid-run: jobs running, outcomes and progress on the way
        wait_for(lambda: direct.stats().totals["completed"] >= 5, timeout=10)
        proxy.blackhole()
        t.join(max(0.0, deadline + RUNNER_SLACK - time.monotonic()))
        if t.is_alive():
            t.join(10)  # only to say how late it is
            late = out.get("at", time.monotonic()) - deadline
            raise AssertionError(
                f"the runner was still running {RUNNER_SLACK}s past its deadline "
                + (f"(returned {late:.1f}s past it)" if "at" in out else
                   f"(and still {late:.1f}s past it)"))
        late = out["at"] - deadline
        assert "error" not in out, f"the runner raised: {out['error']!r}"
        assert late <= RUNNER_SLACK, f"the runner returned {late:.1f}s past its deadline"

        # after heal, another runner finishes everything (the black-holed runner's jobs come
        # back when their leases run out)
        proxy.heal()
        again = Queue(settings)
        try:
            run_worker(again, until=lambda: direct.stats().totals["completed"] == 40, timeout=20)
        finally:
            quiet_close(again)
        assert set(statuses(direct, [s.job_id for s in subs]).values()) == {"completed"}
    finally:
        proxy.heal()
        quiet_close(direct)
