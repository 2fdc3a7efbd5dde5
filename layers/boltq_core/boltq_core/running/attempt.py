"""The vocabulary of one attempt at a job, shared by the runner and everything that hangs off it
(metrics, tracing, logs): the job as a claim returned it (Claimed), what its processor gets
(JobContext), how the attempt ended (Outcome, with an OutcomeKind), and the hooks around it
(RunnerHooks). Hooks depend on this module, never on the runner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boltq_core.errors import ErrorCategory, JobCancelled

if TYPE_CHECKING:
    from boltq_core.jobs.models import Job


@dataclass(slots=True)
class Claimed:
    """A job as claimed by a worker: the raw hash, decoded lazily."""

    fields: dict[str, str]

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def type(self) -> str:
        return self.fields["type"]

    @property
    def attempt(self) -> int:
        return int(self.fields["attempts"])

    @property
    def max_attempts(self) -> int:
        return int(self.fields["max_attempts"])

    @property
    def timeout(self) -> float:
        return float(self.fields["timeout"])

    @property
    def solo(self) -> bool:
        """Leased alone (a suspect after a lost lease): its runner claims nothing beside it."""
        return self.fields.get("solo") == "1"

    @property
    def type_label(self) -> str:
        """The job type as metrics name it: 'other' past the cap on distinct types."""
        return self.fields.get("tl") or self.fields["type"]

    @property
    def queued_ms(self) -> tuple[int, int] | None:
        """(became ready, started) in epoch ms for this claim: ready is the latest of created,
        the due moment of a delayed job and a dead-letter requeue; None if not recorded."""
        f = self.fields
        if "started" not in f or "created" not in f:
            return None
        ready = max(int(f["created"]), int(f.get("scheduled") or 0), int(f.get("requeued") or 0))
        return ready, max(ready, int(f["started"]))


@dataclass(slots=True, frozen=True)
class ClaimReply:
    next_wake_ms: int  # the earliest moment something becomes due, -1 for none
    drain: bool  # finish what you hold, then claim holding nothing: a suspect waits for you
    jobs: list[Claimed]


class OutcomeKind(StrEnum):
    """How an attempt ended; the value is its code in the finish script (lua/finish.lua)."""

    COMPLETED = "c"
    RETRY = "r"  # retried after a delay, or dead-lettered when it was the last attempt
    FAILED = "f"  # dead-lettered now (permanent, validation, unknown type)
    CANCELLED = "x"
    RATE_LIMITED = "l"  # back to the front of its group, not charged; the group waits

    @property
    def label(self) -> str:
        """The word logs and traces use."""
        return self.name.lower()

    @property
    def is_error(self) -> bool:
        return self in (OutcomeKind.RETRY, OutcomeKind.FAILED)


@dataclass(slots=True, frozen=True)
class Outcome:
    """The result of one attempt. Build it with the constructors below."""

    job_id: str
    attempt: int
    kind: OutcomeKind
    result: str = ""  # COMPLETED: the result as JSON
    category: str = ""  # RETRY / FAILED: the error category (errors.ErrorCategory)
    message: str = ""  # RETRY / FAILED: the error message
    delay_ms: int = 0  # RETRY: how long until the next attempt; RATE_LIMITED: the group's wait

    @classmethod
    def completed(cls, job_id: str, attempt: int, result: str) -> Outcome:
        return cls(job_id, attempt, OutcomeKind.COMPLETED, result=result)

    @classmethod
    def retry(cls, job_id: str, attempt: int, category: str, message: str,
              delay_ms: int) -> Outcome:
        return cls(job_id, attempt, OutcomeKind.RETRY, category=category, message=message,
                   delay_ms=delay_ms)

    @classmethod
    def failed(cls, job_id: str, attempt: int, category: str, message: str) -> Outcome:
        return cls(job_id, attempt, OutcomeKind.FAILED, category=category, message=message)

    @classmethod
    def rate_limited(cls, job_id: str, attempt: int, message: str, wait_ms: int) -> Outcome:
        return cls(job_id, attempt, OutcomeKind.RATE_LIMITED,
                   category=ErrorCategory.RATE_LIMITED, message=message, delay_ms=wait_ms)

    @classmethod
    def cancelled(cls, job_id: str, attempt: int) -> Outcome:
        return cls(job_id, attempt, OutcomeKind.CANCELLED)

    def wire(self) -> tuple[str, int, str, str, str, str, int]:
        """The seven finish-script arguments of this outcome (lua/finish.lua)."""
        return (self.job_id, self.attempt, self.kind.value, self.result, self.category,
                self.message, self.delay_ms)


class JobContext:
    """What a processor gets: the job's data, its attempt, a progress reporter, a cancellation
    check, the time left before the job's timeout and a Redis client to the store."""

    __slots__ = ("_cancelled", "_client", "_data", "_job", "_lost", "_report", "claimed",
                 "deadline")

    def __init__(
        self,
        claimed: Claimed,
        report: Callable[[Claimed, Any], None] | None = None,
        client: Callable[[], Any] | None = None,
    ) -> None:
        self.claimed = claimed
        self.deadline = time.monotonic() + claimed.timeout
        self._report = report
        self._client = client
        self._cancelled = False
        self._lost = False
        self._job: Job | None = None
        self._data: dict[str, Any] | None = None

    @property
    def job_id(self) -> str:
        return self.claimed.id

    @property
    def type(self) -> str:
        return self.claimed.type

    @property
    def attempt(self) -> int:
        return self.claimed.attempt

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            raw = self.claimed.fields.get("data")
            self._data = json.loads(raw) if raw else {}
        return self._data

    @property
    def job(self) -> Job:
        if self._job is None:
            from boltq_core.jobs.models import Job

            self._job = Job.from_hash(self.claimed.fields)
        return self._job

    @property
    def workflow_id(self) -> str | None:
        return self.claimed.fields.get("wf")

    @property
    def parent_results(self) -> dict[str, Any]:
        raw = self.claimed.fields.get("parents")
        return json.loads(raw) if raw else {}

    @property
    def redis(self) -> Any:
        """A redis.asyncio client to the store, for the job's own keys (keep them out of the
        queue's key prefix). One client serves every job of the runner; on a standalone store
        the commands its jobs send in the same loop turn go out as one pipeline
        (boltq_core.store.autopipeline). For async processors: a sync processor runs in a
        thread, outside the runner's loop."""
        if self._client is None:
            raise RuntimeError("this job context has no store client (it was not made by a Runner)")
        return self._client()

    def progress(self, value: Any) -> None:
        """Report progress (any JSON value, e.g. {"percent": 40}); never blocks."""
        if self._report is not None:
            self._report(self.claimed, value)

    @property
    def cancelled(self) -> bool:
        """True once someone cancelled this job (or its lease was lost); stop soon."""
        return self._cancelled or self._lost

    def mark_cancelled(self) -> None:
        """Someone asked this job to stop (the runner calls this; processors read
        `cancelled`)."""
        self._cancelled = True

    def mark_lost(self) -> None:
        """The runner lost this attempt's lease: its outcome will not be recorded."""
        self._lost = True

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def time_left(self) -> float:
        """Seconds until this attempt's timeout."""
        return max(0.0, self.deadline - time.monotonic())


class RunnerHooks:
    """Optional behaviour around jobs (metrics, tracing, logging). Every hook is a no-op here;
    hooks must be cheap and must not raise."""

    def on_start(self, ctx: JobContext) -> None:
        """A claimed job is about to run."""

    def on_finish(self, ctx: JobContext, outcome: Outcome, seconds: float) -> None:
        """An attempt ended with `outcome` after `seconds`."""

    def on_recorded(self, outcomes: Sequence[Outcome], statuses: Sequence[str]) -> None:
        """Outcomes were stored; `statuses` are the jobs' new statuses ('stale' if refused)."""

    def take_writes(self) -> list[tuple[Any, ...]]:
        """Redis commands (bookkeeping nobody waits for, e.g. metric increments) to send with
        the runner's next finish/claim round trip, and at the end of the run."""
        return []
