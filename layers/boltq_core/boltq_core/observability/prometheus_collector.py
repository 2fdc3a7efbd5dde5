"""Prometheus export of the counters the core keeps in Redis (SPEC §6): a prometheus_client
Collector that reads them at scrape time, so every process that records a job (any worker,
any Lambda) counts exactly once and a scrape always sees the store's totals.

The families are boltq_core.observability.snapshot's (the same ones the promoter
pushes to the Pushgateway): submitted / processed / retried / requeued totals, queue depths,
dead-letter size, live workers, function invocations and the processing-time and queue-wait
histograms.
Only the local runtime imports this module (prometheus_client is not in the Lambda layer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from boltq_core.jobs.queue import Queue
from boltq_core.observability.snapshot import snapshot


class QueueCollector(Collector):
    """Yields boltq_* metric families from one namespace's Redis counters."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Any]:
        for fam in snapshot(self.queue):
            metric: Metric
            if fam.kind == "counter":
                metric = CounterMetricFamily(fam.name, fam.help)
            elif fam.kind == "gauge":
                metric = GaugeMetricFamily(fam.name, fam.help)
            else:
                metric = HistogramMetricFamily(fam.name, fam.help)
            suffix_total = "_total" if fam.kind == "counter" else ""
            for suffix, labels, value in fam.samples:
                metric.add_sample(fam.name + (suffix or suffix_total), dict(labels), value)
            yield metric


__all__ = ["QueueCollector"]
