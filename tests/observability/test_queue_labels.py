"""Metrics per named queue: every queue's depths, counters and dead letters carry a `queue_name`
label (the seed's `queue` label of boltq_jobs_in_queue names a priority or state)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from boltq_core import Queue, RateLimited
from boltq_core.jobs.groups import Groups
from boltq_core.observability.exposition import render
from boltq_core.observability.snapshot import snapshot
from tests.conftest import run_worker
from tests.support.queue_calls import claim, registry_with


def samples(queue: Queue) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(render(snapshot(queue))):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_every_queue_has_its_own_series(queue: Queue) -> None:
    done = [queue.submit({"type": "echo", "queue": q}).job_id for q in ("mail", "mail", "default")]
    queue.submit({"type": "echo", "queue": "held"})
    queue.of("held").pause()
    dead = queue.submit({"type": "no-such-type", "queue": "mail"}).job_id
    run_worker(queue, until=lambda: all(queue.get(j).status == "completed" for j in done)
               and queue.get(dead).status == "failed")
    got = samples(queue)
    completed = {s[0]["queue_name"]: s[1] for s in got["boltq_jobs_processed_total"]
                 if s[0]["status"] == "completed"}
    assert completed == {"default": 1, "mail": 2}
    submitted = {}
    for labels, value in got["boltq_jobs_submitted_total"]:
        submitted[labels["queue_name"]] = submitted.get(labels["queue_name"], 0) + value
    assert submitted == {"default": 1, "mail": 3, "held": 1}
    ready = {(s[0]["queue_name"], s[0]["queue"]): s[1] for s in got["boltq_jobs_in_queue"]}
    assert ready[("held", "normal")] == 1 and ready[("mail", "normal")] == 0
    assert {s[0]["queue_name"]: s[1] for s in got["boltq_dead_letter_size"]} == {
        "default": 0, "held": 0, "mail": 1}
    # the deployment's series stay unlabelled by queue
    assert all("queue_name" not in s[0] for s in got["boltq_active_workers"])


def test_groups_are_counted_per_queue_never_per_group(queue: Queue) -> None:
    tenants = queue.of("tenants")
    Groups(tenants).set_limits({"group_concurrency": 1})
    tenants.submit_many([{"type": "echo", "queue": "tenants", "group": f"t{i}"}
                         for i in range(5) for _ in range(2)])
    claim(tenants, count=10)  # one of each group runs: all five at their limit
    slow = queue.submit({"type": "api", "group": "ext"}).job_id

    async def api(ctx) -> None:
        raise RateLimited(60)

    run_worker(queue, registry_with(api=api),
               until=lambda: queue.get(slow).last_error is not None)
    got = samples(queue)
    groups = {(s[0]["queue_name"], s[0]["state"]): s[1] for s in got["boltq_groups"]}
    assert groups == {("default", "known"): 1, ("default", "limited"): 1,
                      ("tenants", "known"): 5, ("tenants", "limited"): 5}
    assert {s[0]["queue_name"]: s[1] for s in got["boltq_jobs_rate_limited_total"]} == {
        "default": 1}
    # grouped jobs waiting count in the depth: five in tenants, the held one in default
    ready = {(s[0]["queue_name"], s[0]["queue"]): s[1] for s in got["boltq_jobs_in_queue"]}
    assert ready[("tenants", "normal")] == 5 and ready[("default", "normal")] == 1
