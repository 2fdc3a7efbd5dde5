"""`boltq dev` end to end through real sockets: REST (the seed's curl payloads), WebSocket
status push, delayed-job precision, workflows, worker crash recovery, metrics, errors."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from tests.local.conftest import (
    DevProcess,
    job_status,
    kill_quietly,
    signed_client,
    submit,
    wait_job,
    wait_until,
)

pytestmark = pytest.mark.slow

SEED_JOB = {"type": "echo", "data": {"message": "Hello World"}, "priority": 1,
            "delay_seconds": 0}
SEED_WORKFLOW = {
    "name": "Data Processing Pipeline",
    "steps": [
        {"job_type": "fetch_data", "params": {"url": "https://example.com/data.csv"}},
        {"job_type": "process_data", "params": {"operation": "transform"},
         "depends_on": ["step-1"]},
    ],
}


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_seed_curl_payloads(dev: DevProcess) -> None:
    job_id = submit(dev, SEED_JOB)
    job = wait_job(dev, job_id)
    assert job["result"] == {"message": "Hello World"}
    status, body, _ = dev.call("GET", "/api/v1/queues/stats")
    assert status == 200 and body["success"] and body["data"]["totals"]["submitted"] >= 1
    status, body, _ = dev.call("POST", "/api/v1/workflows", SEED_WORKFLOW)
    assert status == 200 and body["data"]["workflow_id"]
    status, body, _ = dev.call("GET", "/health")
    assert status == 200 and body["data"]["status"] == "ok"
    # the invocation log: one readable line per invocation
    assert any("ApiFunction" in line and "POST /api/v1/jobs -> 200" in line
               for line in dev.lines)


def test_openapi_docs_home_and_metrics(dev: DevProcess) -> None:
    status, doc, _ = dev.call("GET", "/api/v1/openapi.json")
    assert status == 200 and "/api/v1/jobs" in doc["paths"]
    status, page, hdrs = dev.call("GET", "/api/v1/docs")
    assert status == 200 and "swagger" in page.lower()
    status, page, _ = dev.call("GET", "/")
    assert status == 200 and "/api/v1/docs" in page
    submit(dev, {"type": "echo", "data": {}, "priority": "high"})
    status, text, hdrs = dev.call("GET", "/metrics",
                                  base=f"http://127.0.0.1:{dev.metrics_port}")
    assert status == 200 and hdrs["Content-Type"].startswith("text/plain")
    assert 'boltq_jobs_submitted_total{priority="high",queue_name="default",type="echo"}' in text
    assert 'boltq_jobs_in_queue{queue="normal",queue_name="default"}' in text
    assert "boltq_active_workers" in text


def test_bad_requests_get_clear_errors(dev: DevProcess) -> None:
    status, body, _ = dev.call("POST", "/api/v1/jobs", raw=b"{not json")
    assert status == 400 and body["success"] is False and body["error"]
    status, body, _ = dev.call("POST", "/api/v1/jobs", {"type": "echo", "priority": "urgent"})
    assert status in (400, 422) and "priority" in body["error"]
    status, body, _ = dev.call("GET", "/api/v1/jobs/does-not-exist")
    assert status == 404 and body["success"] is False
    status, body, _ = dev.call("GET", "/api/v1/nothing-here")
    assert status == 404 and "no route for GET /api/v1/nothing-here" in body["error"]
    status, body, hdrs = dev.call("DELETE", "/api/v1/jobs")
    assert status == 405 and "GET" in hdrs["Allow"]
    status, body, _ = dev.call("POST", "/api/v1/workflows",
                               {"name": "x", "steps": [{"job_type": "echo",
                                                        "depends_on": ["step-9"]}]})
    assert status == 400 and "step-9" in body["error"]
    # CORS preflight, answered from the template's Cors settings for the playground's origin
    origin = f"http://localhost:{dev.api_port}"
    status, _, hdrs = dev.call("OPTIONS", "/api/v1/jobs", headers={"Origin": origin})
    assert status == 200 and hdrs["Access-Control-Allow-Origin"] == origin
    # the Lambda Invoke API and the management API answer like AWS (to signed calls)
    lam = signed_client(dev, "lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="Nope", Payload=b"{}")
    api = signed_client(dev, "apigatewaymanagementapi")
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="gone-id", Data=b"hi")


def test_invoke_api_request_response(dev: DevProcess) -> None:
    client = signed_client(dev, "lambda")
    event = {"httpMethod": "GET", "path": "/health", "resource": "/health",
             "headers": {}, "requestContext": {"stage": "prod"}, "body": None}
    out = client.invoke(FunctionName="ApiFunction", Payload=json.dumps(event).encode())
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    reply = json.loads(out["Payload"].read())
    assert reply["statusCode"] == 200
    out = client.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:ApiFunction",
                        InvocationType="DryRun")
    assert out["StatusCode"] == 204


def test_delayed_job_starts_on_time(dev: DevProcess) -> None:
    job_id = submit(dev, {"type": "echo", "data": {"n": 1}, "delay_seconds": 2})
    assert job_status(dev, job_id)["status"] == "scheduled"
    job = wait_job(dev, job_id, timeout=10)
    waited = ts(job["started_at"]) - ts(job["created_at"])
    assert 2.0 <= waited <= 2.2, waited


def test_three_step_workflow(dev: DevProcess) -> None:
    spec = {"name": "three", "steps": [
        {"job_type": "echo", "params": {"a": 1}},
        {"job_type": "sleep", "params": {"seconds": 0.2}, "depends_on": ["step-1"]},
        {"job_type": "echo", "params": {"c": 3}, "depends_on": ["step-1", "step-2"]},
    ]}
    status, body, _ = dev.call("POST", "/api/v1/workflows", spec)
    assert status == 200, body
    wf_id = body["data"]["workflow_id"]

    def done() -> dict[str, Any] | None:
        wf = dev.call("GET", f"/api/v1/workflows/{wf_id}")[1]["data"]
        return wf if wf["status"] in ("completed", "failed") else None

    wf = wait_until(done, 30)
    assert wf["status"] == "completed"
    assert [s["status"] for s in wf["steps"]] == ["completed"] * 3


def test_websocket_watch_running_then_completed(dev: DevProcess) -> None:
    async def main() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as s, s.ws_connect(dev.ws_url) as ws:
            job_id = submit(dev, {"type": "sleep", "data": {"seconds": 0.3},
                                  "delay_seconds": 0.5})
            await ws.send_json({"action": "subscribe", "job_id": job_id})
            reply = await ws.receive_json(timeout=10)
            assert reply["type"] == "subscribed" and reply["job_id"] == job_id
            await ws.send_json({"action": "ping"})
            await ws.send_json({"action": "bogus"})
            got: list[dict[str, Any]] = []
            # the replies to ping and bogus may come after the job's updates (a busy machine)
            while not (any(m.get("status") == "completed" for m in got)
                       and {"type": "pong"} in got
                       and any(m.get("type") == "error" for m in got)):
                got.append(await ws.receive_json(timeout=15))
            return got

    msgs = asyncio.run(main())
    assert {"type": "pong"} in msgs
    errors = [m for m in msgs if m.get("type") == "error"]
    assert errors and "action" in errors[0]["error"]
    statuses = [m["status"] for m in msgs if m.get("type") == "job_update"]
    assert "running" in statuses and statuses[-1] == "completed"
    assert statuses.index("running") < statuses.index("completed")


def test_management_api_through_boto3(dev: DevProcess) -> None:
    """The same boto3 calls the ws function and the pusher make, against the local endpoint."""

    async def main() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(dev.ws_url) as ws:
            await ws.send_json({"action": "subscribe", "topic": "all"})
            await ws.receive_json(timeout=10)
            conns = await asyncio.to_thread(connected_ids, dev)
            assert conns
            for endpoint in (dev.url, dev.url + "/prod"):
                api = signed_client(dev, "apigatewaymanagementapi", endpoint)
                hits = 0
                for c in conns:
                    try:
                        await asyncio.to_thread(api.post_to_connection, ConnectionId=c,
                                                Data=b'{"hello":1}')
                        hits += 1
                    except api.exceptions.GoneException:
                        pass
                assert hits >= 1
                while True:  # skip pushed job updates from other tests
                    m = await ws.receive_json(timeout=5)
                    if m == {"hello": 1}:
                        break
                with pytest.raises(api.exceptions.GoneException):
                    api.post_to_connection(ConnectionId="not-connected", Data=b"x")

    asyncio.run(main())


def connected_ids(dev: DevProcess) -> list[str]:
    import redis

    fns = dev.functions()
    assert "WsFunction" in fns
    store = dev.lines[next(i for i, line in enumerate(dev.lines) if "Store" in line)]
    port = int(store.split("127.0.0.1:")[1].split(",")[0])
    r = redis.Redis(port=port, decode_responses=True)
    try:
        keys = r.keys("{boltq}:ws:conn:*")
        return [k.split(":ws:conn:", 1)[1] for k in keys]
    finally:
        r.close()


def test_sigkill_worker_mid_job_still_completes(dev: DevProcess) -> None:
    job_id = submit(dev, {"type": "sleep", "data": {"seconds": 3}})
    wait_job(dev, job_id, "running", timeout=10)
    workers = dev.functions()["WorkerFunction"]["containers"]
    busy = [c["pid"] for c in workers if c["busy"]]
    assert busy
    for pid in busy:
        kill_quietly(pid)
    t0 = time.monotonic()
    job = wait_job(dev, job_id, "completed", timeout=30)
    assert job["attempts"] >= 2
    assert time.monotonic() - t0 < 20
    assert any("Runtime.ExitError" in line for line in dev.lines)
