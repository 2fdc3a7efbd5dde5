"""Where BoltQ's pickup time goes (issue 15): bench/peers.py's pickup run (one idle Runner in a
process of its own, one submit every 20 ms), with the producer's submit call split in three:
its client work before the request is sent, the request's round trip (the script, the
hand-off to the waiting Runner, both processes waking), and the rest of the call; beside a
PING after the same gap.

    .venv/bin/python -m bench.pickup_parts [--reps 2] [--jobs 500]
"""

from __future__ import annotations

import argparse
import time

if __package__ in (None, ""):  # run as a script: make `bench` importable
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

import boltq_core.store.pinned as pinned
from bench.common import percentile
from bench.peers import RATE, WARMUP, fresh, release, workers
from boltq_core import Queue, Settings
from boltq_local.valkey import ValkeyServer


class _Marks:
    """Times the held connection's exchange of each request (boltq_core/store/pinned.py)."""

    def __init__(self) -> None:
        self.sent = self.answered = 0.0
        self._send = pinned._send

    def __enter__(self) -> _Marks:
        def timed(conn: object, packed: list[bytes]) -> object:
            self.sent = time.perf_counter()
            try:
                return self._send(conn, packed)
            finally:
                self.answered = time.perf_counter()

        pinned._send = timed
        return self

    def __exit__(self, *_: object) -> None:
        pinned._send = self._send


def one_run(r: redis.Redis, url: str, jobs: int) -> dict[str, float]:
    name = fresh(r)
    key = f"{name}:lat"
    parts: dict[str, list[float]] = {"before the send": [], "send to reply": [],
                                     "after the reply": [], "submit call": [],
                                     "PING after the gap": []}
    with workers("BoltQ", 1, "latency-worker", url, name, key) as procs:
        release(procs)
        time.sleep(0.5)  # the worker finds nothing and blocks on Redis
        q = Queue(Settings(redis_url=url, key_prefix=name))
        with _Marks() as m:
            start = time.perf_counter()
            for i in range(jobs + WARMUP):
                left = start + i / RATE - time.perf_counter()
                if left > 0:
                    time.sleep(left)
                t0 = time.perf_counter()
                q.submit({"type": "stamp", "data": {"t": time.time()}})
                t3 = time.perf_counter()
                if i >= WARMUP:
                    parts["before the send"].append(m.sent - t0)
                    parts["send to reply"].append(m.answered - m.sent)
                    parts["after the reply"].append(t3 - m.answered)
                    parts["submit call"].append(t3 - t0)
        for _ in range(jobs):
            time.sleep(1 / RATE)
            t0 = time.perf_counter()
            q.redis.ping()
            parts["PING after the gap"].append(time.perf_counter() - t0)
        end = time.monotonic() + 10
        while r.llen(key) < jobs + WARMUP and time.monotonic() < end:
            time.sleep(0.02)
        pickup = [float(x) for x in r.lrange(key, 0, -1)][WARMUP:]  # type: ignore[union-attr]
        q.redis.close()
    parts = {"pickup (submit call to job start)": pickup, **parts}
    out = {f"{name}, p{p}": percentile(v, p) * 1000 for p in (50, 99)
           for name, v in parts.items()}
    # the slowest 1 % of pickups (the jobs ran one at a time, in submit order): where their
    # time went, part by part
    slow = sorted(range(len(pickup)), key=pickup.__getitem__)[-max(1, len(pickup) // 100):]
    out.update({f"{name}, mean of the slowest 1 %": sum(v[i] for i in slow) / len(slow) * 1000
                for name, v in parts.items() if name != "PING after the gap"})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=500)
    args = ap.parse_args(argv)
    with ValkeyServer() as vk:
        r = redis.Redis.from_url(vk.url, decode_responses=True)
        runs = [one_run(r, vk.url, args.jobs) for _ in range(args.reps)]
    print("| ms | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " |")
    print("| --- |" + " ---: |" * len(runs))
    for name in runs[0]:
        print(f"| {name} | " + " | ".join(f"{run[name]:.3f}" for run in runs) + " |")


if __name__ == "__main__":
    main()
