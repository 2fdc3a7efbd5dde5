"""Job-type labels are capped (METRICS_MAX_TYPES) in the stats hash and in the runner's
metric series, so hostile or careless type names cannot grow them without bound."""

from __future__ import annotations

from typing import Any

from boltq_core.observability.exposition import render
from boltq_core.observability.metrics_hooks import MetricsHooks
from boltq_core.observability.snapshot import snapshot
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import ProcessorRegistry
from tests.conftest import run_worker


def test_type_labels_are_capped_and_the_rest_count_as_other(make_queue) -> None:
    queue = make_queue(metrics_max_types=3)
    queue.submit_many([{"type": f"t{i}"} for i in range(40)])
    fields = queue.redis.hgetall(queue.keys.stats)
    assert len(fields) == 4  # three types of their own, one "other"
    stats = queue.stats()
    assert stats.by_type["other"]["submitted"] == 37
    assert stats.totals["submitted"] == 40
    # every later transition of a capped type counts under "other" too
    run_worker(queue, until=lambda: queue.stats().totals.get("failed", 0) == 40)
    assert len(queue.redis.hgetall(queue.keys.stats)) == 8  # submitted + failed per label
    series = [line for line in render(snapshot(queue)).splitlines()
              if line.startswith("boltq_jobs_processed_total")]
    assert len(series) == 4 and any('type="other"' in s for s in series)


def test_runner_histograms_use_the_capped_label(make_queue) -> None:
    queue = make_queue(metrics_max_types=1)
    queue.submit_many([{"type": "echo"}, {"type": "echo2"}, {"type": "echo3"}])
    registry = ProcessorRegistry()

    async def ok(ctx: JobContext) -> Any:
        return None

    for name in ("echo", "echo2", "echo3"):
        registry.register(name, ok)
    hooks = MetricsHooks(queue.keys)
    run_worker(queue, registry, hooks=[hooks],
               until=lambda: queue.stats().totals.get("completed", 0) == 3)
    labels = {f.split("|")[1] for f in queue.redis.hgetall(queue.keys.metrics)
              if f.startswith("p|")}
    assert labels == {"echo", "other"}
