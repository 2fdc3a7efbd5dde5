"""An API Gateway WebSocket API, locally: clients connect at ws://localhost:API_PORT/ws; the
template's routes decide which function gets $connect, $disconnect and each message (route
selection on the template's RouteSelectionExpression, e.g. $request.body.action, falling back
to $default); routes with a RouteResponse send the function's reply body back to the client.
API Gateway's limits apply: 128 KB per message (32 KB frames), 10 min idle, 2 h per connection.

The management endpoint (`POST`/`GET`/`DELETE /@connections/{id}`, with or without a stage
prefix) lets the same boto3 `apigatewaymanagementapi` code post to local clients; a connection
that is gone answers 410 with `x-amzn-ErrorType: GoneException`, as in AWS. It serves only
requests SigV4-signed (service execute-api) with the credentials `boltq dev` gives its
functions; anything else gets 403."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from boltq_core.timefmt import iso
from boltq_local import signing
from boltq_local.authorizers import ACCOUNT, API_ID, REGION, AuthorizerGate
from boltq_local.lambda_host import Result, _keep
from boltq_local.template import WebSocketApi

MAX_MESSAGE_BYTES = 128 * 1024
IDLE_SECONDS = 600
MAX_CONNECTION_SECONDS = 7200

Invoke = Callable[[str, dict[str, Any], str], Awaitable[Result]]  # (function, event, label)


@dataclass
class Connection:
    id: str
    ws: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)


def new_connection_id() -> str:
    return base64.b64encode(os.urandom(9)).decode().replace("/", "_").replace("+", "-")


def select_route(expression: str, text: str) -> str | None:
    """The route key `expression` ($request.body.a.b) picks for a message, or None."""
    prefix = "$request.body."
    if not expression.startswith(prefix):
        return None
    try:
        value: Any = json.loads(text)
    except ValueError:
        return None
    for part in expression[len(prefix):].split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if isinstance(value, str) else None


class WebSocketGateway:
    def __init__(self, api: WebSocketApi, invoke: Invoke,
                 credentials: signing.LocalCredentials,
                 gate: AuthorizerGate | None = None) -> None:
        self.api = api
        self.invoke = invoke
        self.credentials = credentials
        self.gate = gate
        self.connections: dict[str, Connection] = {}

    def _context(self, conn: Connection, route: str, event_type: str,
                 request: web.Request) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": int(conn.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": str(uuid.uuid4()),
            "domainName": request.host,
            "connectionId": conn.id,
            "apiId": "local",
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=None,
                                   autoping=True)
        conn = Connection(new_connection_id(), ws, request.remote or "127.0.0.1",
                          request.headers.get("User-Agent", ""))
        fn = self.api.routes.get("$connect")
        if fn is not None:
            event = {
                "headers": dict(request.headers),
                "multiValueHeaders": {k: request.headers.getall(k) for k in request.headers},
                "queryStringParameters": dict(request.query) or None,
                "multiValueQueryStringParameters": (
                    {k: request.query.getall(k) for k in request.query} or None),
                "requestContext": self._context(conn, "$connect", "CONNECT", request),
                "isBase64Encoded": False,
            }
            auth = self.api.authorizers.get("$connect")
            if auth is not None and self.gate is not None and self.gate.active(auth):
                arn = (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{self.api.stage}"
                       "/$connect")
                verdict = await self.gate.check(auth, {**event, "stageVariables": {}}, arn,
                                                f"authorize $connect {conn.id}")
                if verdict.status != 200:
                    return web.Response(status=verdict.status, text=verdict.message)
                event["requestContext"]["authorizer"] = verdict.context
            res = await self.invoke(fn, event, f"$connect {conn.id}")
            status = _status(res)
            if status != 200:
                text = _body(res) or ("Forbidden" if status in (401, 403) else "")
                return web.Response(status=status if 400 <= status < 600 else 502, text=text)
        await ws.prepare(request)
        self.connections[conn.id] = conn
        try:
            await self._serve(conn, request)
        finally:
            self.connections.pop(conn.id, None)
            fn = self.api.routes.get("$disconnect")
            if fn is not None:
                rc = self._context(conn, "$disconnect", "DISCONNECT", request)
                rc["disconnectStatusCode"] = ws.close_code or 1000
                rc["disconnectReason"] = ""
                event = {"headers": {"Host": request.host}, "requestContext": rc,
                         "isBase64Encoded": False}
                with contextlib.suppress(Exception):
                    await self.invoke(fn, event, f"$disconnect {conn.id}")
        return ws

    async def _serve(self, conn: Connection, request: web.Request) -> None:
        ws = conn.ws
        end = conn.connected_at + MAX_CONNECTION_SECONDS
        while True:
            timeout = min(IDLE_SECONDS - (time.time() - conn.last_active), end - time.time())
            if timeout <= 0:
                await ws.close(code=1001, message=b"Going away")
                return
            try:
                msg = await ws.receive(timeout=timeout)
            except TimeoutError:
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            if msg.type == WSMsgType.ERROR:
                return  # e.g. a message over 128 KB: aiohttp closed it with 1009
            conn.last_active = time.time()
            if msg.type == WSMsgType.BINARY:
                text, b64 = base64.b64encode(msg.data).decode(), True
            elif msg.type == WSMsgType.TEXT:
                text, b64 = msg.data, False
            else:
                continue
            _keep(asyncio.ensure_future(self._message(conn, request, text, b64)))

    async def _message(self, conn: Connection, request: web.Request, text: str,
                       b64: bool) -> None:
        key = None if b64 else select_route(self.api.route_selection, text)
        route = key if key in self.api.routes else "$default"
        fn = self.api.routes.get(route)
        if fn is None:
            await _send(conn, json.dumps({"message": "Forbidden", "connectionId": conn.id,
                                          "requestId": str(uuid.uuid4())}))
            return
        rc = self._context(conn, route, "MESSAGE", request)
        rc["messageId"] = uuid.uuid4().hex[:16]
        event = {"requestContext": rc, "body": text, "isBase64Encoded": b64}
        res = await self.invoke(fn, event, f"{route} {conn.id}")
        if route not in self.api.replies:
            return
        if not res.ok:
            await _send(conn, json.dumps({"message": "Internal server error",
                                          "connectionId": conn.id,
                                          "requestId": res.request_id}))
            return
        body = _body(res)
        if body:
            await _send(conn, body)

    # --- the management API (@connections) --------------------------------------------------

    async def manage(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        why = signing.check(request, data, self.credentials, "execute-api")
        if why is not None:
            return signing.refusal(why)
        conn = self.connections.get(request.match_info["conn_id"])
        if conn is None or conn.ws.closed:
            return _gone()
        if request.method == "GET":
            return web.json_response({
                "ConnectedAt": _iso(conn.connected_at),
                "Identity": {"SourceIp": conn.source_ip, "UserAgent": conn.user_agent},
                "LastActiveAt": _iso(conn.last_active),
            })
        if request.method == "DELETE":
            await conn.ws.close()
            return web.Response(status=204)
        if len(data) > MAX_MESSAGE_BYTES:
            return web.json_response({"message": "Message too long"}, status=413,
                                     headers={"x-amzn-ErrorType": "PayloadTooLargeException"})
        try:
            await _send(conn, data.decode("utf-8"))
        except UnicodeDecodeError:
            await conn.ws.send_bytes(data)
        except ConnectionError:
            return _gone()
        return web.Response(status=200)

    async def close_all(self) -> None:
        for conn in list(self.connections.values()):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"Server shutting down")


def _gone() -> web.Response:
    return web.json_response({"message": None}, status=410,
                             headers={"x-amzn-ErrorType": "GoneException"})


async def _send(conn: Connection, text: str) -> None:
    if not conn.ws.closed:
        await conn.ws.send_str(text)


def _status(res: Result) -> int:
    if not res.ok:
        return 502
    p = res.payload
    if isinstance(p, dict) and "statusCode" in p:
        try:
            return int(p["statusCode"])
        except (TypeError, ValueError):
            return 502
    return 200


def _body(res: Result) -> str:
    p = res.payload
    if isinstance(p, dict):
        body = p.get("body")
        if body is None:
            return ""
        return body if isinstance(body, str) else json.dumps(body)
    return "" if p is None else json.dumps(p)


def _iso(ts: float) -> str:
    return iso(int(ts * 1000), "milliseconds") or ""
