"""Named queues on a local 3-node Valkey cluster (issue 13) and write bench/QUEUES.md.

    .venv/bin/python -m bench.queues            # full run, writes bench/QUEUES.md
    .venv/bin/python -m bench.queues --quick    # short pass, prints the report

(a) N no-op jobs spread over 12 named queues, drained by 2 worker processes serving every
queue: the commands each node processed (INFO commandstats and total_commands_processed
deltas) and the jobs/s. (b) One named queue alone against the default queue alone (today's
single namespace), same workers, interleaved repetitions, on the cluster and on a single
embedded Valkey. Every server is the benchmark's own and is flushed before each run."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable, for workers too
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench import workers
from bench.common import (
    CLIENT_COMMANDS,
    CommandStat,
    Server,
    background_busy,
    busy_seconds,
    command_stats,
    machine_info,
    preload_scripts,
    server_cpu,
    settings_for,
    spawn,
    stats_delta,
    stop_processes,
    wait_quiet,
    write_report,
)
from boltq_core import Queue, Settings
from boltq_core.keys import DEFAULT_QUEUE
from boltq_local.valkey import ValkeyCluster, ValkeyServer

QUEUES = tuple(f"q{i:02d}" for i in range(1, 13))
ONE = QUEUES[0]
WORKERS = 2
DEFAULT_OUT = Path(__file__).resolve().parent / "QUEUES.md"
SCRIPTS = ("claim", "finish", "extend")
# one prefix for every run (each starts from a flushed server): the queues' slots, and so
# their nodes, are the same in every run and match the placement table
PREFIX = "bench-queues"


@dataclass(frozen=True)
class Plan:
    spread_jobs: int  # over the 12 queues
    spread_reps: int
    one_jobs: int
    one_reps: int  # per kind (named, default) and per server
    retries: int  # disturbed runs redone, at most, over the whole benchmark
    quiet_wait: float  # before each run wait up to this long for other load below 15%


FULL = Plan(spread_jobs=24_000, spread_reps=3, one_jobs=20_000, one_reps=9, retries=8,
            quiet_wait=5.0)
QUICK = Plan(spread_jobs=6_000, spread_reps=1, one_jobs=4_000, one_reps=2, retries=0,
             quiet_wait=0.0)


@dataclass
class NodeWork:
    """What one node did over a run."""

    port: int
    commands: dict[str, CommandStat]  # commandstats delta, the probes left out
    requests: int  # total_commands_processed delta, the probes left out
    cpu: float

    @property
    def calls(self) -> int:  # every command, those run inside Lua too
        return sum(s.calls for s in self.commands.values())

    @property
    def usec(self) -> int:
        return sum(s.usec for s in self.commands.values())

    @property
    def client_calls(self) -> int:
        return sum(s.calls for n, s in self.commands.items() if n in CLIENT_COMMANDS)


@dataclass
class Run:
    label: str
    jobs: int
    seconds: float  # first start to last finish (server clock, ms)
    completed: int
    nodes: list[NodeWork]
    worker_cpu: float
    other_cpu: float  # CPU seconds anything else on the machine used meanwhile

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0

    @property
    def disturbed(self) -> bool:
        """Other processes used more than a quarter of one CPU on average (as bench.run)."""
        return self.other_cpu > 0.25 * self.seconds


@dataclass
class Target:
    """The servers under test: one node, or the cluster's masters."""

    name: str
    url: str
    cluster: bool
    ports: list[int]

    def nodes(self) -> list[redis.Redis]:
        return [redis.Redis(port=p, decode_responses=True) for p in self.ports]


@dataclass
class Results:
    quick: bool
    machine: dict[str, str] = field(default_factory=dict)
    background: float = 0.0
    placement: dict[str, int] = field(default_factory=dict)  # queue -> node port
    spread: list[Run] = field(default_factory=list)
    one: dict[tuple[str, str], list[Run]] = field(default_factory=dict)  # (target, kind)
    discarded: int = 0
    elapsed: float = 0.0


def log(msg: str) -> None:
    print(f"[bench.queues] {msg}", file=sys.stderr, flush=True)


# --- one run ----------------------------------------------------------------------------------


def _snapshot(nodes: Sequence[redis.Redis]) -> list[tuple[dict[str, CommandStat], int, float]]:
    out = []
    for n in nodes:
        stats = command_stats(n)
        total = int(n.info("stats")["total_commands_processed"])
        out.append((stats, total, server_cpu(n)))
    return out


def _probe_calls(before: dict[str, CommandStat], after: dict[str, CommandStat]) -> int:
    """The INFO calls the snapshot itself made (counted in total_commands_processed)."""
    return sum(
        after[n].calls - before.get(n, CommandStat(0, 0)).calls
        for n in ("info", "config|resetstat") if n in after
    )


def drain(target: Target, label: str, per_queue: dict[str, int], serve: Sequence[str]) -> Run:
    """Submit per_queue jobs, then drain them with WORKERS processes serving `serve`."""
    nodes = target.nodes()
    for n in nodes:  # our own servers: start empty and quiet
        n.flushall()
        n.config_resetstat()
        preload_scripts(n, SCRIPTS)
    server = Server(target.url, "127.0.0.1", target.ports[0], own=True)
    settings = settings_for(server, "queues", redis_cluster=target.cluster,
                            worker_queues=",".join(serve), key_prefix=PREFIX)
    root = Queue(settings)
    ids = {name: _submit(root, name, n) for name, n in per_queue.items()}
    before = _snapshot(nodes)
    outs, busy = run_workers(settings)
    after = _snapshot(nodes)
    work = []
    for port, (s0, t0, c0), (s1, t1, c1) in zip(target.ports, before, after, strict=True):
        work.append(NodeWork(port, stats_delta(s1, s0), t1 - t0 - _probe_calls(s0, s1), c1 - c0))
    seconds, completed = span(root, ids)
    root.redis.close()
    for n in nodes:
        n.close()
    worker_cpu = sum(o["cpu"] for o in outs)
    return Run(label, sum(per_queue.values()), seconds, completed, work, worker_cpu,
               max(0.0, busy - worker_cpu - sum(w.cpu for w in work)))


def _submit(root: Queue, name: str, n: int) -> list[str]:
    """n no-op jobs into queue `name` (a job names its queue; the default is "default")."""
    jobs = [{"type": "echo", "data": {}, "queue": name} for _ in range(n)]
    return [s.job_id for s in root.of(name).submit_many(jobs, chunk=1000)]


def run_workers(settings: Settings) -> tuple[list[dict], float]:
    """The drain benchmark's worker processes (Settings' own concurrency and batch), released
    together; returns their reports and the machine's busy CPU seconds over the run."""
    ctx = spawn()
    barrier = ctx.Barrier(WORKERS + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=workers.drain_worker,
                    args=(settings, settings.worker_concurrency, settings.claim_batch, barrier,
                          results, None), daemon=True)
        for _ in range(WORKERS)
    ]
    try:
        for p in procs:
            p.start()
        barrier.wait(timeout=60)
        busy0 = busy_seconds()
        outs = [results.get(timeout=300) for _ in procs]
        busy1 = busy_seconds()
    finally:
        stop_processes(procs)
    return outs, busy1 - busy0


def span(root: Queue, ids: dict[str, list[str]]) -> tuple[float, int]:
    """(last 'finished' - first 'started') over every queue's jobs, and how many completed."""
    started, finished, completed = [], [], 0
    for name, job_ids in ids.items():
        q = root.of(name)
        pipe = q.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(q.keys.job(job_id), "started", "finished", "status")
        for s, f, status in pipe.execute():
            if s:
                started.append(int(s))
            if f:
                finished.append(int(f))
            completed += status == "completed"
    if not started or not finished:
        return 0.0, completed
    return (max(finished) - min(started) + 1) / 1000, completed  # +1: ms stamps


# --- the plan ---------------------------------------------------------------------------------


quiet_wait = [0.0]  # seconds to wait, at most, for other load < 15% before each run


def measured(res: Results, budget: list[int], fn: object, *args: object) -> Run:
    """A run, redone (within the budget) when other load took a share of the CPUs."""
    while True:
        if quiet_wait[0]:
            wait_quiet(0.15, quiet_wait[0])
        r = fn(*args)  # type: ignore[operator]
        if r.completed != r.jobs:
            raise RuntimeError(f"{r.label}: {r.completed} of {r.jobs} jobs completed")
        if r.disturbed and budget[0] > 0:
            budget[0] -= 1
            res.discarded += 1
            log(f"{r.label}: disturbed ({r.other_cpu:.2f} CPU s other load), redone")
            continue
        return r


def one_vs_default(target: Target, plan: Plan, res: Results, budget: list[int]) -> None:
    """Interleaved, the order swapped every repetition, so drift hits both kinds alike."""
    kinds = {"named": ONE, "default": DEFAULT_QUEUE}
    for rep in range(plan.one_reps):
        order = list(kinds) if rep % 2 == 0 else list(reversed(kinds))
        for kind in order:
            name = kinds[kind]
            r = measured(res, budget, drain, target, f"{target.name} {kind}",
                          {name: plan.one_jobs}, [name])
            res.one.setdefault((target.name, kind), []).append(r)
            log(f"{r.label}: {r.rate:,.0f} jobs/s")


def placement(target: Target) -> dict[str, int]:
    """The node (port) that holds each queue's slot."""
    settings = Settings(redis_url=target.url, redis_cluster=True, key_prefix=PREFIX)
    root = Queue(settings)
    out = {}
    for name in (DEFAULT_QUEUE, *QUEUES):
        out[name] = root.redis.get_node_from_key(root.of(name).keys.job("x")).port
    root.redis.close()
    return out


def run(quick: bool) -> Results:
    plan = QUICK if quick else FULL
    res = Results(quick=quick)
    budget = [plan.retries]
    quiet_wait[0] = plan.quiet_wait
    t0 = time.monotonic()
    res.background = background_busy()
    with ValkeyCluster(3) as cl:
        target = Target("cluster", cl.url, True, [n.port for n in cl.nodes])
        node = target.nodes()[0]
        res.machine = machine_info(node)
        node.close()
        res.placement = placement(target)
        per = plan.spread_jobs // len(QUEUES)
        for _ in range(plan.spread_reps):
            r = measured(res, budget, drain, target, "12 queues",
                          dict.fromkeys(QUEUES, per), list(QUEUES))
            res.spread.append(r)
            log(f"12 queues: {r.rate:,.0f} jobs/s, node shares "
                f"{[f'{s:.0%}' for s in shares(r, 'calls')]}")
        one_vs_default(target, plan, res, budget)
    with ValkeyServer() as vk:
        one_vs_default(Target("single", vk.url, False, [vk.port]), plan, res, budget)
    res.elapsed = time.monotonic() - t0
    return res


# --- the report -------------------------------------------------------------------------------


def shares(r: Run, what: str) -> list[float]:
    values = [getattr(n, what) for n in r.nodes]
    total = sum(values) or 1
    return [v / total for v in values]


def median_rate(runs: Sequence[Run]) -> float:
    return statistics.median(r.rate for r in runs)


def ratio(res: Results, target: str) -> float:
    return median_rate(res.one[(target, "named")]) / median_rate(res.one[(target, "default")])


def paired(res: Results, target: str) -> float:
    """The median of each repetition's named/default ratio: the two ran back to back, so
    slow drift in the machine's other load cancels within a pair."""
    named, default = res.one[(target, "named")], res.one[(target, "default")]
    return statistics.median(n.rate / d.rate for n, d in zip(named, default, strict=True))


def verdict(value: float) -> str:
    if abs(value - 1) <= 0.10:
        return "yes"
    return "**no** (the named queue faster)" if value > 1 else "**no** (the named queue slower)"


def _defaults() -> dict[str, str]:
    f = Settings.model_fields
    return {
        "worker processes": f"{WORKERS} (bench.workers.drain_worker, a Runner each, "
                            "idle_timeout 0.3 s: it stops when its queues stay empty)",
        "worker_concurrency": f"{f['worker_concurrency'].default} (Settings default)",
        "claim_batch": f"{f['claim_batch'].default} (Settings default)",
        "lease_seconds": "60 (bench override, so no job is ever recovered)",
        "WORKER_QUEUES": "the queues of the run, each weight 1",
        "cluster": "3 masters, no replicas, slots spread evenly (boltq_local ValkeyCluster)",
        "client": "redis-py RedisCluster on the cluster, Redis on the single server "
                  "(library defaults)",
        "jobs": "no-op `echo`, submitted before the workers start (submit_many, chunk 1000)",
    }


def render(res: Results) -> str:
    cmd = "python -m bench.queues" + (" --quick" if res.quick else "")
    out = [
        "# BoltQ named queues on a 3-node cluster",
        "",
        f"Generated by `{cmd}` ({'a quick pass' if res.quick else 'a full run'}) in "
        f"{res.elapsed:.0f} s. Rerun with `.venv/bin/python -m bench.queues` (`--quick` for "
        "a short pass). Issue 13's targets: with 12 queues under load the store's work spreads "
        "over the three nodes, and one queue drains within 10% of the single-namespace figure "
        "(the default queue, today's one namespace, with the same workers).",
        "",
    ]
    c_ratio, s_ratio = ratio(res, "cluster"), ratio(res, "single")
    med_shares = [statistics.median(v) for v in zip(*(shares(r, "calls") for r in res.spread),
                                                    strict=True)]
    out += [
        "## Summary",
        "",
        "| figure | measured | target | met? |",
        "|---|---|---|---|",
        f"| 12 queues, {res.spread[0].jobs:,} jobs: commands per node (share, median of "
        f"{len(res.spread)}) | {' / '.join(f'{s:.0%}' for s in med_shares)} | spread over "
        f"the 3 nodes (each > 15%) | {'yes' if min(med_shares) > 0.15 else '**no**'} |",
        f"| 12 queues: drain rate (median) | {median_rate(res.spread):,.0f} jobs/s | — | — |",
        f"| one named queue / default queue on the cluster (medians) | {c_ratio:.3f} "
        f"({median_rate(res.one[('cluster', 'named')]):,.0f} / "
        f"{median_rate(res.one[('cluster', 'default')]):,.0f} jobs/s) | 0.90–1.10 | "
        f"{verdict(c_ratio)} |",
        f"| the same, median of the {len(res.one[('cluster', 'named')])} back-to-back pairs' "
        f"ratios | {paired(res, 'cluster'):.3f} | 0.90–1.10 | {verdict(paired(res, 'cluster'))} |",
        f"| the same on a single server | {s_ratio:.3f} "
        f"({median_rate(res.one[('single', 'named')]):,.0f} / "
        f"{median_rate(res.one[('single', 'default')]):,.0f} jobs/s; pairs' median "
        f"{paired(res, 'single'):.3f}) | (reference) | — |",
        "",
        "## Machine and settings",
        "",
        "|  |  |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in res.machine.items()),
        f"| other CPU load before the run | {res.background:.0%} of all CPUs |",
        f"| disturbed runs redone | {res.discarded} |",
        *(f"| {k} | {v} |" for k, v in _defaults().items()),
        "",
        "The machine is shared (2 CPUs): three Valkey nodes, two workers and the benchmark "
        "share them, so the cluster's absolute rates are CPU-bound here, not a property of "
        "the cluster. \"other load\" is CPU time no process of the benchmark used during a "
        "run; a run with more than a quarter of a CPU of it is redone (within a budget), and a "
        "full run waits (up to 5 s) for other load below 15% before each run.",
        "",
    ]
    out += _spread_section(res)
    out += _one_section(res)
    return "\n".join(out) + "\n"


def _spread_section(res: Results) -> list[str]:
    by_node: dict[int, list[str]] = {}
    for name, port in res.placement.items():
        by_node.setdefault(port, []).append(name)
    out = [
        f"## 1. 12 queues, {res.spread[0].jobs:,} jobs, {WORKERS} workers serving every queue",
        "",
        "Where each queue's slot lives (the hash tag `{prefix:queue}`; the default queue's "
        "node also holds the deployment's keys):",
        "",
        "| node (port) | queues |",
        "|---|---|",
        *(f"| {port} | {', '.join(names)} |" for port, names in by_node.items()),
        "",
        "Per run and node: `commands` is the INFO commandstats delta (every command, those "
        "run inside Lua too), `requests` the total_commands_processed delta (the benchmark's "
        "INFO probes left out), `usec` the commands' server time, `CPU` the node's CPU "
        "seconds. `its queues' share` is the share of the 12 queues whose slot the node "
        "holds: with every queue equally loaded, a node's work follows it (12 hash tags do "
        "not fall 4/4/4 over 3 nodes unless chosen so).",
        "",
        "| run | jobs/s | seconds | node | its queues' share | commands | share | requests | "
        "usec | share | CPU s | other load CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(res.spread, 1):
        cs, us = shares(r, "calls"), shares(r, "usec")
        for j, n in enumerate(r.nodes):
            head = (f"| {i} | {r.rate:,.0f} | {r.seconds:.2f} |" if j == 0 else "| | | |")
            tail = f" {r.other_cpu:.2f} |" if j == 0 else " |"
            queues = len([q for q, p in res.placement.items() if p == n.port and q != "default"])
            out.append(f"{head} {n.port} | {queues}/{len(QUEUES)} = {queues / len(QUEUES):.0%} | "
                       f"{n.calls:,} | {cs[j]:.0%} | "
                       f"{n.requests:,} | {n.usec:,} | {us[j]:.0%} | {n.cpu:.2f} |{tail}")
    out.append("")
    return out


def _run_spread(res: Results) -> float:
    return max(max(r.rate for r in runs) / min(r.rate for r in runs) - 1
               for runs in res.one.values())


def _one_section(res: Results) -> list[str]:
    out = [
        f"## 2. One named queue (`{ONE}`) alone against the default queue alone",
        "",
        f"{res.one[('cluster', 'named')][0].jobs:,} jobs each run; the kinds interleaved, the "
        "order swapped every repetition. On the cluster the two queues' slots are on nodes "
        f"{res.placement[ONE]} (`{ONE}`) and {res.placement[DEFAULT_QUEUE]} (`default`).",
        "",
        "| server | queue | runs (jobs/s) | median jobs/s | commands/job | server µs/job | "
        "other load per run (CPU s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (server, kind), runs in res.one.items():
        per_job = statistics.median(sum(n.calls for n in r.nodes) / r.jobs for r in runs)
        usec = statistics.median(sum(n.usec for n in r.nodes) / r.jobs for r in runs)
        out.append(
            f"| {server} | {kind} | {', '.join(f'{r.rate:,.0f}' for r in runs)} | "
            f"{median_rate(runs):,.0f} | {per_job:.2f} | {usec:.1f} | "
            f"{', '.join(f'{r.other_cpu:.2f}' for r in runs)} |"
        )
    out += [
        "",
        f"Ratio named / default (medians): cluster {ratio(res, 'cluster'):.3f}, single server "
        f"{ratio(res, 'single'):.3f}; the median of the back-to-back pairs' ratios: cluster "
        f"{paired(res, 'cluster'):.3f}, single server {paired(res, 'single'):.3f}. "
        "Target: within 10% (0.90–1.10). A named queue's job "
        "runs the same scripts with the same keys under another hash tag: commands per job "
        "(machine-independent) and server µs per job show whether the store does more work "
        "for it; the rates of single runs "
        f"vary by {_run_spread(res):.0%} (max/min - 1, the widest series) with the machine's "
        "other load, more than the 10% being tested: the medians are the figure.",
        "",
    ]
    return out


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.queues", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short pass (small counts)")
    ap.add_argument("--out", type=Path, help="report path (default: bench/QUEUES.md for a full "
                    "run; a quick run prints the report instead)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    res = run(args.quick)
    text = render(res)
    write_report(text, args.out or (None if args.quick else DEFAULT_OUT), res.elapsed, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
