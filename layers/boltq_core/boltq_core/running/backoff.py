"""Retry delay: capped exponential backoff with equal jitter."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Delay before the attempt after `attempt` (1-based): half fixed, half random, so
    retries of many jobs that failed together spread out but never come back instantly."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + random.uniform(0, delay / 2)
