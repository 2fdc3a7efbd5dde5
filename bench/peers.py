"""Peers (issue 15): BoltQ beside huey and BullMQ on the same server, the same job and the same
worker count, the libraries and repetitions interleaved; writes bench/PEERS.md.

    .venv/bin/python -m bench.peers            # full run, writes bench/PEERS.md
    .venv/bin/python -m bench.peers --quick    # short pass, prints the report

Each library is driven by a small program of its own in bench/peers/ (boltq_side.py under
BoltQ's .venv, huey_side.py under .tools/peers, bullmq_side.mjs under Node.js), all with the
same commands, so every figure is taken the same way for all three:

- drain: N jobs submitted up front (each library's bulk path), then 2 worker processes are
  started, connect, print "ready" and are released together. The job body makes one Redis
  call (INCR on the job body's own client); the job that counts 1 notes its start, the one
  that counts N its end and wakes the benchmark. Jobs/s = N / (last end - first start);
  worker CPU = utime + stime of the worker processes (/proc/PID/stat) over that window.
- pickup latency: one idle worker; a producer submits one job every 20 ms with its wall time
  (taken just before the submit call) in the job's data; the job body subtracts it from the
  wall time at its start and RPUSHes the difference. Same host, same clock.
- single submit: one client submitting one job at a time (after 20 warm-up submits).
- bulk submit: BoltQ submit_many against BullMQ addBulk, the same batch size (huey has none).

The server is an embedded Valkey the benchmark starts, flushed before every measurement.
BullMQ is installed with `npm ci` into bench/peers/node_modules and huey into .tools/peers
from bench/peers/requirements.txt (hashed) on first use; a library whose install is missing
or fails is skipped with a message."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.common import (
    background_busy,
    busy_seconds,
    command_stats,
    machine_info,
    percentile,
    server_cpu,
    stats_delta,
    wait_quiet,
    write_report,
)
from boltq_local.valkey import ValkeyServer

HERE = Path(__file__).resolve().parent / "peers"
ROOT = HERE.parent.parent
PEERS_VENV = ROOT / ".tools" / "peers"
DEFAULT_OUT = HERE.parent / "PEERS.md"
LIBS = ("BoltQ", "huey", "BullMQ")
WORKERS = 2
CONCURRENCY = 50  # BoltQ Runner and BullMQ Worker in the drain
BATCH = 50  # BoltQ Runner claim batch in the drain
HUEY_THREADS = 50  # huey consumer threads per process in the drain
BULK_BATCH = 1000  # jobs per submit_many chunk / addBulk call
RATE = 50.0  # pickup latency: jobs/s, one every 20 ms
WARMUP = 10  # latency samples dropped at the start
# the drain again with the job body on another client: (name, library, its side's argument)
BODY_VARIANTS = (("BoltQ, own redis.asyncio client", "BoltQ", "own"),
                 ("BullMQ, auto-pipelined ioredis", "BullMQ", "auto"))
BODY_FIGURES = ("drain jobs/s", "worker CPU µs/job", "server CPU µs/job")
# (figure, BoltQ / peer, target, True when higher is better)
TARGETS = (
    ("drain jobs/s", "BullMQ", 1.2, True),
    ("worker CPU µs/job", "BullMQ", 1.0, False),
    ("pickup p50 ms", "huey", 0.8, False),
    ("pickup p99 ms", "huey", 1.0, False),
    ("single submit jobs/s", "huey", 1.2, True),
    ("bulk submit jobs/s", "BullMQ", 2.5, True),
)


@dataclass(frozen=True)
class Plan:
    drain_jobs: int
    latency_seconds: float
    submit_jobs: int
    bulk_jobs: int
    reps: int
    quiet_wait: float


FULL = Plan(drain_jobs=20_000, latency_seconds=10.0, submit_jobs=5_000, bulk_jobs=20_000,
            reps=5, quiet_wait=30.0)
QUICK = Plan(drain_jobs=3_000, latency_seconds=2.0, submit_jobs=1_000, bulk_jobs=3_000,
             reps=1, quiet_wait=0.0)


def log(msg: str) -> None:
    print(f"[bench.peers] {msg}", file=sys.stderr, flush=True)


# --- installs ---------------------------------------------------------------------------------


def ensure_bullmq() -> str | None:
    """The Node side, installed with `npm ci` from the lock when node_modules is missing;
    None when ready, else why BullMQ is skipped."""
    if not shutil.which("node") or not shutil.which("npm"):
        return "Node.js (node and npm) not found"
    if not (HERE / "node_modules" / "bullmq").is_dir():
        log("installing BullMQ: npm ci in bench/peers")
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE,
                              capture_output=True, text=True)
        if done.returncode:
            return f"npm ci failed: {done.stderr.strip()[-300:]}"
    return None


def ensure_huey() -> str | None:
    """huey and redis-py in a venv of their own (.tools/peers), from the hashed requirements,
    again whenever they change; None when ready, else why huey is skipped."""
    reqs = HERE / "requirements.txt"
    digest = hashlib.sha256(reqs.read_bytes()).hexdigest()
    stamp = PEERS_VENV / ".requirements-sha256"
    python = PEERS_VENV / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return None
    log(f"installing huey into {PEERS_VENV} from bench/peers/requirements.txt")
    steps = [[sys.executable, "-m", "venv", str(PEERS_VENV)]] if not python.exists() else []
    steps.append([str(python), "-m", "pip", "install", "-q", "--require-hashes", "-r",
                  str(reqs)])
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            return f"{' '.join(cmd[:3])} failed: {done.stderr.strip()[-300:]}"
    stamp.write_text(digest + "\n")
    return None


def side(lib: str) -> list[str]:
    """The command line of one library's program (bench/peers/*_side.*)."""
    if lib == "BoltQ":
        return [sys.executable, str(HERE / "boltq_side.py")]
    if lib == "huey":
        return [str(PEERS_VENV / "bin" / "python"), str(HERE / "huey_side.py")]
    return ["node", str(HERE / "bullmq_side.mjs")]


def versions(libs: Sequence[str]) -> dict[str, str]:
    from bench.common import package_version

    out = {"BoltQ": f"boltq {package_version('boltq')}, redis-py "
                    f"{package_version('redis')}, hiredis {package_version('hiredis')}"}
    if "huey" in libs:
        code = ("from importlib.metadata import version as v;"
                "print(f\"huey {v('huey')}, redis-py {v('redis')}, hiredis {v('hiredis')}\")")
        out["huey"] = _out([str(PEERS_VENV / "bin" / "python"), "-c", code])
    if "BullMQ" in libs:
        pkgs = [json.loads((HERE / "node_modules" / p / "package.json").read_text())["version"]
                for p in ("bullmq", "ioredis")]
        out["BullMQ"] = f"bullmq {pkgs[0]}, ioredis {pkgs[1]}, Node.js {_out(['node', '-v'])}"
    return out


def _out(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()


# --- running the sides ------------------------------------------------------------------------


def client_run(lib: str, *args: object, timeout: float = 300) -> dict[str, float]:
    """Run one client command of a library's program; its JSON line."""
    done = subprocess.run([*side(lib), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=HERE)
    if done.returncode:
        raise RuntimeError(f"{lib} {args[0]} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def workers(lib: str, n: int, *args: object) -> Iterator[list[subprocess.Popen[str]]]:
    """n worker processes of a library, each connected and waiting ("ready"); stopped on exit."""
    procs = [subprocess.Popen([*side(lib), *map(str, args)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=HERE)
             for _ in range(n)]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a {lib} worker did not start (said {line!r})")
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def release(procs: Sequence[subprocess.Popen[str]]) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fresh(r: redis.Redis) -> str:
    r.flushall()
    r.config_resetstat()
    return f"peers{uuid.uuid4().hex[:8]}"


# --- the figures ------------------------------------------------------------------------------


@dataclass
class Drain:
    rate: float
    cpu_us: float  # worker CPU per job
    server_us: float  # server CPU per job
    commands: float  # server commands per job (those inside scripts included)
    other: float  # share of both CPUs that other processes used during the drain


def drain(r: redis.Redis, url: str, lib: str, n: int, variant: str = "") -> Drain:
    name = fresh(r)
    key = f"{name}:count"
    if lib == "BoltQ":
        client_run(lib, "bulk", url, name, n, BULK_BATCH)
        args: tuple[object, ...] = ("drain-worker", url, name, key, n, CONCURRENCY, BATCH)
    elif lib == "huey":
        client_run(lib, "bulk", url, name, n)
        args = ("drain-worker", url, name, key, n, HUEY_THREADS)
    else:
        client_run(lib, "bulk", url, name, n, BULK_BATCH)
        args = ("drain-worker", url, name, key, n, CONCURRENCY)
    if variant:
        args += (variant,)
    with workers(lib, WORKERS, *args) as procs:
        cpu0 = [cpu_seconds(p.pid) for p in procs]
        before, scpu0 = command_stats(r), server_cpu(r)
        busy0, t0 = busy_seconds(), time.monotonic()
        release(procs)
        wait_done(r, f"{key}:done", 300, f"{lib}: the drain of {n} jobs did not finish")
        cpu = sum(cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0, strict=True))
        delta, scpu = stats_delta(command_stats(r), before), server_cpu(r) - scpu0
        other = max(0.0, busy_seconds() - busy0 - cpu - scpu) / (
            (os.cpu_count() or 1) * (time.monotonic() - t0))
    seconds = float(r.get(f"{key}:last")) - float(r.get(f"{key}:first"))  # type: ignore[arg-type]
    calls = sum(s.calls for s in delta.values())
    return Drain(n / seconds, cpu / n * 1e6, scpu / n * 1e6, calls / n, other)


def wait_done(r: redis.Redis, key: str, limit: float, failure: str) -> None:
    """BLPOP in 1 s steps (redis-py 8 gives every socket a 5 s read timeout)."""
    end = time.monotonic() + limit
    while r.blpop([key], timeout=1) is None:
        if time.monotonic() > end:
            raise RuntimeError(failure)


def latency(r: redis.Redis, url: str, lib: str, seconds: float) -> list[float]:
    """Pickup delays (ms) of one idle worker, one job every 1/RATE s."""
    name = fresh(r)
    key = f"{name}:lat"
    n = int(RATE * seconds) + WARMUP
    with workers(lib, 1, "latency-worker", url, name, key) as procs:
        release(procs)
        time.sleep(0.5)  # the worker finds nothing and blocks on Redis
        client_run(lib, "produce", url, name, n, RATE)
        end = time.monotonic() + 10
        while r.llen(key) < n and time.monotonic() < end:
            time.sleep(0.02)
        got = [float(x) * 1000 for x in r.lrange(key, 0, -1)]  # type: ignore[union-attr]
    if len(got) < n:
        raise RuntimeError(f"{lib}: {len(got)} of {n} latency jobs ran")
    return got[WARMUP:]


def single_submit(r: redis.Redis, url: str, lib: str, n: int) -> float:
    name = fresh(r)
    return n / client_run(lib, "submit", url, name, n)["seconds"]


def bulk_submit(r: redis.Redis, url: str, lib: str, n: int) -> float:
    name = fresh(r)
    return n / client_run(lib, "bulk", url, name, n, BULK_BATCH)["seconds"]


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Results:
    quick: bool
    plan: Plan
    libs: list[str]
    skipped: dict[str, str]
    machine: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    busy: list[float] = field(default_factory=list)  # other load before each repetition
    # figure -> library -> one value per repetition
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    elapsed: float = 0.0

    def add(self, figure: str, lib: str, value: float) -> None:
        self.values.setdefault(figure, {}).setdefault(lib, []).append(value)


def run(plan: Plan, quick: bool) -> Results:
    skipped = {}
    for lib, ensure in (("huey", ensure_huey), ("BullMQ", ensure_bullmq)):
        why = ensure()
        if why:
            log(f"skipping {lib}: {why}")
            skipped[lib] = why
    libs = [lib for lib in LIBS if lib not in skipped]
    res = Results(quick, plan, libs, skipped, versions=versions(libs))
    t0 = time.monotonic()
    with ValkeyServer() as vk:
        r = redis.Redis.from_url(vk.url, decode_responses=True)
        res.machine = machine_info(r)
        for rep in range(plan.reps):
            order = libs[rep % len(libs):] + libs[: rep % len(libs)]
            busy = (wait_quiet(0.10, plan.quiet_wait) if plan.quiet_wait
                    else background_busy(0.5))
            res.busy.append(busy)
            log(f"repetition {rep + 1}/{plan.reps}: order {', '.join(order)}; "
                f"other load {busy:.0%}")
            for lib in order:
                d = drain(r, vk.url, lib, plan.drain_jobs)
                res.add("drain jobs/s", lib, d.rate)
                res.add("worker CPU µs/job", lib, d.cpu_us)
                res.add("server CPU µs/job", lib, d.server_us)
                res.add("server commands/job", lib, d.commands)
                res.add("other load during the drain %", lib, d.other * 100)
                log(f"  drain {lib}: {d.rate:,.0f} jobs/s, {d.cpu_us:.0f} µs worker CPU/job")
            for name, lib, arg in BODY_VARIANTS:
                if lib in order:
                    d = drain(r, vk.url, lib, plan.drain_jobs, arg)
                    for figure, value in zip(BODY_FIGURES, (d.rate, d.cpu_us, d.server_us),
                                             strict=True):
                        res.add(figure, name, value)
                    log(f"  drain {name}: {d.rate:,.0f} jobs/s, {d.cpu_us:.0f} µs/job")
            for lib in order:
                lat = latency(r, vk.url, lib, plan.latency_seconds)
                res.add("pickup p50 ms", lib, percentile(lat, 50))
                res.add("pickup p99 ms", lib, percentile(lat, 99))
                log(f"  pickup {lib}: p50 {percentile(lat, 50):.2f} ms, "
                    f"p99 {percentile(lat, 99):.2f} ms")
            for lib in order:
                rate = single_submit(r, vk.url, lib, plan.submit_jobs)
                res.add("single submit jobs/s", lib, rate)
                log(f"  single submit {lib}: {rate:,.0f} jobs/s")
            for lib in order:
                if lib == "huey":
                    continue  # no bulk submit in huey
                rate = bulk_submit(r, vk.url, lib, plan.bulk_jobs)
                res.add("bulk submit jobs/s", lib, rate)
                log(f"  bulk submit {lib}: {rate:,.0f} jobs/s")
        res.busy.append(background_busy(1.0))
        r.close()
    res.elapsed = time.monotonic() - t0
    return res


# --- the report -------------------------------------------------------------------------------


DEFAULTS = f"""\
- **BoltQ**: `Settings` defaults (worker_concurrency 50, claim_batch 50, lease 15 s,
  max_attempts 3, a finished job's hash kept for retention_seconds 86,400, the events stream
  capped near 10,000); JSON payloads. Drain: `Runner(concurrency={CONCURRENCY},
  batch={BATCH})` per process (the defaults); pickup: a `Runner` with its defaults. The job is
  an `async def` processor; its INCR goes through `ctx.redis`, the client the Runner lends
  its jobs (auto-pipelined: boltq_core/store/autopipeline.py).
  Submits: `Queue.submit`, `Queue.submit_many(chunk={BULK_BATCH:,})` (redis-py, sync).
- **huey**: `RedisHuey` defaults (blocking dequeue: BRPOP with read_timeout 1 s; results=True
  with store_none=False, so a job returning None stores nothing; retries 0; pickle). Drain: a
  `Consumer(workers={HUEY_THREADS}, worker_type="thread")` per process (huey's default is 1
  thread; process workers would add processes, and greenlets need gevent: a side test with 1,
  4, 8, 16 and 50 threads, 10,000 jobs, gave 2,951–4,708 jobs/s with no trend); pickup: a
  Consumer with its defaults (1 thread). The job is a `@huey.task()` function; its INCR goes
  through its own redis-py client (a pool shared by the threads). Submit: calling the task
  (an enqueue, one LPUSH); huey has no bulk enqueue, so the drain's jobs are enqueued one by
  one.
- **BullMQ**: `Worker` defaults (concurrency 1, lockDuration 30 s, stalledInterval 30 s,
  maxStalledCount 1, drainDelay 5 s) but concurrency {CONCURRENCY} in the drain and
  `autorun: false` so the workers start together; job options default (attempts 1,
  removeOnComplete/removeOnFail false: every job is kept), the events stream capped near
  10,000. The job is an async processor; its INCR goes through its own ioredis connection.
  Submits: `queue.add` and `queue.addBulk` ({BULK_BATCH:,} jobs a call) from Node.js. The
  Python port of BullMQ is not used: Node.js is BullMQ's own side, on both ends.
"""

LIMITS = """\
- **Drain and worker CPU.** Two workers and the server share 2 cores, so worker + server CPU
  per job bounds the rate (see the table). BoltQ's claim and finish calls are batched (50 jobs
  a call) and write what their jobs share once a call: inside them a job costs about 7
  commands (claim: HMGET, HSET, HGETALL; finish: HMGET, ZREM, HSET, PEXPIRE; the lease
  deadlines, the claim's record, the completed entries, the stats counts and the jobs' events,
  one XADD per run of up to 50 like ones, once per call), BullMQ's about 24. In an in-process
  drain (one Runner, 20,000 jobs, 6 runs) those commands take about 11–14 µs of server time a
  job and the scripts 26–38 µs (until this round a job's two events were two XADDs, about 3.5
  µs of server time a job in bench/RESULTS.md's drain): the rest is the cost of
  each call from Lua (its arguments in, its reply out), so fewer calls is the lever left. Its
  drain with a no-op body costs about 33 µs of worker CPU a job (bench/RESULTS.md, batch 200);
  the rest is the job body's INCR. Through a plain `redis.asyncio` client (the "own client"
  column) that is one socket send and one read per job (`BOLTQ_PEERS_PROFILE=path` writes a
  cProfile of each BoltQ worker); through `ctx.redis` the INCRs of the jobs running together
  go out as one pipeline, and what is left of its cost is redis-py's reply parsing. BullMQ's
  INCR goes through ioredis on one connection in Node.js; huey's threads share one interpreter
  (more threads did not help). huey sends 4 commands a job: BRPOP, HMGET and HDEL (its revoke
  checks) and the INCR; it keeps no job state at all.
- **Pickup.** huey's path is two hops (LPUSH, and the worker's BRPOP returns the message).
  BoltQ's is two as well: the submit script leases the job to the waiting Runner and puts it
  in its inbox, and the Runner's BZMPOP returns it. On this machine a process that has been
  idle for 20 ms wakes slowly: a PING after such a gap takes about 0.5 ms against 0.13 ms back
  to back, and a bare LPUSH → BRPOP loop paced like this benchmark has a p50 of about 0.8 ms
  (0.9 ms with an asyncio BZMPOP). A target of 0.8 × huey (about 0.85–0.9 ms) is below
  BoltQ's submit call by itself. Split by `bench/pickup_parts.py` (the same run, p50 of 3
  runs): the pickup is 1.33–1.37 ms, and the producer's submit call 1.15–1.19 ms of it: its
  client work before the request goes out 0.32–0.38 ms (about 0.045 ms back to back: the
  same code runs several times slower after the gap), the round trip 0.74–0.82 ms (the
  script, the hand-off to the waiting Runner and two processes waking; a PING after the same
  gap takes 0.45–0.47 ms). The job starts about 0.18 ms after the producer has its reply.
  huey's enqueue is one LPUSH, whose client work and server time are a fraction of that.
  BullMQ wakes on a marker and then moves the job with a script.
- **Single submit.** huey's enqueue is one LPUSH of a pickled message through redis-py's
  connection pool. BoltQ's script calls go on a connection the client holds for them
  (boltq_core/store/pinned.py), which skips redis-py 8's pool checkout and return (a PING:
  about 39 µs on the held connection, about 90 µs through the pool, on a quiet day). What is
  left over huey is the submit itself, in the same one round trip:
  - the script: about 50 µs of server time, timed command by command inside it. Its 12
    commands take about 35 µs: the job's hash (7 µs), its index entry and the wake marker
    (ZADD, 2.7 µs each), its event (XADD, 5 µs), the clock, the sequence, the ready list,
    the counters, the resend check, the type label, the ring and the hand-off checks (about
    2 µs each). Setting up the call (the 34 keys and the settings) takes about 7 µs, the Lua
    around the commands the rest. An FCALL of an empty function with the same 35 keys and 11
    arguments takes 6 µs of server time, an LPUSH about 1 µs.
  - the client: about 178,000 instructions a submit (valgrind's instruction count, which does
    not move with the machine's load), down from 230,000 at the start of this round:
    pydantic's check of the job, the ids, the JSON, the packing and redis-py's reply
    reading. Packing the 46 arguments had been a sixth of it (hiredis formats each
    argument's length with sprintf); a queue's 34 keys and 4 settings are now packed once
    (`pack_fcall` in boltq_core/jobs/scripts.py), after the run above.
  For 1.2 × huey a submit would need to take a sixth less time than huey's LPUSH through
  redis-py's pool. huey's call costs a round trip plus about 45 µs of redis-py and pickling
  here; BoltQ's costs a round trip plus its script, whose commands alone come to about 35 µs,
  plus its own client work. Below one script per submit (which keeps a job's state, its
  index, its event and its counts atomic) that is out of reach; BoltQ is about 0.7 × huey and
  ahead of BullMQ's `add` (about 1.05 ×).
- **Bulk.** A bulk of several chunks goes pipelined on the held connection
  (boltq_core/jobs/pipelined.py): the next chunk is built and sent while the server runs the
  one before it, so the server does not wait for the client between chunks. Only the check of
  every job (pydantic, the payload and timeout caps: about 4–5 µs a job) comes before the
  first chunk is sent, so that bad input stores nothing. The script runs 1 command a job (the
  job's hash; until this round also its event); the jobs' events go as runs of up to 50 like
  ones, one XADD a run, the resend check is one ZMSCORE per call, and the index entries, the
  ready pushes and the stats counts go once per call. That is about 8 µs of server time a job
  (15–17 µs with an XADD a job; bench/RESULTS.md). On a cut connection the chunks not yet
  answered are sent again the queue's usual way, and a chunk already stored answers without
  being stored twice. Before this round every chunk was built before the first was sent, and
  the client's work (about 13 µs a job) never overlapped the server's: 30,358 jobs/s, then
  42,973 with the pipelined send, and about 64,000 with the events as runs. What is left is
  mostly the client's check and build, which now take longer than the server's part. BullMQ's
  addBulk sends one addStandardJob script per job in one pipeline.
"""

RERUN = """\
    .venv/bin/python -m bench.peers            # full run, rewrites bench/PEERS.md
    .venv/bin/python -m bench.peers --quick    # short pass, prints the report

It needs Node.js 18+ with npm (BullMQ is installed by `npm ci` in bench/peers from
package-lock.json on first use) and a Python 3 with venv (huey goes into .tools/peers from the
hashed bench/peers/requirements.txt, made by ./scripts/lock from requirements.in). A library
that cannot be installed is skipped with a message, and its ratios show as skipped. The
machine is shared: the run waits up to 30 s for other load below 10 % before each repetition
and records what it saw."""


def _fmt(v: float) -> str:
    if v != v:  # nan
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _median_range(values: Sequence[float]) -> str:
    if len(values) == 1:
        return _fmt(values[0])
    return f"{_fmt(statistics.median(values))} ({_fmt(min(values))}–{_fmt(max(values))})"


def ratios(res: Results, figure: str, peer: str) -> list[float]:
    """BoltQ / peer, one per repetition (the two measured in the same repetition)."""
    ours, theirs = res.values.get(figure, {}).get("BoltQ"), res.values.get(figure, {}).get(peer)
    if not ours or not theirs:
        return []
    return [a / b for a, b in zip(ours, theirs, strict=True)]


def summary_table(res: Results) -> list[str]:
    lines = ["| figure | BoltQ | peer | peer's figure | BoltQ / peer | target | met |",
             "| --- | ---: | --- | ---: | ---: | ---: | --- |"]
    for figure, peer, target, higher in TARGETS:
        rs = ratios(res, figure, peer)
        if not rs:
            lines.append(f"| {figure} | – | {peer} | skipped | – | – | – |")
            continue
        med = statistics.median(rs)
        met = med >= target if higher else med <= target
        sign = "≥" if higher else "≤"
        lines.append(
            f"| {figure} | {_median_range(res.values[figure]['BoltQ'])} | {peer} | "
            f"{_median_range(res.values[figure][peer])} | {_median_range(rs)} | "
            f"{sign} {target:g} | {'yes' if met else 'no'} |")
    return lines


def figures_table(res: Results) -> list[str]:
    libs = res.libs
    lines = ["| figure | " + " | ".join(libs) + " |", "| --- |" + " ---: |" * len(libs)]
    for figure, by_lib in res.values.items():
        cells = [_median_range(by_lib[lib]) if lib in by_lib else "n/a" for lib in libs]
        lines.append(f"| {figure} | " + " | ".join(cells) + " |")
    return lines


def body_table(res: Results) -> list[str]:
    """The drain with each job body's client: the one each library's job uses by default
    above, and the other one."""
    names = [lib for lib in ("BoltQ", BODY_VARIANTS[0][0], "BullMQ", BODY_VARIANTS[1][0])
             if lib in res.values.get("drain jobs/s", {})]
    lines = ["| figure | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for figure in BODY_FIGURES:
        by = res.values.get(figure, {})
        lines.append(f"| {figure} | " + " | ".join(_median_range(by[n]) for n in names) + " |")
    return lines


def report(res: Results) -> str:
    p = res.plan
    busy = ", ".join(f"{b:.0%}" for b in res.busy)
    out = [
        "# BoltQ beside huey and BullMQ",
        "",
        "Written by `bench/peers.py` (issue 15)" + (" — a quick pass, not a full run." if
                                                    res.quick else "."),
        f"{p.reps} repetition(s), the libraries' order turned each one; medians, with the "
        "range over the repetitions in brackets; each ratio is BoltQ's figure over the peer's "
        "from the same repetition. Other load on the machine (share of both CPUs busy while "
        f"the benchmark was idle) before each repetition and at the end: {busy}.",
        "",
        "## Summary against the issue's targets",
        "",
        *summary_table(res),
        "",
        "## All figures",
        "",
        *figures_table(res),
        "",
        f"- drain: {p.drain_jobs:,} jobs, {WORKERS} worker processes; jobs/s from the first "
        "job's start to the last one's end; worker CPU from /proc over that window; server "
        "CPU from INFO, commands from INFO commandstats (those run inside scripts included, "
        "the drain window only: the submits are not in it); other load = the machine's busy "
        "CPU minus the workers' and the server's, as a share of both cores.",
        f"- pickup: one idle worker, one job every {1000 / RATE:.0f} ms for "
        f"{p.latency_seconds:g} s ({WARMUP} warm-up jobs dropped), submit call to job start.",
        f"- single submit: {p.submit_jobs:,} jobs one at a time; bulk: {p.bulk_jobs:,} jobs "
        f"in batches of {BULK_BATCH:,} (BoltQ submit_many chunk, BullMQ addBulk call).",
        "",
        "## The job body's client",
        "",
        "The drain's job makes one Redis call. BoltQ's job above makes it on the client the "
        "Runner lends its jobs (`ctx.redis`: auto-pipelined, so the calls of the jobs running "
        "together share a round trip); BullMQ's on an ioredis connection of its own (ioredis "
        "pipelines only when asked). Here each is run the other way too, in the same "
        "repetitions:",
        "",
        *body_table(res),
        "",
        "## Versions",
        "",
        *[f"- {lib}: {v}" for lib, v in res.versions.items()],
        *[f"- {lib}: skipped — {why}" for lib, why in res.skipped.items()],
        "",
        "## Each library's settings",
        "",
        DEFAULTS,
        "## What limits each figure",
        "",
        LIMITS,
        "## How to rerun",
        "",
        RERUN,
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in res.machine.items()],
        "",
        f"Run took {res.elapsed:.0f} s.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short pass; prints the report")
    ap.add_argument("--reps", type=int, help="repetitions (default 5, quick 1)")
    ap.add_argument("--out", type=Path, help=f"where to write (default {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.reps:
        plan = Plan(**{**plan.__dict__, "reps": args.reps})
    res = run(plan, args.quick)
    out = args.out or (None if args.quick else DEFAULT_OUT)
    write_report(report(res), out, res.elapsed, log)


if __name__ == "__main__":
    main()
