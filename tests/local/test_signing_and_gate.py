"""boltq_local.signing and boltq_local.gate on their own (a real aiohttp server, requests
signed by botocore's own signer): what a valid signature is and every way one is refused; which
Host and Origin headers pass."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import yarl
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from boltq_local import signing
from boltq_local.gate import Gate
from boltq_local.valkey import free_port

CREDS = signing.LocalCredentials.generate()


def signed(url: str, body: bytes, *, service: str = "lambda", creds: Any = CREDS,
           when: dt.datetime | None = None, token: bool = True,
           headers: dict[str, str] | None = None) -> dict[str, str]:
    req = AWSRequest(method="POST", url=url, data=body, headers=headers or {})
    auth = SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key,
                                 creds.session_token if token else None), service, "eu-west-1")
    if when is None:
        auth.add_auth(req)
    else:  # botocore stamps "now"; sign as if it were `when`
        req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        req.headers["X-Amz-Date"] = req.context["timestamp"]
        if token:
            req.headers["X-Amz-Security-Token"] = creds.session_token
        cr = auth.canonical_request(req)
        sig = auth.signature(auth.string_to_sign(req, cr), req)
        names = auth.signed_headers(auth.headers_to_sign(req))
        req.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={auth.scope(req)}, SignedHeaders={names}, "
            f"Signature={sig}")
    return dict(req.headers.items())


def serve(handler: Callable[..., Any], body: Callable[[str], tuple[bytes, dict[str, str]]]
          ) -> tuple[int, str]:
    """Run `handler` on a real server; POST to it what `body(url)` gives."""
    async def main() -> tuple[int, str]:
        app = web.Application()
        app.router.add_post("/2015-03-31/functions/{name}/invocations", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            url = f"http://127.0.0.1:{port}/2015-03-31/functions/Worker%3A1/invocations"
            data, headers = body(url)
            # encoded=True: send the path exactly as signed (%3A, as boto3 does)
            async with aiohttp.ClientSession() as s, s.post(
                    yarl.URL(url, encoded=True), data=data, headers=headers) as r:
                return r.status, await r.text()
        finally:
            await runner.cleanup()

    return asyncio.run(main())


async def checker(request: web.Request) -> web.Response:
    why = signing.check(request, await request.read(), CREDS, "lambda")
    return signing.refusal(why) if why else web.Response(text="ok")


def test_a_botocore_signature_passes() -> None:
    status, text = serve(checker, lambda url: (b'{"a": 1}', signed(url, b'{"a": 1}')))
    assert (status, text) == (200, "ok")


@pytest.mark.parametrize(("case", "reason"), [
    ("unsigned", "missing or malformed"),
    ("other secret", "signature does not match"),
    ("other key id", "unknown access key"),
    ("other service", "not 'lambda'"),
    ("no token", "security token"),
    ("old", "skewed"),
    ("other body", "signature does not match"),
    ("unsigned payload", "does not match the body"),
])
def test_every_other_request_is_refused(case: str, reason: str) -> None:
    other = signing.LocalCredentials.generate()
    body = b'{"a": 1}'

    def make(url: str) -> tuple[bytes, dict[str, str]]:
        if case == "unsigned":
            return body, {}
        if case == "other secret":
            return body, signed(url, body, creds=signing.LocalCredentials(
                CREDS.access_key_id, other.secret_access_key, CREDS.session_token))
        if case == "other key id":
            return body, signed(url, body, creds=other)
        if case == "other service":
            return body, signed(url, body, service="execute-api")
        if case == "no token":
            return body, signed(url, body, token=False)
        if case == "old":
            return body, signed(url, body, when=dt.datetime.now(dt.UTC) - dt.timedelta(
                minutes=10))
        if case == "other body":
            return b'{"a": 2}', signed(url, body)
        return b'{"a": 2}', signed(url, b'{"a": 2}',
                                   headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})

    status, text = serve(checker, make)
    assert status == 403
    assert reason in json.loads(text)["message"]


def test_a_time_within_the_window_passes() -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    status, _ = serve(checker, lambda url: (b"{}", signed(url, b"{}", when=when)))
    assert status == 200


def test_gate_hosts_and_origins() -> None:
    g = Gate(8080, ["boltq.test", "proxy.test:443"], ["http://localhost:5173", "*", " "])
    assert g.hosts == {"localhost:8080", "127.0.0.1:8080", "[::1]:8080", "boltq.test:8080",
                       "proxy.test:443"}
    assert g.origins == {"http://localhost:8080", "http://127.0.0.1:8080",
                         "http://[::1]:8080", "http://boltq.test:8080", "http://proxy.test:443",
                         "http://localhost:5173"}
    assert g.playground_origin == "http://localhost:8080"
    assert g.origin_allowed("http://localhost:5173/") and not g.origin_allowed(None)
    assert not g.origin_allowed("null") and not g.origin_allowed("*")
    assert Gate(80).hosts >= {"localhost", "localhost:80"}  # browsers leave :80 out
