"""huey's side of bench/peers.py, run by the python of its own venv (.tools/peers), with the
same commands as boltq_side.py:

    huey_side.py drain-worker URL NAME COUNT_KEY N WORKERS     # a Consumer, WORKERS threads
    huey_side.py latency-worker URL NAME LAT_KEY               # a Consumer, its defaults
    huey_side.py submit URL NAME N                             # one enqueue at a time
    huey_side.py bulk URL NAME N                               # the same (huey has no bulk)
    huey_side.py produce URL NAME N RATE                       # paced, wall time in the args

huey is a RedisHuey with its defaults (blocking BRPOP dequeue, read_timeout 1 s; results
stored, None results not; pickle serializer) on queue NAME."""

from __future__ import annotations

import json
import sys
import time

import redis
from huey import RedisHuey
from huey.consumer import Consumer

_cmd, URL, NAME, *REST = sys.argv[1:]
huey = RedisHuey(NAME, url=URL)
r = redis.Redis.from_url(URL)  # the job body's own client, as in the other libraries
KEY = REST[0] if _cmd.endswith("worker") else ""
N = int(REST[1]) if _cmd == "drain-worker" else 0


@huey.task()
def incr() -> None:  # the drain job: one INCR
    t = time.time()
    done = r.incr(KEY)
    if done == 1:
        r.set(KEY + ":first", repr(t))
    if done == N:
        r.set(KEY + ":last", repr(time.time()))
        r.lpush(KEY + ":done", "1")


@huey.task()
def stamp(sent: float) -> None:  # the latency job: start - submit, one RPUSH
    t = time.time()
    r.rpush(KEY, repr(t - sent))


def work(workers: int) -> None:
    huey.storage.conn.ping()
    r.ping()
    consumer = Consumer(huey, workers=workers, worker_type="thread")
    print("ready", flush=True)
    sys.stdin.readline()
    consumer.run()  # until SIGTERM


def submit(n: int) -> dict[str, float]:
    for _ in range(20):
        incr()
    t0 = time.perf_counter()
    for _ in range(n):
        incr()
    return {"seconds": time.perf_counter() - t0}


def bulk(n: int) -> dict[str, float]:
    huey.storage.conn.ping()
    t0 = time.perf_counter()
    for _ in range(n):
        incr()
    return {"seconds": time.perf_counter() - t0}


def produce(n: int, rate: float) -> dict[str, float]:
    start = time.perf_counter()
    for i in range(n):
        left = start + i / rate - time.perf_counter()
        if left > 0:
            time.sleep(left)
        stamp(time.time())
    return {"seconds": time.perf_counter() - start}


if _cmd == "drain-worker":
    work(int(REST[2]))
elif _cmd == "latency-worker":
    work(1)
elif _cmd == "submit":
    print(json.dumps(submit(int(REST[0]))), flush=True)
elif _cmd == "bulk":
    print(json.dumps(bulk(int(REST[0]))), flush=True)
elif _cmd == "produce":
    print(json.dumps(produce(int(REST[0]), float(REST[1]))), flush=True)
else:
    raise SystemExit(f"unknown command {_cmd!r}")
