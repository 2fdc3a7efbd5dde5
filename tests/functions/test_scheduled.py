"""promoter, poller and worker driven with EventBridge scheduled events / the poller's invoke
payload, against a real Valkey/Redis; moto stands in for lambda:Invoke and the Management API,
with spies recording every call; and one test through all the handlers."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from boltq_core import Queue
from boltq_core.duties.fleet import WORKER_TTL_MS, Fleet, workers_needed
from boltq_core.duties.promotion import promote_until
from tests.conftest import wait_for
from tests.functions.conftest import (
    LambdaContext,
    body_of,
    load_function,
    rest_event,
    scheduled_event,
    ws_event,
)

WORKER_FN = "boltq-worker"


class AwsSpy:
    """Records lambda Invoke and PostToConnection calls made by any boto3 client created from
    the default session, before moto answers them."""

    def __init__(self) -> None:
        self.invokes: list[dict[str, Any]] = []
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.on_invoke: Any = None
        self.lock = threading.Lock()

    def invoke(self, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.invokes.append(dict(params))
        if self.on_invoke is not None:
            self.on_invoke(params)

    def post(self, params: dict[str, Any], **_: Any) -> None:
        data = params["Data"]
        with self.lock:
            self.posts.append((params["ConnectionId"], json.loads(data)))


@pytest.fixture
def aws(fn_env: Queue, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsSpy]:
    monkeypatch.setenv("WORKER_FUNCTION_NAME", WORKER_FN)
    spy = AwsSpy()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events
        events.register("provide-client-params.lambda.Invoke", spy.invoke)
        events.register("provide-client-params.apigatewaymanagementapi.PostToConnection",
                        spy.post)
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="boltq-worker-role", AssumeRolePolicyDocument="{}")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", "def handler(event, context):\n    return event\n")
        boto3.client("lambda").create_function(
            FunctionName=WORKER_FN, Runtime="python3.13", Role=role["Role"]["Arn"],
            Handler="app.handler", Code={"ZipFile": buf.getvalue()},
        )
        load_function("poller")._state.clear()  # its boto3 client must be made under moto
        yield spy
        boto3.DEFAULT_SESSION = None


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


def test_worker_runs_jobs_and_logs_json(fn_env: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    q = fn_env
    worker = load_function("worker")
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "0.3")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    ids = [q.submit({"type": "echo", "data": {"i": i}, "timeout_seconds": 5}).job_id
           for i in range(5)]
    from boltq_core.jobs.workflows import Workflows

    wf = Workflows(q).submit({"name": "w", "steps": [{"job_type": "echo", "timeout_seconds": 5}]})
    out = io.StringIO()
    handler = worker.logger.registered_handler
    old_stream, old_level = handler.setStream(out), worker.logger.log_level
    worker.logger.setLevel("INFO")
    token = Fleet(q.redis, q.keys).reserve(1, 4)[0]
    r = worker.handler({"source": "boltq.poller", "token": token},
                       LambdaContext("boltq-worker", remaining_ms=20_000))
    assert r["claimed"] == 6 and r["recorded"] == {"completed": 6}
    assert all(q.get(i).status == "completed" for i in ids)
    assert Fleet(q.redis, q.keys).live() == 0  # it left the fleet
    handler.setStream(old_stream)
    worker.logger.setLevel(old_level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    finished = [x for x in lines if x.get("message") == "job finished"]
    assert {x["job_id"] for x in finished} >= set(ids)
    assert all(x["job_type"] == "echo" and x["attempt"] == 1 and x["outcome"] == "completed"
               and x["level"] == "INFO" and x["service"] == "boltq-worker" for x in finished)
    assert [x["workflow_id"] for x in finished if "workflow_id" in x] == [wf]


def test_worker_never_claims_a_job_it_cannot_finish(fn_env: Queue,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    q = fn_env
    worker = load_function("worker")
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "0.2")
    monkeypatch.setenv("WORKER_STOP_BEFORE_SECONDS", "1")
    short = q.submit({"type": "echo", "timeout_seconds": 2}).job_id
    long_job = q.submit({"type": "sleep", "data": {"seconds": 1}, "timeout_seconds": 60}).job_id
    t0 = time.monotonic()
    r = worker.handler({}, LambdaContext("boltq-worker", remaining_ms=5_000))
    assert time.monotonic() - t0 < 5
    assert r["claimed"] == 1
    assert q.get(short).status == "completed"
    assert q.get(long_job).status == "pending" and q.get(long_job).attempts == 0


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


def test_a_running_worker_counts_in_the_fleet_only_briefly_ahead(
    fn_env: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that crashes must stop counting soon (not at its 900 s deadline), so the
    poller replaces it: its fleet entry is renewed with a short expiry while it runs."""
    q = fn_env
    worker = load_function("worker")
    monkeypatch.setenv("WORKER_IDLE_SECONDS", "0.2")
    q.submit({"type": "sleep", "data": {"seconds": 1}, "timeout_seconds": 5})
    scores: list[float] = []

    def watch() -> None:
        end = time.monotonic() + 3
        while time.monotonic() < end and not scores:
            got = q.redis.zrange(q.keys.tag + ":fleet", 0, -1, withscores=True)
            if got:
                scores.append(got[0][1] - time.time() * 1000)
            time.sleep(0.02)

    t = threading.Thread(target=watch)
    t.start()
    worker.handler({"token": "w1"}, LambdaContext("boltq-worker", remaining_ms=600_000))
    t.join()
    assert scores and 0 < scores[0] <= WORKER_TTL_MS
    assert Fleet(q.redis, q.keys).live() == 0


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
