"""What the reliability benchmark (bench/reliability.py) runs - a Plan, the full one and the
quick one - and what it found (Results, which bench/rreport.py renders)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import chaos, durability, failover, poison


@dataclass(frozen=True)
class Plan:
    chaos_jobs: int
    chaos_job_seconds: float  # each chaos job sleeps this long (short, but long enough that
    # the drain lasts: more kills land while jobs are in flight)
    planned_lags: tuple[float, ...]  # DNS lag of each planned failover, in run order
    unplanned: tuple[tuple[int, float], ...]  # (SUBMIT_WAIT_REPLICAS, link stall s), in order
    fsyncs: tuple[str, ...]  # appendfsync of each store kill, in run order
    cost_reps: int
    cost_slice: float  # seconds per configuration and repetition


FULL = Plan(
    chaos_jobs=100_000, chaos_job_seconds=0.01,
    planned_lags=(0.0, 1.0) * 3,
    unplanned=((0, 0.0), (1, 0.0), (0, 0.5), (1, 0.5)) * 3,
    fsyncs=("always", "everysec", "no") * 3,
    cost_reps=5, cost_slice=1.0,
)
QUICK = Plan(
    chaos_jobs=10_000, chaos_job_seconds=0.01,
    planned_lags=(0.0, 1.0),
    unplanned=((0, 0.0), (1, 0.0), (0, 0.5), (1, 0.5)),
    fsyncs=("always", "everysec", "no"),
    cost_reps=1, cost_slice=0.5,
)


@dataclass
class Results:
    quick: bool
    plan: Plan
    machine: dict[str, str] = field(default_factory=dict)
    background: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per section
    elapsed: float = 0.0
    chaos: chaos.ChaosResult | None = None
    planned: list[failover.PlannedResult] = field(default_factory=list)
    unplanned: list[failover.UnplannedResult] = field(default_factory=list)
    store_kill: list[durability.KillResult] = field(default_factory=list)
    cost: list[durability.CostConfig] = field(default_factory=list)
    aof_filesystem: str = ""
    blocker: poison.BlockerResult | None = None
    crasher: poison.CrasherResult | None = None
    overrun: poison.OverrunResult | None = None
