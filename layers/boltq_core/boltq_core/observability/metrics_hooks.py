"""MetricsHooks: the runner's side of the metrics - processing time, queue wait and failed
attempts per job type, counted into the metrics hash (metric_layout) on the runner's own round
trips."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from boltq_core.keys import Keys
from boltq_core.observability.metric_layout import HISTOGRAMS, bucket_of
from boltq_core.running.attempt import JobContext, Outcome, RunnerHooks

log = logging.getLogger("boltq.metrics")


class MetricsHooks(RunnerHooks):
    """Counts processing time and queue wait per attempt into {p}:metrics. Observations are held
    until the runner has stored the outcome (an outcome refused as stale is not counted, so the
    histograms count exactly the recorded attempts); the increments then ride along with the
    runner's next finish/claim pipeline (take_writes), so they cost no round trip of their own,
    and the runner sends what is left when it stops. Every HINCRBY is atomic on its own and all
    fields share the namespace's slot."""

    def __init__(self, keys: Keys) -> None:
        self.key = keys.metrics
        self._seen: dict[tuple[str, int], list[tuple[str, float]]] = {}
        self._pending: dict[str, int] = {}

    def on_finish(self, ctx: JobContext, outcome: Outcome, seconds: float) -> None:
        try:
            label = ctx.claimed.type_label  # 'other' past METRICS_MAX_TYPES: bounded series
            obs = [(f"p|{label}", seconds)]
            queued = ctx.claimed.queued_ms if ctx.attempt == 1 else None
            if queued is not None:
                obs.append((f"w|{label}", (queued[1] - queued[0]) / 1000))
            if outcome.kind.is_error:
                obs.append((f"e|{label}|{outcome.category or 'unknown'}", 1.0))
            self._seen[(outcome.job_id, outcome.attempt)] = obs
        except Exception as exc:  # hooks must not raise
            log.warning("metrics hook: %s", exc)

    def on_recorded(self, outcomes: Sequence[Outcome], statuses: Sequence[str]) -> None:
        for o, status in zip(outcomes, statuses, strict=False):
            obs = self._seen.pop((o.job_id, o.attempt), None)
            if not obs or status == "stale":
                continue
            for prefix, value in obs:
                if prefix[0] == "e":  # a failed attempt: a plain counter
                    self._pending[prefix] = self._pending.get(prefix, 0) + 1
                    continue
                buckets = HISTOGRAMS[prefix[0]][2]
                for fld, n in ((f"{prefix}|{bucket_of(value, buckets)}", 1),
                               (f"{prefix}|sum_us", round(value * 1e6))):
                    self._pending[fld] = self._pending.get(fld, 0) + n

    def take_writes(self) -> list[tuple[Any, ...]]:
        if not self._pending:
            return []
        batch, self._pending = self._pending, {}
        return [("HINCRBY", self.key, fld, n) for fld, n in batch.items()]
