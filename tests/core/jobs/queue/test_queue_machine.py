"""The queue against a model of it, driven by random sequences of calls (a hypothesis state
machine) on the real server: single and bulk submits with priorities and delays, claims,
outcomes one call each or in a batch, cancels and dead-letter requeues, over two queues, the
second of which is paused and resumed. After every step each job's stored status matches the
model, each queue's counts match, and each queue's events stream has told exactly the model's
story since the last step: every transition once, in order (runs of like events included,
lua/includes/common.lua emit).

No job ever becomes due or loses its lease while a sequence runs (delays and retries are
60 s out, leases 300 s), so the model knows every transition the store makes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from boltq_core import Queue
from boltq_core.running.attempt import Outcome
from tests.support.queue_calls import claim, finish

PRIORITIES = ("high", "normal", "low")  # claim order: strict priority, FIFO within one
QUEUES = ("default", "q2")
LATER_MS = 60_000

job_specs = st.lists(st.tuples(st.sampled_from(PRIORITIES), st.booleans(),
                               st.sampled_from((1, 2, 3)), st.sampled_from(("a", "b")),
                               st.sampled_from(QUEUES)),
                     min_size=1, max_size=12)


def test_the_queue_keeps_to_its_model(make_queue: Callable[..., Queue]) -> None:
    seen: Counter[str] = Counter()  # what the sequences did, so the test knows it did it

    class QueueMachine(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.q = make_queue(lease_seconds=300)
            self.status: dict[str, str] = {}
            self.prio: dict[str, int] = {}
            self.max_attempts: dict[str, int] = {}
            self.attempts: dict[str, int] = {}
            self.queue: dict[str, str] = {}
            self.ready: dict[str, list[list[str]]] = {n: [[], [], []] for n in QUEUES}
            # per queue, the transitions not yet checked in its events
            self.story: dict[str, list[tuple[str, str]]] = {n: [] for n in QUEUES}
            self.cursor = dict.fromkeys(QUEUES, "0-0")
            self.paused: set[str] = set()

        def _set(self, job_id: str, status: str) -> None:
            seen[status] += 1
            self.status[job_id] = status
            self.story[self.queue[job_id]].append((job_id, status))

        def _with(self, *statuses: str) -> list[str]:
            return [i for i, s in self.status.items() if s in statuses]  # submit order

        @rule(specs=job_specs, bulk=st.booleans())
        def submit(self, specs: list[tuple[str, bool, int, str, str]], bulk: bool) -> None:
            body = [{"type": t, "priority": p, "max_attempts": m, "queue": name,
                     **({"delay_seconds": LATER_MS // 1000} if later else {})}
                    for p, later, m, t, name in specs]
            got = (self.q.submit_many(body) if bulk
                   else [self.q.submit(b) for b in body])
            for (p, later, m, _, name), sub in zip(specs, got, strict=True):
                assert not sub.duplicate
                self.queue[sub.job_id] = name
                self.prio[sub.job_id] = PRIORITIES.index(p)
                self.max_attempts[sub.job_id] = m
                self.attempts[sub.job_id] = 0
                if not later:
                    self.ready[name][PRIORITIES.index(p)].append(sub.job_id)
                self._set(sub.job_id, "scheduled" if later else "pending")

        @rule()
        def pause_or_resume(self) -> None:
            name = QUEUES[1]  # the default queue stays open, so most claims find work
            seen["pause or resume"] += 1
            if name in self.paused:
                self.q.of(name).resume()
                self.paused.remove(name)
            else:
                self.q.of(name).pause()
                self.paused.add(name)

        @rule(name=st.sampled_from(QUEUES), count=st.integers(1, 20))
        def claim_some(self, name: str, count: int) -> None:
            lanes = self.ready[name]
            want = [] if name in self.paused else [i for lane in lanes for i in lane][:count]
            got = claim(self.q.of(name), count)
            assert [j.id for j in got] == want
            for j in got:
                lanes[self.prio[j.id]].remove(j.id)
                self.attempts[j.id] += 1
                assert j.attempt == self.attempts[j.id]
                self._set(j.id, "running")

        @precondition(lambda self: any(s == "running" for s in self.status.values()))
        @rule(data=st.data(), batched=st.booleans())
        def finish_some(self, data: st.DataObject, batched: bool) -> None:
            running = self._with("running")
            picked = data.draw(st.lists(st.sampled_from(running), min_size=1, unique=True))
            kinds = data.draw(st.lists(st.sampled_from(("completed", "retry", "failed")),
                                       min_size=len(picked), max_size=len(picked)))
            outcomes, expect = [], []
            for job_id, kind in zip(picked, kinds, strict=True):
                attempt = self.attempts[job_id]
                if kind == "completed":
                    outcomes.append(Outcome.completed(job_id, attempt, '{"ok":true}'))
                    expect.append("completed")
                elif kind == "retry":
                    outcomes.append(Outcome.retry(job_id, attempt, "transient", "again",
                                                  LATER_MS))
                    last = attempt >= self.max_attempts[job_id]
                    expect.append("failed" if last else "retrying")
                else:
                    outcomes.append(Outcome.failed(job_id, attempt, "permanent", "no"))
                    expect.append("failed")
            seen["a batch of outcomes" if batched and len(outcomes) > 1 else "one outcome"] += 1
            if batched:  # one call per queue: a call stays in its queue's slot
                got = {}
                for name in QUEUES:
                    mine = [o for o in outcomes if self.queue[o.job_id] == name]
                    if mine:
                        got.update(zip((o.job_id for o in mine),
                                       finish(self.q.of(name), *mine), strict=True))
                assert [got[i] for i in picked] == expect
                picked = [i for name in QUEUES for i in picked if self.queue[i] == name]
                expect = [got[i] for i in picked]
            else:
                assert [s for o in outcomes
                        for s in finish(self.q.of(self.queue[o.job_id]), o)] == expect
            for job_id, status in zip(picked, expect, strict=True):
                self._set(job_id, status)

        @precondition(lambda self: any(s in ("pending", "scheduled", "retrying")
                                       for s in self.status.values()))
        @rule(data=st.data())
        def cancel_one(self, data: st.DataObject) -> None:
            job_id = data.draw(st.sampled_from(self._with("pending", "scheduled", "retrying")))
            assert self.q.cancel(job_id) == "cancelled"
            if self.status[job_id] == "pending":
                self.ready[self.queue[job_id]][self.prio[job_id]].remove(job_id)
            self._set(job_id, "cancelled")

        @precondition(lambda self: any(s == "failed" for s in self.status.values()))
        @rule(data=st.data())
        def requeue_some(self, data: st.DataObject) -> None:
            ids = data.draw(st.lists(st.sampled_from(self._with("failed")), min_size=1,
                                     unique=True))
            assert sorted(self.q.dlq_requeue(ids)) == sorted(ids)
            # by queue, then in the order given: back to the end of their priority's line,
            # attempts reset
            for job_id in [i for name in QUEUES for i in ids if self.queue[i] == name]:
                self.ready[self.queue[job_id]][self.prio[job_id]].append(job_id)
                self.attempts[job_id] = 0
                self._set(job_id, "pending")

        @invariant()
        def stored_as_modelled(self) -> None:
            if not hasattr(self, "q"):
                return
            ids = list(self.status)
            pipe = self.q.redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hget(self.q.holding(job_id).keys.job(job_id), "status")
            assert dict(zip(ids, pipe.execute(), strict=True)) == self.status
            for name in QUEUES:
                s = self.q.of(name).stats()
                count = {k: sum(self.queue[i] == name for i in self._with(*k))
                         for k in (("pending",), ("running",), ("failed",),
                                   ("scheduled", "retrying"))}
                assert (s.pending_total, s.running, s.dead_letter, s.scheduled + s.retrying
                        ) == tuple(count.values()), name

        @invariant()
        def events_tell_the_story(self) -> None:
            if not hasattr(self, "q"):
                return
            for name in QUEUES:
                events = self.q.of(name).events(after=self.cursor[name], count=100_000)
                assert [(f["id"], f["st"]) for _, f in events] == self.story[name], name
                if events:
                    self.cursor[name] = events[-1][0]
                    seen["events read"] += len(events)
                    seen["runs read"] += len(events) - len({eid for eid, _ in events})
                self.story[name] = []

    run_state_machine_as_test(QueueMachine, settings=settings(
        max_examples=50, stateful_step_count=50, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    for what in ("pending", "scheduled", "running", "completed", "retrying", "failed",
                 "cancelled", "a batch of outcomes", "one outcome", "runs read",
                 "pause or resume"):
        assert seen[what] > 0, (what, seen)
