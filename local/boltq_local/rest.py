"""API Gateway REST API (v1) proxy integration, locally: match a request to a template route
(path templates with {param} and {param+}), build the Lambda proxy event (path parameters,
single- and multi-value query strings and headers, base64 for binary bodies, requestContext),
and map the function's reply (statusCode, headers, multiValueHeaders, isBase64Encoded) back."""

from __future__ import annotations

import base64
import hmac
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from boltq_local.authorizers import AuthorizerGate, method_arn
from boltq_local.lambda_host import request_uuid
from boltq_local.template import RestRoute

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
              "application/x-www-form-urlencoded", "+json", "+xml")


@dataclass(frozen=True)
class CompiledRoute:
    route: RestRoute
    regex: re.Pattern[str]
    params: tuple[str, ...]
    static_chars: int  # more literal characters = more specific

    def match(self, path: str) -> dict[str, str] | None:
        m = self.regex.fullmatch(path)
        return None if m is None else dict(zip(self.params, m.groups(), strict=True))

    def match_raw(self, raw_path: str) -> dict[str, str] | None:
        """As match, on the path as sent (percent-encoded), each parameter decoded: a %2F is
        part of its segment, as API Gateway routes it, not a '/' between two."""
        m = self.regex.fullmatch(raw_path)
        if m is None:
            return None
        return {name: unquote(value, errors="surrogateescape")
                for name, value in zip(self.params, m.groups(), strict=True)}


def compile_route(route: RestRoute) -> CompiledRoute:
    pattern, params, static = "", [], 0
    for part in re.split(r"(\{[^}]+\})", route.path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith("+"):
                params.append(name[:-1])
                pattern += "(.+)"
            else:
                params.append(name)
                pattern += "([^/]+)"
        else:
            pattern += re.escape(part)
            static += len(part)
    return CompiledRoute(route, re.compile(pattern), tuple(params), static)


class RouteTable:
    def __init__(self, routes: list[RestRoute]) -> None:
        self.routes = sorted((compile_route(r) for r in routes),
                             key=lambda c: (-c.static_chars, c.route.method == "ANY"))

    def find(self, method: str, path: str, raw_path: str | None = None,
             ) -> tuple[CompiledRoute | None, dict[str, str], bool]:
        """(route, path params, path_known): path_known tells a 405-ish miss from a 404.
        `raw_path` (percent-encoded) is tried when the decoded path matches no route: a %2F
        inside a parameter's segment (a group name with a '/')."""
        route, params, known = self._first(method, lambda c: c.match(path))
        if route is not None or known or raw_path is None or "%" not in raw_path:
            return route, params, known
        return self._first(method, lambda c: c.match_raw(raw_path))

    def _first(self, method: str, match: Callable[[CompiledRoute], dict[str, str] | None],
               ) -> tuple[CompiledRoute | None, dict[str, str], bool]:
        known = False
        for c in self.routes:
            params = match(c)
            if params is None:
                continue
            known = True
            if c.route.method in (method, "ANY"):
                return c, params, True
        return None, {}, known

    def methods_for(self, path: str) -> list[str]:
        return sorted({c.route.method for c in self.routes if c.match(path) is not None})


def is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return not ct or any(t in ct for t in TEXT_TYPES)


def decoded_path(request: web.Request) -> str:
    """The request path percent-decoded as API Gateway does, but lossless: bytes that are not
    UTF-8 become lone surrogates (aiohttp would keep "%FF" as is, or turn it into U+FFFD in a
    query string), so the function can tell them apart and refuse them."""
    return unquote(request.rel_url.raw_path, errors="surrogateescape")


def decoded_query(request: web.Request) -> list[tuple[str, str]]:
    """The query string's pairs in order, decoded like decoded_path ('+' is a space)."""
    return parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True,
                     errors="surrogateescape")


async def build_event(request: web.Request, c: CompiledRoute, params: dict[str, str],
                      stage: str) -> dict[str, Any]:
    raw = await request.read()
    ctype = request.headers.get("Content-Type", "")
    if not raw:
        body, b64 = None, False
    elif is_text(ctype):
        try:
            body, b64 = raw.decode("utf-8"), False
        except UnicodeDecodeError:  # passed on intact: the function says what is wrong
            body, b64 = base64.b64encode(raw).decode(), True
    else:
        body, b64 = base64.b64encode(raw).decode(), True
    path = decoded_path(request)
    params = c.match(path) or params
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for k, v in request.headers.items():
        headers[k] = v  # API Gateway keeps the last value in `headers`
        multi_headers.setdefault(k, []).append(v)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for k, v in decoded_query(request):
        query[k] = v
        multi_query.setdefault(k, []).append(v)
    peer = request.remote or "127.0.0.1"
    now = time.time()
    return {
        "resource": c.route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": c.route.path,
            "httpMethod": request.method,
            "extendedRequestId": f"{random.getrandbits(64):016x}",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            # as under a custom domain: boltq dev serves the API at "/", not "/{stage}/" as the
            # execute-api domain does (where requestContext.path starts with "/{stage}")
            "path": path,
            "accountId": "123456789012",
            "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_uuid(),
            "identity": {
                "sourceIp": peer,
                "userAgent": request.headers.get("User-Agent"),
                "apiKey": request.headers.get("x-api-key"),
            },
            "domainName": request.host,
            "apiId": "local",
        },
        "body": body,
        "isBase64Encoded": b64,
    }


def envelope_error(status: int, message: str, details: list[Any] | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = {"success": False, "error": message, "details": details or []}
    return web.json_response(body, status=status, headers=headers)


def to_response(payload: Any) -> web.Response:
    """Map a proxy integration reply to HTTP; a malformed one is a 502, as in API Gateway."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return envelope_error(502, "Internal server error: malformed Lambda proxy response")
    try:
        status = int(payload["statusCode"])
    except (TypeError, ValueError):
        return envelope_error(502, "Internal server error: malformed Lambda proxy response")
    body = payload.get("body")
    if body is None:
        data = b""
    elif payload.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    resp = web.Response(status=status, body=data)
    for k, values in (payload.get("multiValueHeaders") or {}).items():
        for v in values or []:
            resp.headers.add(k, str(v))
    for k, v in (payload.get("headers") or {}).items():
        resp.headers[k] = str(v)
    if "Content-Type" not in resp.headers and data:
        resp.headers["Content-Type"] = "application/json"
    return resp


REFUSALS = {  # as the template's GatewayResponses word them
    401: "missing API key (x-api-key)",
    403: "invalid API key (x-api-key), or its scope may not call this route",
}


def api_key_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get("x-api-key", "")
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def cors_headers(cors: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, header in (("AllowOrigin", "Access-Control-Allow-Origin"),
                        ("AllowHeaders", "Access-Control-Allow-Headers"),
                        ("AllowMethods", "Access-Control-Allow-Methods"),
                        ("MaxAge", "Access-Control-Max-Age")):
        if cors.get(key):
            out[header] = cors[key]
    return out


class RestGateway:
    """The REST API of the template, as API Gateway serves it: each request routed to its
    function as a proxy event (in a warm container), the API key checked where the route asks
    for one, CORS as the template sets it; GET outside /api/ falls back to the site's pages."""

    def __init__(self, template: Any, pools: dict[str, Any], site: Any,
                 origin_allowed: Callable[[str | None], bool] | None = None,
                 gate: AuthorizerGate | None = None) -> None:
        self.template = template
        # boltq dev's CORS: the request's Origin when it is allowed, never "*"
        self.origin_allowed = origin_allowed
        self.routes = RouteTable(template.routes)
        self.pools = pools
        self.site = site
        self.gate = gate

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        cors = cors_headers(self.template.cors)
        if self.origin_allowed is not None and "Access-Control-Allow-Origin" in cors:
            origin = request.headers.get("Origin")
            if self.origin_allowed(origin):
                cors.update({"Access-Control-Allow-Origin": str(origin), "Vary": "Origin"})
            else:
                cors.pop("Access-Control-Allow-Origin")
        if request.method == "OPTIONS" and self.template.cors and self.routes.methods_for(path):
            return web.Response(status=200, headers=cors)
        c, params, known = self.routes.find(request.method, path, request.rel_url.raw_path)
        if c is None:
            if request.method in ("GET", "HEAD") and not path.startswith("/api/"):
                page = self.site.page(path)
                if page is not None:
                    return page
            if known:
                allowed = ", ".join(self.routes.methods_for(path))
                return envelope_error(405, f"method {request.method} is not allowed on {path} "
                                           f"(allowed: {allowed})", headers={"Allow": allowed})
            return envelope_error(404, f"no route for {request.method} {path}")
        pool = self.pools[c.route.function]
        key = pool.env.get("BOLTQ_API_KEY", "")
        auth = c.route.authorizer
        if self.gate is not None and self.gate.active(auth):
            key = ""  # the authorizer decides (and names the usage plan's key)
        if c.route.api_key_required and key and not api_key_ok(request, key):
            status = 401 if not request.headers.get("x-api-key") else 403
            return envelope_error(status, "missing or invalid API key (x-api-key)",
                                  headers=cors)
        event = await build_event(request, c, params, self.template.rest_stage)
        if auth is not None and self.gate is not None and self.gate.active(auth):
            verdict = await self._authorize(auth, event)
            if verdict.status != 200:
                retry = {"Retry-After": "1"} if verdict.status == 503 else {}
                return envelope_error(verdict.status, verdict.message,
                                      headers={**cors, **retry})
            event["requestContext"]["authorizer"] = verdict.context
        res = await pool.invoke(event, "RequestResponse", f"{request.method} {request.path_qs}")
        if not res.ok:
            return envelope_error(502, f"Internal server error: {res.error_type}: "
                                       f"{(res.payload or {}).get('errorMessage')}")
        resp = to_response(res.payload)
        if self.origin_allowed is not None:  # ours, whatever the function said
            resp.headers.popall("Access-Control-Allow-Origin", None)
        for k, v in cors.items():
            if k in ("Access-Control-Allow-Origin", "Vary") and k not in resp.headers:
                resp.headers[k] = v
        return resp

    async def _authorize(self, auth: Any, event: dict[str, Any]) -> Any:
        from boltq_local.authorizers import Verdict

        assert self.gate is not None
        arn = method_arn(self.template.rest_stage, event["httpMethod"], event["path"])
        request_event = {k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}
        verdict = await self.gate.check(auth, request_event, arn,
                                        f"authorize {event['httpMethod']} {event['path']}")
        if verdict.status in REFUSALS:
            return Verdict(verdict.status, message=REFUSALS[verdict.status])
        return verdict
