"""The Lambda Invoke API, locally (`POST /2015-03-31/functions/{name}/invocations`), so boto3's
`lambda.invoke` (the poller's fan-out) reaches local functions through LAMBDA_ENDPOINT_URL.
`RequestResponse` waits and returns the handler's payload (`X-Amz-Function-Error: Unhandled`
on failure), `Event` queues the invocation and answers 202, `DryRun` answers 204. A name may
be the logical id, the function name or an ARN (with or without a qualifier). Only requests
SigV4-signed with the credentials `boltq dev` gives its functions are served (403 otherwise,
before anything is looked up or run)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from boltq_local import signing
from boltq_local.lambda_host import FunctionPool

PATH = "/2015-03-31/functions/{name}/invocations"


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"Type": "User", "message": message}, status=status,
                             headers={"x-amzn-ErrorType": kind})


def function_name(raw: str) -> str:
    """WorkerFunction, arn:aws:lambda:r:a:function:WorkerFunction[:q] -> WorkerFunction."""
    if raw.startswith("arn:"):
        parts = raw.split(":")
        return parts[6] if len(parts) > 6 else raw
    return raw.split(":", 1)[0]


class InvokeApi:
    def __init__(self, pools: dict[str, FunctionPool],
                 credentials: signing.LocalCredentials) -> None:
        self.pools = pools
        self.credentials = credentials

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        why = signing.check(request, raw, self.credentials, "lambda")
        if why is not None:
            return signing.refusal(why)
        name = function_name(request.match_info["name"])
        pool = self.pools.get(name)
        if pool is None:
            return _error(404, "ResourceNotFoundException",
                          f"Function not found: {name} (local functions: "
                          f"{', '.join(sorted(self.pools))})")
        try:
            event: Any = json.loads(raw) if raw else {}
        except ValueError:
            return _error(400, "InvalidRequestContentException",
                          "Could not parse request body into json")
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return web.Response(status=204)
        if kind == "Event":
            pool.invoke_event(event, "invoke")
            return web.Response(status=202)
        if kind != "RequestResponse":
            return _error(400, "InvalidParameterValueException",
                          f"X-Amz-Invocation-Type: unknown value {kind!r}")
        res = await pool.invoke(event, "RequestResponse", "invoke")
        headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
        if not res.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return web.Response(status=200, body=json.dumps(res.payload).encode(), headers=headers)
