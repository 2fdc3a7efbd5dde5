"""Shared pieces of the benchmarks: the server under test, namespaces, INFO parsing, machine
facts and small statistics helpers."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.context
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import redis

from boltq_core import Settings
from boltq_local.valkey import ValkeyServer

# Commands a client sends itself (one per request); every other command in commandstats was
# run from inside a Lua script. INFO and CONFIG are the benchmark's own probes.
CLIENT_COMMANDS = frozenset({
    "evalsha", "evalsha_ro", "eval", "eval_ro", "fcall", "fcall_ro", "bzpopmin", "bzmpop", "brpop",
    "blpop", "script|exists", "script|load", "client|unblock", "client|id", "client|setinfo",
    "hello", "ping", "select", "auth",
})
PROBE_COMMANDS = frozenset({"info", "config|resetstat"})


@dataclass(frozen=True)
class Server:
    """The server under test. `own` is True for the embedded Valkey the benchmark started:
    only then may it be flushed and reset."""

    url: str
    host: str
    port: int
    own: bool

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


@contextlib.contextmanager
def target(redis_url: str | None) -> Iterator[Server]:
    """The given server, or a private embedded Valkey that is stopped on exit."""
    if redis_url:
        u = urlparse(redis_url)
        yield Server(redis_url, u.hostname or "127.0.0.1", u.port or 6379, own=False)
        return
    with ValkeyServer() as vk:
        yield Server(vk.url, "127.0.0.1", vk.port, own=True)


def settings_for(server: Server, name: str, **overrides: Any) -> Settings:
    """Settings on a fresh namespace; a long lease so no benchmark job is ever recovered."""
    values: dict[str, Any] = {
        "redis_url": server.url,
        "key_prefix": f"bench-{name}-{uuid.uuid4().hex[:8]}",
        "lease_seconds": 60.0,
    }
    values.update(overrides)
    return Settings(**values)


def reset(server: Server, client: redis.Redis) -> None:
    """Start a benchmark from an empty, quiet server (only on our own server)."""
    if server.own:
        client.flushall()
        client.config_resetstat()


def drop_namespace(client: redis.Redis, tag: str) -> None:
    """Delete every key of one namespace (used on a shared server)."""
    keys = list(client.scan_iter(match=tag + "*", count=1000))
    for i in range(0, len(keys), 500):
        client.unlink(*keys[i : i + 500])


def preload_scripts(client: redis.Redis, names: Sequence[str]) -> None:
    """Load the Lua scripts and the function library up front, so no timed call pays for
    SCRIPT LOAD or FUNCTION LOAD."""
    from boltq_core.jobs.scripts import Scripts, source

    for name in names:
        client.script_load(source(name))
    Scripts(client).load()


# --- INFO -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandStat:
    calls: int
    usec: int


def command_stats(client: redis.Redis) -> dict[str, CommandStat]:
    """INFO commandstats as {command: (calls, usec)}; subcommands read 'client|unblock'."""
    raw = client.info("commandstats")
    out = {}
    for key, value in raw.items():
        name = key.removeprefix("cmdstat_")
        out[name] = CommandStat(int(value["calls"]), int(value["usec"]))
    return out


def script_stat(stats: Mapping[str, CommandStat]) -> CommandStat | None:
    """The scripts' calls and server time: EVALSHA and FCALL (jobs/scripts.py runs the
    scripts on common.lua as functions where the server has them)."""
    parts = [stats[k] for k in ("evalsha", "fcall") if k in stats]
    if not parts:
        return None
    return CommandStat(sum(p.calls for p in parts), sum(p.usec for p in parts))


def stats_delta(
    after: Mapping[str, CommandStat], before: Mapping[str, CommandStat]
) -> dict[str, CommandStat]:
    """Per-command calls and usec between two snapshots, minus the benchmark's own probes."""
    out = {}
    for name, a in after.items():
        if name in PROBE_COMMANDS:
            continue
        b = before.get(name, CommandStat(0, 0))
        if a.calls > b.calls:
            out[name] = CommandStat(a.calls - b.calls, a.usec - b.usec)
    return out


def server_cpu(client: redis.Redis) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


# --- processes --------------------------------------------------------------------------------


def spawn() -> multiprocessing.context.SpawnContext:
    """Worker processes start clean (spawn): no inherited sockets or event loop."""
    return mp.get_context("spawn")


def stop_processes(procs: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Join workers; whatever is still alive after a grace period is terminated, then killed."""
    for p in procs:
        p.join(timeout=10)
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join()


# --- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by linear interpolation; values need not be sorted."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Stopwatch:
    """perf_counter seconds between start and stop."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


# --- the machine ------------------------------------------------------------------------------


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_seconds() -> float:
    """CPU seconds all CPUs have been busy since boot (0 where /proc is missing)."""
    try:
        return _cpu_ticks()[0] / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def background_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` while the benchmark itself does nothing: other
    people's processes on a shared machine skew every figure, so it is recorded."""
    try:
        b0, t0 = _cpu_ticks()
        time.sleep(seconds)
        b1, t1 = _cpu_ticks()
    except OSError:
        return float("nan")
    return (b1 - b0) / max(t1 - t0, 1)


def wait_quiet(limit: float, max_wait: float) -> float:
    """Wait (up to max_wait s) until other load is below `limit`; returns the last sample."""
    end = time.monotonic() + max_wait
    busy = background_busy()
    while busy > limit and time.monotonic() < end:
        busy = background_busy()
    return busy


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def boltq_commit() -> str:
    """HEAD of the checkout under test, noting uncommitted changes to the core."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "layers/boltq_core")
    return head + (" + uncommitted core changes" if dirty else "")


def machine_info(client: redis.Redis) -> dict[str, str]:
    """Facts a reader needs to compare these figures with another machine's."""
    server = client.info("server")
    name = "Valkey" if "valkey_version" in server else "Redis"
    version = server.get("valkey_version", server.get("redis_version", "?"))
    bench = subprocess.run(["redis-benchmark", "--version"], capture_output=True, text=True)
    return {
        "date (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "BoltQ commit": boltq_commit(),
        "nproc": str(os.cpu_count()),
        "CPU": cpu_model(),
        "kernel": platform.release(),
        "Python": sys.version.split()[0],
        "server": f"{name} {version} ({client.info('memory').get('mem_allocator', '?')} malloc)",
        "redis-py / hiredis": f"{package_version('redis')} / {package_version('hiredis')}",
        "pydantic": package_version("pydantic"),
        "redis-benchmark": bench.stdout.strip() or "not found",
    }


def write_report(text: str, out: Path | None, elapsed: float,
                 log: Callable[[str], None]) -> None:
    """A benchmark's report: to `out`, or printed when there is none (a quick pass)."""
    if out is None:
        print(text)
    else:
        out.write_text(text)
        log(f"wrote {out} in {elapsed:.0f} s")
