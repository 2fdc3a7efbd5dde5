"""Reading the metrics: every boltq_* family of a deployment - each queue's job counters (its
stats hash) and depths, labelled `queue_name`, and the deployment's live workers and metrics
hash (metric_layout) - from one pipelined read, as data the exposition (render) and the
prometheus_client collector both turn into text. (The seed's `queue` label of
boltq_jobs_in_queue names a priority or a state, so the named queue is `queue_name`.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from boltq_core.duties.fleet import Fleet
from boltq_core.jobs.models import PRIORITY_NAMES
from boltq_core.jobs.queue import counters
from boltq_core.keys import GROUP_READY
from boltq_core.observability.metric_layout import HISTOGRAMS, le


@dataclass
class Family:
    name: str  # without the _total suffix for counters
    kind: str  # counter | gauge | histogram
    help: str
    # (sample suffix, labels, value); suffix "" for counters' _total is added by `render`
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


PER_QUEUE = 11  # replies per queue in the pipeline below


def snapshot(queue: Any) -> list[Family]:
    """Every boltq_* family of the deployment, from one pipelined read."""
    k = queue.keys
    names = queue.known_queues()
    pipe = queue.redis.pipeline(transaction=False)
    for name in names:
        qk = queue.of(name).keys
        for p in range(3):
            pipe.llen(qk.ready(p))
        for key in (qk.scheduled, qk.active, qk.retrying, qk.dlq):
            pipe.zcard(key)
        pipe.hgetall(qk.stats)
        pipe.hmget(qk.group_state, GROUP_READY)
        pipe.zcard(qk.groups)
        pipe.zcard(qk.group_wait)
    pipe.hgetall(k.metrics)
    replies = pipe.execute()
    per_queue = {name: replies[i * PER_QUEUE:(i + 1) * PER_QUEUE] for i, name in enumerate(names)}
    metrics_hash = replies[-1]
    try:  # the server's memory (one INFO per push; absent when the store does not say)
        info = queue.redis.info("memory")
        used = info.get("used_memory") if isinstance(info, dict) else None
    except Exception:
        used = None
    depth = Family("boltq_jobs_in_queue", "gauge", "Jobs waiting or held, per priority or state")
    submitted = Family("boltq_jobs_submitted", "counter", "Jobs accepted")
    processed = Family("boltq_jobs_processed", "counter", "Jobs that reached an end state")
    retried = Family("boltq_jobs_retried", "counter", "Attempts scheduled for a retry")
    requeued = Family("boltq_jobs_requeued", "counter", "Dead letters put back in the queue")
    dead = Family("boltq_dead_letter_size", "gauge", "Jobs in the dead-letter queue")
    # per queue, never per group: the series stay bounded however many groups there are
    limited = Family("boltq_jobs_rate_limited", "counter",
                     "Attempts that raised RateLimited (their group waited)")
    groups = Family("boltq_groups", "gauge",
                    "Named groups with jobs ready or running, and those a limit holds back")
    for qname, r in per_queue.items():
        q = {"queue_name": qname}
        for name, n, grouped in zip(PRIORITY_NAMES, r[0:3], r[8], strict=True):
            depth.samples.append(("", {"queue": name, **q}, n + int(grouped or 0)))
        for name, n in zip(("scheduled", "running", "retrying", "dead_letter"), r[3:7],
                           strict=True):
            depth.samples.append(("", {"queue": name, **q}, n))
        for c in counters(r[7]):
            if c.kind == "submitted":
                prio = int(c.label)
                label = PRIORITY_NAMES[prio] if 0 <= prio < 3 else c.label
                submitted.samples.append(("", {"type": c.type, "priority": label, **q}, c.value))
            elif c.kind == "processed":
                processed.samples.append(("", {"type": c.type, "status": c.label, **q}, c.value))
            elif c.kind == "retried":
                retried.samples.append(("", {"type": c.type, **q}, c.value))
            elif c.kind == "requeued":
                requeued.samples.append(("", {"type": c.type, **q}, c.value))
            elif c.kind == "rate_limited":
                limited.samples.append(("", {"type": c.type, **q}, c.value))
        dead.samples.append(("", q, r[6]))
        groups.samples.append(("", {"state": "known", **q}, r[9]))
        groups.samples.append(("", {"state": "limited", **q}, r[10]))
    workers = Family("boltq_active_workers", "gauge", "Live worker invocations")
    workers.samples.append(("", {}, Fleet(queue.redis, k).live()))
    invocations = Family("boltq_function_invocations", "counter", "Function invocations")
    errors = Family("boltq_job_errors", "counter", "Failed attempts, per type and error category")
    hist: dict[str, dict[str, dict[str, int]]] = {"p": {}, "w": {}}
    for fld, value in sorted(metrics_hash.items()):
        parts = str(fld).split("|")
        if parts[0] == "inv" and len(parts) == 2:
            invocations.samples.append(("", {"function": parts[1]}, int(value)))
        elif parts[0] == "e" and len(parts) >= 3:
            errors.samples.append(
                ("", {"type": "|".join(parts[1:-1]), "category": parts[-1]}, int(value)))
        elif parts[0] in hist and len(parts) >= 3:
            jtype = "|".join(parts[1:-1])
            hist[parts[0]].setdefault(jtype, {})[parts[-1]] = int(value)
    families = [submitted, processed, retried, requeued, limited, depth, dead, groups, workers,
                invocations, errors]
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
                cum += counts.get(le(b), 0)
                fam.samples.append(("_bucket", {"type": jtype, "le": le(b)}, cum))
            cum += counts.get("+Inf", 0)
            fam.samples.append(("_bucket", {"type": jtype, "le": "+Inf"}, cum))
            fam.samples.append(("_count", {"type": jtype}, cum))
            fam.samples.append(("_sum", {"type": jtype}, counts.get("sum_us", 0) / 1e6))
        families.append(fam)
    return families
