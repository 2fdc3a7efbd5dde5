"""Groups (issue 14): the drain with many groups against the ungrouped drain, and the claim
script's server time per job by number of groups; writes bench/GROUPS.md.

    .venv/bin/python -m bench.groups            # full run, writes bench/GROUPS.md
    .venv/bin/python -m bench.groups --quick    # short pass, prints the report

(a) N no-op jobs drained by 2 worker processes, three kinds interleaved (the order turned each
repetition): no group; spread over 10,000 groups; the same with limits that never bind (a
default group concurrency of 1,000 and a rate of 1,000,000 a second). (b) The claim script
alone (claims of 50 from one client, nothing finished), its server time per job from INFO
commandstats, with no group and with the jobs spread over 10 and over 10,000 groups. The
server is the benchmark's own embedded Valkey, flushed before each run."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable, for workers too
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.common import (
    Server,
    background_busy,
    command_stats,
    machine_info,
    preload_scripts,
    script_stat,
    settings_for,
    stats_delta,
    wait_quiet,
    write_report,
)
from bench.queues import WORKERS, run_workers, span
from boltq_core import Queue
from boltq_core.jobs.groups import Groups
from boltq_local.valkey import ValkeyServer

DEFAULT_OUT = Path(__file__).resolve().parent / "GROUPS.md"
KINDS = ("ungrouped", "10,000 groups", "10,000 groups, limits not binding")
NOT_BINDING = {"group_concurrency": 1000, "group_rate": {"max": 1_000_000, "per_seconds": 1}}
TARGETS = {"10,000 groups": 0.70, "10,000 groups, limits not binding": 0.60}


@dataclass(frozen=True)
class Plan:
    jobs: int
    reps: int
    claim_jobs: int
    quiet_wait: float


FULL = Plan(jobs=20_000, reps=5, claim_jobs=20_000, quiet_wait=5.0)
QUICK = Plan(jobs=6_000, reps=1, claim_jobs=5_000, quiet_wait=0.0)


@dataclass
class Results:
    quick: bool
    machine: dict[str, str] = field(default_factory=dict)
    background: float = 0.0
    rates: dict[str, list[float]] = field(default_factory=dict)
    claim_usec: dict[str, float] = field(default_factory=dict)  # per job
    claim_calls: dict[str, float] = field(default_factory=dict)  # commands inside, per job
    elapsed: float = 0.0


def log(msg: str) -> None:
    print(f"[bench.groups] {msg}", file=sys.stderr, flush=True)


def _jobs(n: int, groups: int) -> list[dict]:
    if not groups:
        return [{"type": "echo"} for _ in range(n)]
    return [{"type": "echo", "group": f"g{i % groups}"} for i in range(n)]


def _fresh(vk: ValkeyServer, **overrides: object) -> Queue:
    client = redis.Redis(port=vk.port)
    client.flushall()
    client.config_resetstat()
    preload_scripts(client, ("claim", "finish", "extend", "submit"))
    client.close()
    return Queue(settings_for(Server(vk.url, "127.0.0.1", vk.port, own=True), "groups",
                              **overrides))


def drain(vk: ValkeyServer, kind: str, n: int) -> float:
    q = _fresh(vk)
    if kind.endswith("not binding"):
        Groups(q).set_limits(NOT_BINDING)
    ids = [s.job_id for s in q.submit_many(_jobs(n, 0 if kind == "ungrouped" else 10_000),
                                           chunk=1000)]
    run_workers(q.settings)
    seconds, completed = span(q, {"default": ids})
    q.redis.close()
    if completed != n:
        raise RuntimeError(f"{kind}: {completed} of {n} jobs completed")
    return n / seconds


def claim_cost(vk: ValkeyServer, groups: int, n: int) -> tuple[float, float]:
    """Server µs and commands per job of claims of 50, the jobs over `groups` groups."""
    q = _fresh(vk)
    q.submit_many(_jobs(n, groups), chunk=1000)
    before = command_stats(q.redis)
    taken = 0
    while True:
        call, parse = q.calls.claim(50, 60)
        got = len(parse(q.run(call))[2])
        if not got:
            break
        taken += got
    delta = stats_delta(command_stats(q.redis), before)
    q.redis.close()
    if taken != n:
        raise RuntimeError(f"claims took {taken} of {n} jobs")
    inner = sum(s.calls for name, s in delta.items() if name not in ("evalsha", "fcall", "info"))
    script = script_stat(delta)
    assert script is not None
    return script.usec / n, inner / n


def run(quick: bool) -> Results:
    plan = QUICK if quick else FULL
    res = Results(quick=quick)
    t0 = time.monotonic()
    res.background = background_busy()
    with ValkeyServer() as vk:
        node = redis.Redis(port=vk.port, decode_responses=True)
        res.machine = machine_info(node)
        node.close()
        for rep in range(plan.reps):
            for kind in KINDS if rep % 2 == 0 else reversed(KINDS):
                if plan.quiet_wait:
                    wait_quiet(0.15, plan.quiet_wait)
                rate = drain(vk, kind, plan.jobs)
                res.rates.setdefault(kind, []).append(rate)
                log(f"{kind}: {rate:,.0f} jobs/s")
        for label, groups in (("no group", 0), ("10 groups", 10), ("10,000 groups", 10_000)):
            usec, calls = claim_cost(vk, groups, plan.claim_jobs)
            res.claim_usec[label], res.claim_calls[label] = usec, calls
            log(f"claim, {label}: {usec:.1f} µs/job, {calls:.1f} commands/job")
    res.elapsed = time.monotonic() - t0
    return res


def render(res: Results) -> str:
    cmd = "python -m bench.groups" + (" --quick" if res.quick else "")
    med = {k: statistics.median(v) for k, v in res.rates.items()}
    base = med["ungrouped"]
    out = [
        "# BoltQ groups: drain and claim cost",
        "",
        f"Generated by `{cmd}` ({'a quick pass' if res.quick else 'a full run'}) in "
        f"{res.elapsed:.0f} s. Rerun with `.venv/bin/python -m bench.groups`. Issue 14's "
        "targets: with 10,000 active groups and no limits the drain is at least 70% of the "
        "ungrouped drain; with limits that do not bind, at least 60%.",
        "",
        "## Drain (no-op jobs, 2 worker processes, median of "
        f"{len(res.rates['ungrouped'])} interleaved runs)",
        "",
        "| kind | jobs/s (median) | runs | / ungrouped | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        share = med[kind] / base
        target = TARGETS.get(kind)
        met = "—" if target is None else ("yes" if share >= target else "**no**")
        runs = ", ".join(f"{r:,.0f}" for r in res.rates[kind])
        out.append(f"| {kind} | {med[kind]:,.0f} | {runs} | {share:.2f} | "
                   f"{'—' if target is None else f'≥ {target:.2f}'} | {met} |")
    out += [
        "",
        "## The claim script's server time",
        "",
        "Claims of 50 from one client until the queue is empty (nothing finished), "
        "`cmdstat_fcall` (or `cmdstat_evalsha`) usec and the commands run inside the script, "
        "per job claimed.",
        "",
        "| jobs over | server µs per job | commands per job |",
        "|---|---|---|",
        *(f"| {k} | {v:.1f} | {res.claim_calls[k]:.1f} |" for k, v in res.claim_usec.items()),
        "",
        "## Machine and settings",
        "",
        "|  |  |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in res.machine.items()),
        f"| other CPU load before the run | {res.background:.0%} of all CPUs |",
        f"| worker processes | {WORKERS} (bench.workers.drain_worker; Settings' default "
        "concurrency and claim batch) |",
        "| jobs | no-op `echo`, submitted before the workers start (submit_many, chunk 1000); "
        "with groups, job i is in group g<i mod 10,000> (two jobs a group) |",
        f"| limits not binding | queue default {NOT_BINDING} |",
        "",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short pass; prints the report")
    ap.add_argument("--out", type=Path, default=None)
    opts = ap.parse_args(argv)
    res = run(opts.quick)
    out = opts.out or (None if opts.quick else DEFAULT_OUT)
    write_report(render(res), out, res.elapsed, log)


if __name__ == "__main__":
    main()
