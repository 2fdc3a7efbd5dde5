"""The schedule model (SPEC §12): what clients send (ScheduleSpec) and read back (Schedule)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from boltq_core.jobs.models import GROUP_PATTERN, JOB_TYPE_PATTERN, PriorityField
from boltq_core.jobs.recurrence import MAX_PERIOD_SECONDS, BadRecurrence, check_cron, zone
from boltq_core.keys import DEFAULT_QUEUE, QUEUE_PATTERN

SCHEDULE_NAME_PATTERN = JOB_TYPE_PATTERN
MAX_RUNS = 10**9


class CatchUp(StrEnum):
    """What the occurrences missed while nothing ran (every promoter down) become."""

    SKIP = "skip"  # none: the next one on time runs
    ONE = "one"  # one job, for the latest missed occurrence
    ALL = "all"  # one job per missed occurrence, oldest first


def _aware(v: datetime | None) -> datetime | None:
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


class ScheduleJob(BaseModel):
    """The job each occurrence submits: a job as for POST /api/v1/jobs (the same fields, the
    same checks) but for when it runs (delay_seconds, run_at: the schedule's) and
    idempotency_key (each occurrence is made once anyway). The schedule is stored in its
    job's queue (jobs.schedules)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: str = Field(min_length=1, max_length=128, pattern=JOB_TYPE_PATTERN)
    queue: str = Field(DEFAULT_QUEUE, pattern=QUEUE_PATTERN,
                       description="the queue the occurrences' jobs go to")
    group: str | None = Field(None, pattern=GROUP_PATTERN,
                              description="the group the occurrences' jobs belong to (SPEC §13)")
    data: dict[str, Any] = Field(default_factory=dict)
    priority: PriorityField = 1
    max_attempts: int | None = Field(None, ge=1, le=100)
    timeout_seconds: int | None = Field(None, ge=1)


class ScheduleSpec(BaseModel):
    """A schedule as submitted: `cron` or `every_seconds` (exactly one; Schedules.save checks
    it), the job each occurrence submits, and its bounds."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=128, pattern=SCHEDULE_NAME_PATTERN)
    cron: str | None = Field(None, min_length=1, max_length=256,
                             description="5 fields (minute hour day month weekday), or 6 with "
                                         "seconds first")
    every_seconds: int | None = Field(None, ge=1, le=MAX_PERIOD_SECONDS)
    timezone: str = Field("UTC", min_length=1, max_length=64,
                          description="IANA time zone the cron expression is read in")
    job: ScheduleJob
    start_at: datetime | None = Field(None, description="no occurrence before this")
    end_at: datetime | None = Field(None, description="no occurrence after this")
    max_runs: int | None = Field(None, ge=1, le=MAX_RUNS)
    catch_up: CatchUp = CatchUp.ONE

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return check_cron(v)
        except BadRecurrence as exc:
            raise ValueError(str(exc)) from None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            zone(v)
        except BadRecurrence as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("start_at", "end_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return _aware(v)


class Schedule(BaseModel):
    """A schedule as stored and read back. Times are ISO-8601 UTC."""

    model_config = ConfigDict(defer_build=True)

    name: str
    cron: str | None
    every_seconds: int | None
    timezone: str
    job: ScheduleJob
    start_at: datetime | None
    end_at: datetime | None
    max_runs: int | None
    catch_up: CatchUp
    paused: bool
    runs: int = Field(ge=0, description="occurrences that made a job (trigger not counted)")
    next_run_at: datetime | None = Field(description="null when paused or finished")
    last_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Occurrence(BaseModel):
    model_config = ConfigDict(defer_build=True)

    scheduled_for: datetime
    job_id: str
    triggered: bool = Field(description="made by trigger, not by the schedule")


class ScheduleDetail(Schedule):
    recent: list[Occurrence] = Field(description="the latest occurrences, newest first")
