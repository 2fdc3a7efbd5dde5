"""`boltq dev` lets no one in through a side door (SPEC §14): its Lambda Invoke API and
@connections serve only requests SigV4-signed with the credentials it hands its own functions,
browsers get in only from the playground's origin (CORS never says "*"), and a Host header
that does not name this server is refused (DNS rebinding)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.config import Config

from tests.local.conftest import (
    DevProcess,
    closed_after_test,
    http,
    signed_client,
    submit,
    wait_job,
    wait_until,
)
from tests.local.test_dev import connected_ids

NO_RETRY = Config(retries={"max_attempts": 1})


def credentials(dev: DevProcess) -> dict[str, str]:
    path = Path(dev.data_dir) / "lambda-credentials.json"
    assert path.stat().st_mode & 0o077 == 0, "readable by others"
    return dict(json.loads(path.read_text()))


def worker_runs(dev: DevProcess) -> int:
    w = dev.functions()["WorkerFunction"]
    return w["queued_events"] + sum(c["invocations"] for c in w["containers"])


def quiet_worker_runs(dev: DevProcess, for_seconds: float = 1.5, timeout: float = 30) -> int:
    """worker_runs once no worker has started for `for_seconds`: the poller starts workers
    for the jobs earlier tests of this boltq dev submitted, and those runs are not the test's."""
    end = time.monotonic() + timeout
    last, since = worker_runs(dev), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        now = worker_runs(dev)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= for_seconds:
            return now
    raise AssertionError(f"workers kept starting for {timeout} s")


def test_the_functions_get_random_credentials(dev: DevProcess, tmp_path: Path) -> None:
    c = credentials(dev)
    assert c["AccessKeyId"].startswith("ASIA") and len(c["SecretAccessKey"]) >= 30
    assert c["Version"] == 1  # credential_process output
    assert "local" not in c.values()
    other = DevProcess(tmp_path).start()
    try:
        assert credentials(other)["SecretAccessKey"] != c["SecretAccessKey"]
    finally:
        other.stop()


def test_an_unsigned_invoke_runs_nothing(dev: DevProcess) -> None:
    before = quiet_worker_runs(dev)
    for kind in ("Event", "RequestResponse"):
        status, body, hdrs = dev.call("POST", "/2015-03-31/functions/WorkerFunction/invocations",
                                      {}, headers={"X-Amz-Invocation-Type": kind})
        assert status == 403, body
        assert hdrs["x-amzn-ErrorType"] == "InvalidSignatureException"
    # signed with botocore but the wrong secret, or a signature copied onto another body
    bad = signed_client(dev, "lambda", SecretAccessKey="not-the-secret")
    with pytest.raises(bad.exceptions.ClientError) as err:
        bad.invoke(FunctionName="WorkerFunction", InvocationType="Event", Payload=b"{}")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    stranger = signed_client(dev, "lambda", SessionToken="someone-elses")
    with pytest.raises(stranger.exceptions.ClientError):
        stranger.invoke(FunctionName="WorkerFunction", InvocationType="Event", Payload=b"{}")
    time.sleep(0.3)
    assert worker_runs(dev) == before
    # the same call signed with the functions' credentials runs it (the count can move)
    out = signed_client(dev, "lambda").invoke(FunctionName="WorkerFunction", InvocationType="Event",
                                       Payload=b"{}")
    assert out["StatusCode"] == 202
    wait_until(lambda: worker_runs(dev) > before)


def test_a_replayed_signature_does_not_fit_another_request(dev: DevProcess) -> None:
    """A signed request captured and sent again with another body or to another function."""
    seen: dict[str, Any] = {}
    lam = signed_client(dev, "lambda")
    lam.meta.events.register("before-send.lambda.Invoke",
                             lambda request, **_: seen.update(headers=dict(request.headers)))
    lam.invoke(FunctionName="ApiFunction", InvocationType="DryRun", Payload=b"{}")
    headers = {k: v.decode() if isinstance(v, bytes) else v
               for k, v in seen["headers"].items() if k.lower() not in ("content-length",)}
    headers["X-Amz-Invocation-Type"] = "DryRun"
    status, _, _ = dev.call("POST", "/2015-03-31/functions/ApiFunction/invocations", raw=b"{}",
                            headers=headers)
    assert status == 204  # the captured request itself passes
    before = quiet_worker_runs(dev)
    status, _, _ = dev.call("POST", "/2015-03-31/functions/WorkerFunction/invocations",
                            raw=b"{}", headers={**headers, "X-Amz-Invocation-Type": "Event"})
    assert status == 403
    status, _, _ = dev.call("POST", "/2015-03-31/functions/ApiFunction/invocations",
                            raw=b'{"x": 1}', headers=headers)
    assert status == 403
    assert worker_runs(dev) == before


def test_signed_invoke_works_and_the_poller_still_fans_out(dev: DevProcess) -> None:
    event = {"httpMethod": "GET", "path": "/health", "resource": "/health",
             "headers": {}, "requestContext": {"stage": "prod"}, "body": None}
    out = signed_client(dev, "lambda").invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:ApiFunction",
        Payload=json.dumps(event).encode())
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read())["statusCode"] == 200
    # the poller's own boto3 call carries the functions' credentials: workers still start
    wait_job(dev, submit(dev, {"type": "echo", "data": {"n": 1}}))


def test_the_file_works_as_a_credential_process(dev: DevProcess, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's profile: `credential_process = cat <data dir>/lambda-credentials.json`."""
    config = tmp_path / "aws-config"
    path = Path(dev.data_dir) / "lambda-credentials.json"
    config.write_text(f"[profile boltq-dev]\ncredential_process = cat {path}\n"
                      "region = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    lam = closed_after_test(boto3.Session(profile_name="boltq-dev").client(
        "lambda", endpoint_url=dev.url, config=NO_RETRY))
    assert lam.invoke(FunctionName="ApiFunction", InvocationType="DryRun")["StatusCode"] == 204


def test_connections_api_needs_the_signature(dev: DevProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(dev.ws_url) as ws:
            await ws.send_json({"action": "subscribe", "topic": "all"})
            await ws.receive_json(timeout=10)
            ids = await asyncio.to_thread(connected_ids, dev)
            for cid in ids:
                status, body, _ = await asyncio.to_thread(
                    dev.call, "POST", f"/@connections/{cid}", None, b'{"pwned":1}')
                assert status == 403, body
                status, _, _ = await asyncio.to_thread(dev.call, "DELETE",
                                                       f"/prod/@connections/{cid}")
                assert status == 403
            assert not ws.closed
            wrong = signed_client(dev, "apigatewaymanagementapi", SecretAccessKey="nope")
            with pytest.raises(wrong.exceptions.ClientError):
                await asyncio.to_thread(wrong.post_to_connection, ConnectionId=ids[0],
                                        Data=b'{"pwned":2}')
            right = signed_client(dev, "apigatewaymanagementapi", endpoint=dev.url + "/prod")
            hits = 0
            for cid in ids:
                try:
                    await asyncio.to_thread(right.post_to_connection, ConnectionId=cid,
                                            Data=b'{"hello":1}')
                    hits += 1
                except right.exceptions.GoneException:
                    pass
            assert hits >= 1
            while True:  # nothing forged arrived before the signed message
                m = await ws.receive_json(timeout=5)
                assert "pwned" not in m
                if m == {"hello": 1}:
                    break

    asyncio.run(main())


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{0}", "127.0.0.2", ""])
def test_a_foreign_host_header_is_refused(dev: DevProcess, host: str) -> None:
    """DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1."""
    host = host.replace(":0", f":{dev.api_port}")
    before = quiet_worker_runs(dev)
    for method, path in (("GET", "/api/v1/queues/stats"), ("POST", "/api/v1/jobs"),
                         ("GET", "/"), ("POST", "/2015-03-31/functions/WorkerFunction/"
                                                "invocations")):
        status, body, _ = dev.call(method, path, {"type": "echo"} if method == "POST" else None,
                                   headers={"Host": host})
        assert status == 403, (path, body)
    assert worker_runs(dev) == before
    status, _, _ = http("GET", f"http://127.0.0.1:{dev.metrics_port}/metrics",
                        headers={"Host": host})
    assert status == 403


def test_loopback_names_pass(dev: DevProcess) -> None:
    for host in ("localhost", "127.0.0.1", "[::1]"):
        status, _, _ = dev.call("GET", "/health", headers={"Host": f"{host}:{dev.api_port}"})
        assert status == 200, host
    status, _, _ = http("GET", f"http://127.0.0.1:{dev.metrics_port}/metrics")
    assert status == 200


def test_cors_allows_the_playground_only(dev: DevProcess) -> None:
    mine = f"http://localhost:{dev.api_port}"
    status, _, hdrs = dev.call("OPTIONS", "/api/v1/jobs", headers={
        "Origin": mine, "Access-Control-Request-Method": "POST"})
    assert status == 200 and hdrs["Access-Control-Allow-Origin"] == mine
    status, _, hdrs = dev.call("GET", "/api/v1/queues/stats", headers={"Origin": mine})
    assert status == 200 and hdrs["Access-Control-Allow-Origin"] == mine
    status, _, hdrs = dev.call("GET", "/api/v1/queues/stats")
    assert status == 200 and hdrs.get("Access-Control-Allow-Origin") in (None, mine)
    for evil in ("http://evil.example", "null", f"http://localhost:{dev.api_port + 1}"):
        for method, path in (("OPTIONS", "/api/v1/jobs"), ("GET", "/api/v1/queues/stats"),
                             ("POST", "/api/v1/jobs")):
            status, body, hdrs = dev.call(method, path, {"type": "evil_probe"}
                                          if method == "POST" else None,
                                          headers={"Origin": evil})
            assert status == 403, (evil, path, body)
            assert "Access-Control-Allow-Origin" not in hdrs
    # nothing a foreign page POSTed was stored
    status, body, _ = dev.call("GET", "/api/v1/jobs?type=evil_probe")
    assert status == 200 and body["data"]["items"] == [], body
    assert submit(dev, {"type": "evil_probe"})  # the probe itself can fail
    assert dev.call("GET", "/api/v1/jobs?type=evil_probe")[1]["data"]["items"]


def test_websocket_from_a_foreign_page_is_refused(dev: DevProcess) -> None:
    async def connect(origin: str | None, host: str | None = None) -> int:
        headers = {"Host": host} if host else {}
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(dev.ws_url, origin=origin, headers=headers) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(connect("http://evil.example")) == 403
    assert asyncio.run(connect(None, "evil.example")) == 403
    assert asyncio.run(connect(f"http://127.0.0.1:{dev.api_port}")) == 101
    assert asyncio.run(connect(None)) == 101


def test_an_allowed_host_and_origin_can_be_configured(tmp_path: Path) -> None:
    d = DevProcess(tmp_path, env={"CORS_ALLOW_ORIGINS": "http://localhost:5173"},
                   args=["--allowed-host", "boltq.test"]).start()
    try:
        status, _, _ = d.call("GET", "/health", headers={"Host": f"boltq.test:{d.api_port}"})
        assert status == 200
        status, _, hdrs = d.call("GET", "/api/v1/queues/stats",
                                 headers={"Origin": "http://localhost:5173"})
        assert status == 200 and hdrs["Access-Control-Allow-Origin"] == "http://localhost:5173"
        status, _, _ = d.call("GET", "/health", headers={"Host": f"other.test:{d.api_port}"})
        assert status == 403
    finally:
        d.stop()
