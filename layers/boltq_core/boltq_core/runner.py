"""Runner: claim a batch, run it, record the outcomes, repeat. The worker Lambda and the local
runtime both use it.

- Outcomes of finished jobs and the next claim travel in one pipeline: one round trip per batch.
- An idle runner blocks on Redis (Waiter) and picks new work up within a round trip or two.
- A heartbeat renews the leases of running jobs and delivers cancel requests.
- With a deadline it never claims a job whose timeout would outlive it, and stops claiming
  when too little time is left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis

from boltq_core.aqueue import AsyncQueue
from boltq_core.errors import ErrorCategory, JobCancelled, PermanentError, RetryAfter
from boltq_core.ops import Claimed, Outcome
from boltq_core.processors import JobContext, ProcessorRegistry, default_registry
from boltq_core.retry import backoff_seconds

log = logging.getLogger("boltq.runner")
STORE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
# how long freshly started jobs get to finish before the runner blocks on Redis for new work:
# most jobs are that short, and blocking first would cost a BZPOPMIN and a CLIENT UNBLOCK each
SETTLE_SECONDS = 0.002


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


@dataclass
class RunStats:
    claimed: int = 0
    recorded: dict[str, int] = field(default_factory=dict)

    def add(self, statuses: Sequence[str]) -> None:
        for s in statuses:
            self.recorded[s] = self.recorded.get(s, 0) + 1


class Runner:
    def __init__(
        self,
        queue: AsyncQueue,
        registry: ProcessorRegistry | None = None,
        *,
        concurrency: int | None = None,
        batch: int | None = None,
        deadline: float | None = None,
        idle_timeout: float | None = None,
        hooks: Sequence[RunnerHooks] = (),
        retire: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """`deadline` is a time.monotonic() value the runner must be done by (a Lambda's end);
        `idle_timeout` ends the run after that many seconds with nothing to do. With `retire`,
        a runner that has had spare capacity for `idle_timeout` seconds (no claim came back
        full, never at its concurrency) asks `retire()` whether it may go (a worker fleet
        scaled up for a burst shrinks again); on True it stops claiming, finishes what it
        runs and returns."""
        s = queue.settings
        self.queue = queue
        self.registry = registry or default_registry
        self.concurrency = concurrency or s.worker_concurrency
        self.batch = min(batch or s.claim_batch, self.concurrency)
        self.deadline = deadline
        self.idle_timeout = idle_timeout
        self.hooks = list(hooks)
        self.stats = RunStats()
        self._running: dict[str, tuple[asyncio.Task[None], JobContext]] = {}
        self._done: list[Outcome] = []
        self._wakeup = asyncio.Event()
        self._threads: ThreadPoolExecutor | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._trouble = 0  # consecutive failed store calls
        self._last_start = 0.0  # time.monotonic() of the latest claim that started jobs
        self._retire = retire
        self._busy_at = self._asked_at = time.monotonic()  # last saturated / last asked

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> RunStats:
        stop = stop or asyncio.Event()
        waiter = self.queue.waiter()
        heartbeat = asyncio.create_task(self._heartbeat())
        stop_watch = asyncio.create_task(self._watch(stop))
        queue_empty = False
        retiring = False
        next_wake_ms = -1
        idle_since: float | None = None
        try:
            while True:
                budget = self._claim_budget()
                can_claim = not stop.is_set() and not retiring and budget is not None
                free = self.concurrency - len(self._running)
                if self._done or (can_claim and free > 0 and not queue_empty):
                    outcomes, self._done = self._done, []
                    try:
                        if can_claim and free > 0:
                            n = min(free, self.batch)
                            statuses, next_wake_ms, jobs = await self.queue.finish_and_claim(
                                outcomes, n, budget or 0, self._hook_writes()
                            )
                            queue_empty = len(jobs) < n
                            if not queue_empty:
                                self._busy_at = time.monotonic()
                            self._start(jobs)
                        else:
                            statuses = await self.queue.finish(outcomes)
                    except STORE_ERRORS as exc:
                        # keep the outcomes and try again; a resent outcome that did land is
                        # answered 'stale', so nothing is recorded twice
                        self._done[:0] = outcomes
                        await self._store_trouble(exc, stop)
                        continue
                    self._trouble = 0
                    self._recorded(outcomes, statuses)
                    continue
                if self._running and (not queue_empty or not can_claim):
                    # at capacity with work waiting, or no longer claiming: wait for a job
                    if can_claim:
                        self._busy_at = time.monotonic()
                    await self._wakeup.wait()
                    self._wakeup.clear()
                    continue
                if self._running and not self._wakeup.is_set() and await self._settle():
                    continue
                if not self._running:
                    if stop.is_set() or not can_claim:
                        break
                    now = time.monotonic()
                    idle_since = idle_since or now
                    if self.idle_timeout is not None and now - idle_since >= self.idle_timeout:
                        break
                # the queue is empty (a claim just said so: a wake-up this runner took was not
                # wasted) - the moment a runner with long spare capacity may retire
                if self._retire is not None and can_claim and await self._spare():
                    retiring = True
                    continue
                # block on Redis until work arrives, a job finishes, something becomes due, or
                # it is time to stop
                try:
                    woke = await waiter.wait(
                        self._wait_timeout(next_wake_ms, idle_since), self._wakeup
                    )
                except STORE_ERRORS as exc:
                    await self._store_trouble(exc, stop)
                    woke = False
                self._wakeup.clear()
                queue_empty = False
                if woke:
                    idle_since = None
        finally:
            stop_watch.cancel()
            if self._running:
                await asyncio.gather(*(t for t, _ in self._running.values()))
            await self._flush_outcomes()
            await self._flush_hook_writes()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await waiter.aclose()
            if self._side_tasks:
                await asyncio.gather(*self._side_tasks, return_exceptions=True)
            if self._threads is not None:
                self._threads.shutdown(wait=False)
        return self.stats

    async def _spare(self) -> bool:
        """Spare capacity for a whole idle_timeout: ask (at most once per idle_timeout)
        whether this runner may retire."""
        window = self.idle_timeout
        now = time.monotonic()
        if window is None:
            return False
        if now - self._busy_at < window or now - self._asked_at < window:
            return False
        self._asked_at = now
        assert self._retire is not None
        try:
            return bool(await self._retire())
        except Exception as exc:  # a store blip: keep working, ask again later
            log.warning("retire check failed: %s", exc)
            return False

    async def _settle(self) -> bool:
        """Jobs started a moment ago: wait up to SETTLE_SECONDS since then for one to finish
        (True) before blocking on Redis. A longer job gets the Redis wait, so new work arriving
        meanwhile is still picked up."""
        left = self._last_start + SETTLE_SECONDS - time.monotonic()
        if left <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(left):
                await self._wakeup.wait()
        if not self._wakeup.is_set():
            return False
        self._wakeup.clear()
        return True

    async def _store_trouble(self, exc: Exception, stop: asyncio.Event) -> None:
        """The store failed a call: wait (backing off up to 5 s, or until stopped) and go on.
        Leases outlast short outages; after a long one the jobs run again elsewhere."""
        self._trouble += 1
        pause = min(5.0, 0.05 * 2**self._trouble)
        log.warning("store call failed (%s); retrying in %.2fs", exc, pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)

    async def _flush_outcomes(self, tries: int = 5) -> None:
        """Record what is left when the run ends, retrying briefly; if the store stays down
        the leases bring those jobs back."""
        for attempt in range(tries):
            if not self._done:
                return
            outcomes, self._done = self._done, []
            try:
                self._recorded(outcomes, await self.queue.finish(outcomes))
            except STORE_ERRORS as exc:
                self._done[:0] = outcomes
                log.warning("could not record %d outcomes (%s)", len(outcomes), exc)
                await asyncio.sleep(0.1 * 2**attempt)
        if self._done:
            log.error("gave up recording %d outcomes; their leases will expire", len(self._done))

    def _hook_writes(self) -> list[tuple[Any, ...]]:
        return [cmd for h in self.hooks for cmd in h.take_writes()]

    async def _flush_hook_writes(self) -> None:
        try:
            await self.queue.send(self._hook_writes())
        except Exception as exc:  # bookkeeping: never worth failing the run
            log.warning("could not send the hooks' last writes: %s", exc)

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()

    def _claim_budget(self) -> float | None:
        """The longest job timeout a new claim may take (0 = no limit), or None to stop."""
        if self.deadline is None:
            return 0
        left = self.deadline - time.monotonic()
        return left if left >= 1 else None

    def _wait_timeout(self, next_wake_ms: int, idle_since: float | None) -> float | None:
        limits = []
        if next_wake_ms >= 0:
            limits.append(max(0.0, next_wake_ms / 1000 - time.time()) + 0.0005)
        if self.deadline is not None:
            limits.append(max(0.0, self.deadline - time.monotonic() - 1))
        if self.idle_timeout is not None and idle_since is not None and not self._running:
            limits.append(max(0.0, idle_since + self.idle_timeout - time.monotonic()))
        return min(limits) if limits else None

    def _recorded(self, outcomes: Sequence[Outcome], statuses: Sequence[str]) -> None:
        self.stats.add(statuses)
        for h in self.hooks:
            h.on_recorded(outcomes, statuses)

    # --- one job ----------------------------------------------------------------------------

    def _start(self, jobs: list[Claimed]) -> None:
        self.stats.claimed += len(jobs)
        if jobs:
            self._last_start = time.monotonic()
        for claimed in jobs:
            ctx = JobContext(claimed, self._reporter(claimed))
            task = asyncio.create_task(self._execute(ctx))
            self._running[claimed.id] = (task, ctx)

    async def _execute(self, ctx: JobContext) -> None:
        started = time.monotonic()
        c = ctx.claimed
        for h in self.hooks:
            h.on_start(ctx)
        try:
            outcome = await self._attempt(ctx)
        except asyncio.CancelledError:
            if not ctx.cancelled:
                raise  # the runner itself is being torn down: the lease brings the job back
            outcome = Outcome(c.id, c.attempt, "x")
        self._running.pop(c.id, None)
        for h in self.hooks:
            h.on_finish(ctx, outcome, time.monotonic() - started)
        self._done.append(outcome)
        self._wakeup.set()

    async def _attempt(self, ctx: JobContext) -> Outcome:
        c = ctx.claimed
        proc = self.registry.get(c.type)
        if proc is None:
            return Outcome(
                c.id, c.attempt, "f", ErrorCategory.UNKNOWN_TYPE,
                f"no processor registered for job type {c.type!r}",
            )
        try:
            if proc.is_async:
                async with asyncio.timeout(c.timeout) as scope:
                    result = await proc.fn(ctx)
            else:
                loop = asyncio.get_running_loop()
                async with asyncio.timeout(c.timeout) as scope:
                    result = await loop.run_in_executor(self._pool(), proc.fn, ctx)
        except TimeoutError as exc:
            if scope.expired():
                return self._retry(ctx, ErrorCategory.TIMEOUT, f"timed out after {c.timeout:g}s")
            return self._retry(ctx, ErrorCategory.TRANSIENT, f"TimeoutError: {exc}")
        except JobCancelled:
            return Outcome(c.id, c.attempt, "x")
        except PermanentError as exc:
            return Outcome(c.id, c.attempt, "f", exc.category, _describe(exc))
        except RetryAfter as exc:
            return Outcome(c.id, c.attempt, "r", ErrorCategory.TRANSIENT, str(exc),
                           int(exc.seconds * 1000))
        except Exception as exc:
            return self._retry(ctx, ErrorCategory.TRANSIENT, _describe(exc))
        if ctx.cancelled:
            return Outcome(c.id, c.attempt, "x")
        try:
            raw = json.dumps(result, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return Outcome(c.id, c.attempt, "f", ErrorCategory.PERMANENT,
                           f"result is not JSON-serialisable: {exc}")
        return Outcome(c.id, c.attempt, "c", raw)

    def _retry(self, ctx: JobContext, category: str, message: str) -> Outcome:
        s = self.queue.settings
        delay = backoff_seconds(ctx.attempt, s.retry_base_seconds, s.retry_max_seconds)
        return Outcome(ctx.job_id, ctx.attempt, "r", category, message, int(delay * 1000))

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="boltq-job")
        return self._threads

    def _reporter(self, claimed: Claimed) -> Any:
        loop = asyncio.get_running_loop()

        def report(value: Any) -> None:
            def schedule() -> None:
                task = loop.create_task(self.queue.progress(claimed.id, claimed.attempt, value))
                self._side_tasks.add(task)
                task.add_done_callback(self._side_done)

            loop.call_soon_threadsafe(schedule)

        return report

    def _side_done(self, task: asyncio.Task[Any]) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("progress update failed: %s", task.exception())

    # --- heartbeat --------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        # often enough to renew leases and to deliver cancel requests within a second
        interval = min(self.queue.settings.lease_seconds / 3, 1.0)
        while True:
            await asyncio.sleep(interval)
            held = [(job_id, ctx.attempt) for job_id, (_, ctx) in self._running.items()]
            if not held:
                continue
            try:
                lost, cancel = await self.queue.extend(held)
            except Exception as exc:  # a blip must not kill the runner; leases outlast it
                log.warning("heartbeat failed: %s", exc)
                continue
            for job_id in cancel:
                entry = self._running.get(job_id)
                if entry:
                    task, ctx = entry
                    ctx._cancelled = True
                    proc = self.registry.get(ctx.type)
                    if proc is not None and proc.is_async:
                        task.cancel()  # sync processors only see ctx.cancelled
            for job_id in lost:
                entry = self._running.get(job_id)
                if entry:
                    entry[1]._lost = True


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
