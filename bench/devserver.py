"""The local runtime's speed (`boltq dev`, issue 4): HTTP submit throughput with 10 concurrent
clients through the REST route (aiohttp -> ApiFunction container -> Valkey), and submit-to-start
latency through the whole local path (REST submit -> poller wakes on the events stream ->
lambda:Invoke on the local Invoke API -> warm WorkerFunction container -> Runner claims).

Latency = the job's `started_at` (set by the claim) minus the wall time just before the POST;
both come from this machine's clock, `started_at` in whole milliseconds. Two cases:
  "cold invocation": every job needs a new worker invocation (WORKER_IDLE_SECONDS=0.05, jobs
      0.3 s apart, so the previous invocation has ended); the container is warm.
  "running worker": a worker invocation is still in its idle window (the template's
      WORKER_IDLE_SECONDS=2, jobs 0.1 s apart) and picks the job up itself.

Comparison rows put the submit rate in context: delayed submits (no worker work), the batch
route, GET /health, the runtime alone, and the ceiling: the same POST through the same runtime
to a template whose one function returns a constant (what the Lambda-like path costs with no
BoltQ behind it).

Run: .venv/bin/python -m bench.devserver [--seconds 5] [--samples 100] [--repeat 3]; writes
bench/devserver.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import loadgen
from boltq_local.valkey import free_port

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("devserver.md")


class Dev:
    def __init__(self, env: dict[str, str], data: str, template: Path | None = None) -> None:
        self.port, self.metrics = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_ADDR",
                                                                   "BOLTQ_API_KEY")}, **env}
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "boltq_local.cli", "dev", "--host", "127.0.0.1",
             "--api-port", str(self.port), "--metrics-port", str(self.metrics),
             "--data-dir", data, "--quiet",
             *(["--template", str(template)] if template else [])],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        end = time.monotonic() + 60
        while not any(x.startswith("Ready.") for x in self.lines):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("boltq dev did not start:\n" + "\n".join(self.lines))
            time.sleep(0.05)

    def warm_up(self, timeout: float = 60.0) -> None:
        """Run one job end to end, so the poller and a worker container are up before anything
        is measured (their cold starts belong to no steady-state figure)."""
        req = urllib.request.Request(self.url + "/api/v1/jobs", method="POST",
                                     data=b'{"type": "echo", "data": {}}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            job_id = json.loads(r.read())["data"]["job_id"]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with urllib.request.urlopen(f"{self.url}/api/v1/jobs/{job_id}", timeout=10) as r:
                if json.loads(r.read())["data"]["status"] == "completed":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"boltq dev did not run a job within {timeout:.0f} s")

    def drain(self, timeout: float = 120.0) -> None:
        """Wait until no job is ready or running (then a moment more for workers to idle)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with urllib.request.urlopen(self.url + "/api/v1/queues/stats", timeout=10) as r:
                st = json.loads(r.read())["data"]
            if st["pending_total"] == 0 and st["running"] == 0:
                time.sleep(1.0)
                return
            time.sleep(0.2)
        raise RuntimeError(f"the queue did not drain within {timeout:.0f} s")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        if self.proc.stdout:
            self.proc.stdout.close()


TRIVIAL_HANDLER = """import json

BODY = json.dumps({"success": True, "data": {"job_id": "0", "status": "pending"}})


def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": BODY}
"""


def trivial_template(folder: Path) -> Path:
    """A template with one function whose handler returns a constant: the cost of the runtime's
    REST path (HTTP, event, container hop, reply) with nothing of BoltQ behind it."""
    (folder / "fn").mkdir(parents=True, exist_ok=True)
    (folder / "fn" / "app.py").write_text(TRIVIAL_HANDLER)
    path = folder / "template.yaml"
    path.write_text("""AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  ConstantFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Submit:
          Type: Api
          Properties:
            Path: /api/v1/jobs
            Method: post
""")
    return path


def _tree_cpu(root: int) -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds so far) for `root` and all its descendants."""
    out: dict[int, tuple[str, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        rp = stat.rfind(")")
        fields = stat[rp + 2:].split()
        out[pid] = (stat[stat.find("(") + 1:rp], (int(fields[11]) + int(fields[12])) / tick)
        for t in tasks:
            try:
                with open(f"/proc/{pid}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return out


def cpu_by_part(dev: Dev, before: dict[int, tuple[str, float]],
                after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds spent between two _tree_cpu snapshots, by part of `boltq dev`."""
    with urllib.request.urlopen(dev.url + "/_boltq/functions", timeout=5) as r:
        fns = json.loads(r.read())["functions"]
    owner = {c["pid"]: f["function"] for f in fns for c in f["containers"]}
    owner[dev.proc.pid] = "runtime (aiohttp, IPC)"
    parts: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        part = owner.get(pid) or ("Valkey" if "valkey" in name else "other")
        parts[part] = parts.get(part, 0.0) + cpu - before.get(pid, (name, 0.0))[1]
    return parts


async def throughput(url: str, clients: int, seconds: float, path: str = "/api/v1/jobs",
                     job: dict[str, Any] | None = None, mark: Any = None,
                     warmup: float = 3.0) -> dict[str, Any]:
    """Requests/s over `seconds` after `warmup` seconds of the same load, so the worker fleet
    has settled (bench.loadgen: keep-alive connections, one request at a time each); `mark()`
    is called as the measured part starts and ends."""
    job = job or {"type": "echo", "data": {"message": "Hello World"}}
    if path.startswith("/api/v1/jobs"):  # a submit (one job, or a batch)
        return await loadgen.run(url + path, clients, seconds, "POST", json.dumps(job).encode(),
                                 {"Content-Type": "application/json"}, warmup, mark)
    return await loadgen.run(url + path, clients, seconds, warmup=warmup, mark=mark)


async def latency(url: str, samples: int, gap: float) -> list[float]:
    out: list[float] = []
    async with aiohttp.ClientSession() as s:
        ids: list[tuple[str, float]] = []
        for _ in range(samples + 3):
            t0 = time.time()
            async with s.post(url + "/api/v1/jobs", json={"type": "echo", "data": {}}) as r:
                ids.append(((await r.json())["data"]["job_id"], t0))
            await asyncio.sleep(gap)
        await asyncio.sleep(1.0)
        for job_id, t0 in ids[3:]:  # the first ones start containers
            async with s.get(f"{url}/api/v1/jobs/{job_id}") as r:
                job = (await r.json())["data"]
            if job.get("started_at"):
                started = datetime.fromisoformat(job["started_at"].replace("Z", "+00:00"))
                out.append((started.timestamp() - t0) * 1000)
    return sorted(out)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the submit test")
    a = ap.parse_args()
    rows: dict[str, Any] = {}
    batch = {"jobs": [{"type": "echo", "data": {"i": i}} for i in range(100)]}
    with tempfile.TemporaryDirectory() as tmp:
        dev = Dev({}, tmp + "/a")
        try:
            dev.warm_up()
            # this machine's speed drifts by tens of percent from minute to minute: the submit
            # test runs `--repeat` times; the table shows the median run and its CPU split
            runs = []
            for _ in range(a.repeat):
                marks: list[tuple[dict[int, tuple[str, float]], float]] = []
                tp = asyncio.run(throughput(
                    dev.url, a.clients, a.seconds,
                    mark=lambda m=marks: m.append((_tree_cpu(dev.proc.pid), time.process_time()))))
                (before, cpu0), (after, cpu1) = marks
                tp["cpu"] = cpu_by_part(dev, before, after)
                tp["cpu"]["load generator (this process)"] = cpu1 - cpu0
                runs.append(tp)
            runs.sort(key=lambda r: r["rate"])
            rows["tp"] = runs[len(runs) // 2]
            rows["cpu"] = rows["tp"]["cpu"]
            rows["tp_range"] = (runs[0]["rate"], runs[-1]["rate"])
            rows["containers"] = {f["function"]: len(f["containers"]) for f in json.loads(
                urllib.request.urlopen(dev.url + "/_boltq/functions", timeout=5).read()
            )["functions"]}
            time.sleep(3)
            rows["later"] = asyncio.run(throughput(
                dev.url, a.clients, a.seconds / 2,
                job={"type": "echo", "data": {}, "delay_seconds": 3600}))
            rows["health"] = asyncio.run(throughput(dev.url, a.clients, a.seconds / 2, "/health"))
            rows["runtime"] = asyncio.run(throughput(dev.url, a.clients, a.seconds / 2,
                                                     "/_boltq/functions"))
            rows["batch"] = asyncio.run(throughput(dev.url, a.clients, a.seconds / 2,
                                                   "/api/v1/jobs/batch", job=batch))
            dev.drain()  # the batches left tens of thousands of jobs to run
            rows["warm"] = asyncio.run(latency(dev.url, a.samples, 0.1))
        finally:
            dev.stop()
        dev = Dev({}, tmp + "/t", trivial_template(Path(tmp) / "trivial"))
        try:
            rows["constant"] = asyncio.run(throughput(dev.url, a.clients, a.seconds / 2))
        finally:
            dev.stop()
        dev = Dev({"WORKER_IDLE_SECONDS": "0.05"}, tmp + "/b")
        try:
            rows["cold"] = asyncio.run(latency(dev.url, a.samples, 0.3))
        finally:
            dev.stop()
    OUT.write_text(report(a.clients, rows, a.repeat))
    print(OUT.read_text())
    return 0


def report(clients: int, rows: dict[str, Any], repeat: int) -> str:
    tp, warm, cold = rows["tp"], rows["warm"], rows["cold"]
    cores = os.cpu_count() or 1
    per_job = {part: sec / max(1, tp["jobs"]) * 1000 for part, sec in rows["cpu"].items()}
    total_ms = sum(per_job.values())
    budget_ms = cores * 1000 / 2000  # CPU-ms per job at 2,000 jobs/s on this machine
    constant_ms = cores * 1000 / rows["constant"]["rate"]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    api_containers = rows["containers"].get("ApiFunction", 0)
    workers = rows["containers"].get("WorkerFunction", 0)
    md = [
        "# `boltq dev` speed",
        "",
        f"Generated by `python -m bench.devserver` on {stamp}, "
        f"{cores} CPUs, Python {platform.python_version()}; `boltq dev` with its "
        "embedded Valkey (append-only, fsync every second), defaults otherwise, `--quiet`. "
        "The load generator (bench/loadgen.py) runs on the same machine; every figure is "
        "taken after a warm-up (one job end to end, then 3 s of the same load).",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        f"| HTTP submit throughput, {clients} concurrent clients (keep-alive), "
        f"{tp['seconds']:.1f} s; the jobs run meanwhile; median of {repeat} runs | "
        f"{tp['rate']:,.0f} jobs/s (runs: {rows['tp_range'][0]:,.0f} to "
        f"{rows['tp_range'][1]:,.0f}; {tp['errors']} errors; request p50 {tp['p50_ms']:.1f} ms, "
        f"p99 {tp['p99_ms']:.1f} ms) | >= 2,000 jobs/s |",
        f"| (for comparison) submits of delayed jobs: no worker runs during the test | "
        f"{rows['later']['rate']:,.0f} jobs/s | |",
        f"| (for comparison) POST /api/v1/jobs/batch, 100 jobs a request | "
        f"{rows['batch']['rate'] * 100:,.0f} jobs/s ({rows['batch']['rate']:,.0f} req/s) | |",
        f"| (ceiling) the same POST to a one-line handler through the same runtime (no "
        f"Powertools, no store, no jobs) | {rows['constant']['rate']:,.0f} req/s | |",
        f"| (for comparison) GET /health: container + 1 Redis round trip | "
        f"{rows['health']['rate']:,.0f} req/s | |",
        f"| (for comparison) GET /_boltq/functions: the runtime alone, no container | "
        f"{rows['runtime']['rate']:,.0f} req/s | |",
        f"| submit-to-start, running worker (p50 / p99, {len(warm)} jobs) | "
        f"{pct(warm, 50):.1f} ms / {pct(warm, 99):.1f} ms | p50 <= 20 ms |",
        f"| submit-to-start, poller -> Invoke API -> warm container (p50 / p99, "
        f"{len(cold)} jobs) | {pct(cold, 50):.1f} ms / {pct(cold, 99):.1f} ms | p50 <= 20 ms |",
        "",
        f"Where the CPU went during the median submit run ({tp['jobs']:,} jobs; {cores} cores, "
        f"i.e. {cores * tp['seconds']:.1f} CPU-seconds; {api_containers} ApiFunction containers, "
        f"{workers} worker invocation(s) alive at the end):",
        "",
        "| part | CPU seconds | per job |",
        "|---|---|---|",
        *[f"| {part} | {sec:.2f} | {per_job[part]:.3f} ms |"
          for part, sec in sorted(rows["cpu"].items(), key=lambda kv: -kv[1]) if sec >= 0.005],
        f"| total | {sum(rows['cpu'].values()):.2f} | {total_ms:.3f} ms |",
        "",
        f"What limits the submit rate: CPU. The {cores} cores are saturated (the table adds up "
        f"to about {cores} CPU-seconds a second); no single part is the bottleneck, the sum "
        f"of per-job costs is: {total_ms:.2f} ms of CPU a job. 2,000 jobs/s leaves "
        f"{budget_ms:.2f} ms a job for everything. The ceiling row is the price of the "
        f"Lambda-like path itself on this machine - client -> runtime (HTTP, proxy event) -> "
        f"a container process (one invocation at a time, as in Lambda) and back - with a "
        f"handler that does nothing: {constant_ms:.2f} ms of CPU a request, "
        f"{constant_ms / budget_ms:.0%} of the budget before the API function's own work "
        "(Powertools routing and validation, one store round trip), Valkey's scripts, and "
        "the worker that runs the job. A store round trip costs ~0.05 ms of client CPU "
        "with a raw socket here, 0.12-0.15 ms through redis-py.",
        "",
        "Levers already pulled: one store round trip per submit (invocation counts are "
        "batched), two request containers per core (10 on 2 cores thrashed each other's "
        "caches: 25% slower), workers that settle a just-started job before blocking and "
        "carry metric increments on their finish round trip (~3 round trips per job at low "
        "rates instead of 5), a fleet that adds workers only for a lasting backlog and "
        "retires spare ones, a load generator that keeps to ~0.1 ms a request. For bulk "
        "clients `POST /api/v1/jobs/batch` (up to 500 jobs a request) is the fast path.",
        "",
    ]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    sys.exit(main())
