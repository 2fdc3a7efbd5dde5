"""Metrics (SPEC §6, issue 5): counts kept in Redis, pushed by the one promoter to a real
Pushgateway, scraped by a real Prometheus; the totals Prometheus answers equal the true counts
after several concurrent workers, the series count stays bounded, and a down (or hanging)
Pushgateway never stops or slows jobs."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from boltq_core import Queue
from boltq_core.observability.exposition import render
from boltq_core.observability.metrics_hooks import MetricsHooks
from boltq_core.observability.prometheus_collector import QueueCollector
from boltq_core.observability.pushgateway import MetricsPusher
from boltq_core.observability.snapshot import snapshot
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.runner import Runner
from tests.conftest import wait_for
from tests.observability.conftest import Prometheus, free_port, http_get
from tests.observability.helpers import Promoters, run_workers
from tests.support.faults import Proxy

# (spec, number): 60 completed, 10 retried once then dead, 5 dead at once, 12 retried once then
# completed -> attempts 60 + 20 + 5 + 24 = 109
WORKLOAD: list[tuple[dict[str, Any], int]] = [
    ({"type": "echo", "priority": 0}, 20),
    ({"type": "echo", "priority": 1}, 40),
    ({"type": "fail", "max_attempts": 2}, 10),
    ({"type": "fail", "data": {"permanent": True}}, 5),
    ({"type": "obs_flaky", "priority": 2, "max_attempts": 3}, 12),
]
EXPECTED = {
    "submitted": {("echo", "high"): 20, ("echo", "normal"): 40, ("fail", "normal"): 15,
                  ("obs_flaky", "low"): 12},
    "processed": {("echo", "completed"): 60, ("fail", "failed"): 15,
                  ("obs_flaky", "completed"): 12},
    "retried": {"fail": 10, "obs_flaky": 12},
    "attempts": {"echo": 60, "fail": 25, "obs_flaky": 24},
    "first_attempts": {"echo": 60, "fail": 15, "obs_flaky": 12},
}


def submit_workload(q: Queue) -> int:
    specs = [{**spec, "timeout_seconds": 5} for spec, n in WORKLOAD for _ in range(n)]
    q.submit_many(specs)
    return len(specs)


def all_done(q: Queue, n: int) -> bool:
    s = q.stats()
    return s.totals["completed"] + s.totals["failed"] == n


def run_workload(q: Queue, workers: int) -> list[dict[str, Any]]:
    n = submit_workload(q)
    with Promoters() as promoters:
        rounds = 0
        while not all_done(q, n):  # retried jobs come back after the promoter moves them
            run_workers(workers)
            rounds += 1
            assert rounds < 10, q.stats()
    return promoters.results


def test_histograms_count_every_recorded_attempt_exactly(queue: Queue) -> None:
    """MetricsHooks in several concurrent runners: bucket counts (riding on the runners'
    finish pipelines, the rest sent as each runner stops) add up to exactly the number of
    attempts, wait only on first attempts; the snapshot renders as valid exposition text and
    through the local /metrics collector."""
    n = submit_workload(queue)

    async def main() -> None:
        aqs = [AsyncQueue(queue.settings) for _ in range(4)]
        hooks = [MetricsHooks(queue.keys) for _ in aqs]
        stop = asyncio.Event()
        runners = [Runner(aq, concurrency=4, hooks=[h]) for aq, h in zip(aqs, hooks, strict=True)]
        tasks = [asyncio.create_task(r.run(stop)) for r in runners]
        end = time.monotonic() + 20
        while not await asyncio.to_thread(all_done, queue, n):
            await asyncio.to_thread(queue.promote)
            await asyncio.sleep(0.02)
            assert time.monotonic() < end
        stop.set()
        await asyncio.gather(*tasks)
        assert all(not h.take_writes() for h in hooks)  # nothing left behind
        for aq in aqs:
            await aq.aclose()

    asyncio.run(main())
    text = render(snapshot(queue))
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    counts = {s.labels["type"]: s.value for s in fams["boltq_job_processing_seconds"].samples
              if s.name.endswith("_count")}
    assert counts == EXPECTED["attempts"]
    waits = {s.labels["type"]: s.value for s in fams["boltq_job_wait_seconds"].samples
             if s.name.endswith("_count")}
    assert waits == EXPECTED["first_attempts"]
    errors: dict[str, float] = {}
    for s in fams["boltq_job_errors"].samples:  # every failed attempt, by type and category
        errors[s.labels["type"]] = errors.get(s.labels["type"], 0) + s.value
    assert errors == {"fail": EXPECTED["attempts"]["fail"], "obs_flaky": 12}
    inf = {s.labels["type"]: s.value for s in fams["boltq_job_processing_seconds"].samples
           if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"}
    assert inf == counts
    submitted = {(s.labels["type"], s.labels["priority"]): s.value
                 for s in fams["boltq_jobs_submitted"].samples}
    assert submitted == EXPECTED["submitted"]
    # the local runtime's /metrics (prometheus_client) shows the same families
    registry = CollectorRegistry()
    registry.register(QueueCollector(queue))
    local = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert set(local) == set(fams)
    assert ({s.labels["type"]: s.value for s in local["boltq_job_processing_seconds"].samples
             if s.name.endswith("_count")} == counts)


def test_prometheus_sees_exact_totals_after_concurrent_workers(
        env: Queue, pushgateway: str, prometheus: Prometheus,
        monkeypatch: pytest.MonkeyPatch) -> None:
    q = env
    monkeypatch.setenv("PUSHGATEWAY_URL", pushgateway)
    promoter_runs = run_workload(q, workers=4)
    assert all(r.get("metrics_pushes", 0) >= 1 for r in promoter_runs if "skipped" not in r)
    ns = f'namespace="{q.settings.key_prefix}"'
    worker_invocations = int(q.redis.hget(q.keys.tag + ":metrics", "inv|worker"))
    assert worker_invocations >= 4

    # (query, labels) -> what Prometheus must show once the last push is scraped
    want: dict[tuple[str, tuple[str, ...]], dict[Any, float]] = {
        ("boltq_function_invocations_total", ("function",)): {
            "promoter": len(promoter_runs), "worker": worker_invocations},
        ("boltq_job_processing_seconds_count", ("type",)): EXPECTED["attempts"],
        ("boltq_jobs_submitted_total", ("type", "priority")): EXPECTED["submitted"],
        ("boltq_jobs_processed_total", ("type", "status")): EXPECTED["processed"],
        ("boltq_jobs_retried_total", ("type",)): EXPECTED["retried"],
        ("boltq_job_wait_seconds_count", ("type",)): EXPECTED["first_attempts"],
        ("boltq_dead_letter_size", ("job",)): {"boltq": 15},
        ("boltq_jobs_in_queue", ("queue",)): {
            "high": 0, "normal": 0, "low": 0, "scheduled": 0, "running": 0, "retrying": 0,
            "dead_letter": 15},
        ("boltq_active_workers", ("job",)): {"boltq": 0},
    }

    def seen() -> dict[tuple[str, tuple[str, ...]], dict[Any, float]]:
        return {(name, labels): prometheus.values(f"{name}{{{ns}}}", *labels)
                for name, labels in want}

    # all at once: an earlier push can hold the final counts while a worker that ran out of
    # work is still leaving the fleet (the gauge then says 1); the last push says 0
    try:
        wait_for(lambda: seen() == want, timeout=30, every=0.2)
    except AssertionError:
        got = seen()
        differ = {k: (got[k], v) for k, v in want.items() if got[k] != v}
        raise AssertionError(f"Prometheus (has, want): {differ}; the store has "
                             f"{render(snapshot(q))}") from None
    # the totals agree with the core's own view
    stats = q.stats()
    assert stats.totals["completed"] == 72 and stats.totals["failed"] == 15
    # one group, one series per sample: however many functions ran, no extra series
    series = prometheus.values(f'count by (job) ({{{ns}, __name__=~"boltq_.*"}})', "job")
    samples = sum(1 for line in render(snapshot(q)).splitlines() if not line.startswith("#"))
    assert series == {"boltq": samples}
    p50 = prometheus.values(
        f'histogram_quantile(0.5, sum by (le) (boltq_job_processing_seconds_bucket{{{ns}}}))')
    assert len(p50) == 1 and 0 <= next(iter(p50.values())) < 1


def test_a_down_pushgateway_never_stops_jobs(env: Queue, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setenv("PUSHGATEWAY_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    promoter_runs = run_workload(env, workers=2)
    assert all(r.get("metrics_pushes") == 0 for r in promoter_runs if "skipped" not in r)
    stats = env.stats()
    assert stats.totals["completed"] == 72 and stats.totals["failed"] == 15


def test_a_hanging_pushgateway_costs_at_most_the_push_timeout(queue: Queue) -> None:
    """A Pushgateway that accepts connections but never answers: pushes time out after the
    short timeout in the pusher's own thread; the failure is logged once, not raised."""
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)
        port = hang.getsockname()[1]
        records: list[str] = []

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(record.getMessage())

        log = logging.getLogger("boltq.test.metrics")
        log.addHandler(Capture())
        pusher = MetricsPusher(queue, f"http://127.0.0.1:{port}", interval=0.05, timeout=0.5,
                               logger=log)
        t0 = time.monotonic()
        pusher.start()
        queue.submit({"type": "echo"})  # the caller is not held up by the pusher's hang
        assert time.monotonic() - t0 < 0.4
        wait_for(lambda: pusher.failures >= 2, timeout=10)
        t1 = time.monotonic()
        pusher.stop()
        assert time.monotonic() - t1 < 0.5 + 0.5 + 0.3
        assert pusher.pushes == 0
        assert len([r for r in records if "push to the Pushgateway failed" in r]) == 1


def test_the_last_push_is_tried_after_a_failed_one(queue: Queue, pushgateway: str) -> None:
    """The gateway is back when the pusher stops: its last push lands, though the push before
    it failed (else the gateway keeps older totals until the next promoter pushes)."""
    with Proxy(int(urlparse(pushgateway).port or 0)) as proxy:
        proxy.blackhole()
        pusher = MetricsPusher(queue, f"http://127.0.0.1:{proxy.port}", interval=60,
                               timeout=0.3)
        pusher.start()
        wait_for(lambda: pusher.failures == 1, timeout=10)
        proxy.cut()  # the timed-out push is dropped, not delivered late
        proxy.heal()
        queue.submit({"type": "echo", "priority": 1})
        pusher.stop(wait=5)
    assert pusher.pushes == 1
    group = f'job="boltq",namespace="{queue.settings.key_prefix}"'
    body = http_get(pushgateway + "/metrics").decode()
    assert any(line.startswith("boltq_jobs_submitted_total{") and group in line
               and 'type="echo"' in line and line.endswith(" 1") for line in body.splitlines())


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    yield
    wait_for(lambda: not [t for t in threading.enumerate()
                          if t.name == "boltq-metrics" and t.is_alive()], timeout=5)
