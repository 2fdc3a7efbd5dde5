"""The relay between queues (SPEC §11: a workflow step may run in another queue than its
workflow). Each queue lives in its own cluster slot, so a script of one queue cannot create a
job in another or advance a workflow stored there: it leaves a message in its queue's outbox
(lua/includes/outbox.lua) and the promoter, the one relay of a deployment, delivers it with
outbox_apply in the queue the message names, then drops it. Delivery is in order per outbox
and safe to repeat, so a relay that dies between delivering and dropping loses nothing and
doubles nothing."""

from __future__ import annotations

import json

from boltq_core.jobs.queue import Queue

BATCH = 200  # messages read from one outbox per round
ROUNDS = 8  # a delivery can post more (a released step's children): rounds per pass
_JOB_OPS = frozenset({"release", "cancel", "forget"})  # the others name a workflow


class Relay:
    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def deliver_all(self, queues: list[str] | None = None) -> int:
        """Deliver every known queue's outbox, again while deliveries post more (at most
        ROUNDS times); the number of messages delivered. Each round reads every outbox in
        one pipeline: a pass with nothing to deliver costs one round trip."""
        names = queues if queues is not None else self.queue.known_queues()
        sources = [self.queue.of(name) for name in names]
        total = 0
        for _ in range(ROUNDS):
            def read() -> list[list[str]]:
                pipe = self.queue.redis.pipeline(transaction=False)
                for q in sources:
                    pipe.lrange(q.keys.outbox, 0, BATCH - 1)
                return list(pipe.execute())

            batches = self.queue.read(read, "outboxes")
            n = sum(self._deliver(q, raws) for q, raws in zip(sources, batches, strict=True)
                    if raws)
            total += n
            if not n:
                break
        return total

    def deliver(self, source: Queue, limit: int = BATCH) -> int:
        """Deliver up to `limit` of `source`'s outbox messages, oldest first."""
        outbox = source.keys.outbox
        return self._deliver(source, source.read(
            lambda: source.redis.lrange(outbox, 0, limit - 1), "outbox"))

    def _deliver(self, source: Queue, raws: list[str]) -> int:
        """Deliver `raws`, the oldest messages of `source`'s outbox, in order; then drop them."""
        for raw in raws:
            self.apply(source, raw)
        if raws:
            source.read(lambda: source.redis.ltrim(source.keys.outbox, len(raws), -1), "outbox")
        return len(raws)

    def apply(self, source: Queue, raw: str) -> None:
        """Apply one message of `source`'s outbox in the queue it names (safe to repeat)."""
        msg = json.loads(raw)
        to = msg["to"]
        target = source.holding(to)
        key = target.keys.job(to) if msg["op"] in _JOB_OPS else target.keys.workflow(to)
        target.run(target.calls.call("outbox_apply", [key], [raw]))
