"""Runner: claim a batch, run it, record the outcomes, repeat. The worker Lambda and the local
runtime both use it.

- Outcomes of finished jobs and the next claim travel in one pipeline: one round trip per batch.
- An idle runner blocks on Redis (Waiter) and picks new work up within a round trip or two.
- A heartbeat thread (boltq_core.running.heartbeat) renews the leases of running jobs and delivers
  cancel requests, whatever the event loop is doing.
- A suspect (a job whose worker was lost while it ran beside others) is run alone: nothing is
  claimed beside it, and a runner asked to drain for one finishes what it holds first.
- Through a store outage or a failover it backs off and carries on: outcomes stay buffered
  and are sent again (a stale one is refused), a claim whose reply was lost is sent again
  under the same claim id (answered with the jobs it leased).
- With a deadline it never claims a job whose timeout would outlive it, stops claiming when
  too little time is left, and returns by the deadline even when the store never answers."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from boltq_core.errors import (
    ErrorCategory,
    JobCancelled,
    PermanentError,
    RateLimited,
    RetryAfter,
)
from boltq_core.running.async_queue import WAITING_MS, AsyncQueue, Waiter
from boltq_core.running.attempt import Claimed, JobContext, Outcome, RunnerHooks
from boltq_core.running.backoff import backoff_seconds
from boltq_core.running.deadlines import Deadlines
from boltq_core.running.heartbeat import Heartbeat
from boltq_core.running.processors import Processor, ProcessorRegistry, default_registry
from boltq_core.store.connect import AsyncClient, job_client_async
from boltq_core.store.failover import is_store_trouble

log = logging.getLogger("boltq.runner")
T = TypeVar("T")
# how long freshly started jobs get to finish before the runner blocks on Redis for new work:
# most jobs are that short, and blocking first would cost a BZMPOP and a CLIENT UNBLOCK each
SETTLE_SECONDS = 0.002
MAX_ERROR_CHARS = 4000  # an error message is cut to this many characters


class JobTimeout(BaseException):
    """Raised inside a sync processor's thread when its job overran its timeout (a
    BaseException, so an `except Exception` in the processor does not swallow it)."""


class _Overran(Exception):
    """A sync processor overran its timeout (its thread has ended since)."""


@dataclass
class _Turn:
    """What the loop carries from one turn to the next."""

    queue_empty: bool = False  # the last claim got fewer jobs than it asked for
    retiring: bool = False  # the fleet let this runner go: finish and return
    next_wake_ms: int = -1  # the earliest moment something becomes due (the last claim's)
    waiting_for: int = 0  # how many jobs the last short claim left it waiting (registered) for
    idle_since: float | None = None  # time.monotonic() since which nothing ran


@dataclass
class RunStats:
    claimed: int = 0  # every job this runner ran, the handed ones included
    handed: int = 0  # jobs a submit handed to it while it waited (no claim needed)
    recorded: dict[str, int] = field(default_factory=dict)
    # sync processor threads still running when the run ended (past their timeout and the
    # deadline): the process must end so they cannot outlive their lease
    abandoned: int = 0

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
        self.runner_id = uuid.uuid4().hex
        self._running: dict[str, tuple[asyncio.Task[None], JobContext]] = {}
        self._done: list[Outcome] = []
        self._wakeup = asyncio.Event()
        self._threads: ThreadPoolExecutor | None = None
        self._threads_running: set[str] = set()  # jobs whose sync processor thread still runs
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat = Heartbeat(s, self._news_from_thread)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._trouble = 0  # consecutive failed store calls
        self._claim_id: str | None = None  # a claim not answered yet: sent again under this id
        self._drain = False  # asked to finish what it holds, then claim a suspect alone
        self._last_start = 0.0  # time.monotonic() of the latest claim that started jobs
        self._retire = retire
        # last saturated or handed jobs / last asked to retire
        self._busy_at = self._asked_at = time.monotonic()
        self._turn = _Turn()
        self._jobs_redis: AsyncClient | None = None  # JobContext.redis, made on first use
        self._deadlines = Deadlines(self._expired)
        self._timed_out: set[str] = set()  # async jobs cancelled by their timeout

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> RunStats:
        stop = stop or asyncio.Event()
        self._loop = asyncio.get_running_loop()
        waiter = self.queue.waiter(self.runner_id)
        self._heartbeat.start()
        stop_watch = asyncio.create_task(self._watch(stop))
        self._turn = _Turn()
        try:
            while await self._step(stop, waiter):
                pass
        finally:
            stop_watch.cancel()
            await self._wind_down(waiter)
        return self.stats

    async def _step(self, stop: asyncio.Event, waiter: Waiter) -> bool:
        """One turn of the loop: record and claim, wait for a job, or block on Redis for new
        work. False when the run is over."""
        t = self._turn
        budget = self._claim_budget()
        can_claim = (not stop.is_set() and not t.retiring and budget is not None
                     and not self._held_back())
        free = self.concurrency - len(self._running)
        if self._done or (can_claim and free > 0 and not t.queue_empty):
            return await self._exchange(min(free, self.batch) if can_claim else 0, budget, stop)
        if self._running and (not t.queue_empty or not can_claim):
            # at capacity with work waiting, or not claiming now: wait for a job to end
            if can_claim:
                self._busy_at = time.monotonic()
            await self._wakeup.wait()
            self._wakeup.clear()
            return True
        if self._running and not self._wakeup.is_set() and await self._settle():
            return True
        if not self._running:
            if stop.is_set() or not can_claim:
                return False
            now = time.monotonic()
            t.idle_since = t.idle_since or now
            if self.idle_timeout is not None and now - t.idle_since >= self.idle_timeout:
                return False
        # the queue is empty (a claim just said so: a wake-up this runner took was not wasted)
        # - the moment a runner with long spare capacity may retire
        if self._retire is not None and can_claim and await self._spare():
            t.retiring = True
            return True
        return await self._block(waiter, stop)

    async def _exchange(self, n: int, budget: float | None, stop: asyncio.Event) -> bool:
        """Record the finished outcomes and, with n > 0, claim up to n jobs: one round trip.
        Through store trouble the outcomes (and the claim id) are kept and sent again; an
        outcome that did land is answered 'stale', so nothing is recorded twice."""
        t = self._turn
        outcomes, self._done = self._done, []
        if outcomes and not stop.is_set():
            self._wakeup.clear()  # it told of these outcomes: the next block need not end at once
        try:
            if n > 0:
                self._claim_id = self._claim_id or uuid.uuid4().hex
                statuses, reply = await self._in_time(self.queue.finish_and_claim(
                    outcomes, n, budget or 0, self._hook_writes(), held=len(self._running),
                    runner=self.runner_id, claim_id=self._claim_id, wait_ms=WAITING_MS))
                self._claim_id = None
                t.next_wake_ms, self._drain = reply.next_wake_ms, reply.drain
                t.queue_empty = len(reply.jobs) < n
                t.waiting_for = n - len(reply.jobs)
                if not t.queue_empty:
                    self._busy_at = time.monotonic()
                self._start(reply.jobs)
            else:
                statuses = await self._in_time(self.queue.finish(outcomes))
        except Exception as exc:
            if not is_store_trouble(exc):
                raise
            self._done[:0] = outcomes
            await self._store_trouble(exc, stop)
            return not self._past_deadline()  # what is left is flushed (briefly) at the end
        self._trouble = 0
        self._recorded(outcomes, statuses)
        return True

    async def _block(self, waiter: Waiter, stop: asyncio.Event) -> bool:
        """Block on Redis until work arrives, a job finishes, something becomes due, or it is
        time to stop."""
        t = self._turn
        try:
            woke = await self._in_time(waiter.wait(
                self._wait_timeout(t.next_wake_ms, t.idle_since), self._wakeup))
        except Exception as exc:
            if not is_store_trouble(exc):
                raise
            await self._store_trouble(exc, stop)
            if self._past_deadline():
                return False
            woke = False
        finally:
            # jobs a submit handed to this runner while it waited: leased to it, run them
            handed = waiter.take_handed()
            self._start_handed(handed)
        self._wakeup.clear()
        # fewer handed than it could take: the queue had no more, so no claim now
        t.queue_empty = bool(handed) and len(handed) < t.waiting_for
        if woke:
            t.idle_since = None
        return True

    async def _wind_down(self, waiter: Waiter) -> None:
        """Stop waiting for hand-offs (what was handed meanwhile runs too), let the running
        jobs end, record what is left, stop the heartbeat - all by the deadline."""
        try:
            self._start_handed(await self._in_time(self.queue.unidle(self.runner_id)))
        except Exception as exc:  # their leases bring them back
            log.warning("could not stop waiting for hand-offs: %s", exc)
        await self._finish_running()
        await self._flush_outcomes()
        await self._flush_hook_writes()
        self._heartbeat.stop(self._bounded(2.0))
        await waiter.aclose()
        if self._side_tasks:  # progress reports on their way: never past the deadline
            _, late = await asyncio.wait(self._side_tasks, timeout=self._bounded(5.0))
            for task in late:
                task.cancel()
        if self._threads is not None:
            self._threads.shutdown(wait=False)
        self._deadlines.close()
        if self._jobs_redis is not None:
            client, self._jobs_redis = self._jobs_redis, None
            await client.aclose()

    def _held_back(self) -> bool:
        """Claim nothing beside a job that runs alone, nor while draining for one."""
        return bool(self._running) and (
            self._drain or any(ctx.claimed.solo for _, ctx in self._running.values()))

    async def _finish_running(self) -> None:
        """Let the running jobs end (by the deadline, when there is one); sync threads that
        outlive it are counted as abandoned."""
        if not self._running:
            return
        tasks = [t for t, _ in self._running.values()]
        left = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        _, pending = await asyncio.wait(tasks, timeout=left)
        for t in pending:
            t.cancel()  # an async job stops here; its lease brings it back
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        self.stats.abandoned = len(self._threads_running)

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
        """The store failed a call: wait (backing off up to 5 s, never past the deadline, or
        until stopped) and go on. Leases outlast short outages; after a long one the jobs run
        again elsewhere."""
        self._trouble += 1
        pause = min(5.0, 0.05 * 2 ** min(self._trouble, 7))
        if self.deadline is not None:
            pause = max(0.0, min(pause, self.deadline - time.monotonic()))
        log.warning("store call failed (%s: %s); retrying in %.2fs", type(exc).__name__, exc,
                    pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)

    async def _flush_outcomes(self, tries: int = 5) -> None:
        """Record what is left when the run ends, retrying briefly (never past the deadline);
        if the store stays down the leases bring those jobs back."""
        for attempt in range(tries):
            if not self._done:
                return
            if self.deadline is not None and time.monotonic() >= self.deadline:
                break
            outcomes, self._done = self._done, []
            try:
                self._recorded(outcomes, await self._in_time(self.queue.finish(outcomes)))
            except Exception as exc:
                if not is_store_trouble(exc):
                    raise
                self._done[:0] = outcomes
                log.warning("could not record %d outcomes (%s)", len(outcomes), exc)
                await asyncio.sleep(self._bounded(0.1 * 2**attempt))
        if self._done:
            log.error("gave up recording %d outcomes; their leases will expire", len(self._done))
            for o in self._done:
                self._heartbeat.release(o.job_id)

    async def _in_time(self, call: Awaitable[T]) -> T:
        """A store call that ends by the deadline: one that would outlast it (a black-holed
        socket waits out its read timeout) is cut off there, as a TimeoutError."""
        if self.deadline is None:
            return await call
        return await asyncio.wait_for(call, max(0.05, self.deadline - time.monotonic()))

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _bounded(self, seconds: float) -> float:
        if self.deadline is None:
            return seconds
        return max(0.0, min(seconds, self.deadline - time.monotonic()))

    def _hook_writes(self) -> list[tuple[Any, ...]]:
        return [cmd for h in self.hooks for cmd in h.take_writes()]

    async def _flush_hook_writes(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return
        try:
            await self._in_time(self.queue.send(self._hook_writes()))
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

    def _wait_timeout(self, next_wake_ms: int, idle_since: float | None) -> float:
        # look again at least once a lease: a lease another runner took after this one's last
        # claim ends no later than that, and its job is recovered in time if that runner died
        limits = [self.queue.settings.lease_seconds]
        if next_wake_ms >= 0:
            limits.append(max(0.0, next_wake_ms / 1000 - time.time()) + 0.0005)
        if self.deadline is not None:
            limits.append(max(0.0, self.deadline - time.monotonic() - 1))
        if self.idle_timeout is not None and idle_since is not None and not self._running:
            limits.append(max(0.0, idle_since + self.idle_timeout - time.monotonic()))
        return min(limits)

    def _recorded(self, outcomes: Sequence[Outcome], statuses: Sequence[str]) -> None:
        for o in outcomes:
            self._heartbeat.release(o.job_id)
        self.stats.add(statuses)
        for h in self.hooks:
            h.on_recorded(outcomes, statuses)

    # --- one job ----------------------------------------------------------------------------

    def _start_handed(self, jobs: list[Claimed]) -> None:
        if jobs:
            self.stats.handed += len(jobs)
            # submits hand their jobs to the runner that waited last: the work gathers on few
            # runners, which stay; the ones left idle end (idle_timeout) or retire
            self._busy_at = time.monotonic()
            self._start(jobs)

    def _start(self, jobs: list[Claimed]) -> None:
        self.stats.claimed += len(jobs)
        if jobs:
            self._last_start = time.monotonic()
        for claimed in jobs:
            ctx = JobContext(claimed, self._report, self._job_client)
            # extended while it may still run: up to its own timeout
            self._heartbeat.hold(claimed.id, claimed.attempt, ctx.deadline)
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
                self._running.pop(c.id, None)
                self._heartbeat.release(c.id)
                raise  # the runner itself is being torn down: the lease brings the job back
            outcome = Outcome.cancelled(c.id, c.attempt)
        self._running.pop(c.id, None)
        # held (whatever its timeout) until its outcome is recorded
        self._heartbeat.hold(c.id, c.attempt, None)
        for h in self.hooks:
            h.on_finish(ctx, outcome, time.monotonic() - started)
        self._done.append(outcome)
        self._wakeup.set()

    async def _attempt(self, ctx: JobContext) -> Outcome:
        c = ctx.claimed
        proc = self.registry.get(c.type)
        if proc is None:
            return self._failed(ctx, ErrorCategory.UNKNOWN_TYPE,
                                f"no processor registered for job type {c.type!r}")
        try:
            if proc.is_async:
                when = self._deadlines.arm(c.id, ctx.deadline, c.timeout)
                try:
                    result = await proc.fn(ctx)
                finally:
                    self._deadlines.disarm(c.id, when)
                if self._timed_out:  # a job that swallowed its timeout's cancellation
                    self._timed_out.discard(c.id)
            else:
                result = await self._run_sync(ctx, proc)
        except _Overran:
            return self._retry(ctx, ErrorCategory.TIMEOUT, f"timed out after {c.timeout:g}s")
        except asyncio.CancelledError:
            timed_out = c.id in self._timed_out
            self._timed_out.discard(c.id)
            if not timed_out or ctx.cancelled:
                raise  # cancelled by someone else (a cancel request, the runner's teardown)
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return self._retry(ctx, ErrorCategory.TIMEOUT, f"timed out after {c.timeout:g}s")
        except TimeoutError as exc:  # the job's own (e.g. a client's): not its timeout
            return self._retry(ctx, ErrorCategory.TRANSIENT, f"TimeoutError: {exc}")
        except JobCancelled:
            return Outcome.cancelled(c.id, c.attempt)
        except PermanentError as exc:
            return self._failed(ctx, exc.category, _describe(exc))
        except RetryAfter as exc:
            return Outcome.retry(c.id, c.attempt, ErrorCategory.TRANSIENT, _cut(str(exc)),
                                 int(exc.seconds * 1000))
        except RateLimited as exc:
            return Outcome.rate_limited(c.id, c.attempt, _cut(str(exc)), int(exc.seconds * 1000))
        except Exception as exc:
            return self._retry(ctx, ErrorCategory.TRANSIENT, _describe(exc))
        if ctx.cancelled:
            return Outcome.cancelled(c.id, c.attempt)
        if result is None:  # most jobs: no encoder needed
            return Outcome.completed(c.id, c.attempt, "null")
        try:
            raw = json.dumps(result, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return self._failed(ctx, ErrorCategory.PERMANENT,
                                f"result is not JSON-serialisable: {exc}")
        limit = self.queue.settings.max_result_bytes
        if len(raw) > limit // 4 and len(raw.encode()) > limit:
            return self._failed(ctx, ErrorCategory.PERMANENT,
                                f"result is {len(raw.encode())} bytes; the limit is {limit} "
                                "bytes (MAX_RESULT_BYTES)")
        return Outcome.completed(c.id, c.attempt, raw)

    async def _run_sync(self, ctx: JobContext, proc: Processor) -> Any:
        """Run a sync processor in the thread pool. Past its timeout the thread is asked to
        stop (JobTimeout raised into it, ctx.cancelled set) and the job's lease is held until
        the thread has ended, so the job never runs twice at once; then _Overran."""
        loop = asyncio.get_running_loop()
        guard = threading.Lock()
        state: dict[str, Any] = {"done": False}

        def work() -> Any:
            state["thread"] = threading.get_ident()
            try:
                return proc.fn(ctx)
            finally:
                with guard:
                    state["done"] = True

        self._threads_running.add(ctx.job_id)
        future = loop.run_in_executor(self._pool(), work)
        try:
            return await asyncio.wait_for(asyncio.shield(future), ctx.claimed.timeout)
        except TimeoutError:
            if future.done():
                return future.result()
            ctx.mark_cancelled()
            self._heartbeat.hold(ctx.job_id, ctx.attempt, None)  # until the thread ends
            with guard:
                if not state["done"] and "thread" in state:
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(state["thread"]), ctypes.py_object(JobTimeout))
            with contextlib.suppress(Exception, JobTimeout):
                await asyncio.shield(future)
            raise _Overran() from None
        finally:
            if future.done():
                self._threads_running.discard(ctx.job_id)

    def _retry(self, ctx: JobContext, category: str, message: str) -> Outcome:
        s = self.queue.settings
        delay = backoff_seconds(ctx.attempt, s.retry_base_seconds, s.retry_max_seconds)
        return Outcome.retry(ctx.job_id, ctx.attempt, category, _cut(message), int(delay * 1000))

    @staticmethod
    def _failed(ctx: JobContext, category: str, message: str) -> Outcome:
        return Outcome.failed(ctx.job_id, ctx.attempt, category, _cut(message))

    def _job_client(self) -> AsyncClient:
        if self._jobs_redis is None:
            self._jobs_redis = job_client_async(self.queue.settings)
        return self._jobs_redis

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="boltq-job")
        return self._threads

    def _report(self, claimed: Claimed, value: Any) -> None:
        """A job's progress report (from its processor: the loop, or a sync job's thread)."""
        loop = self._loop
        if loop is None:
            return

        def schedule() -> None:
            task = loop.create_task(self.queue.progress(claimed.id, claimed.attempt, value))
            self._side_tasks.add(task)
            task.add_done_callback(self._side_done)

        loop.call_soon_threadsafe(schedule)

    def _side_done(self, task: asyncio.Task[Any]) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("progress update failed: %s", task.exception())

    # --- what the heartbeat reports -----------------------------------------------------------

    def _expired(self, job_id: str) -> None:
        entry = self._running.get(job_id)
        if entry is not None:
            self._timed_out.add(job_id)
            entry[0].cancel()

    def _news_from_thread(self, lost: list[str], cancel: list[str]) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to tell
                loop.call_soon_threadsafe(self._news, lost, cancel)

    def _news(self, lost: list[str], cancel: list[str]) -> None:
        for job_id in cancel:
            entry = self._running.get(job_id)
            if entry:
                task, ctx = entry
                ctx.mark_cancelled()
                proc = self.registry.get(ctx.type)
                if proc is not None and proc.is_async:
                    task.cancel()  # sync processors only see ctx.cancelled
        for job_id in lost:
            entry = self._running.get(job_id)
            if entry:
                entry[1].mark_lost()


def _cut(message: str) -> str:
    if len(message) <= MAX_ERROR_CHARS:
        return message
    return message[:MAX_ERROR_CHARS] + f"... ({len(message) - MAX_ERROR_CHARS} more characters)"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
