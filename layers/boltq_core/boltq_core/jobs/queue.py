"""Queue: the synchronous client of one queue, used by the API, the promoter and tools. Each
named queue is a namespace of its own (its own hash tag, boltq_core.keys); `queue.of(name)`
gives a sibling on the same connection pool, and the calls that name a job id go to the id's
queue by themselves, so a caller holding the default queue reaches every job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import BaseModel, Field
from redis.cluster import RedisCluster

from boltq_core.config import Settings, shared_settings
from boltq_core.errors import ConfigError, Conflict, InvalidInput, NotFound, StoreUnavailable
from boltq_core.jobs.calls import (
    SUMMARY_FIELDS,
    Call,
    ScriptCalls,
    Submitted,
    check_page,
    check_queue_name,
    pairs,
    parse_specs,
)
from boltq_core.jobs.event_log import expand
from boltq_core.jobs.models import (
    PRIORITY_NAMES,
    Job,
    JobSpec,
    JobSummary,
    QueueInfo,
    QueueStats,
    add_stats,
)
from boltq_core.jobs.pipelined import submit_chunks
from boltq_core.jobs.scripts import Scripts, lost
from boltq_core.keys import DEFAULT_QUEUE, GROUP_READY, Keys, queue_of
from boltq_core.store import failover
from boltq_core.store.connect import SyncClient, connect

CLUSTER_POLL_SECONDS = 0.05  # how often read_streams looks again on a cluster (see there)

# scripts that may be sent again when their reply was lost: a repeat changes nothing (submit
# and workflow_submit skip ids already stored, finish/extend/progress refuse a stale attempt,
# claim answers a repeated claim id with what it leased, schedule_fire refuses a repeated
# plan as stale, the rest only move what is due)
IDEMPOTENT = frozenset({"submit", "workflow_submit", "claim", "finish", "extend", "progress",
                        "promote", "list_jobs", "schedule_fire", "schedule_pause",
                        "schedule_delete", "group_limits", "list_groups", "outbox_apply"})




@dataclass(slots=True, frozen=True)
class Counter:
    """One field of the stats hash the scripts keep: kind "submitted" (label = priority),
    "processed" (label = final status), "retried" or "requeued" (no label)."""

    kind: str
    type: str
    label: str
    value: int


def counters(stats_hash: dict[str, str]) -> list[Counter]:
    """The stats hash ("kind|type[|label]" -> n) as Counters; the one parser of its fields."""
    out = []
    for field, value in sorted(stats_hash.items()):
        kind, _, rest = field.partition("|")
        jtype, _, label = rest.partition("|")
        out.append(Counter(kind, jtype, label, int(value)))
    return out


MAX_WORKERS_LIMIT = 1_000_000  # the largest max_workers a queue may be given


class QueueSettings(BaseModel):
    """A queue's settings (HASH Keys.settings; a field absent there is null here)."""

    max_workers: int | None = Field(
        None, ge=1, le=MAX_WORKERS_LIMIT,
        description="the most workers the poller starts for this queue's backlog (null: no "
                    "cap of its own; NUM_WORKERS still caps the whole fleet)")

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> QueueSettings:
        raw = h.get("max_workers")
        return cls(max_workers=int(raw) if raw else None)


def check_max_workers(value: Any, field: str = "max_workers") -> int | None:
    """max_workers as a queue takes it (an integer 1..MAX_WORKERS_LIMIT, or None: no cap), or
    InvalidInput naming `field`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (
            1 <= value <= MAX_WORKERS_LIMIT):
        raise InvalidInput(f"{field}: an integer from 1 to {MAX_WORKERS_LIMIT}, or null; got "
                           f"{value!r}", [{"field": field}])
    return value


def _read_ready(pipe: Any, k: Keys) -> None:
    """Queue the reads of a queue's ready jobs (_ready_total sums their replies): the
    ungrouped lists per priority, the suspects, the groups' counts per priority."""
    for p in range(3):
        pipe.llen(k.ready(p))
    pipe.llen(k.suspects)
    pipe.hmget(k.group_state, GROUP_READY)


def _ready_total(replies: list[Any]) -> int:
    *lists, grouped = replies
    return sum(lists) + sum(int(n or 0) for n in grouped)


@dataclass(slots=True)
class Page:
    items: list[Any]
    next_cursor: str | None

    def public(self) -> dict[str, Any]:
        items = [i.public() if hasattr(i, "public") else i for i in self.items]
        return {"items": items, "next_cursor": self.next_cursor, "count": len(items)}


@dataclass(slots=True)
class PromoteResult:
    promoted: int
    recovered: int
    expired: int
    next_wake_ms: int


class Queue:
    """Submit, read, cancel and manage the jobs of one queue (default: the default queue)."""

    def __init__(self, settings: Settings | None = None, client: SyncClient | None = None,
                 name: str = DEFAULT_QUEUE, *, _root: Queue | None = None):
        self.settings = settings or Settings.from_env()
        self.name = name
        self.calls = ScriptCalls(self.settings, name)
        self.keys = self.calls.keys
        self.redis = client if client is not None else connect(self.settings)
        self._root = _root or self
        self._scripts = _root._scripts if _root else Scripts(self.redis)
        if _root is None:
            self._siblings: dict[str, Queue] = {name: self}
            self._registered: set[str] = {DEFAULT_QUEUE}

    # --- queues -----------------------------------------------------------------------------

    def of(self, name: str) -> Queue:
        """The queue `name` on the same connections (InvalidInput for a bad name)."""
        root = self._root
        q = root._siblings.get(name)
        if q is None:
            check_queue_name(name)
            q = root._siblings[name] = Queue(self.settings, self.redis, name, _root=root)
        return q

    def holding(self, some_id: str) -> Queue:
        """The queue a job or workflow id belongs to."""
        name = queue_of(some_id)
        return self if name == self.name else self.of(name)

    def known_queues(self) -> list[str]:
        """The default queue and every queue a job was ever submitted to, by name."""
        names = self.read(lambda: self.redis.smembers(self.keys.queues), "queues")
        return [DEFAULT_QUEUE, *sorted(set(names) - {DEFAULT_QUEUE})]

    def register(self) -> None:
        """Add this queue to the deployment's list (once per process: the list only grows)."""
        root = self._root
        if self.name not in root._registered:
            self.read(lambda: self.redis.sadd(self.keys.queues, self.name), "queues")
            root._registered.add(self.name)

    def pause(self) -> None:
        """Jobs are still accepted; none is claimed until resume() (running ones finish)."""
        self.register()
        self.read(lambda: self.redis.set(self.keys.paused, "1"), "pause")

    def resume(self) -> None:
        def send() -> None:
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(self.keys.paused)
            pipe.zadd(self.keys.marker, {"w": 0})  # wake the workers blocked on this queue
            pipe.execute()

        self.read(send, "resume")

    def paused(self) -> bool:
        return bool(self.read(lambda: self.redis.exists(self.keys.paused), "paused"))

    def info(self) -> tuple[QueueInfo, QueueStats]:
        """This queue's depths and whether it is paused, and its stats: one read."""
        stats, paused, _ = self._stats()
        return QueueInfo.of(self.name, paused, stats), stats

    def detail(self) -> tuple[QueueInfo, QueueStats, QueueSettings]:
        """info() and this queue's settings: one read."""
        stats, paused, settings = self._stats()
        return QueueInfo.of(self.name, paused, stats), stats, settings

    def queue_settings(self) -> QueueSettings:
        h = self.read(lambda: self.redis.hgetall(self.keys.settings), "settings")
        return QueueSettings.from_hash(h)

    def configure(self, max_workers: int | None) -> QueueSettings:
        """Set this queue's settings (None clears max_workers); the queue becomes known."""
        max_workers = check_max_workers(max_workers)
        self.register()
        if max_workers is None:
            self.read(lambda: self.redis.hdel(self.keys.settings, "max_workers"), "settings")
        else:
            self.read(lambda: self.redis.hset(self.keys.settings, "max_workers", max_workers),
                      "settings")
        return QueueSettings(max_workers=max_workers)

    def stats_all(self) -> tuple[QueueStats, dict[str, QueueStats]]:
        """The totals over every known queue, and each queue's own stats."""
        each = {name: self.of(name).stats() for name in self.known_queues()}
        total = each[DEFAULT_QUEUE]
        for name, stats in each.items():
            if name != DEFAULT_QUEUE:
                total = add_stats(total, stats)
        return total, each

    def run(self, call: Call) -> Any:
        """Run one script call, riding through a failover (boltq_core.store.failover): a lost reply
        is resent only for IDEMPOTENT scripts; what cannot be done is StoreUnavailable."""
        script = self._scripts[call.script]
        return failover.call(lambda: script(keys=call.keys, args=call.args),
                             budget=self.settings.store_retry_seconds,
                             resend=call.script in IDEMPOTENT, what=call.script)

    def read(self, fn: Any, what: str = "read") -> Any:
        """Run `fn()`, a read (or another call that may be repeated), through a failover."""
        return failover.call(fn, budget=self.settings.store_retry_seconds, resend=True,
                             what=what)

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False

    # --- submit -----------------------------------------------------------------------------

    def submit(self, spec: JobSpec | dict[str, Any], trace: str | None = None) -> Submitted:
        """Submit one job; its status is readable at once."""
        return self.submit_many([spec], [trace])[0]

    def submit_many(
        self,
        items: Iterable[JobSpec | dict[str, Any]],
        traces: Sequence[str | None] | None = None,
        chunk: int = 500,
    ) -> list[Submitted]:
        """Submit many jobs, one script call per `chunk` jobs. Every job is checked before any
        is stored, so bad input stores nothing. Several chunks go pipelined (jobs.pipelined):
        each is built and sent while the store runs the one before it."""
        specs = parse_specs(items)
        if any(spec.queue != self.name for spec in specs):
            return self._submit_by_queue(specs, traces, chunk)
        checked = self.calls.check(specs)
        if self.name != DEFAULT_QUEUE:
            self.register()
        if len(specs) <= chunk:
            call, parse = self.calls.submit(self.calls.prepare(specs, traces, checked))
            return parse(self._store(call))

        def chunks() -> Iterator[tuple[Call, Callable[[Any], list[Submitted]]]]:
            for i in range(0, len(specs), chunk):
                part = slice(i, i + chunk)
                yield self.calls.submit(self.calls.prepare(
                    specs[part], traces[part] if traces else None, checked[part]))

        s = self.settings
        if s.submit_wait_replicas or s.submit_wait_aof:  # each chunk waits for its copies
            return [sub for call, parse in chunks() for sub in parse(self._store(call))]
        return submit_chunks(chunks(), self._scripts, self.redis, self._store)

    def _submit_by_queue(self, specs: list[JobSpec], traces: Sequence[str | None] | None,
                         chunk: int) -> list[Submitted]:
        """Jobs for several queues: each queue's part is one submit (its own slot); replies
        in the order given. Every job is checked before any is stored."""
        groups: dict[str, list[int]] = {}
        for i, spec in enumerate(specs):
            groups.setdefault(spec.queue, []).append(i)
        prepared = {}
        for name, idx in groups.items():
            sub_traces = [traces[i] for i in idx] if traces else None
            prepared[name] = self.of(name).calls.prepare([specs[i] for i in idx], sub_traces)
        out: list[Submitted | None] = [None] * len(specs)
        for name, idx in groups.items():
            q = self.of(name)
            if name != DEFAULT_QUEUE:
                q.register()
            part = prepared[name]
            for start in range(0, len(part), chunk):
                call, parse = q.calls.submit(part[start : start + chunk])
                for i, sub in zip(idx[start : start + chunk], parse(q._store(call)), strict=True):
                    out[i] = sub
        return [s for s in out if s is not None]

    def _store(self, call: Call) -> Any:
        """Run a submit; with durable submit on (SUBMIT_WAIT_REPLICAS, SUBMIT_WAIT_AOF), in
        the same round trip wait until the replicas / the append-only file have it, and refuse
        to acknowledge (StoreUnavailable) when they do not within SUBMIT_WAIT_TIMEOUT_MS."""
        s = self.settings
        if not (s.submit_wait_replicas or s.submit_wait_aof):
            return self.run(call)
        scripts = self._scripts

        def send() -> Any:
            scripts.ready()
            pipe = self.redis.pipeline(transaction=False)
            scripts.queue_in(pipe, call.script, call.keys, call.args)
            if s.submit_wait_replicas:
                pipe.execute_command("WAIT", s.submit_wait_replicas, s.submit_wait_timeout_ms)
            if s.submit_wait_aof:
                pipe.execute_command("WAITAOF", 1, 0, s.submit_wait_timeout_ms)
            replies = pipe.execute(raise_on_error=False)
            if lost(replies[0]):  # the server restarted empty: load the scripts again
                scripts.reload()
                return send()
            for r in replies:
                if isinstance(r, redis.ResponseError) and "appendonly" in str(r):
                    raise ConfigError("SUBMIT_WAIT_AOF needs a store with appendonly yes: "
                                      f"{r}") from r
                if isinstance(r, Exception):
                    raise r
            return replies

        replies = failover.call(send, budget=s.store_retry_seconds, resend=True, what="submit")
        waited = replies[1:]
        if s.submit_wait_replicas and int(waited.pop(0)) < s.submit_wait_replicas:
            raise StoreUnavailable(
                f"stored on the primary, but fewer than {s.submit_wait_replicas} replicas "
                f"confirmed it within {s.submit_wait_timeout_ms} ms (SUBMIT_WAIT_REPLICAS); "
                "submit again with the same idempotency_key to be sure it is kept once")
        if s.submit_wait_aof and int(waited.pop(0)[0]) < 1:
            raise StoreUnavailable(
                f"stored, but not written to the append-only file within "
                f"{s.submit_wait_timeout_ms} ms (SUBMIT_WAIT_AOF); submit again with the same "
                "idempotency_key to be sure it is kept once")
        return replies[0]

    # --- read -------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        key = self.holding(job_id).keys.job(job_id)
        h = self.read(lambda: self.redis.hgetall(key), "get")
        if not h:
            raise NotFound(f"job {job_id!r} not found")
        return Job.from_hash(h)

    def list_jobs(
        self,
        status: str | None = None,
        job_type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Job summaries (no data or result), newest first; at most 100 a page."""
        reply = self.run(self.calls.list_jobs(status, job_type, limit, cursor))
        return Page([JobSummary.from_hash(pairs(j)) for j in reply[1:]], reply[0] or None)

    def ready_depth(self) -> int:
        """Jobs ready to run now, all priorities, in groups or not, the recovering ones
        included."""

        def read() -> int:
            pipe = self.redis.pipeline(transaction=False)
            _read_ready(pipe, self.keys)
            return _ready_total(pipe.execute())

        return int(self.read(read, "ready depth"))

    def backlog(self) -> int:
        """ready_depth() summed over every known queue."""
        return sum(self.of(name).ready_depth() for name in self.known_queues())

    def backlogs(self) -> dict[str, tuple[int, int | None]]:
        """Every known queue's ready_depth() (0 while it is paused: nothing can be claimed)
        and max_workers (None: no cap), by name: one read a queue."""

        def read(k: Any) -> tuple[int, int | None]:
            pipe = self.redis.pipeline(transaction=False)
            _read_ready(pipe, k)
            pipe.exists(k.paused)
            pipe.hget(k.settings, "max_workers")
            *ready, paused, cap = pipe.execute()
            return 0 if paused else _ready_total(ready), int(cap) if cap else None

        out = {}
        for name in self.known_queues():
            keys = self.of(name).keys
            out[name] = self.read(lambda k=keys: read(k), "backlog")
        return out

    def stats(self) -> QueueStats:
        return self._stats()[0]

    def _stats(self) -> tuple[QueueStats, bool, QueueSettings]:
        """The stats, whether the queue is paused and its settings, from one pipelined read."""
        k = self.keys

        def read() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for p in range(3):
                pipe.llen(k.ready(p))
            for key in (k.scheduled, k.active, k.retrying, k.dlq, k.completed):
                pipe.zcard(key)
            pipe.hgetall(k.stats)
            pipe.llen(k.suspects)
            pipe.exists(k.paused)
            pipe.hgetall(k.settings)
            pipe.hmget(k.group_state, GROUP_READY)
            return list(pipe.execute())

        r = self.read(read, "stats")
        by_type: dict[str, dict[str, int]] = {}
        totals = dict.fromkeys(
            ("submitted", "completed", "failed", "cancelled", "retried", "requeued"), 0
        )
        by_prio = dict.fromkeys(PRIORITY_NAMES, 0)
        for c in counters(r[8]):
            if c.kind == "submitted":
                name = "submitted"
                by_prio[PRIORITY_NAMES[int(c.label)]] += c.value
            else:
                name = c.label if c.kind == "processed" else c.kind
            totals[name] = totals.get(name, 0) + c.value
            row = by_type.setdefault(c.type, {})
            row[name] = row.get(name, 0) + c.value
        ready = [r[p] + int(r[12][p] or 0) for p in range(3)]  # ungrouped + in groups
        return QueueStats(
            pending=dict(zip(PRIORITY_NAMES, ready, strict=True)),
            pending_total=sum(ready) + r[9],
            recovering=r[9],
            scheduled=r[3],
            running=r[4],
            retrying=r[5],
            dead_letter=r[6],
            completed_retained=r[7],
            totals=totals,
            by_type=by_type,
            submitted_by_priority=by_prio,
        ), bool(r[10]), QueueSettings.from_hash(r[11])

    # --- change -----------------------------------------------------------------------------

    def cancel(self, job_id: str) -> str:
        """Cancel a job: 'cancelled' at once, or 'running' when its worker was asked to stop."""
        q = self.holding(job_id)
        status, _changed = q.run(q.calls.cancel(job_id))
        if status == "missing":
            raise NotFound(f"job {job_id!r} not found")
        if status in ("completed", "failed", "cancelled") and not _changed:
            raise Conflict(f"job {job_id!r} is already {status}")
        return status

    def promote(self, limit: int = 1000, janitor_limit: int = 1000) -> PromoteResult:
        """Move due jobs to ready, recover expired leases, expire old finished jobs."""
        return PromoteResult(*(int(x) for x in self.run(self.calls.promote(limit, janitor_limit))))

    def promote_all(self, limit: int = 1000, janitor_limit: int = 1000) -> PromoteResult:
        """promote() on every known queue (a script call each: each queue is its own slot);
        the totals, and the earliest next wake of them all."""
        total = PromoteResult(0, 0, 0, -1)
        for name in self.known_queues():
            r = self.of(name).promote(limit, janitor_limit)
            total.promoted += r.promoted
            total.recovered += r.recovered
            total.expired += r.expired
            if r.next_wake_ms >= 0:
                total.next_wake_ms = (r.next_wake_ms if total.next_wake_ms < 0
                                      else min(total.next_wake_ms, r.next_wake_ms))
        return total

    # --- dead-letter queue ------------------------------------------------------------------

    def dlq_list(self, limit: int = 50, cursor: str | None = None) -> Page:
        """Dead letters (summaries: no data or result), most recent first; the cursor is an
        offset."""
        check_page(limit, cursor)
        start = int(cursor or 0)

        def read() -> tuple[list[str], list[Any]]:
            ids = self.redis.zrevrange(self.keys.dlq, start, start + limit - 1)
            pipe = self.redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self.keys.job(job_id), *SUMMARY_FIELDS)
            return ids, pipe.execute()

        ids, rows = self.read(read, "dead letters")
        jobs = [JobSummary.from_hash({k: v for k, v in zip(SUMMARY_FIELDS, row, strict=True)
                                      if v is not None})
                for row in rows if row[0] is not None]
        more = len(ids) == limit
        return Page(jobs, str(start + limit) if more else None)

    def dlq_get(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status != "failed":
            raise NotFound(f"job {job_id!r} is not in the dead-letter queue")
        return job

    def dlq_requeue(self, job_ids: Sequence[str]) -> list[str]:
        by_queue: dict[str, list[str]] = {}
        for job_id in job_ids:
            by_queue.setdefault(queue_of(job_id), []).append(job_id)
        done: list[str] = []
        for ids in by_queue.values():
            q = self.holding(ids[0])
            done += q.run(q.calls.dlq("requeue", ids))
        if len(job_ids) == 1 and not done:
            raise NotFound(f"job {job_ids[0]!r} is not in the dead-letter queue")
        return list(done)

    def dlq_requeue_all(self, batch: int = 1000) -> int:
        return self._dlq_drain("requeue_all", batch)

    def dlq_purge(self, batch: int = 1000) -> int:
        return self._dlq_drain("purge", batch)

    def _dlq_drain(self, mode: str, batch: int) -> int:
        total = 0
        while True:
            done = self.run(self.calls.dlq(mode, (), batch))
            total += len(done)
            if len(done) < batch:
                return total

    # --- events -----------------------------------------------------------------------------

    def events(
        self, after: str = "0-0", count: int = 100, block_ms: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        """State changes after stream id `after` (use '$' for only new ones), one per job:
        `count` stream entries, where a run of like changes in one call shares an entry and
        its id (jobs.event_log)."""
        reply = self.read(lambda: self.redis.xread({self.keys.events: after}, count=count,
                                                   block=block_ms), "events")
        if not reply:
            return []
        return expand(reply[0][1])

    def read_streams(
        self, after: dict[str, str], count: int = 100, block_ms: int | None = None
    ) -> dict[str, list[tuple[str, dict[str, str]]]]:
        """The events of several queues after their stream ids (queue -> id), one per job as
        `events` reads them, waiting up to `block_ms` for any: one XREAD on one server. A
        cluster cannot block across slots, so there each stream is read without blocking and
        the reads are repeated every CLUSTER_POLL_SECONDS until one returns events or the
        time is up."""
        keys = {self.of(name).keys.events: name for name in after}
        streams = {key: after[name] for key, name in keys.items()}
        if len(streams) == 1 or not isinstance(self.redis, RedisCluster):
            reply = self.read(lambda: self.redis.xread(streams, count=count, block=block_ms),
                              "events")
            return {keys[stream]: expand(events) for stream, events in reply or []}
        end = time.monotonic() + (block_ms or 0) / 1000
        while True:
            out = {}
            for key, since in streams.items():
                reply = self.read(lambda k=key, c=since: self.redis.xread({k: c}, count=count),
                                  "events")
                if reply:
                    out[keys[key]] = expand(reply[0][1])
            left = end - time.monotonic()
            if out or block_ms is None or left <= 0:
                return out
            time.sleep(min(left, CLUSTER_POLL_SECONDS))

    def stream_ends(self, names: Sequence[str]) -> dict[str, str]:
        """queue -> the last id of its events stream ("0-0" when it is empty)."""
        out = {}
        for name in names:
            key = self.of(name).keys.events
            last = self.read(lambda k=key: self.redis.xrevrange(k, count=1), "events")
            out[name] = last[0][0] if last else "0-0"
        return out


# --- one Queue per warm Lambda container ------------------------------------------------------

_shared: dict[str, Queue] = {}


def shared_queue() -> Queue:
    """The Queue for the current environment (config.shared_settings), kept across warm
    invocations; a new one (and connection pool) only when the settings changed."""
    settings = shared_settings()
    q = _shared.get("queue")
    if q is None or q.settings != settings:
        if q is not None:
            q.redis.close()
        q = _shared["queue"] = Queue(settings)
    return q
