"""One worker invocation: it joins the fleet (duties.fleet) so the poller counts it, runs the
Runner until the queue has been empty for WORKER_IDLE_SECONDS, its time is nearly up, or it has
had spare capacity that long while other workers run (it retires: a fleet scaled up for a burst
shrinks back), and leaves the fleet. Its bookkeeping calls use short timeouts: an unreachable
store never holds the invocation past its end (the runner itself returns by its deadline)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from boltq_core.config import Settings
from boltq_core.duties.fleet import Fleet, retirer, stay_in_fleet
from boltq_core.running.async_queue import AsyncQueue
from boltq_core.running.attempt import RunnerHooks
from boltq_core.running.runner import Runner, RunStats
from boltq_core.store.connect import connect

log = logging.getLogger("boltq.worker")


async def _run(settings: Settings, deadline: float, token: str,
               hooks: Sequence[RunnerHooks]) -> RunStats:
    aq = AsyncQueue(settings)
    renew = asyncio.create_task(stay_in_fleet(aq.redis, aq.keys, token))
    try:
        runner = Runner(aq, deadline=deadline, idle_timeout=settings.worker_idle_seconds,
                        retire=retirer(aq.redis, aq.keys, token), hooks=hooks)
        return await runner.run()
    finally:
        renew.cancel()
        await asyncio.gather(renew, return_exceptions=True)
        await aq.aclose()


def bookkeeping_client(settings: Settings) -> Any:
    """A client for the invocation's bookkeeping: short timeouts, a short retry budget."""
    return connect(settings.model_copy(update={
        "store_timeout_seconds": 1.0, "store_connect_timeout_seconds": 1.0,
        "store_retry_seconds": 0.5}))


def work(settings: Settings, deadline: float, token: str,
         hooks: Sequence[RunnerHooks] = (), client: Any = None) -> RunStats:
    """Run one worker invocation until time.monotonic() reaches `deadline` (at the latest);
    `client`: the bookkeeping client (bookkeeping_client), closed at the end."""
    client = client or bookkeeping_client(settings)
    fleet = Fleet(client, settings.keys)
    try:
        _bookkeep(lambda: fleet.join(token), "join the fleet")
        return asyncio.run(_run(settings, deadline, token, hooks))
    finally:
        _bookkeep(lambda: fleet.leave(token), "leave the fleet")
        with contextlib.suppress(Exception):
            client.close()


def _bookkeep(fn: object, what: str) -> None:
    try:
        fn()  # type: ignore[operator]
    except Exception as exc:  # never worth failing the invocation over
        log.warning("could not %s: %s", what, exc)
