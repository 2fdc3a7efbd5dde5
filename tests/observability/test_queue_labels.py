"""Metrics per named queue: every queue's depths, counters and dead letters carry a `queue_name`
label (the seed's `queue` label of boltq_jobs_in_queue names a priority or state)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from boltq_core import Queue
from boltq_core.observability.exposition import render
from boltq_core.observability.snapshot import snapshot
from tests.conftest import run_worker


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
