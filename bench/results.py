"""Everything one benchmark run measured, and the figures the summary is built from."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.baseline import BareDrain, BenchLine
from bench.drain import DrainResult
from bench.latency import ColdCost, LatencyResult
from bench.memory import MemoryResult
from bench.submit import SubmitResult


@dataclass
class DrainConfig:
    """Repeated drains of one (concurrency, batch) setting."""

    concurrency: int
    batch: int
    runs: list[DrainResult] = field(default_factory=list)
    discarded: list[DrainResult] = field(default_factory=list)  # disturbed, then redone

    @property
    def rates(self) -> list[float]:
        return [r.rate for r in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def typical(self) -> DrainResult:
        """The run closest to the median (its per-job counts stand for the setting)."""
        return min(self.runs, key=lambda r: abs(r.rate - self.median))


@dataclass
class Results:
    quick: bool
    machine: dict[str, str] = field(default_factory=dict)
    background: dict[str, float] = field(default_factory=dict)  # section -> other CPU load
    submit: list[SubmitResult] = field(default_factory=list)
    drains: list[DrainConfig] = field(default_factory=list)
    profiled: DrainResult | None = None
    latency: list[LatencyResult] = field(default_factory=list)  # BoltQ and bare, by rate
    memory: MemoryResult | None = None
    redis_bench: list[BenchLine] = field(default_factory=list)
    bare: BareDrain | None = None
    ping_idle: dict[float, float] = field(default_factory=dict)
    cold: list[ColdCost] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def best_submit(self) -> SubmitResult | None:
        return max(self.submit, key=lambda s: s.rate) if self.submit else None

    @property
    def pickup(self) -> LatencyResult | None:
        """BoltQ's latency at the target's rate (the first one measured)."""
        return next((x for x in self.latency if x.name.startswith("BoltQ")), None)

    def bare_pickup(self, rate: float) -> LatencyResult | None:
        return next((x for x in self.latency if x.rate == rate and x.name.startswith("bare")),
                    None)

    @property
    def best_drain(self) -> DrainConfig | None:
        """The setting with the best median rate (a single lucky run does not win)."""
        return max(self.drains, key=lambda d: d.median) if self.drains else None
