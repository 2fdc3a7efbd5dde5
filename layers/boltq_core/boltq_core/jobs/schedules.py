"""Schedules (SPEC §12): cron and repeatable jobs, stored in the namespace they submit to.

Python plans (croniter and zoneinfo, jobs.recurrence), the scripts carry the plan out: an
occurrence's job is made by one schedule_fire call that first checks the schedule is still as
it was read, with an id derived from the schedule and the occurrence time. So any number of
promoters may look at the same due schedule: one of them makes the job, the others' plans are
stale. `fire_due` is the promoter's part (duties.promotion calls it every pass)."""

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
from boltq_core.timefmt import from_ms

log = logging.getLogger("boltq.schedules")
_ID_SPACE = uuid.UUID("5c4e0d1e-6b1a-4c8e-9a57-b01790e5c4ed")  # occurrence job ids (uuid5)
FIRE_LIMIT = 100  # occurrences one fire_due call makes at most (catch_up 'all' after downtime)


@dataclass(slots=True)
class Fired:
    made: int  # occurrence jobs made
    skipped: int  # occurrences passed over (catch_up 'skip')
    next_wake_ms: int  # the next schedule's next run, -1 = none


def occurrence_id(prefix: str, name: str, at_ms: int) -> str:
    """The job id of a schedule's occurrence: the same whoever computes it."""
    return str(uuid.uuid5(_ID_SPACE, f"{prefix}\x00{name}\x00{at_ms}"))


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
    """Create, read, pause and fire the schedules of one namespace."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self.keys = queue.keys
        self.settings = queue.settings

    # --- change -----------------------------------------------------------------------------

    def save(self, spec: ScheduleSpec | dict[str, Any]) -> tuple[str, int]:
        """Create or replace a schedule; its name and next run (ms, -1 = none)."""
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
        stored = {**spec.model_dump(mode="json"), "anchor_ms": anchor}
        k = self.keys
        reply = self.queue.run(self.queue.calls.call(
            "schedule_save", [k.schedule(spec.name), k.schedules, k.schedules_due],
            [spec.name, json.dumps(stored, separators=(",", ":")), first]))
        return spec.name, int(reply[0])

    def delete(self, name: str) -> None:
        k = self.keys
        call = Call("schedule_delete", [k.schedule(name), k.schedule_recent(name), k.schedules,
                                        k.schedules_due], [name])
        if not self.queue.run(call):
            raise NotFound(f"schedule {name!r} not found")

    def pause(self, name: str) -> None:
        self._pause(name, True, -1)

    def resume(self, name: str) -> int:
        """Resume from now (what fell in the pause is not caught up); the next run ms."""
        plan = self._plan(self._hash(name))
        return self._pause(name, False, plan.following(int(time.time() * 1000)))

    def _pause(self, name: str, pause: bool, nxt: int) -> int:
        k = self.keys
        found, after = self.queue.run(self.queue.calls.call(
            "schedule_pause", [k.schedule(name), k.schedules_due],
            [name, "1" if pause else "0", nxt]))
        if not found:
            raise NotFound(f"schedule {name!r} not found")
        return int(after)

    def trigger(self, name: str) -> tuple[str, str]:
        """Run it once now (its plan unchanged): the job's id and status."""
        plan = self._plan(self._hash(name))
        job_id = new_ids(1)[0]
        status = self._fire(plan, "trigger", 0, -1, job_id)[1]
        if status == "missing":
            raise NotFound(f"schedule {name!r} not found")
        return job_id, status

    # --- the promoter's part ----------------------------------------------------------------

    def fire_due(self, now_ms: int | None = None, limit: int = FIRE_LIMIT) -> Fired:
        """Make the jobs of the occurrences due by `now_ms` (default: now), each once, as
        each schedule's catch_up says for the ones missed; the next due moment."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        k, r = self.keys, self.queue.redis
        first = self.queue.read(lambda: r.zrange(k.schedules_due, 0, limit - 1,
                                                 withscores=True), "schedules due")
        due = [name for name, score in first if score <= now]
        made = skipped = 0
        if due:
            hashes = self.queue.read(lambda: self._hashes(due), "schedules")
            budget = limit
            for name, h in zip(due, hashes, strict=True):
                if budget <= 0:
                    break
                try:
                    plan = self._plan(h)
                except (ValueError, KeyError) as exc:  # one unreadable schedule stops no other
                    # out of the due set, or the promoter would wake for it again at once
                    log.error("schedule %r cannot be read; it is not run: %s", name, exc)
                    self.queue.read(lambda n=name: r.zrem(k.schedules_due, n), "schedules due")
                    continue
                m, s = self._fire_one(plan, now, budget)
                made, skipped, budget = made + m, skipped + s, budget - m - s
            first = self.queue.read(lambda: r.zrange(k.schedules_due, 0, 0, withscores=True),
                                    "schedules due")
        return Fired(made, skipped, int(first[0][1]) if first else -1)

    def _fire_one(self, plan: Plan, now: int, budget: int) -> tuple[int, int]:
        """One due schedule: (jobs made, occurrences skipped)."""
        occ = plan.next_ms
        if occ is None or occ > now:
            return 0, 0
        spec, rec = plan.spec, plan.recurrence
        if spec.catch_up is CatchUp.ALL:  # every occurrence, oldest first, while it stays ours
            made = 0
            while occ is not None and 0 <= occ <= now and made < budget:
                nxt = plan.following(occ)
                ok, status, _ = self._fire(plan, "due", occ, nxt,
                                           occurrence_id(self.keys.prefix, spec.name, occ))
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
            status = self._fire(plan, "skip", occ, nxt, "")[1]
            return 0, int(status == "skipped")
        ok, _, _ = self._fire(plan, "due", occ, nxt,
                              occurrence_id(self.keys.prefix, spec.name, latest), latest)
        return ok, 0

    def _fire(self, plan: Plan, mode: str, occ: int, following: int, job_id: str,
              at_ms: int | None = None) -> tuple[int, str, int]:
        """One schedule_fire call; `at_ms` is the occurrence the job is made for when it is
        not `occ` (catch_up 'one' and 'skip' after downtime: the latest missed one)."""
        s, k, spec = self.settings, self.keys, plan.spec
        job = spec.job
        # checked when saved; settings lowered since then cap the timeout and let the data be,
        # so the promoter never stalls on one schedule
        timeout = min(job.timeout_seconds or s.default_timeout_seconds, s.max_timeout_seconds)
        meta = f"{job.priority}:{job.max_attempts or s.max_attempts}:{timeout}"
        data = json.dumps(job.data, separators=(",", ":"), ensure_ascii=False)
        name = spec.name
        reply = self.queue.run(self.queue.calls.call(
            "schedule_fire",
            [k.schedule(name), k.schedules_due, k.schedule_recent(name), k.job(job_id)],
            [mode, plan.version, occ, following, spec.max_runs or 0, s.schedule_history,
             job_id, job.type, data, meta, name, at_ms if at_ms is not None else occ]))
        return int(reply[0]), str(reply[1]), int(reply[2])

    # --- read -------------------------------------------------------------------------------

    def _hashes(self, names: list[str]) -> list[dict[str, str]]:
        pipe = self.queue.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self.keys.schedule(name))
        return list(pipe.execute())

    def _hash(self, name: str) -> dict[str, str]:
        h = self.queue.read(lambda: self.queue.redis.hgetall(self.keys.schedule(name)),
                            "schedule")
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
        h = self._hash(name)
        raw = self.queue.read(lambda: self.queue.redis.lrange(self.keys.schedule_recent(name),
                                                              0, -1), "schedule history")
        recent = []
        for entry in raw:
            at, _, rest = entry.partition(":")
            job_id, _, flag = rest.partition(":")
            recent.append(Occurrence(scheduled_for=from_ms(at), job_id=job_id,  # type: ignore
                                     triggered=flag == "t"))
        return ScheduleDetail.model_validate({**self._public(h), "recent": recent})

    def list(self, limit: int = 50, cursor: str | None = None) -> Page:
        """Schedules by name; the cursor is an offset."""
        check_page(limit, cursor)
        start = int(cursor or 0)
        r = self.queue.redis

        def read() -> tuple[list[str], list[dict[str, str]]]:
            names = r.zrange(self.keys.schedules, start, start + limit - 1)
            return names, self._hashes(names)

        names, hashes = self.queue.read(read, "schedules")
        items = [Schedule.model_validate(self._public(h)) for h in hashes if h]
        return Page(items, str(start + limit) if len(names) == limit else None)
