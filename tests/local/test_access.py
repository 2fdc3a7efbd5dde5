"""Access through `boltq dev` with BOLTQ_API_KEY set (it runs the template's authorizers): every
route of template.yaml, REST and WebSocket, refuses a missing key, a wrong key and a key of too
small a scope, and a refused request stores nothing; tickets open one WebSocket once; the
`boltq keys` commands."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import redis

from boltq_core.access.routes import ROUTES, SCOPES, WS, permits
from boltq_local.template import load
from tests.conftest import wait_for
from tests.local.conftest import ROOT, DevProcess, closed_after_test, running_dev

BOOTSTRAP = "local-bootstrap-admin-key-0123456789"
ADMIN = {"x-api-key": BOOTSTRAP}
# keys the background duties (promoter, poller, pusher) write on their own, refused or not
# (in any queue: a route that names a queue, e.g. resume, makes its marker, which a worker pops)
BACKGROUND = re.compile(r"^\{boltq(:[^}]+)?\}:(promoter:lock|fleet|metrics|ws:cursor|ws:watched|"
                        r"stats|events|claim:.*|marker|suspects|idle|idlecap|inbox:.*)$")
BODIES: dict[tuple[str, str], Any] = {  # a valid body, so a refusal is the key's doing
    ("POST", "/api/v1/jobs"): {"type": "echo", "data": {"n": 1}},
    ("POST", "/api/v1/jobs/batch"): {"jobs": [{"type": "echo", "data": {}}]},
    ("POST", "/api/v1/workflows"): {"name": "w", "steps": [{"job_type": "echo"}]},
    ("POST", "/api/v1/keys"): {"name": "sneaky", "scope": "admin"},
    ("POST", "/api/v1/dlq/requeue"): {},
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    with running_dev(tmp_path_factory.mktemp("boltq-access"), {"BOLTQ_API_KEY": BOOTSTRAP}) as d:
        yield d


def store(d: DevProcess) -> redis.Redis:
    banner = next(line for line in d.lines if "embedded Valkey at" in line)
    port = int(re.search(r"127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
    return closed_after_test(redis.Redis(port=port, decode_responses=True))


def stored(r: redis.Redis) -> set[str]:
    return {k for k in r.scan_iter(count=1000) if not BACKGROUND.match(k)}


def quiet(r: redis.Redis) -> bool:
    """Nothing ready, running or waiting in the dev's default queue, every workflow done."""
    tag = "{boltq}"
    busy = sum(r.llen(f"{tag}:ready:{p}") for p in range(3)) + r.zcard(f"{tag}:active")
    return busy == 0 and r.zcard(f"{tag}:workflows") == r.zcard(f"{tag}:wf_done")


def make_key(d: DevProcess, name: str, scope: str) -> str:
    status, body, _ = d.call("POST", "/api/v1/keys", {"name": name, "scope": scope},
                             headers=ADMIN)
    assert status == 200, body
    return str(body["data"]["key"])


def test_every_route_refuses_missing_wrong_and_too_small_keys(secured: DevProcess) -> None:
    keys = {scope: make_key(secured, f"walk-{scope}", scope) for scope in SCOPES}
    r = store(secured)
    template = load(ROOT / "template.yaml")
    assert len(template.routes) == len([k for k in ROUTES if k[0] != WS])
    walked = 0
    for route in template.routes:
        scopes = ROUTES[(route.method, route.path)]
        if not scopes:
            continue  # public: /health, the OpenAPI document, its docs page
        path = re.sub(r"\{[^}]+\}", "walk-id", route.path)
        body = BODIES.get((route.method, route.path), {} if route.method == "POST" else None)
        tries: list[tuple[str, dict[str, str], int]] = [
            ("missing", {}, 401), ("wrong", {"x-api-key": "bq_0123456789ab_" + "x" * 43}, 403),
            ("bootstrap-ish", {"x-api-key": BOOTSTRAP[:-1]}, 403)]
        tries += [(f"scope {s}", {"x-api-key": keys[s]}, 403) for s in SCOPES
                  if not permits(s, route.method, route.path)]
        for what, headers, want in tries:
            before = stored(r)
            size = r.dbsize()
            status, reply, _ = secured.call(route.method, path, body, headers=headers)
            where = f"{route.method} {route.path} with {what}"
            assert status == want, (where, reply)
            assert reply["success"] is False and "x-api-key" in reply["error"], (where, reply)
            assert stored(r) == before, where  # a refused request stores nothing
            assert r.dbsize() <= size + len({k for k in r.scan_iter() if BACKGROUND.match(k)})
            walked += 1
        # the smallest scope that may call it passes the authorizer (the test can fail)
        allowed = next(s for s in SCOPES if permits(s, route.method, route.path))
        status, reply, _ = secured.call(route.method, path, body,
                                        headers={"x-api-key": keys[allowed]})
        assert status not in (401, 403), (route.method, route.path, allowed, reply)
    assert walked >= 3 * 20
    # a submit key's submit stores a job: the refusals above were not for want of a store
    before = stored(r)
    status, _, _ = secured.call("POST", "/api/v1/jobs", BODIES[("POST", "/api/v1/jobs")],
                                headers={"x-api-key": keys["submit"]})
    assert status == 200 and stored(r) - before


async def _connect(d: DevProcess, query: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s:
        try:
            async with s.ws_connect(d.ws_url + query) as ws:
                await ws.send_json({"action": "subscribe", "topic": "all"})
                return 101, await ws.receive_json(timeout=10)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status, None


def ticket(d: DevProcess, key: str) -> str:
    status, body, _ = d.call("POST", "/api/v1/ws/tickets", headers={"x-api-key": key})
    assert status == 200 and body["data"]["expires_in"] == 60, body
    return str(body["data"]["ticket"])


def test_every_websocket_route_needs_a_ticket_of_its_scope(secured: DevProcess) -> None:
    """$connect is the door to every WebSocket route: without a ticket (401), with a wrong or
    used one (403) no route is reached and nothing is stored; a submit ticket may not follow
    topic "all", a read ticket may."""
    template = load(ROOT / "template.yaml")
    assert template.websocket is not None
    assert {(WS, k) for k in template.websocket.routes} == {k for k in ROUTES if k[0] == WS}
    r = store(secured)
    read_key, submit_key = make_key(secured, "ws-read", "read"), make_key(secured, "ws-sub",
                                                                         "submit")
    # the jobs and workflow the route walk let through have run to their end: from here on
    # nothing but a connection could store a key
    wait_for(lambda: quiet(r), timeout=20)
    for query, want in (("", 401), ("?ticket=bqt_wrong", 403), (f"?api_key={BOOTSTRAP}", 401),
                        ("?ticket=" + BOOTSTRAP, 403)):
        before = stored(r)
        assert asyncio.run(_connect(secured, query))[0] == want, query
        assert stored(r) == before, query
    good = ticket(secured, read_key)
    status, reply = asyncio.run(_connect(secured, f"?ticket={good}"))
    assert status == 101 and reply["type"] == "subscribed" and reply["topic"] == "all", reply
    assert asyncio.run(_connect(secured, f"?ticket={good}"))[0] == 403  # single use
    status, reply = asyncio.run(_connect(secured, f"?ticket={ticket(secured, submit_key)}"))
    assert status == 101 and reply["type"] == "error" and "read or admin" in reply["error"]


def boltq(d: DevProcess, *args: str,
          key: str | None = BOOTSTRAP) -> subprocess.CompletedProcess[str]:
    extra = ["--api-key", key] if key else []
    return subprocess.run([sys.executable, "-m", "boltq_local.cli", *args, "--url", d.url,
                           *extra], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_keys_cli(secured: DevProcess) -> None:
    out = boltq(secured, "keys", "create", "cli-ci", "--scope", "submit")
    assert out.returncode == 0, out.stderr
    key = re.search(r"(bq_[0-9a-f]{12}_\S+)", out.stdout).group(1)  # type: ignore[union-attr]
    assert "shown this once" in out.stdout
    listed = boltq(secured, "keys", "list")
    assert listed.returncode == 0 and "cli-ci" in listed.stdout and "submit" in listed.stdout
    assert key not in listed.stdout and key[:16] in listed.stdout  # the prefix, not the key
    assert key not in repr({k: store(secured).hgetall(k) for k in
                            store(secured).scan_iter(match="{boltq}:apikey*")})
    # the new key submits; it may not manage keys
    assert boltq(secured, "submit", "echo", key=key).returncode == 0
    refused = boltq(secured, "keys", "list", key=key)
    assert refused.returncode == 1 and "403" in refused.stderr
    assert boltq(secured, "keys", "create", "x", key=None).returncode == 1
    assert boltq(secured, "keys", "revoke", "cli-ci").returncode == 0
    assert "cli-ci" not in boltq(secured, "keys", "list").stdout
    gone = boltq(secured, "keys", "revoke", "cli-ci")
    assert gone.returncode == 1 and "404" in gone.stderr


def test_cli_watches_over_the_websocket_with_a_ticket(secured: DevProcess) -> None:
    """--watch trades the key for a ticket and follows the job over the WebSocket: with a
    30 s poll interval the 1 s job is seen finishing within seconds."""
    key = make_key(secured, "cli-watch", "submit")
    seen = len(secured.lines)
    start = time.monotonic()
    out = boltq(secured, "submit", "sleep", "--data", '{"seconds": 1}', "--watch",
                "--interval", "30", key=key)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "completed" in out.stdout
    assert time.monotonic() - start < 20
    log = "\n".join(secured.lines[seen:])
    assert "authorize $connect" in log and key not in log
