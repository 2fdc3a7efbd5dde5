"""How long a failed attempt waits before its retry (running/backoff.py)."""

from __future__ import annotations

from boltq_core.running.backoff import backoff_seconds


def test_backoff_is_exponential_capped_and_jittered() -> None:
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 10.0)]:
        delays = [backoff_seconds(attempt, 1.0, 10.0) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 10  # jitter spreads them
