"""Every function counts its invocations (boltq_function_invocations in the metrics)."""

from __future__ import annotations

from typing import Any

import pytest

from boltq_core import Queue
from tests.functions.conftest import LambdaContext, load_function, rest_event


def test_api_and_ws_invocations_are_counted(fn_env: Queue) -> None:
    api, ws = load_function("api"), load_function("ws")
    for _ in range(3):
        api.handler(rest_event("GET", "/health"), LambdaContext("boltq-api"))
    event = {"requestContext": {"routeKey": "$disconnect", "connectionId": "c1",
                                "eventType": "DISCONNECT", "domainName": "x", "stage": "s"}}
    ws.handler(event, LambdaContext("boltq-ws"))
    key = fn_env.keys.metrics
    # a container's first invocation is counted at once, later ones ride along with one at
    # least a second later (or the flush at exit): no extra round trip per request
    assert fn_env.redis.hmget(key, "inv|api", "inv|ws") == ["1", "1"]
    api.count_invocation.flush()
    assert fn_env.redis.hmget(key, "inv|api", "inv|ws") == ["3", "1"]


def test_a_submit_is_one_round_trip(fn_env: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    """POST /api/v1/jobs sends one command to the store (the submit function), once warm."""
    api = load_function("api")
    submit = rest_event("POST", "/api/v1/jobs", {"type": "echo", "data": {"n": 1}})
    assert api.handler(submit, LambdaContext("boltq-api"))["statusCode"] == 200
    q = api.shared_queue()
    sent: list[str] = []  # the command name of every request written to the store
    # every connection of the pool, the one it holds for script calls (store.pinned) included
    cls = q.redis.connection_pool.connection_class
    real_send = cls.send_packed_command

    def send(self: Any, command: Any, *a: Any, **k: Any) -> None:
        for chunk in [command] if isinstance(command, bytes) else command:
            if bytes(chunk).startswith(b"*"):  # a request's first chunk: *N, $len, name
                sent.append(bytes(chunk).split(b"\r\n")[2].decode())
        real_send(self, command, *a, **k)

    monkeypatch.setattr(cls, "send_packed_command", send)
    for i in range(5):
        resp = api.handler(rest_event("POST", "/api/v1/jobs", {"type": "echo", "data": {"n": i}}),
                           LambdaContext("boltq-api"))
        assert resp["statusCode"] == 200, resp
    assert sent == ["FCALL"] * 5  # the submit function (jobs/scripts.py)
    assert fn_env.stats().pending_total == 6
