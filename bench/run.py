"""Run the BoltQ benchmarks and write bench/RESULTS.md.

    .venv/bin/python -m bench.run            # full run (about 2-3 minutes), writes RESULTS.md
    .venv/bin/python -m bench.run --quick    # short sanity pass, prints the report
    .venv/bin/python bench/run.py --only drain,latency --redis-url redis://127.0.0.1:6379/0

Without --redis-url every benchmark runs against a private embedded Valkey that is stopped at
the end; with it, the benchmark uses its own key namespaces there and deletes them after (it
never flushes or resets a server it did not start)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable, for workers too
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baseline, drain, latency, memory, submit
from bench.common import Server, background_busy, machine_info, target, wait_quiet, write_report
from bench.report import render
from bench.results import DrainConfig, Results

SECTIONS = ("submit", "drain", "latency", "memory", "baseline")
DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True)
class Plan:
    """How much of each benchmark to run."""

    submit_jobs: int
    submit_chunks: tuple[int, ...]
    drain_jobs: int
    drain_configs: tuple[tuple[int, int], ...]  # (concurrency, batch)
    drain_reps: int
    profile: bool
    drain_retries: int  # disturbed drain runs redone, at most, over the whole section
    latency_runs: tuple[tuple[float, float], ...]  # (jobs/s, seconds); the first is the target
    memory_jobs: int
    bench_requests: int
    bare_jobs: int
    ping_samples: int
    workers: int = 2


FULL = Plan(
    submit_jobs=50_000, submit_chunks=(500, 1000, 5000),
    drain_jobs=20_000,
    drain_configs=((50, 50), (200, 100), (200, 200), (500, 500), (1000, 1000)),
    drain_reps=4, profile=True, drain_retries=6,  # a shared machine: the median counts
    latency_runs=((50, 10), (500, 3)),
    memory_jobs=100_000, bench_requests=100_000, bare_jobs=20_000, ping_samples=50,
)
QUICK = Plan(
    submit_jobs=5_000, submit_chunks=(500,),
    drain_jobs=4_000, drain_configs=((50, 50),), drain_reps=1, profile=False, drain_retries=0,
    latency_runs=((50, 2),),
    memory_jobs=10_000, bench_requests=10_000, bare_jobs=4_000, ping_samples=10,
)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --- the sections -----------------------------------------------------------------------------


def run_submit(server: Server, plan: Plan, res: Results) -> None:
    for chunk in plan.submit_chunks:
        r = submit.run_submit(server, plan.submit_jobs, chunk)
        log(f"submit chunk={chunk}: {r.rate:,.0f} jobs/s")
        res.submit.append(r)


def run_drain(server: Server, plan: Plan, res: Results) -> None:
    retries = plan.drain_retries
    for conc, batch in plan.drain_configs:
        cfg = DrainConfig(conc, batch)
        while len(cfg.runs) < plan.drain_reps:
            r = drain.run_drain(server, plan.drain_jobs, plan.workers, conc, batch)
            if disturbed(r) and retries > 0:
                retries -= 1  # someone else's load took a share of the CPUs: run it again
                cfg.discarded.append(r)
                continue
            cfg.runs.append(r)
        log(f"drain c={conc} b={batch}: {[round(r) for r in cfg.rates]} jobs/s"
            f" ({len(cfg.discarded)} disturbed runs redone)")
        res.drains.append(cfg)
    best = res.best_drain
    if plan.profile and best is not None:
        res.profiled = drain.run_drain(
            server, plan.drain_jobs, plan.workers, best.concurrency, best.batch, profile=True
        )
        log("drain profiled")


def disturbed(r: drain.DrainResult) -> bool:
    """Other processes used more than a quarter of one CPU on average during the run."""
    return r.other_cpu > 0.25 * r.seconds


def run_latency(server: Server, plan: Plan, res: Results) -> None:
    for rate, seconds in plan.latency_runs:
        ours = latency.run_latency(server, rate, seconds)
        log(f"latency at {rate:g}/s: p50 {ours.p(50):.2f} ms p99 {ours.p(99):.2f} ms")
        # the bare loop's spread is small: half the time is enough
        res.latency += [ours, latency.run_brpop_latency(server, rate, seconds / 2)]
    res.ping_idle = baseline.ping_after_idle(server, (0, 1, 5, 20), plan.ping_samples)
    res.cold = latency.cold_submit(server, (0, 20), plan.ping_samples)


def run_memory(server: Server, plan: Plan, res: Results) -> None:
    res.memory = memory.run_memory(server, plan.memory_jobs)
    log(f"memory {res.memory.per_job:.0f} B/job")


def run_baseline(server: Server, plan: Plan, res: Results) -> None:
    res.redis_bench = baseline.redis_benchmark(server, plan.bench_requests)
    res.bare = baseline.bare_drain(server, plan.bare_jobs, plan.workers)
    log(f"baseline: bare BRPOP drain {res.bare.rate:,.0f}/s")


RUNNERS = {
    "submit": run_submit, "drain": run_drain, "latency": run_latency,
    "memory": run_memory, "baseline": run_baseline,
}


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short sanity pass (small counts)")
    ap.add_argument("--redis-url", help="benchmark this server instead of an embedded Valkey")
    ap.add_argument("--out", type=Path, help="report path (default: bench/RESULTS.md for a "
                    "full run; a quick run prints the report instead)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run, of: {', '.join(SECTIONS)}")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before each section wait up to SECONDS for other CPU load < 10%%")
    args = ap.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def run(args: argparse.Namespace) -> Results:
    plan = QUICK if args.quick else FULL
    res = Results(quick=args.quick)
    t0 = time.monotonic()
    with target(args.redis_url) as server:
        client = server.client()
        res.machine = machine_info(client)
        client.close()
        for name in SECTIONS:
            if name not in args.only.split(","):
                continue
            busy = wait_quiet(0.10, args.wait_quiet) if args.wait_quiet else background_busy()
            res.background[name] = busy
            log(f"{name} (other CPU load {busy:.0%})")
            RUNNERS[name](server, plan, res)
    res.elapsed = time.monotonic() - t0
    return res


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    res = run(args)
    text = render(res)
    write_report(text, args.out or (None if args.quick else DEFAULT_OUT), res.elapsed, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
