"""Processors: the code that runs a job, registered by job type, and the context each one gets.

A processor is `def fn(ctx)` or `async def fn(ctx)`; it returns a JSON-serialisable result.
Async processors run on the runner's event loop (keep them non-blocking); sync ones run in a
thread pool. Raise PermanentError to skip retries, RetryAfter(s) to retry after s seconds."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from boltq_core.errors import JobCancelled, JobValidationError
from boltq_core.jobs.calls import Claimed
from boltq_core.jobs.models import Job

ProcessorFn = Callable[["JobContext"], Any] | Callable[["JobContext"], Awaitable[Any]]


@dataclass(slots=True, frozen=True)
class Processor:
    name: str
    fn: ProcessorFn
    is_async: bool


class ProcessorRegistry:
    """Job type -> processor. Use as a decorator (`@registry("type")`) or call `register`."""

    def __init__(self) -> None:
        self._by_type: dict[str, Processor] = {}

    def register(self, name: str, fn: ProcessorFn) -> ProcessorFn:
        if not name:
            raise ValueError("a processor needs a job type name")
        self._by_type[name] = Processor(name, fn, inspect.iscoroutinefunction(fn))
        return fn

    def __call__(self, name: str | None = None) -> Callable[[ProcessorFn], ProcessorFn]:
        def decorate(fn: ProcessorFn) -> ProcessorFn:
            return self.register(name or fn.__name__, fn)

        return decorate

    def get(self, name: str) -> Processor | None:
        return self._by_type.get(name)

    def types(self) -> list[str]:
        return sorted(self._by_type)

    def copy(self) -> ProcessorRegistry:
        new = ProcessorRegistry()
        new._by_type = dict(self._by_type)
        return new


class JobContext:
    """What a processor gets: the job's data, its attempt, a progress reporter, a cancellation
    check and the time left before the job's timeout."""

    __slots__ = ("_cancelled", "_data", "_job", "_lost", "_report", "claimed", "deadline")

    def __init__(
        self,
        claimed: Claimed,
        report: Callable[[Any], None] | None = None,
    ) -> None:
        self.claimed = claimed
        self.deadline = time.monotonic() + claimed.timeout
        self._report = report
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
            self._job = Job.from_hash(self.claimed.fields)
        return self._job

    @property
    def workflow_id(self) -> str | None:
        return self.claimed.fields.get("wf")

    @property
    def parent_results(self) -> dict[str, Any]:
        raw = self.claimed.fields.get("parents")
        return json.loads(raw) if raw else {}

    def progress(self, value: Any) -> None:
        """Report progress (any JSON value, e.g. {"percent": 40}); never blocks."""
        if self._report is not None:
            self._report(value)

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


default_registry = ProcessorRegistry()


def processor(name: str | None = None) -> Callable[[ProcessorFn], ProcessorFn]:
    """Register a processor in the default registry: `@processor("resize_image")`."""
    return default_registry(name)


def register_processor(
    name: str, fn: ProcessorFn, registry: ProcessorRegistry | None = None
) -> ProcessorFn:
    return (registry or default_registry).register(name, fn)


# --- built-in processors --------------------------------------------------------------------


@processor("echo")
async def echo(ctx: JobContext) -> Any:
    """Returns the job's data unchanged."""
    return ctx.data


@processor("sleep")
async def sleep(ctx: JobContext) -> dict[str, Any]:
    """Sleeps data.seconds (reporting progress), stopping early when cancelled."""
    seconds = ctx.data.get("seconds", 1)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise JobValidationError("data.seconds must be a number >= 0")
    end = time.monotonic() + seconds
    step = min(0.25, max(seconds / 20, 0.01))
    while (left := end - time.monotonic()) > 0:
        ctx.raise_if_cancelled()
        await asyncio.sleep(min(step, left))
        ctx.progress({"percent": round(100 * (1 - max(0.0, end - time.monotonic()) / seconds))})
    return {"slept": seconds}


@processor("fail")
async def fail(ctx: JobContext) -> Any:
    """Always fails: data.permanent (default false) skips retries; data.message is the error."""
    from boltq_core.errors import PermanentError

    message = str(ctx.data.get("message", "failed on purpose"))
    if ctx.data.get("permanent"):
        raise PermanentError(message)
    raise RuntimeError(message)
