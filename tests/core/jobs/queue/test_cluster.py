"""The main paths on a real 3-node Valkey cluster: every script's keys share one slot, so no
CROSSSLOT error anywhere."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from boltq_core import Queue, Settings
from boltq_core.jobs.groups import Groups
from boltq_core.jobs.relay import Relay
from boltq_core.jobs.workflows import Workflows
from boltq_local.valkey import ValkeyCluster
from tests.conftest import run_worker, wait_for
from tests.core.jobs.test_workflow_queues import promoting
from tests.support.queue_calls import claim
from tests.support.waiting_runner import waiting_runner

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[ValkeyCluster]:
    with ValkeyCluster(3) as c:
        yield c


@pytest.fixture
def cq(cluster: ValkeyCluster) -> Iterator[Queue]:
    settings = Settings(redis_url=cluster.url, redis_cluster=True, lease_seconds=1.0,
                        key_prefix=f"c-{uuid.uuid4().hex[:8]}", retry_base_seconds=0.05)
    q = Queue(settings)
    yield q
    q.redis.close()


def test_namespace_lives_in_one_slot(cq: Queue) -> None:
    slots = {cq.redis.keyslot(k) for k in cq.keys.common}
    assert len(slots) == 1
    assert cq.redis.keyslot(cq.keys.job("x")) in slots


def test_jobs_end_to_end_on_a_cluster(cq: Queue) -> None:
    subs = cq.submit_many([{"type": "echo", "data": {"i": i}} for i in range(300)])
    dup = cq.submit({"type": "echo", "idempotency_key": "once"})
    assert cq.submit({"type": "echo", "idempotency_key": "once"}).job_id == dup.job_id
    delayed = cq.submit({"type": "echo", "delay_seconds": 0.3})
    failing = cq.submit({"type": "fail", "data": {"permanent": True}})
    gone = cq.submit({"type": "echo", "delay_seconds": 60})
    assert cq.cancel(gone.job_id) == "cancelled"
    run_worker(cq, until=lambda: cq.stats().totals["completed"] == 302
               and cq.stats().dead_letter == 1, timeout=30)
    assert cq.get(subs[123].job_id).result == {"i": 123}
    assert cq.get(delayed.job_id).status == "completed"
    assert cq.dlq_requeue([failing.job_id]) == [failing.job_id]
    run_worker(cq, until=lambda: cq.stats().dead_letter == 1)
    assert cq.dlq_purge() == 1
    page = cq.list_jobs(status="completed", limit=5)
    assert len(page.items) == 5 and page.next_cursor
    stats = cq.stats()
    assert stats.totals["submitted"] == 304 and stats.totals["cancelled"] == 1


def test_cancel_running_and_lease_recovery_on_a_cluster(cq: Queue) -> None:
    sub = cq.submit({"type": "echo"})
    (job,) = claim(cq, lease=0.2)
    time.sleep(0.25)
    assert cq.promote().recovered == 1
    long = cq.submit({"type": "sleep", "data": {"seconds": 20}})
    asked: list[str] = []

    def cancel_when_running() -> bool:
        if cq.get(long.job_id).status == "running" and not asked:
            asked.append(cq.cancel(long.job_id))
        return cq.get(long.job_id).status == "cancelled"

    run_worker(cq, until=lambda: cancel_when_running()
               and cq.get(sub.job_id).status == "completed", timeout=15)
    assert asked == ["running"] and cq.get(sub.job_id).attempts == 2 and job.attempt == 1


def test_workflow_on_a_cluster(cq: Queue) -> None:
    wf = Workflows(cq)
    wf_id = wf.submit(
        {
            "name": "diamond",
            "steps": [
                {"id": "a", "job_type": "echo", "params": {"v": 1}},
                {"id": "b", "job_type": "echo", "depends_on": ["a"]},
                {"id": "c", "job_type": "echo", "depends_on": ["a"]},
                {"id": "d", "job_type": "echo", "depends_on": ["b", "c"]},
            ],
        }
    )
    run_worker(cq, until=lambda: wf.get(wf_id)["status"] == "completed")
    d = wf.get(wf_id)["steps"][3]
    assert cq.get(d["job_id"]).parent_results == {"b": {}, "c": {}}
    assert [w["id"] for w in wf.list().items] == [wf_id]
    wf.delete(wf_id)
    assert wf.list().items == []


def test_schedules_on_a_cluster(cq: Queue) -> None:
    from boltq_core.jobs.schedules import Schedules

    s = Schedules(cq)
    k = cq.keys
    slots = {cq.redis.keyslot(key) for key in (k.schedules, k.schedules_due, k.schedule("a"),
                                                 k.schedule_recent("a"), *k.common)}
    assert len(slots) == 1
    _, first = s.save({"name": "a", "every_seconds": 1, "job": {"type": "echo"}})
    assert s.fire_due(now_ms=first).made == 1
    s.pause("a")
    job_id, _ = s.trigger("a")
    assert s.resume("a") >= first
    assert [i.name for i in s.list().items] == ["a"]
    assert s.get("a").recent[0].job_id == job_id
    s.delete("a")
    assert cq.get(job_id).schedule == "a"


def test_a_schedule_in_a_named_queue_fires_and_moves_on_a_cluster(cq: Queue) -> None:
    from boltq_core.jobs.schedules import Schedules

    s = Schedules(cq)
    names = [f"s{i}" for i in range(12)]  # twelve queues: their schedules on every node
    assert len({cq.redis.get_node_from_key(cq.of(n).keys.schedules_due).name
                for n in names}) == 3
    firsts = {n: s.save({"name": n, "every_seconds": 1, "job": {"type": "echo", "queue": n}})[1]
              for n in names}
    fired = s.fire_due(now_ms=max(firsts.values()))
    assert fired.made == 12
    for n in names:
        (job_id,) = [o.job_id for o in s.get(n).recent]
        assert job_id.startswith(f"{n}:") and cq.get(job_id).queue == n
    s.save({"name": "s0", "every_seconds": 1, "job": {"type": "echo", "queue": "s1"}})
    assert [i.job.queue for i in s.list().items if i.name == "s0"] == ["s1"]
    assert not cq.redis.exists(cq.of("s0").keys.schedule("s0"))
    s.delete("s0")
    assert len(s.list().items) == 11


def test_named_queues_spread_over_the_nodes_and_run_end_to_end(cq: Queue) -> None:
    names = [f"q{i}" for i in range(12)]
    nodes = {cq.redis.get_node_from_key(cq.of(n).keys.marker).name for n in names}
    assert len(nodes) == 3  # twelve queues, twelve hash tags: every node holds some
    for n in names:
        slots = {cq.redis.keyslot(k) for k in cq.of(n).keys.common}
        assert len(slots) == 1
    subs = cq.submit_many([{"type": "echo", "queue": n, "data": {"n": n}} for n in names] * 5)
    run_worker(cq, until=lambda: all(cq.get(s.job_id).status == "completed" for s in subs),
               timeout=30)
    assert cq.get(subs[7].job_id).result == {"n": "q7"}
    total, each = cq.stats_all()
    assert total.totals["completed"] == 60 and each["q3"].totals["completed"] == 5


def test_the_waiter_wakes_on_any_queue_of_a_cluster(cq: Queue) -> None:
    import asyncio

    from boltq_core.running.async_queue import AsyncQueue

    names = [f"w{i}" for i in range(6)]

    async def main() -> tuple[bool, str | None, float]:
        aq = AsyncQueue(cq.settings, queues=[(n, 1) for n in names])
        waiter = aq.waiter()
        try:
            async def later() -> None:
                await asyncio.sleep(0.3)
                await asyncio.to_thread(cq.submit, {"type": "echo", "queue": "w4"})

            task = asyncio.create_task(later())
            start = time.monotonic()
            woke = await waiter.wait(10.0)
            took = time.monotonic() - start
            await task
            return woke, aq.prefer, took
        finally:
            await waiter.aclose()
            await aq.aclose()

    woke, prefer, took = asyncio.run(main())
    assert woke and prefer == "w4" and took < 5.0


def test_the_promoter_follows_every_queue_on_a_cluster(cq: Queue) -> None:
    from boltq_core.duties.events import EventFollower

    cq.submit({"type": "echo", "queue": "f1"})
    cq.submit({"type": "echo", "queue": "f2"})
    follower = EventFollower(cq, 100, 0)
    assert follower.next(0.05).events == []  # starts at every stream's end
    cq.submit({"type": "echo", "queue": "f2", "delay_seconds": 5})
    batch = follower.next(2.0)
    assert [f["st"] for _, f in batch.events] == ["scheduled"]


def test_closing_a_cluster_client_closes_every_nodes_connections(cluster: ValkeyCluster) -> None:
    q = Queue(Settings(redis_url=cluster.url, redis_cluster=True,
                       key_prefix=f"c-{uuid.uuid4().hex[:8]}"))
    q.submit({"type": "echo"})  # loads the script on every node
    pools = [n.redis_connection.connection_pool for n in q.redis.get_nodes()]
    assert any(c._sock is not None for p in pools for c in p._available_connections)
    q.redis.close()
    assert all(c._sock is None for p in pools for c in p._available_connections)


def test_groups_and_their_limits_on_a_cluster(cq: Queue) -> None:
    q = cq.of("tenants")
    groups = Groups(q)
    groups.set_limits({"group_concurrency": 1})
    groups.set_group_limits("api/v2", {"group_rate": {"max": 2, "per_seconds": 60}})
    subs = q.submit_many([{"type": "echo", "queue": "tenants", "group": g}
                          for g in ("a", "b", "api/v2") for _ in range(3)])
    # a group's keys are built inside the scripts from the queue's prefix: the same slot
    k = q.keys
    assert len({cq.redis.keyslot(x) for x in (*k.common, k.group_ready("api/v2", 1),
                                               k.group_starts("api/v2"))}) == 1
    ids = {s.job_id for s in subs}
    run_worker(cq, until=lambda: sum(cq.get(i).status == "completed" for i in ids) == 8,
               timeout=30)
    # api/v2 (its own limits: a rate, no concurrency) started twice in its minute; one waits
    left = [i for i in ids if cq.get(i).status != "completed"]
    assert len(left) == 1 and cq.get(left[0]).group == "api/v2"
    held = next(g for g in groups.list().items if g.name == "api/v2")
    assert held.limited and held.limited_until is not None and held.ready == 1


def test_a_submit_hands_its_job_to_a_waiting_runner_on_a_cluster(cq: Queue) -> None:
    # two queues on (most likely) different nodes: one blocked pop per queue, inbox first
    with waiting_runner(cq, queues=[("h1", 1), ("h2", 1)]) as run:
        ids = []
        for name in ("h1", "h2", "h1"):
            ids.append(cq.submit({"type": "note", "queue": name}).job_id)
            wait_for(lambda: cq.get(ids[-1]).status == "completed")
            wait_for(lambda n=name: cq.redis.zcard(cq.of(n).keys.named("idle")) == 1)
    assert run["started"] == ids and run["stats"].handed == 3


def test_a_workflow_with_steps_on_other_nodes_runs_and_is_deleted_on_a_cluster(
    cq: Queue,
) -> None:
    """The workflow's queue and its steps' queues on three different nodes: every release and
    every step's end crosses slots through the outbox and the relay."""
    node = {n: cq.redis.get_node_from_key(cq.of(n).keys.marker).name
            for n in (f"q{i}" for i in range(30))}
    home, *others = {v: k for k, v in node.items()}.values()  # one queue per node
    assert len(others) == 2
    wfs = Workflows(cq)
    wf_id = wfs.submit({"name": "spread", "queue": home, "steps": [
        {"id": "a", "job_type": "echo", "params": {"v": 1}, "queue": others[0]},
        {"id": "b", "job_type": "echo", "depends_on": ["a"], "queue": others[1]},
        {"id": "c", "job_type": "echo", "depends_on": ["b"]},
    ]})
    with promoting(cq):
        run_worker(cq, until=lambda: wfs.get(wf_id)["status"] != "running", timeout=30)
    got = wfs.get(wf_id)
    assert got["status"] == "completed"
    assert [s["queue"] for s in got["steps"]] == [others[0], others[1], home]
    assert cq.get(got["steps"][2]["job_id"]).parent_results == {"b": {}}
    assert cq.get(got["steps"][1]["job_id"]).parent_results == {"a": {"v": 1}}
    wfs.delete(wf_id)
    Relay(cq).deliver_all()  # the step jobs elsewhere are deleted there
    for s in got["steps"]:
        assert not cq.redis.exists(cq.of(s["queue"]).keys.job(s["job_id"]))
