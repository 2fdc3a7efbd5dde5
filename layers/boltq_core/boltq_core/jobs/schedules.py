"""Schedules (SPEC §12): cron and repeatable jobs, stored in the queue they submit to.

Python plans (croniter and zoneinfo, jobs.recurrence), the scripts carry the plan out: an
occurrence's job is made by one schedule_fire call that first checks the schedule is still as
it was read, with an id derived from the schedule and the occurrence time. So any number of
promoters may look at the same due schedule: one of them makes the job, the others' plans are
stale. `fire_due` is the promoter's part (duties.promotion calls it every pass): it looks at
the due schedules of every known queue.

Where a schedule lives: in its job's queue (`job.queue`, keys of that queue's hash tag), since
the script that makes an occurrence's job must reach the schedule and the queue in one slot.
The deployment keeps every name in Keys.schedules of the default queue (the list, by name) and,
for the schedules of named queues, name -> queue in Keys.schedule_queues: a call by name costs
one read more. A schedule saved into another queue than the one holding it moves, in steps
(one slot each, so not atomically): (1) the old one is paused (no occurrence after this; its
history is read), (2) the index names the new queue, (3) the new one is saved, carrying runs,
last run and pause over, its first run after the old one's last, (4) the old one is deleted.
At no step can both fire (the old one is paused before the new one exists), so an occurrence
still makes one job. A crash between steps leaves the old one paused (after 1), or the name
not found until it is saved again (after 2), or a paused left-over in the old queue that
nothing reads (after 3); saving it again completes the move. The promoter fires a schedule
only from the queue the index names (a left-over of two racing saves is taken out of its
queue's due set)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from boltq_core.errors import InvalidInput, NotFound
from boltq_core.jobs.calls import Call, check_page, invalid, new_ids
from boltq_core.jobs.models import encode_data, to_epoch_ms
from boltq_core.jobs.queue import Page, Queue
from boltq_core.jobs.recurrence import BadRecurrence, Recurrence
from boltq_core.jobs.schedule_model import (
    CatchUp,
    Occurrence,
    Schedule,
    ScheduleDetail,
    ScheduleSpec,
)
from boltq_core.keys import DEFAULT_QUEUE, in_queue
from boltq_core.timefmt import from_ms

log = logging.getLogger("boltq.schedules")
_ID_SPACE = uuid.UUID("5c4e0d1e-6b1a-4c8e-9a57-b01790e5c4ed")  # occurrence job ids (uuid5)
FIRE_LIMIT = 100  # occurrences one fire_due call makes at most (catch_up 'all' after downtime)


@dataclass(slots=True)
class Fired:
    made: int  # occurrence jobs made
    skipped: int  # occurrences passed over (catch_up 'skip')
    next_wake_ms: int  # the next schedule's next run, -1 = none


def occurrence_id(prefix: str, name: str, at_ms: int, queue: str = DEFAULT_QUEUE) -> str:
    """The job id of a schedule's occurrence: the same whoever computes it."""
    return in_queue(queue, str(uuid.uuid5(_ID_SPACE, f"{prefix}\x00{name}\x00{at_ms}")))


@dataclass(frozen=True, slots=True)
class Plan:
    """A stored schedule as the promoter plans with it."""

    spec: ScheduleSpec
    recurrence: Recurrence
    version: str
    next_ms: int | None

    @property
    def end_ms(self) -> int | None:
        return to_epoch_ms(self.spec.end_at) if self.spec.end_at else None

    def bounded(self, ms: int) -> int:
        """`ms`, or -1 past end_at."""
        end = self.end_ms
        return -1 if end is not None and ms > end else ms

    def following(self, after_ms: int) -> int:
        try:
            return self.bounded(self.recurrence.next_after(after_ms))
        except BadRecurrence:  # a cron that matches no date any more
            return -1


def _recurrence(spec: ScheduleSpec, anchor_ms: int) -> Recurrence:
    if spec.cron is not None:
        return Recurrence(spec.cron, spec.timezone)
    assert spec.every_seconds is not None
    return Recurrence(None, spec.timezone, spec.every_seconds * 1000, anchor_ms)


class Schedules:
    """Create, read, pause and fire the schedules of a deployment (each in its job's queue)."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue.of(DEFAULT_QUEUE)
        self.keys = self.queue.keys  # the deployment's
        self.settings = queue.settings

    # --- where ------------------------------------------------------------------------------

    def _where(self, name: str) -> Queue:
        """The queue holding schedule `name` (the default queue when the index names none)."""
        r = self.queue.redis
        held = self.queue.read(lambda: r.hget(self.keys.schedule_queues, name), "schedule")
        return self.queue.of(held) if held else self.queue

    def _index(self, name: str, queue: str) -> None:
        """The deployment's list and index say `name` is in `queue` (one transaction)."""
        def send() -> None:
            pipe = self.queue.redis.pipeline(transaction=True)
            if queue == DEFAULT_QUEUE:
                pipe.hdel(self.keys.schedule_queues, name)
            else:
                pipe.hset(self.keys.schedule_queues, name, queue)
            pipe.zadd(self.keys.schedules, {name: 0})
            pipe.execute()

        self.queue.read(send, "schedule index")

    # --- change -----------------------------------------------------------------------------

    def save(self, spec: ScheduleSpec | dict[str, Any]) -> tuple[str, int]:
        """Create or replace a schedule; its name and next run (ms, -1 = none). Saved into
        another queue than the one holding it, it moves (see the module's docstring)."""
        if not isinstance(spec, ScheduleSpec):
            try:
                spec = ScheduleSpec.model_validate(spec)
            except ValidationError as exc:
                raise invalid(exc) from None
        if (spec.cron is None) == (spec.every_seconds is None):
            raise InvalidInput("cron: give exactly one of cron and every_seconds",
                               [{"field": "cron"}, {"field": "every_seconds"}])
        start = to_epoch_ms(spec.start_at) if spec.start_at else None
        if spec.end_at and start is not None and to_epoch_ms(spec.end_at) <= start:
            raise InvalidInput("end_at: must be after start_at", [{"field": "end_at"}])
        encode_data(spec.job.data, self.settings.max_payload_bytes, "job.data")
        self.settings.job_timeout(spec.job.timeout_seconds, "job.timeout_seconds")
        now = int(time.time() * 1000)
        anchor = start if start is not None else now
        rec = _recurrence(spec, anchor)
        plan = Plan(spec, rec, "", None)
        try:
            first = plan.bounded(rec.next_after(max(now, anchor - 1)))
        except BadRecurrence as exc:
            where = "cron" if spec.start_at is None else "start_at"
            raise InvalidInput(f"{where}: {exc}", [{"field": where}]) from None
        q = self.queue.of(spec.job.queue)
        old = self._where(spec.name)
        carried = ""
        if old.name != q.name:  # a move: (1) pause the old one, read what it carries over
            carried, last = self._stop_old(old, spec.name)
            if first >= 0 and last is not None and first <= last:
                first = plan.following(last)
        if q.name != DEFAULT_QUEUE:
            q.register()  # the promoter looks at its schedules, and wakes on its events
        if q.name != DEFAULT_QUEUE or old.name != q.name:
            self._index(spec.name, q.name)  # (2)
        stored = {**spec.model_dump(mode="json"), "anchor_ms": anchor}
        k = q.keys
        reply = q.run(q.calls.call(  # (3)
            "schedule_save", [k.schedule(spec.name), k.schedules, k.schedules_due],
            [spec.name, json.dumps(stored, separators=(",", ":")), first, carried]))
        if old.name != q.name:
            self._drop(old, spec.name)  # (4)
        return spec.name, int(reply[0])

    def _stop_old(self, old: Queue, name: str) -> tuple[str, int | None]:
        """A moving schedule's old copy paused (no occurrence after this); what the new one
        carries over ("runs:last:paused", or '' when there is no old one) and its last run."""
        k, r = old.keys, old.redis
        before = old.read(lambda: r.hmget(k.schedule(name), "paused", "spec"), "schedule")
        if before[1] is None:
            return "", None
        old.run(old.calls.call("schedule_pause", [k.schedule(name), k.schedules_due],
                               [name, "1", -1]))
        runs, last = old.read(lambda: r.hmget(k.schedule(name), "runs", "last"), "schedule")
        paused = "1" if before[0] == "1" else "0"
        return f"{int(runs or 0)}:{last or ''}:{paused}", int(last) if last else None

    def _drop(self, old: Queue, name: str) -> None:
        """Delete a moved schedule's old copy (in its queue's slot; the deployment's list of
        names, in the default queue's, keeps the name)."""
        k = old.keys

        def send() -> None:
            pipe = old.redis.pipeline(transaction=True)
            pipe.delete(k.schedule(name), k.schedule_recent(name))
            pipe.zrem(k.schedules_due, name)
            if old.name != DEFAULT_QUEUE:
                pipe.zrem(k.schedules, name)
            pipe.execute()

        old.read(send, "schedule delete")

    def delete(self, name: str) -> None:
        q = self._where(name)
        k = q.keys
        call = Call("schedule_delete", [k.schedule(name), k.schedule_recent(name), k.schedules,
                                        k.schedules_due], [name])
        found = q.run(call)
        if q.name != DEFAULT_QUEUE:  # the deployment's list and index
            def send() -> None:
                pipe = self.queue.redis.pipeline(transaction=True)
                pipe.hdel(self.keys.schedule_queues, name)
                pipe.zrem(self.keys.schedules, name)
                pipe.execute()

            self.queue.read(send, "schedule index")
        if not found:
            raise NotFound(f"schedule {name!r} not found")

    def pause(self, name: str) -> None:
        self._pause(self._where(name), name, True, -1)

    def resume(self, name: str) -> int:
        """Resume from now (what fell in the pause is not caught up); the next run ms."""
        q = self._where(name)
        plan = self._plan(self._hash(q, name))
        return self._pause(q, name, False, plan.following(int(time.time() * 1000)))

    def _pause(self, q: Queue, name: str, pause: bool, nxt: int) -> int:
        k = q.keys
        found, after = q.run(q.calls.call(
            "schedule_pause", [k.schedule(name), k.schedules_due],
            [name, "1" if pause else "0", nxt]))
        if not found:
            raise NotFound(f"schedule {name!r} not found")
        return int(after)

    def trigger(self, name: str) -> tuple[str, str]:
        """Run it once now (its plan unchanged): the job's id and status."""
        q = self._where(name)
        plan = self._plan(self._hash(q, name))
        job_id = in_queue(q.name, new_ids(1)[0])
        status = self._fire(q, plan, "trigger", 0, -1, job_id)[1]
        if status == "missing":
            raise NotFound(f"schedule {name!r} not found")
        return job_id, status

    # --- the promoter's part ----------------------------------------------------------------

    def fire_due(self, now_ms: int | None = None, limit: int = FIRE_LIMIT) -> Fired:
        """Make the jobs of the occurrences due by `now_ms` (default: now) in every known
        queue, each once, as each schedule's catch_up says for the ones missed; the next due
        moment. At most `limit` a queue."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        total = Fired(0, 0, -1)
        for name in self.queue.known_queues():
            f = self._fire_queue(self.queue.of(name), now, limit)
            total.made += f.made
            total.skipped += f.skipped
            if f.next_wake_ms >= 0:
                total.next_wake_ms = (f.next_wake_ms if total.next_wake_ms < 0
                                      else min(total.next_wake_ms, f.next_wake_ms))
        return total

    def _fire_queue(self, q: Queue, now: int, limit: int) -> Fired:
        k, r = q.keys, q.redis
        first = q.read(lambda: r.zrange(k.schedules_due, 0, limit - 1, withscores=True),
                       "schedules due")
        due = [name for name, score in first if score <= now]
        made = skipped = 0
        if due:
            due = self._held_here(q, due)
            hashes = q.read(lambda: self._hashes(q, due), "schedules")
            budget = limit
            for name, h in zip(due, hashes, strict=True):
                if budget <= 0:
                    break
                try:
                    plan = self._plan(h)
                except (ValueError, KeyError) as exc:  # one unreadable schedule stops no other
                    # out of the due set, or the promoter would wake for it again at once
                    log.error("schedule %r cannot be read; it is not run: %s", name, exc)
                    q.read(lambda n=name: r.zrem(k.schedules_due, n), "schedules due")
                    continue
                m, s = self._fire_one(q, plan, now, budget)
                made, skipped, budget = made + m, skipped + s, budget - m - s
            first = q.read(lambda: r.zrange(k.schedules_due, 0, 0, withscores=True),
                           "schedules due")
        return Fired(made, skipped, int(first[0][1]) if first else -1)

    def _held_here(self, q: Queue, names: list[str]) -> list[str]:
        """The names the index places in `q`; any other is a left-over (two saves moving it
        at once) and leaves the due set, so it never fires."""
        where = self.queue.read(lambda: self.queue.redis.hmget(self.keys.schedule_queues, names),
                                "schedule index")
        here = [n for n, w in zip(names, where, strict=True) if (w or DEFAULT_QUEUE) == q.name]
        gone = sorted(set(names) - set(here))
        if gone:
            log.warning("schedules %s in queue %r are left-overs of a move; not run", gone,
                        q.name)
            q.read(lambda: q.redis.zrem(q.keys.schedules_due, *gone), "schedules due")
        return here

    def _fire_one(self, q: Queue, plan: Plan, now: int, budget: int) -> tuple[int, int]:
        """One due schedule: (jobs made, occurrences skipped)."""
        occ = plan.next_ms
        if occ is None or occ > now:
            return 0, 0
        spec, rec = plan.spec, plan.recurrence
        prefix = self.keys.prefix
        if spec.catch_up is CatchUp.ALL:  # every occurrence, oldest first, while it stays ours
            made = 0
            while occ is not None and 0 <= occ <= now and made < budget:
                nxt = plan.following(occ)
                ok, status, _ = self._fire(q, plan, "due", occ, nxt,
                                           occurrence_id(prefix, spec.name, occ, q.name))
                if status == "stale" or status == "missing":
                    break
                made += ok
                plan = Plan(spec, rec, plan.version, nxt)
                occ = nxt
            return made, 0
        end = plan.end_ms
        latest = rec.latest_until(occ, now if end is None else min(now, end))
        nxt = plan.following(now)
        on_time = now - latest <= self.settings.schedule_grace_seconds * 1000
        if spec.catch_up is CatchUp.SKIP and not on_time:
            status = self._fire(q, plan, "skip", occ, nxt, "")[1]
            return 0, int(status == "skipped")
        ok, _, _ = self._fire(q, plan, "due", occ, nxt,
                              occurrence_id(prefix, spec.name, latest, q.name), latest)
        return ok, 0

    def _fire(self, q: Queue, plan: Plan, mode: str, occ: int, following: int, job_id: str,
              at_ms: int | None = None) -> tuple[int, str, int]:
        """One schedule_fire call in the schedule's queue `q`; `at_ms` is the occurrence the
        job is made for when it is not `occ` (catch_up 'one' and 'skip' after downtime: the
        latest missed one)."""
        s, k, spec = self.settings, q.keys, plan.spec
        job = spec.job
        # checked when saved; settings lowered since then cap the timeout and let the data be,
        # so the promoter never stalls on one schedule
        timeout = min(job.timeout_seconds or s.default_timeout_seconds, s.max_timeout_seconds)
        meta = f"{job.priority}:{job.max_attempts or s.max_attempts}:{timeout}"
        if job.group:
            meta += ":" + job.group
        data = json.dumps(job.data, separators=(",", ":"), ensure_ascii=False)
        name = spec.name
        reply = q.run(q.calls.call(
            "schedule_fire",
            [k.schedule(name), k.schedules_due, k.schedule_recent(name), k.job(job_id)],
            [mode, plan.version, occ, following, spec.max_runs or 0, s.schedule_history,
             job_id, job.type, data, meta, name, at_ms if at_ms is not None else occ]))
        return int(reply[0]), str(reply[1]), int(reply[2])

    # --- read -------------------------------------------------------------------------------

    @staticmethod
    def _hashes(q: Queue, names: list[str]) -> list[dict[str, str]]:
        pipe = q.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(q.keys.schedule(name))
        return list(pipe.execute())

    @staticmethod
    def _hash(q: Queue, name: str) -> dict[str, str]:
        h = q.read(lambda: q.redis.hgetall(q.keys.schedule(name)), "schedule")
        if not h:
            raise NotFound(f"schedule {name!r} not found")
        return dict(h)

    @staticmethod
    def _plan(h: dict[str, str]) -> Plan:
        stored = json.loads(h["spec"])
        anchor = int(stored.pop("anchor_ms"))
        spec = ScheduleSpec.model_validate(stored)
        nxt = int(h["next"]) if h.get("next") else None
        return Plan(spec, _recurrence(spec, anchor), h.get("ver", ""), nxt)

    @staticmethod
    def _public(h: dict[str, str]) -> dict[str, Any]:
        stored = json.loads(h["spec"])
        stored.pop("anchor_ms", None)
        return {**stored, "paused": h.get("paused") == "1", "runs": int(h.get("runs") or 0),
                "next_run_at": from_ms(h.get("next")), "last_run_at": from_ms(h.get("last")),
                "created_at": from_ms(h.get("created")), "updated_at": from_ms(h.get("updated"))}

    def get(self, name: str) -> ScheduleDetail:
        q = self._where(name)
        h = self._hash(q, name)
        raw = q.read(lambda: q.redis.lrange(q.keys.schedule_recent(name), 0, -1),
                     "schedule history")
        recent = []
        for entry in raw:
            at, _, rest = entry.partition(":")
            triggered = rest.endswith(":t")  # a job id ends with its uuid ("<queue>:<uuid>")
            job_id = rest[:-2] if triggered else rest
            recent.append(Occurrence(scheduled_for=from_ms(at), job_id=job_id,  # type: ignore
                                     triggered=triggered))
        return ScheduleDetail.model_validate({**self._public(h), "recent": recent})

    def list(self, limit: int = 50, cursor: str | None = None) -> Page:
        """Schedules by name, of every queue; the cursor is an offset."""
        check_page(limit, cursor)
        start = int(cursor or 0)
        r, k = self.queue.redis, self.keys

        def read() -> tuple[list[str], list[dict[str, str]]]:
            names = r.zrange(k.schedules, start, start + limit - 1)
            where = r.hmget(k.schedule_queues, names) if names else []
            pipe = r.pipeline(transaction=False)
            for name, held in zip(names, where, strict=True):
                pipe.hgetall(self.queue.of(held or DEFAULT_QUEUE).keys.schedule(name))
            return names, list(pipe.execute())

        names, hashes = self.queue.read(read, "schedules")
        items = [Schedule.model_validate(self._public(h)) for h in hashes if h]
        return Page(items, str(start + limit) if len(names) == limit else None)
