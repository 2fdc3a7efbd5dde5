"""The job model (SPEC §2): what clients submit (JobSpec) and what they read back (Job)."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from boltq_core.errors import InvalidInput, PayloadTooLarge
from boltq_core.keys import DEFAULT_QUEUE, QUEUE_PATTERN, queue_of
from boltq_core.timefmt import from_ms


class Priority(IntEnum):
    HIGH = 0
    NORMAL = 1
    LOW = 2


PRIORITY_NAMES = ("high", "normal", "low")  # by level: 0, 1, 2
_PRIORITY_NAMES = {**{n: i for i, n in enumerate(PRIORITY_NAMES)}, "0": 0, "1": 1, "2": 2}
PRIORITY_ERROR = "must be 0, 1, 2, 'high', 'normal' or 'low'"


def parse_priority(value: Any) -> int:
    """0/1/2 or "high"/"normal"/"low" -> 0/1/2; anything else is a ValueError."""
    if isinstance(value, bool):
        raise ValueError(PRIORITY_ERROR)
    if isinstance(value, int) and value in (0, 1, 2):
        return value
    if isinstance(value, str) and value.strip().lower() in _PRIORITY_NAMES:
        return _PRIORITY_NAMES[value.strip().lower()]
    raise ValueError(PRIORITY_ERROR)


PriorityField = Annotated[int, BeforeValidator(parse_priority)]
JOB_TYPE_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
GROUP_PATTERN = r"^[A-Za-z0-9_.:@/-]{1,128}$"  # a tenant, a user, a downstream API (SPEC §13)
MAX_DELAY_SECONDS = 366 * 86400  # the furthest ahead a job may be scheduled (delay or run_at)


class JobStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobSpec(BaseModel):
    """A job as submitted. Unknown fields are rejected so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: str = Field(min_length=1, max_length=128, pattern=JOB_TYPE_PATTERN)
    queue: str = Field(DEFAULT_QUEUE, pattern=QUEUE_PATTERN)
    group: str | None = Field(None, pattern=GROUP_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict)
    priority: PriorityField = 1
    delay_seconds: float = Field(0, ge=0, le=MAX_DELAY_SECONDS)
    run_at: datetime | None = None
    max_attempts: int | None = Field(None, ge=1, le=100)
    timeout_seconds: int | None = Field(None, ge=1)
    idempotency_key: str | None = Field(None, min_length=1, max_length=256)

    @field_validator("delay_seconds")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number of seconds")
        return v

    @field_validator("run_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        if v.timestamp() > time.time() + MAX_DELAY_SECONDS:
            raise ValueError(f"must be at most {MAX_DELAY_SECONDS // 86400} days ahead")
        return v


class ErrorInfo(BaseModel):
    model_config = ConfigDict(defer_build=True)

    category: str
    message: str


class JobSummary(BaseModel):
    """A job as lists show it: everything but its data, result and parents' results, so a page
    stays small whatever the jobs carry. Times are ISO-8601 UTC."""

    model_config = ConfigDict(defer_build=True)

    id: str
    type: str
    queue: str = DEFAULT_QUEUE
    group: str | None = None
    priority: int
    status: str
    attempts: int
    max_attempts: int
    timeout_seconds: int
    created_at: datetime
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: ErrorInfo | None = None
    progress: Any = None
    workflow_id: str | None = None
    step_id: str | None = None
    idempotency_key: str | None = None
    cancel_requested: bool = False
    schedule: str | None = Field(None, description="the schedule that made it (SPEC §12)")
    scheduled_for: datetime | None = Field(None, description="its schedule's occurrence time")

    @staticmethod
    def _fields(h: dict[str, str]) -> dict[str, Any]:
        def ms(name: str) -> datetime | None:
            return from_ms(h.get(name))

        err = None
        if h.get("err_cat"):
            err = ErrorInfo(category=h["err_cat"], message=h.get("err_msg", ""))
        progress = h.get("progress")
        return {
            "id": h["id"],
            "type": h["type"],
            "queue": queue_of(h["id"]),
            "group": h.get("group"),
            "priority": int(h["priority"]),
            "status": h["status"],
            "attempts": int(h["attempts"]),
            "max_attempts": int(h["max_attempts"]),
            "timeout_seconds": int(h["timeout"]),
            "created_at": ms("created"),
            "scheduled_at": ms("scheduled"),
            "started_at": ms("started"),
            "finished_at": ms("finished"),
            "last_error": err,
            "progress": json.loads(progress) if progress is not None else None,
            "workflow_id": h.get("wf"),
            "step_id": h.get("step"),
            "idempotency_key": h.get("idem"),
            "cancel_requested": h.get("cancel") == "1",
            "schedule": h.get("sched"),
            "scheduled_for": ms("sfor"),
        }

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> JobSummary:
        """Build it from the job's Redis hash (or the summary fields list_jobs reads)."""
        return cls.model_construct(**cls._fields(h))

    def public(self) -> dict[str, Any]:
        """The JSON shape clients see (SPEC §2)."""
        return self.model_dump(mode="json", exclude_none=False)


class Job(JobSummary):
    """A job as stored and read back, with its data and result."""

    data: dict[str, Any]
    result: Any = None
    parent_results: dict[str, Any] | None = None
    trace_context: str | None = Field(None, exclude=True)

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Job:
        """Build a Job from its Redis hash (str keys and values)."""

        def js(name: str) -> Any:
            v = h.get(name)
            return json.loads(v) if v is not None else None

        return cls.model_construct(
            **cls._fields(h), data=js("data") or {}, result=js("result"),
            parent_results=js("parents"), trace_context=h.get("trace"))


class QueueStats(BaseModel):
    """Queue depths now and totals since the namespace was created."""

    model_config = ConfigDict(defer_build=True)

    pending: dict[str, int]  # per priority name: high / normal / low
    pending_total: int  # ready to run now, the recovering ones included
    recovering: int  # ready again after their worker was lost; each runs alone next
    scheduled: int
    running: int
    retrying: int
    dead_letter: int
    completed_retained: int
    totals: dict[str, int]  # submitted / completed / failed / cancelled / retried / requeued
    by_type: dict[str, dict[str, int]]
    submitted_by_priority: dict[str, int]


# one encoder: json.dumps with non-default options builds a new one per call (slow in bulk)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_data(data: dict[str, Any], limit: int, field: str = "data") -> str:
    """JSON-encode a job's data, enforcing the payload cap."""
    if not data:  # the encoder's set-up costs more than the rest of a small submit
        return "{}"
    try:
        raw = _ENCODER.encode(data)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field}: not JSON-serialisable ({exc})", [{"field": field}]) from None
    # a str of n characters is at most 4n bytes in UTF-8: most payloads need no count
    if len(raw) * 4 <= limit:
        return raw
    size = len(raw.encode())
    if size > limit:
        raise PayloadTooLarge(
            f"{field} is {size} bytes; the limit is {limit} bytes (MAX_PAYLOAD_BYTES)",
            [{"field": field, "size": size, "limit": limit}],
        )
    return raw


def to_epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class QueueInfo(BaseModel):
    """One queue as GET /api/v1/queues lists it: its depths now and whether it is paused."""

    model_config = ConfigDict(defer_build=True)

    name: str
    paused: bool
    pending: int  # ready to run now, the recovering ones included
    running: int
    scheduled: int
    retrying: int
    dead_letter: int

    @classmethod
    def of(cls, name: str, paused: bool, stats: QueueStats) -> QueueInfo:
        return cls(name=name, paused=paused, pending=stats.pending_total, running=stats.running,
                   scheduled=stats.scheduled, retrying=stats.retrying,
                   dead_letter=stats.dead_letter)


def add_stats(total: QueueStats, more: QueueStats) -> QueueStats:
    """Two queues' stats summed (GET /api/v1/queues/stats: totals over every queue)."""
    def add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = add(out.get(k, {}), v) if isinstance(v, dict) else out.get(k, 0) + v
        return out

    return QueueStats(**add(total.model_dump(), more.model_dump()))
