"""Every function counts its invocations (boltq_function_invocations in the metrics)."""

from __future__ import annotations

from boltq_core import Queue
from tests.functions.conftest import LambdaContext, load_function, rest_event


def test_api_and_ws_invocations_are_counted(fn_env: Queue) -> None:
    api, ws = load_function("api"), load_function("ws")
    for _ in range(3):
        api.handler(rest_event("GET", "/health"), LambdaContext("boltq-api"))
    event = {"requestContext": {"routeKey": "$disconnect", "connectionId": "c1",
                                "eventType": "DISCONNECT", "domainName": "x", "stage": "s"}}
    ws.handler(event, LambdaContext("boltq-ws"))
    counts = fn_env.redis.hgetall(fn_env.keys.tag + ":metrics")
    assert counts["inv|api"] == "3" and counts["inv|ws"] == "1"
