"""`boltq dev` as a whole: jobs survive a restart (embedded Valkey with AOF), a route and a
schedule added to a copy of the template are served without code changes, API keys, Ctrl-C
leaves no process behind, and the `boltq` client commands."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.local.conftest import (
    FAST_ENV,
    ROOT,
    DevProcess,
    job_status,
    submit,
    wait_job,
    wait_until,
)

pytestmark = pytest.mark.slow


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purposes
        return f.read().split(") ", 1)[1][0] != "Z"


def test_restart_keeps_pending_jobs(tmp_path: Path) -> None:
    d = DevProcess(tmp_path / "data", env=FAST_ENV)
    d.start()
    try:
        later = submit(d, {"type": "echo", "data": {"k": "later"}, "delay_seconds": 4})
        pids = [c["pid"] for f in d.functions().values() for c in f["containers"]]
        store_pid_line = next(line for line in d.lines if "Store" in line)
        assert "embedded Valkey" in store_pid_line and str(tmp_path / "data") in store_pid_line
    finally:
        assert d.stop() == 0
    assert any(line.endswith("stopped") for line in d.lines)
    for pid in pids:  # no orphaned containers
        assert not alive(pid), pid
    d.start()
    try:
        assert job_status(d, later)["status"] in ("scheduled", "pending", "running", "completed")
        job = wait_job(d, later, timeout=20)
        assert job["result"] == {"k": "later"}
    finally:
        d.stop()


HELLO_APP = '''
import json, os, time

def handler(event, context):
    if event.get("source") == "aws.events":
        with open(os.environ["TICKS_FILE"], "a") as f:
            f.write(f"{time.time()}\\n")
        return {"ticked": True}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"hello": event["pathParameters"]["name"],
                                "q": event["multiValueQueryStringParameters"],
                                "remaining_ms": context.get_remaining_time_in_millis(),
                                "b64": event["isBase64Encoded"], "body": event["body"]})}
'''


def extended_template(tmp_path: Path) -> Path:
    fn_dir = tmp_path / "hello"
    fn_dir.mkdir()
    (fn_dir / "app.py").write_text(HELLO_APP)
    text = (ROOT / "template.yaml").read_text()
    text = text.replace("CodeUri: functions/", f"CodeUri: {ROOT}/functions/")
    text = text.replace("ContentUri: layers/", f"ContentUri: {ROOT}/layers/")
    extra = f"""Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {fn_dir}
      Handler: app.handler
      Timeout: 7
      Environment:
        Variables:
          TICKS_FILE: {tmp_path / "ticks.txt"}
      Events:
        Hello:
          Type: Api
          Properties: {{RestApiId: !Ref RestApi, Path: "/hello/{{name}}", Method: ANY,
                        Auth: {{Authorizer: NONE}}}}
        Guarded:
          Type: Api
          Properties: {{RestApiId: !Ref RestApi, Path: "/guarded", Method: GET}}
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
"""
    text = text.replace("Resources:\n", extra, 1)
    out = tmp_path / "template.yaml"
    out.write_text(text)
    return out


def test_added_route_and_schedule_served_without_code_changes(tmp_path: Path) -> None:
    key = "a-local-api-key-of-some-length"
    d = DevProcess(tmp_path / "data", template=extended_template(tmp_path),
                   env={**FAST_ENV, "BOLTQ_API_KEY": key}, args=["--schedule-speed", "60"])
    d.start()
    try:
        # the new route requires the API key, like the template's RestApi says
        status, body, _ = d.call("GET", "/hello/world")
        assert status == 401 and "x-api-key" in body["error"]
        status, body, _ = d.call("POST", "/hello/world?x=1&x=2", raw=b"\x00\x01binary",
                                 headers={"x-api-key": key,
                                          "Content-Type": "application/octet-stream"})
        assert status == 200, body
        assert body["hello"] == "world" and body["q"] == {"x": ["1", "2"]}
        assert body["b64"] is True and body["body"] == "AAFiaW5hcnk="
        assert 5000 < body["remaining_ms"] <= 7000
        # behind the API's default authorizer, a route the access table does not name is
        # refused to every key, the bootstrap admin key too (it fails closed)
        status, body, _ = d.call("GET", "/guarded", headers={"x-api-key": key})
        assert status == 403, body
        # public routes stay public; keyed ones check the key
        assert d.call("GET", "/health")[0] == 200
        assert d.call("GET", "/api/v1/queues/stats", headers={"x-api-key": "wrong"})[0] == 403
        # the schedule runs (60x faster: every second)
        ticks = tmp_path / "ticks.txt"
        wait_until(lambda: ticks.exists() and len(ticks.read_text().split()) >= 2, 10)

        async def ws_auth() -> tuple[int, str]:
            async with aiohttp.ClientSession() as s:
                try:
                    async with s.ws_connect(d.ws_url):
                        raise AssertionError("connected without the key")
                except aiohttp.WSServerHandshakeError as exc:
                    refused = exc.status
                status, body, _ = d.call("POST", "/api/v1/ws/tickets",
                                         headers={"x-api-key": key})
                assert status == 200, body
                ticket = body["data"]["ticket"]
                async with s.ws_connect(d.ws_url + f"?ticket={ticket}") as ws:
                    await ws.send_json({"action": "ping"})
                    return refused, (await ws.receive_json(timeout=5))["type"]

        assert asyncio.run(ws_auth()) == (401, "pong")
    finally:
        d.stop()


def boltq(d: DevProcess, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "boltq_local.cli", *args, "--url", d.url],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_cli_commands(dev: DevProcess, tmp_path: Path) -> None:
    r = boltq(dev, "submit", "echo", "--data", '{"message": "hi"}', "--priority", "high",
              "--watch", "--interval", "0.1")
    assert r.returncode == 0, r.stderr
    assert "completed" in r.stdout and "job_id" in r.stdout
    job_id = r.stdout.split("\n")[2].split()[0]
    r = boltq(dev, "status", job_id)
    assert r.returncode == 0 and "completed" in r.stdout and '"message": "hi"' in r.stdout
    r = boltq(dev, "status", job_id, "--json")
    assert json.loads(r.stdout)["id"] == job_id
    r = boltq(dev, "submit", "echo", "--delay", "0.3", "--json")
    delayed = json.loads(r.stdout)
    assert delayed["status"] == "scheduled"
    r = boltq(dev, "status", delayed["job_id"], "--watch", "--interval", "0.1")
    assert r.returncode == 0 and "scheduled" in r.stdout and "completed" in r.stdout
    # a job that fails for good lands in the dead-letter queue
    failing = submit(dev, {"type": "no-such-type", "data": {}})
    wait_job(dev, failing, "failed")
    r = boltq(dev, "dlq", "list")
    assert r.returncode == 0 and failing in r.stdout
    r = boltq(dev, "dlq", "requeue", failing)
    assert r.returncode == 0 and "requeued 1" in r.stdout
    wait_job(dev, failing, "failed")
    r = boltq(dev, "dlq", "purge")
    assert r.returncode == 0 and "purged" in r.stdout
    r = boltq(dev, "stats")
    assert r.returncode == 0 and "queue" in r.stdout and "submitted" in r.stdout
    spec = tmp_path / "wf.json"
    spec.write_text(json.dumps({"name": "cli", "steps": [
        {"job_type": "echo", "params": {"a": 1}},
        {"job_type": "echo", "params": {"b": 2}, "depends_on": ["step-1"]},
        {"job_type": "echo", "params": {"c": 3}, "depends_on": ["step-2"]},
    ]}))
    r = boltq(dev, "workflow", "submit", str(spec), "--watch", "--interval", "0.1")
    assert r.returncode == 0, r.stderr
    assert "completed" in r.stdout and "step-3" in r.stdout
    # errors are readable and exit non-zero
    r = boltq(dev, "submit", "echo", "--data", "{oops")
    assert r.returncode == 1 and "--data: not valid JSON" in r.stderr
    r = boltq(dev, "submit", "echo", "--priority", "urgent")
    assert r.returncode == 1 and "priority" in r.stderr
    r = boltq(dev, "status", "nope")
    assert r.returncode == 1 and "404" in r.stderr


def test_a_watch_ends_its_websocket_thread_before_the_cli_exits(dev: DevProcess) -> None:
    """A daemon thread still running aiohttp while the interpreter shuts down can crash it
    (CI saw `boltq submit --watch` die of SIGSEGV after printing the finished job): stop()
    ends the WebSocket follower before `watch` returns."""
    from boltq_local.cli import Client
    from boltq_local.live import JobChanges, ws_url_for

    job_id = submit(dev, {"type": "echo", "data": {}, "delay_seconds": 60})
    url = ws_url_for(dev.url)
    assert url is not None
    changes = JobChanges(Client(dev.url), url, job_id).start()
    wait_until(changes.live.is_set)
    changes.stop()
    assert not changes._thread.is_alive()
    assert not changes.live.is_set()


def test_cli_unreachable() -> None:
    r = subprocess.run([sys.executable, "-m", "boltq_local.cli", "stats", "--url",
                        "http://127.0.0.1:9"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot reach" in r.stderr
