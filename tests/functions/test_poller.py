"""The poller function (functions/poller): fans workers out in proportion to the backlog, reacts
within milliseconds, coalesces bursts and carries on after a failed pass; moto stands in for
lambda:Invoke, with a spy recording every call."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.duties.fleet import Fleet, scale_until, workers_needed
from boltq_local.valkey import ValkeyServer
from tests.conftest import wait_for
from tests.functions.conftest import (
    AwsSpy,
    LambdaContext,
    load_function,
    outage,
    scheduled_event,
    try_call,
)

WORKER_FN = "boltq-worker"


def test_workers_needed() -> None:
    assert workers_needed(0, 50, 4) == 0
    assert workers_needed(1, 50, 4) == 1
    assert workers_needed(120, 50, 4) == 3
    assert workers_needed(10_000, 50, 4) == 4


def test_poller_fans_out_in_proportion_and_counts_live_workers(
    aws: AwsSpy, fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = fn_env
    poller = load_function("poller")
    monkeypatch.setenv("NUM_WORKERS", "4")
    monkeypatch.setenv("JOBS_PER_WORKER", "50")
    monkeypatch.setenv("POLLER_STOP_BEFORE_SECONDS", "0")
    # nothing to do: nothing invoked
    r = poller.handler(scheduled_event(), LambdaContext("boltq-poller", remaining_ms=300))
    assert r["invoked"] == 0 and aws.invokes == []

    q.submit_many([{"type": "echo"}] * 120)
    r = poller.handler(scheduled_event(), LambdaContext("boltq-poller", remaining_ms=300))
    assert r["invoked"] == 3 == len(aws.invokes)
    for call in aws.invokes:
        assert call["FunctionName"] == WORKER_FN and call["InvocationType"] == "Event"
        assert json.loads(call["Payload"])["token"]
    # those 3 are still alive (reserved): a second pass adds none, however often it looks
    r = poller.handler(scheduled_event(), LambdaContext("boltq-poller", remaining_ms=300))
    assert r["invoked"] == 0
    # more backlog: up to the cap of 4, counting the live ones
    q.submit_many([{"type": "echo"}] * 500)
    r = poller.handler(scheduled_event(), LambdaContext("boltq-poller", remaining_ms=300))
    assert r["invoked"] == 1 and len(aws.invokes) == 4
    assert Fleet(q.redis, q.keys).live() == 4


def test_poller_reacts_within_milliseconds(aws: AwsSpy, fn_env: Queue,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    q = fn_env
    poller = load_function("poller")
    monkeypatch.setenv("POLLER_STOP_BEFORE_SECONDS", "0")
    invoked_at: list[float] = []
    aws.on_invoke = lambda _: invoked_at.append(time.monotonic())
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(poller.handler(
        scheduled_event(), LambdaContext("boltq-poller", remaining_ms=2500))))
    t.start()
    time.sleep(0.8)  # the poller is blocked on the stream by now
    submitted = time.monotonic()
    q.submit({"type": "echo"})
    wait_for(lambda: invoked_at, timeout=2)
    t.join()
    assert invoked_at[0] - submitted < 0.25, invoked_at[0] - submitted
    assert result["invoked"] == 1 and result["wakes"] >= 1


def test_poller_coalesces_a_burst_of_submits(aws: AwsSpy, fn_env: Queue,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Each submit is a `pending` event; a burst of them costs one read and one backlog check
    per POLLER_COALESCE_MS, and the backlog still gets its workers."""
    q = fn_env
    poller = load_function("poller")
    monkeypatch.setenv("POLLER_STOP_BEFORE_SECONDS", "0")
    monkeypatch.setenv("POLLER_COALESCE_MS", "100")
    monkeypatch.setenv("NUM_WORKERS", "2")
    monkeypatch.setenv("JOBS_PER_WORKER", "10")
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(poller.handler(
        scheduled_event(), LambdaContext("boltq-poller", remaining_ms=1500))))
    t.start()
    time.sleep(0.3)
    end = time.monotonic() + 0.5
    n = 0
    while time.monotonic() < end:
        q.submit({"type": "echo"})
        n += 1
        time.sleep(0.004)
    t.join()
    assert n >= 50
    assert result["invoked"] == 2 == len(aws.invokes)
    assert result["reads"] <= 20, result  # one per 100 ms (the backlog waits), not one per n
    assert 1 <= result["wakes"] <= 8, result


@pytest.mark.slow
def test_poller_carries_on_after_a_failed_pass(store: tuple[ValkeyServer, Queue],
                                               caplog: pytest.LogCaptureFixture) -> None:
    server, q = store
    invoked: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(scale_until(
        q, time.monotonic() + 6.0, lambda **kw: invoked.append(kw), "boltq-worker")))
    runner.start()
    down = outage(server, after=0.5, seconds=1.0)
    down.join()
    wait_for(lambda: try_call(lambda: q.submit({"type": "echo"})), timeout=5)
    wait_for(lambda: invoked, timeout=3)
    runner.join()
    assert result["invoked"] >= 1 and invoked[0]["FunctionName"] == "boltq-worker"
    assert any("poller pass failed" in r.getMessage() for r in caplog.records)
