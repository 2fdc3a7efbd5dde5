"""Server time per call of the hot scripts run by EVALSHA and run as Redis Functions (FCALL).

    .venv/bin/python -m bench.functions            # 6 interleaved rounds, writes bench/FUNCTIONS.md
    .venv/bin/python -m bench.functions --quick    # 2 rounds, prints the report
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.functions

The same code both ways (jobs/scripts.py: EVALSHA runs the whole chunk, defining every include
again on each call; FCALL runs only the function of a library loaded once). Each round submits
jobs one at a time, claims them 50 at a time and completes them 50 at a time, once by each way,
in alternating order; the figures are medians over the rounds of the server's own time
(INFO commandstats) per call, and the client's wall time per single submit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import (
    command_stats,
    drop_namespace,
    script_stat,
    settings_for,
    stats_delta,
    target,
)
from boltq_core import Queue
from boltq_core.jobs.scripts import Scripts
from boltq_core.running.attempt import Outcome

MODES = ("evalsha", "fcall")


def one_round(q: Queue, n: int) -> dict[str, float]:
    """Server µs per submit, claim (50) and finish (50) call; client µs per submit."""
    out: dict[str, float] = {}
    before = command_stats(q.redis)
    t0 = time.perf_counter()
    for i in range(n):
        q.submit({"type": "echo", "data": {"i": i}})
    out["submit client"] = (time.perf_counter() - t0) / n * 1e6
    out["submit"] = _per_call(q, before)
    claimed: list[dict[str, str]] = []
    before = command_stats(q.redis)
    while True:
        call, parse = q.calls.claim(50, 60)
        got = parse(q.run(call))[2]
        if not got:
            break
        claimed += got
    out["claim 50"] = _per_call(q, before)
    if len(claimed) != n:
        raise RuntimeError(f"claimed {len(claimed)} of {n}")
    before = command_stats(q.redis)
    for start in range(0, n, 50):
        q.run(q.calls.finish([Outcome.completed(j["id"], int(j["attempts"]), "null")
                              for j in claimed[start : start + 50]]))
    out["finish 50"] = _per_call(q, before)
    return out


def _per_call(q: Queue, before: dict) -> float:
    stat = script_stat(stats_delta(command_stats(q.redis), before))
    assert stat is not None and stat.calls
    return stat.usec / stat.calls


def run(rounds: int, n: int, redis_url: str | None) -> dict[str, dict[str, list[float]]]:
    res: dict[str, dict[str, list[float]]] = {m: {} for m in MODES}
    with target(redis_url) as server:
        for r in range(rounds):
            for mode in (MODES if r % 2 == 0 else MODES[::-1]):
                q = Queue(settings_for(server, f"fn-{mode}-{r}"))
                q._scripts = Scripts(q.redis, functions=mode == "fcall")
                q._scripts.ready()
                q.submit({"type": "echo"})  # warm: the script or library is loaded
                q.run(q.calls.claim(1, 60)[0])
                for fig, v in one_round(q, n).items():
                    res[mode].setdefault(fig, []).append(v)
                drop_namespace(q.redis, q.keys.tag)
                q.redis.close()
    return res


def report(res: dict[str, dict[str, list[float]]], rounds: int, n: int) -> str:
    lines = [f"Median of {rounds} interleaved rounds of {n} jobs each (µs).", "",
             "| figure | EVALSHA | FCALL | FCALL / EVALSHA |", "|---|---|---|---|"]
    for fig in res["evalsha"]:
        e, f = (statistics.median(res[m][fig]) for m in MODES)
        name = fig if fig.endswith("client") else f"{fig}, server per call"
        lines.append(f"| {name} | {e:.1f} | {f:.1f} | {f / e:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds of 1,000 jobs")
    ap.add_argument("--redis-url", default=None, help="default: REDIS_URL, else embedded Valkey")
    args = ap.parse_args(argv)
    rounds, n = (2, 1000) if args.quick else (6, 3000)
    res = run(rounds, n, args.redis_url or os.environ.get("REDIS_URL"))
    text = report(res, rounds, n)
    if args.quick:
        print(text)
        return
    out = Path(__file__).with_name("FUNCTIONS.md")
    out.write_text("# The scripts by EVALSHA and as Redis Functions\n\n"
                   "Written by `bench/functions.py` (issue 15); rerun: "
                   "`.venv/bin/python -m bench.functions`.\n\n" + text + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
