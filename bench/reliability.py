"""Measure what BoltQ's guarantees hold under real faults and write bench/RELIABILITY.md.

    .venv/bin/python -m bench.reliability            # full run (about 5 minutes), writes the file
    .venv/bin/python -m bench.reliability --quick    # short pass (about 1.5 min), prints it
    .venv/bin/python -m bench.reliability --only chaos,poison --out /tmp/r.md

Real servers and real faults only: worker processes and store processes are SIGKILLed, real
replicas fail over (FAILOVER, REPLICAOF NO ONE), clients go through a real TCP proxy
(tests/support/faults.py). Every section starts its own valkey-servers and stops them, and every
process it started, before the next one begins."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench import chaos, durability, failover, poison
from bench.common import background_busy, machine_info, write_report
from bench.rcommon import log
from bench.rresults import FULL, QUICK, Plan, Results
from boltq_local.valkey import ValkeyServer

SECTIONS = ("chaos", "failover", "durability", "cost", "poison")
DEFAULT_OUT = Path(__file__).resolve().parent / "RELIABILITY.md"


# --- the sections -----------------------------------------------------------------------------


def run_chaos(plan: Plan, res: Results) -> None:
    res.chaos = chaos.run_chaos(plan.chaos_jobs, lease=1.0, concurrency=50,
                                job_seconds=plan.chaos_job_seconds)
    c = res.chaos
    log(f"chaos: {c.lost} lost, {c.run_twice} run twice, {c.dead_lettered} dead-lettered, "
        f"{c.kills} kills in {c.seconds:.0f} s")


def run_failover(plan: Plan, res: Results) -> None:
    for lag in plan.planned_lags:
        r = failover.run_planned(lag)
        res.planned.append(r)
        log(f"planned failover, DNS lag {lag:g} s: resumed "
            f"{'-' if r.resumed is None else f'{r.resumed:.2f}'} s after the switch, "
            f"{r.lost} lost, {len(r.worker_deaths)} workers died")
    for wait, stall in plan.unplanned:
        res.unplanned.append(failover.run_unplanned(wait, stall))


def run_durability(plan: Plan, res: Results) -> None:
    for fsync in plan.fsyncs:
        res.store_kill.append(durability.run_store_kill(fsync))


def run_cost(plan: Plan, res: Results) -> None:
    res.cost, res.aof_filesystem = durability.run_submit_cost(plan.cost_reps, plan.cost_slice)
    for c in res.cost:
        log(f"submit cost, {c.name} ({c.server}): {c.rate:,.0f}/s, p50 {c.p(50):.2f} ms")


def run_poison(plan: Plan, res: Results) -> None:
    res.blocker = poison.run_blocker()
    res.crasher = poison.run_crasher()
    res.overrun = poison.run_overrun()


RUNNERS: dict[str, Callable[[Plan, Results], None]] = {
    "chaos": run_chaos, "failover": run_failover, "durability": run_durability,
    "cost": run_cost, "poison": run_poison,
}


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.reliability",
                                 description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short pass (small counts)")
    ap.add_argument("--out", type=Path, help="report path (default: bench/RELIABILITY.md for "
                    "a full run; a quick run prints the report instead)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run, of: {', '.join(SECTIONS)}")
    args = ap.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def run(args: argparse.Namespace) -> Results:
    plan = QUICK if args.quick else FULL
    res = Results(quick=args.quick, plan=plan)
    t0 = time.monotonic()
    with ValkeyServer() as server, redis.Redis(port=server.port, decode_responses=True) as c:
        res.machine = machine_info(c)
    for name in SECTIONS:
        if name not in args.only.split(","):
            continue
        res.background[name] = background_busy()
        log(f"{name} (other CPU load {res.background[name]:.0%})")
        s0 = time.monotonic()
        RUNNERS[name](plan, res)
        res.seconds[name] = time.monotonic() - s0
    res.elapsed = time.monotonic() - t0
    return res


def main(argv: list[str] | None = None) -> int:
    from bench.rreport import render

    args = parse_args(argv)
    res = run(args)
    text = render(res)
    write_report(text, args.out or (None if args.quick else DEFAULT_OUT), res.elapsed, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
