"""Runs each Schedule/ScheduleV2 event of the template at its rate: the first invocation at
start, then one per period (divided by `speed` to run them faster). Like EventBridge with a
function's reserved concurrency, a tick is skipped while the previous invocations of that
function still fill its concurrency."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from boltq_local.lambda_host import FunctionPool
from boltq_local.template import Schedule


def eventbridge_event(rule: str) -> dict[str, Any]:
    """The event EventBridge sends a function on a schedule rule's tick."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


def scheduled_event(s: Schedule) -> Any:
    if s.payload is not None:
        return s.payload
    return eventbridge_event(f"{s.function}-{s.event_name}")


class Scheduler:
    def __init__(self, schedules: list[Schedule], pools: dict[str, FunctionPool],
                 speed: float = 1.0) -> None:
        self.schedules = [s for s in schedules if s.enabled and s.function in pools]
        self.pools = pools
        self.speed = max(speed, 1e-6)
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.ensure_future(self._run(s)) for s in self.schedules]

    async def _run(self, s: Schedule) -> None:
        pool = self.pools[s.function]
        period = s.seconds / self.speed
        next_at = time.monotonic()
        while True:
            if pool.pending_events < pool.cap:
                pool.invoke_event(scheduled_event(s), f"schedule {s.event_name}")
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
