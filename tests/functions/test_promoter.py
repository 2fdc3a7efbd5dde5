"""The promoter function (functions/promoter): promotes due jobs precisely, takes turns with an
overlapping promoter, coalesces wakes and carries on after a failed pass."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.duties.promotion import promote_until
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


def test_promoter_promotes_due_jobs_precisely(aws: AwsSpy, fn_env: Queue,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    q = fn_env
    promoter = load_function("promoter")
    monkeypatch.setenv("PROMOTER_STOP_BEFORE_SECONDS", "0")
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(promoter.handler(
        scheduled_event(), LambdaContext("boltq-promoter", remaining_ms=3000))))
    t.start()
    time.sleep(0.3)
    job = q.submit({"type": "echo", "delay_seconds": 0.7}).job_id
    due = time.time() + 0.7
    assert q.get(job).status == "scheduled"
    wait_for(lambda: q.get(job).status == "pending", timeout=2, every=0.002)
    late = time.time() - due
    t.join()
    assert -0.01 < late < 0.1, late
    assert result["promoted"] == 1 and result["passes"] >= 2


def test_overlapping_promoters_take_turns(aws: AwsSpy, fn_env: Queue,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    promoter = load_function("promoter")
    monkeypatch.setenv("PROMOTER_STOP_BEFORE_SECONDS", "0")
    results: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: results.append(promoter.handler(
        scheduled_event(), LambdaContext("boltq-promoter", remaining_ms=1500))))
    first.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    second = promote_until(fn_env, time.monotonic() + 0.5)  # ends before the first lets go
    assert "skipped" in second and time.monotonic() - t0 >= 0.4
    first.join()
    assert "passes" in results[0]
    third = promote_until(fn_env, time.monotonic() + 0.3)  # free again
    assert "passes" in third


def test_promoter_coalesces_wakes_and_ignores_running_with_long_leases(
    aws: AwsSpy, fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of delayed submits costs one re-plan per PROMOTER_COALESCE_MS; with leases of a
    second or more, jobs starting to run cause no re-plan at all; due jobs stay on time."""
    q = fn_env
    promoter = load_function("promoter")
    monkeypatch.setenv("PROMOTER_STOP_BEFORE_SECONDS", "0")
    monkeypatch.setenv("PROMOTER_COALESCE_MS", "100")
    monkeypatch.setenv("BOLTQ_PUSH", "0")
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(promoter.handler(
        scheduled_event(), LambdaContext("boltq-promoter", remaining_ms=2000))))
    t.start()
    time.sleep(0.2)
    end = time.monotonic() + 0.5
    n = 0
    while time.monotonic() < end:  # `scheduled` events every ~5 ms
        q.submit({"type": "echo", "delay_seconds": 3600})
        n += 1
        time.sleep(0.005)
    due_job = q.submit({"type": "echo", "delay_seconds": 0.6}).job_id
    due = time.time() + 0.6
    wait_for(lambda: q.get(due_job).status == "pending", timeout=2, every=0.002)
    late = time.time() - due
    t.join()
    assert n >= 50
    assert -0.01 < late < 0.1, late
    assert result["promoted"] == 1
    assert result["passes"] <= 12, result  # not one per submit

    # `running` events (jobs claimed) do not wake a promoter when leases are >= 1 s
    q.submit_many([{"type": "echo"}] * 30)
    result.clear()
    t = threading.Thread(target=lambda: result.update(promoter.handler(
        scheduled_event(), LambdaContext("boltq-promoter", remaining_ms=800))))
    t.start()
    time.sleep(0.1)
    for _ in range(30):
        q.run(q.calls.claim(1, q.settings.lease_seconds)[0])  # one `running` event each
        time.sleep(0.01)
    t.join()
    assert result["passes"] <= 2, result


@pytest.mark.slow
def test_promoter_carries_on_after_a_failed_pass(store: tuple[ValkeyServer, Queue],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    server, q = store
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(
        promote_until(q, time.monotonic() + 6.0)))
    runner.start()
    down = outage(server, after=0.5, seconds=1.0)
    down.join()
    job = wait_for(lambda: try_call(lambda: q.submit({"type": "echo", "delay_seconds": 0.5})),
                   timeout=5).job_id
    wait_for(lambda: q.get(job).status == "pending", timeout=3)
    runner.join()
    assert result["promoted"] >= 1 and result["passes"] >= 2
    assert any("promoter pass failed" in r.getMessage() for r in caplog.records)
