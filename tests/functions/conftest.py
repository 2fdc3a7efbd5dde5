"""Helpers for the function tests: load functions/<name>/app.py, real API Gateway / EventBridge
event shapes, a Lambda context, and the environment pointing the functions at the test's own
namespace on the real Redis/Valkey server (tests/conftest.py)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from boltq_core import Queue, Settings
from boltq_local.schedules import eventbridge_event
from boltq_local.valkey import ValkeyServer, free_port

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("api", "ws", "promoter", "poller", "worker", "authorizer")
WS_DOMAIN = "abc123defg.execute-api.us-east-1.amazonaws.com"
WS_ENDPOINT = f"https://{WS_DOMAIN}/prod"


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py once, as module `boltq_fn_<name>`."""
    mod_name = f"boltq_fn_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """The attributes of the Lambda runtime's context object the functions (and Powertools'
    inject_lambda_context) read."""

    def __init__(self, name: str = "boltq-test", remaining_ms: float = 30_000) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2025/01/01/[$LATEST]test"
        self._end = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def rest_event(
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API (v1) Lambda proxy event, as API Gateway sends it (with the
    Lambda authorizer's context as requestContext.authorizer when one ran)."""
    hdrs = {"Accept": "application/json", "Host": "api.example.com", "User-Agent": "curl/8.5.0"}
    if body is not None or raw_body is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0", "apiKey": None},
            **({"authorizer": authorizer} if authorizer is not None else {}),
        },
        "body": text,
        "isBase64Encoded": False,
    }


def ws_event(
    route: str,
    conn_id: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway WebSocket API event ($connect, $disconnect or a message route)."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    rc: dict[str, Any] = {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": str(uuid.uuid4()),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": int(time.time() * 1000),
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {"sourceIp": "203.0.113.7"},
        "requestId": str(uuid.uuid4()),
        "domainName": WS_DOMAIN,
        "connectionId": conn_id,
        "apiId": "abc123defg",
    }
    if authorizer is not None:
        rc["authorizer"] = authorizer
    event: dict[str, Any] = {"requestContext": rc, "isBase64Encoded": False}
    if event_type == "MESSAGE":
        rc["messageId"] = str(uuid.uuid4())
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if event_type == "CONNECT":
        event["headers"] = {"Host": WS_DOMAIN, "Sec-WebSocket-Version": "13", **(headers or {})}
        event["queryStringParameters"] = query
    if event_type == "DISCONNECT":
        rc["disconnectStatusCode"] = 1000
        rc["disconnectReason"] = "Client-side close frame status not set"
    return event


def scheduled_event(rule: str = "boltq-promoter-schedule") -> dict[str, Any]:
    """An EventBridge scheduled event (the same shape boltq dev sends)."""
    return eventbridge_event(rule)


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def env_for(queue: Queue) -> dict[str, str]:
    s = queue.settings
    return {
        "REDIS_URL": s.url,
        "BOLTQ_PREFIX": s.key_prefix,
        "LEASE_SECONDS": str(s.lease_seconds),
        "RETRY_BASE_SECONDS": str(s.retry_base_seconds),
        "RETRY_MAX_SECONDS": str(s.retry_max_seconds),
    }


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(k, v)
    for k in ("BOLTQ_API_KEY", "WS_MANAGEMENT_ENDPOINT", "LAMBDA_ENDPOINT_URL", "AWS_PROFILE",
              "CORS_ALLOW_ORIGINS", "REDIS_ADDR", "REDIS_CLUSTER"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def fn_env(queue: Queue, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Queue:
    """Point every function at `queue`'s namespace; returns the queue."""
    for k, v in env_for(queue).items():
        monkeypatch.setenv(k, v)
    return queue


@pytest.fixture
def call_api(fn_env: Queue) -> Callable[..., tuple[int, Any]]:
    """call_api(method, path, body=..., ...) -> (status, decoded body), through the handler."""
    api = load_function("api")

    def call(method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        resp = api.handler(rest_event(method, path, body, **kw), LambdaContext("boltq-api"))
        ctype = str(response_headers(resp).get("content-type", ""))
        data = json.loads(resp["body"]) if "json" in ctype else resp["body"]
        return resp["statusCode"], data

    return call


def response_headers(resp: dict[str, Any]) -> dict[str, str]:
    """A REST proxy response's headers, lower-cased (single- and multi-value merged)."""
    out = {k.lower(): ",".join(v) for k, v in (resp.get("multiValueHeaders") or {}).items()}
    out.update({k.lower(): v for k, v in (resp.get("headers") or {}).items()})
    return out


def namespace_keys(queue: Queue) -> list[str]:
    """The deployment's stored keys (every queue's: "{p" covers "{p}" and "{p:queue}"), less
    {p}:metrics: every invocation is counted there, a refused request included, and that is
    not stored data."""
    metrics = queue.keys.metrics
    match = "{" + queue.settings.key_prefix + "*"
    return sorted(k for k in queue.redis.scan_iter(match=match, count=1000) if k != metrics)


@pytest.fixture
def ws_calls(fn_env: Queue) -> Iterator[Callable[..., dict[str, Any]]]:
    ws = load_function("ws")

    def call(route: str, conn_id: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        return ws.handler(ws_event(route, conn_id, body, **kw), LambdaContext("boltq-ws"))

    yield call


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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[ValkeyServer, Queue]]:
    server = ValkeyServer(port=free_port(), data_dir=tmp_path).start()
    queue = Queue(Settings(redis_url=server.url, key_prefix=f"out-{uuid.uuid4().hex[:8]}",
                           store_retry_seconds=0.3, store_timeout_seconds=1.0))
    try:
        yield server, queue
    finally:
        queue.redis.close()
        server.stop()


def outage(server: ValkeyServer, after: float, seconds: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after)
        server.stop()
        time.sleep(seconds)
        server.start()

    t = threading.Thread(target=run)
    t.start()
    return t


def try_call(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        return None
