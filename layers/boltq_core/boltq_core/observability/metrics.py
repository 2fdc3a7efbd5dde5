"""Metrics (SPEC §6) with exact totals whatever the number of concurrent functions.

Everything is counted in Redis, atomically (HINCRBY), by whichever process sees the event:
  {p}:stats    submitted|<type>|<prio>, processed|<type>|<status>, retried|<type>,
               requeued|<type>  (the transition scripts)
  {p}:metrics  p|<type>|<le> and w|<type>|<le>: processing / queue-wait histogram buckets
               (not cumulative; <le> is the bucket's upper bound, "+Inf" for the last),
               p|<type>|sum_us and w|<type>|sum_us: the sums in microseconds,
               e|<type>|<category>: failed attempts per error category (retried or not),
               inv|<function>: function invocations
               (MetricsHooks in the runner; count_invocation, InvocationCounter in the
               functions)
ONE process (the promoter, under its lock) reads them (`snapshot`) and replaces one
Pushgateway group (job="boltq", namespace=<prefix>) with them (`push`, HTTP PUT): Prometheus
sees the store's totals, never a sum of per-invocation pushes, and the number of series is
bounded by types x buckets. The local runtime serves the same snapshot on /metrics
(metrics_export.QueueCollector).

No dependency beyond the standard library and redis: the Lambda layer does not ship
prometheus_client; `render` writes the text exposition format itself."""

from __future__ import annotations

import atexit
import base64
import logging
import math
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from boltq_core.duties.fleet import Fleet
from boltq_core.jobs.queue import PRIORITY_NAMES as PRIORITY_LABELS
from boltq_core.jobs.queue import counters
from boltq_core.running.attempt import JobContext, Outcome, RunnerHooks

log = logging.getLogger("boltq.metrics")

PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                      60.0, 120.0, 300.0, 900.0)
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                300.0, 900.0, 3600.0)
HISTOGRAMS = {
    "p": ("boltq_job_processing_seconds", "Time a job attempt ran, per type", PROCESSING_BUCKETS),
    "w": ("boltq_job_wait_seconds", "Time from a job becoming due to its first start, per type",
          WAIT_BUCKETS),
}


def metrics_key(tag: str) -> str:
    return f"{tag}:metrics"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def bucket_of(value: float, buckets: Sequence[float]) -> str:
    for b in buckets:
        if value <= b:
            return _le(b)
    return "+Inf"


def count_invocation(redis: Any, tag: str, function: str) -> None:
    """One HINCRBY per function invocation; never raises. For the long-running functions
    (worker, poller, promoter); request-driven ones use InvocationCounter."""
    try:
        redis.hincrby(metrics_key(tag), f"inv|{function}", 1)
    except Exception as exc:  # metrics must never fail an invocation
        log.warning("could not count the invocation: %s", exc)


class InvocationCounter:
    """Invocations of a request-driven function (api, ws), counted in memory and added to the
    metrics hash at most once every `every` seconds: a HINCRBY per request would be a round
    trip as long as the request's own work. The first invocation of a container is sent at
    once; the rest go with the first invocation after the interval (metrics are pushed every
    METRICS_PUSH_SECONDS anyway) and at interpreter exit. A container that is frozen for good
    or killed loses at most one interval's count. Never raises."""

    def __init__(self, function: str, every: float = 1.0) -> None:
        self.field = f"inv|{function}"
        self.every = every
        self.pending = 0
        self._sent_at = float("-inf")
        self._target: tuple[Any, str] | None = None
        atexit.register(self.flush, at_exit=True)

    def __call__(self, redis: Any, tag: str) -> None:
        if self._target is None or self._target[0] is not redis or self._target[1] != tag:
            self.flush()  # the store or namespace changed (tests): settle the old one first
            self._target, self._sent_at = (redis, tag), float("-inf")
        self.pending += 1
        if time.monotonic() - self._sent_at >= self.every:
            self.flush()

    def flush(self, at_exit: bool = False) -> None:
        if not self.pending or self._target is None:
            return
        redis, tag = self._target
        n, self.pending = self.pending, 0
        self._sent_at = time.monotonic()
        try:
            redis.hincrby(metrics_key(tag), self.field, n)
        except Exception as exc:  # metrics must never fail an invocation; try again later
            self.pending += n
            (log.debug if at_exit else log.warning)("could not count %d invocations: %s", n, exc)


# --- the runner side -------------------------------------------------------------------------


class MetricsHooks(RunnerHooks):
    """Counts processing time and queue wait per attempt into {p}:metrics. Observations are held
    until the runner has stored the outcome (an outcome refused as stale is not counted, so the
    histograms count exactly the recorded attempts); the increments then ride along with the
    runner's next finish/claim pipeline (take_writes), so they cost no round trip of their own,
    and the runner sends what is left when it stops. Every HINCRBY is atomic on its own and all
    fields share the namespace's slot."""

    def __init__(self, tag: str) -> None:
        self.key = metrics_key(tag)
        self._seen: dict[tuple[str, int], list[tuple[str, float]]] = {}
        self._pending: dict[str, int] = {}

    def on_finish(self, ctx: JobContext, outcome: Outcome, seconds: float) -> None:
        try:
            label = ctx.claimed.type_label  # 'other' past METRICS_MAX_TYPES: bounded series
            obs = [(f"p|{label}", seconds)]
            queued = ctx.claimed.queued_ms if ctx.attempt == 1 else None
            if queued is not None:
                obs.append((f"w|{label}", (queued[1] - queued[0]) / 1000))
            if outcome.kind.is_error:
                obs.append((f"e|{label}|{outcome.category or 'unknown'}", 1.0))
            self._seen[(outcome.job_id, outcome.attempt)] = obs
        except Exception as exc:  # hooks must not raise
            log.warning("metrics hook: %s", exc)

    def on_recorded(self, outcomes: Sequence[Outcome], statuses: Sequence[str]) -> None:
        for o, status in zip(outcomes, statuses, strict=False):
            obs = self._seen.pop((o.job_id, o.attempt), None)
            if not obs or status == "stale":
                continue
            for prefix, value in obs:
                if prefix[0] == "e":  # a failed attempt: a plain counter
                    self._pending[prefix] = self._pending.get(prefix, 0) + 1
                    continue
                buckets = HISTOGRAMS[prefix[0]][2]
                for fld, n in ((f"{prefix}|{bucket_of(value, buckets)}", 1),
                               (f"{prefix}|sum_us", round(value * 1e6))):
                    self._pending[fld] = self._pending.get(fld, 0) + n

    def take_writes(self) -> list[tuple[Any, ...]]:
        if not self._pending:
            return []
        batch, self._pending = self._pending, {}
        return [("HINCRBY", self.key, fld, n) for fld, n in batch.items()]


# --- reading and exposing --------------------------------------------------------------------


@dataclass
class Family:
    name: str  # without the _total suffix for counters
    kind: str  # counter | gauge | histogram
    help: str
    # (sample suffix, labels, value); suffix "" for counters' _total is added by `render`
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def snapshot(queue: Any) -> list[Family]:
    """Every boltq_* family of one namespace, from one pipelined read."""
    k = queue.keys
    pipe = queue.redis.pipeline(transaction=False)
    for p in range(3):
        pipe.llen(k.ready(p))
    for key in (k.scheduled, k.active, k.retrying, k.dlq):
        pipe.zcard(key)
    pipe.hgetall(k.stats)
    pipe.hgetall(metrics_key(k.tag))
    r = pipe.execute()
    try:  # the server's memory (one INFO per push; absent when the store does not say)
        info = queue.redis.info("memory")
        used = info.get("used_memory") if isinstance(info, dict) else None
    except Exception:
        used = None
    depth = Family("boltq_jobs_in_queue", "gauge", "Jobs waiting or held, per queue")
    for name, n in zip(PRIORITY_LABELS, r[0:3], strict=True):
        depth.samples.append(("", {"queue": name}, n))
    for name, n in zip(("scheduled", "running", "retrying", "dead_letter"), r[3:7], strict=True):
        depth.samples.append(("", {"queue": name}, n))
    submitted = Family("boltq_jobs_submitted", "counter", "Jobs accepted")
    processed = Family("boltq_jobs_processed", "counter", "Jobs that reached an end state")
    retried = Family("boltq_jobs_retried", "counter", "Attempts scheduled for a retry")
    requeued = Family("boltq_jobs_requeued", "counter", "Dead letters put back in the queue")
    for c in counters(r[7]):
        if c.kind == "submitted":
            prio = int(c.label)
            label = PRIORITY_LABELS[prio] if 0 <= prio < 3 else c.label
            submitted.samples.append(("", {"type": c.type, "priority": label}, c.value))
        elif c.kind == "processed":
            processed.samples.append(("", {"type": c.type, "status": c.label}, c.value))
        elif c.kind == "retried":
            retried.samples.append(("", {"type": c.type}, c.value))
        elif c.kind == "requeued":
            requeued.samples.append(("", {"type": c.type}, c.value))
    dead = Family("boltq_dead_letter_size", "gauge", "Jobs in the dead-letter queue")
    dead.samples.append(("", {}, r[6]))
    workers = Family("boltq_active_workers", "gauge", "Live worker invocations")
    workers.samples.append(("", {}, Fleet(queue.redis, k.tag).live()))
    invocations = Family("boltq_function_invocations", "counter", "Function invocations")
    errors = Family("boltq_job_errors", "counter", "Failed attempts, per type and error category")
    hist: dict[str, dict[str, dict[str, int]]] = {"p": {}, "w": {}}
    for fld, value in sorted(r[8].items()):
        parts = str(fld).split("|")
        if parts[0] == "inv" and len(parts) == 2:
            invocations.samples.append(("", {"function": parts[1]}, int(value)))
        elif parts[0] == "e" and len(parts) >= 3:
            errors.samples.append(
                ("", {"type": "|".join(parts[1:-1]), "category": parts[-1]}, int(value)))
        elif parts[0] in hist and len(parts) >= 3:
            jtype = "|".join(parts[1:-1])
            hist[parts[0]].setdefault(jtype, {})[parts[-1]] = int(value)
    families = [submitted, processed, retried, requeued, depth, dead, workers, invocations,
                errors]
    if isinstance(used, int | float):
        memory = Family("boltq_store_memory_used_bytes", "gauge",
                        "Memory the Redis/Valkey server uses (INFO used_memory)")
        memory.samples.append(("", {}, used))
        families.append(memory)
    for prefix, (name, help_, buckets) in HISTOGRAMS.items():
        fam = Family(name, "histogram", help_)
        for jtype, counts in sorted(hist[prefix].items()):
            bounds = sorted({float(b) for b in buckets} | {
                float(le) for le in counts if le not in ("sum_us", "+Inf")})
            cum = 0
            for b in bounds:
                cum += counts.get(_le(b), 0)
                fam.samples.append(("_bucket", {"type": jtype, "le": _le(b)}, cum))
            cum += counts.get("+Inf", 0)
            fam.samples.append(("_bucket", {"type": jtype, "le": "+Inf"}, cum))
            fam.samples.append(("_count", {"type": jtype}, cum))
            fam.samples.append(("_sum", {"type": jtype}, counts.get("sum_us", 0) / 1e6))
        families.append(fam)
    return families


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v: float) -> str:
    if isinstance(v, int) or float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def render(families: Sequence[Family]) -> str:
    """The Prometheus text exposition format (0.0.4)."""
    out = []
    for f in families:
        name = f.name + "_total" if f.kind == "counter" else f.name
        out.append(f"# HELP {name} {f.help}")
        out.append(f"# TYPE {name} {f.kind}")
        for suffix, labels, value in f.samples:
            lbl = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            sname = name if f.kind == "counter" else f.name + suffix
            out.append(f"{sname}{{{lbl}}} {_num(value)}" if lbl else f"{sname} {_num(value)}")
    return "\n".join(out) + "\n"


def _path_segment(name: str, value: str) -> str:
    if value and "/" not in value:
        return f"/{name}/{urllib.request.quote(value, safe='')}"
    enc = base64.urlsafe_b64encode(value.encode()).decode() or "="
    return f"/{name}@base64/{enc}"


def push(url: str, body: str, grouping: dict[str, str], timeout: float = 2.0) -> None:
    """Replace the Pushgateway group (PUT): what Prometheus sees is exactly `body`."""
    path = "/metrics" + _path_segment("job", grouping.get("job", "boltq")) + "".join(
        _path_segment(k, v) for k, v in grouping.items() if k != "job")
    req = urllib.request.Request(url.rstrip("/") + path, data=body.encode(), method="PUT",
                                 headers={"Content-Type": "text/plain; version=0.0.4"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


class MetricsPusher:
    """Pushes `snapshot(queue)` every `interval` seconds from its own thread, so a slow or down
    Pushgateway never delays the caller; failures are logged (once per outage), never raised."""

    def __init__(self, queue: Any, url: str, interval: float = 10.0, timeout: float = 2.0,
                 logger: Any = None) -> None:
        self.queue = queue
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.log = logger or log
        self.grouping = {"job": "boltq", "namespace": queue.settings.key_prefix}
        self.pushes = 0
        self.failures = 0
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def push_once(self) -> bool:
        try:
            push(self.url, render(snapshot(self.queue)), self.grouping, self.timeout)
        except Exception as exc:
            self.failures += 1
            if not self._failing:
                self.log.warning(f"metrics push to the Pushgateway failed: {exc}")
            self._failing = True
            return False
        if self._failing:
            self.log.info("metrics push to the Pushgateway works again")
        self._failing = False
        self.pushes += 1
        return True

    def start(self) -> MetricsPusher:
        def loop() -> None:
            while True:
                started = time.monotonic()
                self.push_once()
                if self._stop.wait(max(0.0, self.interval - (time.monotonic() - started))):
                    if not self._failing:  # a final push: the totals as this pusher leaves them
                        self.push_once()
                    return

        self._thread = threading.Thread(target=loop, name="boltq-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 0.5 if wait is None else wait)


def pusher_from_env(queue: Any, env: Callable[[str, str], str], logger: Any = None
                    ) -> MetricsPusher | None:
    """A started MetricsPusher when PUSHGATEWAY_URL is set (METRICS_PUSH_SECONDS, default 10;
    METRICS_PUSH_TIMEOUT_SECONDS, default 2), else None."""
    url = env("PUSHGATEWAY_URL", "").strip()
    if not url:
        return None
    interval = float(env("METRICS_PUSH_SECONDS", "") or 10)
    timeout = float(env("METRICS_PUSH_TIMEOUT_SECONDS", "") or 2)
    return MetricsPusher(queue, url, interval, timeout, logger).start()


__all__ = ["Family", "InvocationCounter", "MetricsHooks", "MetricsPusher", "count_invocation",
           "metrics_key", "push", "pusher_from_env", "render", "snapshot"]
