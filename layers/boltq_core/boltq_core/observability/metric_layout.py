"""What the namespace's metrics hash ({p}:metrics, keys.Keys.metrics) holds, for the side that
counts (metrics_hooks, counters) and the side that exports (snapshot):

  p|<type>|<le>, w|<type>|<le>   processing / queue-wait histogram buckets (not cumulative; <le>
                                 is the bucket's upper bound, "+Inf" for the last)
  p|<type>|sum_us, w|<type>|sum_us   the sums in microseconds
  e|<type>|<category>            failed attempts per error category (retried or not)
  inv|<function>                 function invocations

<type> is the job type's stats label ('other' past METRICS_MAX_TYPES), so the fields - and the
series Prometheus sees - stay bounded by types x buckets. The job counters live in {p}:stats,
kept by the transition scripts (jobs.queue.counters parses them)."""

from __future__ import annotations

import math
from collections.abc import Sequence

PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                      60.0, 120.0, 300.0, 900.0)
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                300.0, 900.0, 3600.0)
HISTOGRAMS = {
    "p": ("boltq_job_processing_seconds", "Time a job attempt ran, per type", PROCESSING_BUCKETS),
    "w": ("boltq_job_wait_seconds", "Time from a job becoming due to its first start, per type",
          WAIT_BUCKETS),
}


def le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def bucket_of(value: float, buckets: Sequence[float]) -> str:
    for b in buckets:
        if value <= b:
            return le(b)
    return "+Inf"
