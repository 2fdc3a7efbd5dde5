"""Processors: the code that runs a job, registered by job type, and the built-in ones.

A processor is `def fn(ctx)` or `async def fn(ctx)`; it returns a JSON-serialisable result.
Async processors run on the runner's event loop (keep them non-blocking); sync ones run in a
thread pool. Raise PermanentError to skip retries, RetryAfter(s) to retry after s seconds."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from boltq_core.errors import JobValidationError
from boltq_core.running.attempt import JobContext

ProcessorFn = Callable[[JobContext], Any] | Callable[[JobContext], Awaitable[Any]]


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
