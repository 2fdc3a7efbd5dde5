"""One job through every handler: api submit -> poller invokes worker -> worker completes it ->
the subscribed WebSocket connection is told, against a real store and moto for AWS calls."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from boltq_core import Queue
from tests.functions.conftest import (
    AwsSpy,
    LambdaContext,
    body_of,
    load_function,
    rest_event,
    scheduled_event,
    ws_event,
)

WORKER_FN = "boltq-worker"


def test_through_every_handler(aws: AwsSpy, fn_env: Queue,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """api submit -> poller invokes worker -> worker completes it -> the subscribed connection
    received `running` and `completed` (pushed by the promoter's pusher via the Management API)."""
    api, ws, poller, promoter, worker = (load_function(n) for n in
                                         ("api", "ws", "poller", "promoter", "worker"))
    for k, v in {"POLLER_STOP_BEFORE_SECONDS": "0", "PROMOTER_STOP_BEFORE_SECONDS": "0",
                 "WORKER_IDLE_SECONDS": "0.5",
                 # the default job timeout (300 s) must fit in the worker's remaining time
                 "JOB_TIMEOUT_SECONDS": "5"}.items():
        monkeypatch.setenv(k, v)
    threads: list[threading.Thread] = []
    worker_results: list[dict[str, Any]] = []

    def start_worker(params: dict[str, Any]) -> None:  # Lambda runs Event invokes later
        event = json.loads(params["Payload"])
        th = threading.Thread(target=lambda: worker_results.append(
            worker.handler(event, LambdaContext("boltq-worker", remaining_ms=10_000))))
        th.start()
        threads.append(th)

    aws.on_invoke = start_worker

    resp = api.handler(rest_event("POST", "/api/v1/jobs", {
        "type": "echo", "data": {"message": "Hello World"}, "priority": 1}), LambdaContext())
    job_id = body_of(resp)["data"]["job_id"]
    assert ws.handler(ws_event("$connect", "e2eConn"), LambdaContext())["statusCode"] == 200
    r = ws.handler(ws_event("subscribe", "e2eConn", {"action": "subscribe", "job_id": job_id}),
                   LambdaContext())
    assert body_of(r)["status"] == "pending"

    promoter_result: dict[str, Any] = {}
    p = threading.Thread(target=lambda: promoter_result.update(promoter.handler(
        scheduled_event(), LambdaContext("boltq-promoter", remaining_ms=4000))))
    p.start()
    time.sleep(0.2)
    poller_result = poller.handler(scheduled_event("boltq-poller-schedule"),
                                   LambdaContext("boltq-poller", remaining_ms=1500))
    p.join()
    for th in threads:
        th.join()

    assert poller_result["invoked"] == 1 and len(aws.invokes) == 1
    assert worker_results and worker_results[0]["recorded"] == {"completed": 1}
    resp = api.handler(rest_event("GET", f"/api/v1/jobs/{job_id}"), LambdaContext())
    assert body_of(resp)["data"]["status"] == "completed"
    assert body_of(resp)["data"]["result"] == {"message": "Hello World"}

    got = [m for c, m in aws.posts if c == "e2eConn"]
    statuses = [m["status"] for m in got]
    assert "running" in statuses and statuses[-1] == "completed", statuses
    assert statuses.index("running") < statuses.index("completed")
    assert all(m["type"] == "job_update" and m["job_id"] == job_id for m in got)
    assert got[-1]["data"]["result"] == {"message": "Hello World"}
    assert promoter_result["pushed"] == len(got)
