"""Prometheus export of the counters the core keeps in Redis (SPEC §6): a prometheus_client
Collector that reads them at scrape time, so every process that records a job (any worker,
any Lambda) counts exactly once and a scrape always sees the store's totals.

Read at each scrape, from the namespace's keys:
  {p}:stats  HASH  submitted|<type>|<priority>, processed|<type>|<status>, retried|<type>,
                   requeued|<type>  (HINCRBY inside the transition scripts)
  the ready lists per priority, the scheduled / running / retrying / dead-letter sets, and
  the fleet (live worker invocations).
Only the local runtime imports this module (prometheus_client is not in the Lambda layer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from boltq_core.fleet import Fleet
from boltq_core.queue import Queue

PRIORITY_LABELS = ("high", "normal", "low")


class QueueCollector(Collector):
    """Yields boltq_* metric families from one namespace's Redis counters."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Any]:
        q = self.queue
        k = q.keys
        pipe = q.redis.pipeline(transaction=False)
        for p in range(3):
            pipe.llen(k.ready(p))
        for key in (k.scheduled, k.active, k.retrying, k.dlq):
            pipe.zcard(key)
        pipe.hgetall(k.stats)
        r = pipe.execute()
        depth = GaugeMetricFamily("boltq_jobs_in_queue", "Jobs waiting or held, per queue",
                                  labels=["queue"])
        for name, n in zip(PRIORITY_LABELS, r[0:3], strict=True):
            depth.add_metric([name], n)
        for name, n in zip(("scheduled", "running", "retrying", "dead_letter"), r[3:7],
                           strict=True):
            depth.add_metric([name], n)
        submitted = CounterMetricFamily("boltq_jobs_submitted", "Jobs accepted",
                                        labels=["type", "priority"])
        processed = CounterMetricFamily("boltq_jobs_processed", "Jobs that reached an end state",
                                        labels=["type", "status"])
        retried = CounterMetricFamily("boltq_jobs_retried", "Attempts scheduled for a retry",
                                      labels=["type"])
        requeued = CounterMetricFamily("boltq_jobs_requeued",
                                       "Dead letters put back in the queue", labels=["type"])
        for field, value in sorted(r[7].items()):
            parts = str(field).split("|")
            n = int(value)
            if parts[0] == "submitted" and len(parts) == 3:
                prio = int(parts[2])
                label = PRIORITY_LABELS[prio] if 0 <= prio < 3 else parts[2]
                submitted.add_metric([parts[1], label], n)
            elif parts[0] == "processed" and len(parts) == 3:
                processed.add_metric([parts[1], parts[2]], n)
            elif parts[0] == "retried" and len(parts) == 2:
                retried.add_metric([parts[1]], n)
            elif parts[0] == "requeued" and len(parts) == 2:
                requeued.add_metric([parts[1]], n)
        dead = GaugeMetricFamily("boltq_dead_letter_size", "Jobs in the dead-letter queue")
        dead.add_metric([], r[6])
        workers = GaugeMetricFamily("boltq_active_workers", "Live worker invocations")
        workers.add_metric([], Fleet(q.redis, k.tag).live())
        yield from (submitted, processed, retried, requeued, depth, dead, workers)


__all__ = ["QueueCollector"]
