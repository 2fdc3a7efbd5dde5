"""The ws function (WebSocket connect / message / disconnect events) and the StatusPusher that
posts updates through the API Gateway Management API (moto, or a recording poster)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from boltq_core import Queue
from boltq_core.access.principal import Principal
from boltq_core.access.routes import Scope
from boltq_core.access.tickets import Tickets
from boltq_core.duties.status_push import ManagementApiPoster, connect_pusher
from boltq_core.duties.subscriptions import ConnectionRegistry
from boltq_core.jobs.relay import Relay
from boltq_core.jobs.workflows import Workflows
from tests.conftest import run_worker
from tests.functions.conftest import WS_ENDPOINT, body_of


class Recorder:
    """A Poster that records what would be posted; ids in `gone` answer GoneException."""

    def __init__(self, gone: set[str] | None = None, delay: float = 0.0) -> None:
        self.posts: list[tuple[str, str, dict[str, Any]]] = []
        self.gone = gone or set()
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, endpoint: str, conn_id: str, data: bytes) -> bool:
        time.sleep(self.delay)
        if conn_id in self.gone:
            return False
        with self.lock:
            self.posts.append((endpoint, conn_id, json.loads(data)))
        return True

    def to(self, conn_id: str) -> list[dict[str, Any]]:
        return [m for _, c, m in self.posts if c == conn_id]


def registry(q: Queue) -> ConnectionRegistry:
    return ConnectionRegistry(q.redis, q.keys)


def test_connect_subscribe_unsubscribe_disconnect(ws_calls: Any, fn_env: Queue) -> None:
    q = fn_env
    job = q.submit({"type": "echo"}).job_id
    assert ws_calls("$connect", "conn-1=")["statusCode"] == 200
    assert registry(q).endpoint("conn-1=") == WS_ENDPOINT

    r = ws_calls("subscribe", "conn-1=", {"action": "subscribe", "job_id": job})
    assert r["statusCode"] == 200
    reply = body_of(r)
    assert reply["type"] == "subscribed" and reply["status"] == "pending"
    assert reply["data"]["id"] == job
    r = ws_calls("subscribe", "conn-1=", {"action": "subscribe", "topic": "all"})
    assert body_of(r)["topic"] == "all"
    assert set(registry(q).subscriptions("conn-1=")) == {f"job:{job}", "all"}
    assert registry(q).subscribers([f"job:{job}"]) == {f"job:{job}": {"conn-1=": WS_ENDPOINT}}

    r = ws_calls("unsubscribe", "conn-1=", {"action": "unsubscribe", "job_id": job})
    assert body_of(r)["type"] == "unsubscribed"
    assert registry(q).subscriptions("conn-1=") == ["all"]
    assert body_of(ws_calls("$default", "conn-1=", {"action": "ping"})) == {"type": "pong"}

    assert ws_calls("$disconnect", "conn-1=")["statusCode"] == 200
    assert registry(q).endpoint("conn-1=") is None
    assert registry(q).subscribers(["all"]) == {}
    # the registry expires: nothing is kept without a TTL
    ws_calls("$connect", "conn-2=")
    ws_calls("subscribe", "conn-2=", {"action": "subscribe", "topic": "all"})
    for key in q.redis.scan_iter(match=q.keys.tag + ":ws:*"):
        assert q.redis.pttl(key) > 0, key


def test_workflow_subscription(ws_calls: Any, fn_env: Queue) -> None:
    from boltq_core.jobs.workflows import Workflows

    wf = Workflows(fn_env).submit({"name": "w", "steps": [{"job_type": "echo"}]})
    ws_calls("$connect", "c=")
    reply = body_of(ws_calls("subscribe", "c=", {"action": "subscribe", "workflow_id": wf}))
    assert reply["workflow_id"] == wf and reply["status"] == "running"
    assert reply["data"]["steps"][0]["id"] == "step-1"


@pytest.mark.parametrize(("body", "words"), [
    ("{oops", "JSON"),
    ([1, 2], "object"),
    ({"action": "dance"}, "action"),
    ({"action": "subscribe"}, "job_id"),
    ({"action": "subscribe", "job_id": "a", "topic": "all"}, "exactly one"),
    ({"action": "subscribe", "topic": "everything"}, "topic"),
    ({"action": "subscribe", "job_id": "missing-job"}, "missing-job"),
    ({"action": "subscribe", "workflow_id": "missing-wf"}, "missing-wf"),
    ({"action": "subscribe", "job_id": 42}, "job_id"),
])
def test_bad_messages_are_clear_errors_and_store_nothing(
    ws_calls: Any, fn_env: Queue, body: Any, words: str
) -> None:
    ws_calls("$connect", "c=")
    before = registry(fn_env).subscriptions("c=")
    r = ws_calls("subscribe", "c=", body)
    reply = body_of(r)
    assert r["statusCode"] in (400, 404) and reply["type"] == "error", reply
    assert words in reply["error"], reply
    assert registry(fn_env).subscriptions("c=") == before == []
    assert list(fn_env.redis.scan_iter(match=fn_env.keys.tag + ":ws:sub:*")) == []


def test_subscribe_without_connect_is_refused(ws_calls: Any, fn_env: Queue) -> None:
    r = ws_calls("subscribe", "never=", {"action": "subscribe", "topic": "all"})
    assert r["statusCode"] == 400 and "reconnect" in body_of(r)["error"]


def test_connect_is_authorised_by_a_single_use_ticket(ws_calls: Any, fn_env: Queue,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With no authorizer in front (sam local, a direct call) the function redeems the ticket
    itself; the key, in the URL or a header, opens nothing."""
    monkeypatch.setenv("BOLTQ_API_KEY", "k-123456")
    tickets = Tickets(fn_env.redis, fn_env.keys, 60)
    assert ws_calls("$connect", "a=")["statusCode"] == 401
    assert ws_calls("$connect", "b=", query={"ticket": "bqt_wrong"})["statusCode"] == 403
    assert ws_calls("$connect", "b=", query={"api_key": "k-123456"})["statusCode"] == 401
    assert ws_calls("$connect", "b=", headers={"X-Api-Key": "k-123456"})["statusCode"] == 401
    assert registry(fn_env).endpoint("a=") is None and registry(fn_env).endpoint("b=") is None
    ticket = tickets.issue(Principal("ci", "k1", Scope.SUBMIT))
    assert ws_calls("$connect", "c=", query={"ticket": ticket})["statusCode"] == 200
    assert ws_calls("$connect", "d=", query={"ticket": ticket})["statusCode"] == 403  # used
    assert registry(fn_env).scope("c=") == "submit"


def test_a_connection_follows_what_its_scope_may_read(ws_calls: Any, fn_env: Queue) -> None:
    """A submit ticket follows jobs by id, not topic "all"; a read ticket follows all; the
    authorizer's context (as API Gateway passes it) decides the connection's scope."""
    job = fn_env.submit({"type": "echo", "data": {}})
    for conn, scope in (("s=", "submit"), ("r=", "read")):
        event_ctx = {"name": "ci", "key_id": "k1", "scope": scope, "principalId": "k1"}
        assert ws_calls("$connect", conn, authorizer=event_ctx)["statusCode"] == 200
    r = ws_calls("subscribe", "s=", {"action": "subscribe", "topic": "all"})
    assert r["statusCode"] == 403 and "read or admin" in body_of(r)["error"]
    assert registry(fn_env).subscriptions("s=") == []
    r = ws_calls("subscribe", "s=", {"action": "subscribe", "job_id": job.job_id})
    assert r["statusCode"] == 200
    r = ws_calls("subscribe", "r=", {"action": "subscribe", "topic": "all"})
    assert r["statusCode"] == 200 and registry(fn_env).subscriptions("r=") == ["all"]


def test_management_endpoint_from_configuration(ws_calls: Any, fn_env: Queue,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_MANAGEMENT_ENDPOINT", "http://localhost:8080/")
    ws_calls("$connect", "local=")
    assert registry(fn_env).endpoint("local=") == "http://localhost:8080"


def test_pusher_sends_spec_messages_to_subscribers(ws_calls: Any, fn_env: Queue) -> None:
    q = fn_env
    a, b = q.submit({"type": "echo", "data": {"n": 1}}).job_id, q.submit({"type": "echo"}).job_id
    for conn in ("job=", "all=", "other="):
        ws_calls("$connect", conn)
    ws_calls("subscribe", "job=", {"action": "subscribe", "job_id": a})
    ws_calls("subscribe", "all=", {"action": "subscribe", "topic": "all"})
    rec = Recorder()
    pusher = connect_pusher(q, rec)
    run_worker(q, until=lambda: q.get(b).status == "completed")
    while pusher.pump(block_ms=50):
        pass
    pusher.close()
    statuses = [m["status"] for m in rec.to("job=")]
    assert statuses[-2:] == ["running", "completed"], statuses
    assert {m["job_id"] for m in rec.to("job=")} == {a}
    done = rec.to("job=")[-1]
    assert set(done) >= {"type", "job_id", "status", "data", "timestamp"}
    assert done["type"] == "job_update" and done["data"]["result"] == {"n": 1}
    assert done["timestamp"].endswith("Z")
    assert {m["job_id"] for m in rec.to("all=")} == {a, b}
    assert rec.to("other=") == []
    assert all(ep == WS_ENDPOINT for ep, _, _ in rec.posts)


def test_a_bulks_jobs_each_get_their_message(ws_calls: Any, fn_env: Queue) -> None:
    """A bulk's like events share stream entries; each job still gets its own message, in
    order, to the subscribers of everything and of that job."""
    q = fn_env
    for conn in ("all=", "job="):
        ws_calls("$connect", conn)
    ws_calls("subscribe", "all=", {"action": "subscribe", "topic": "all"})
    rec = Recorder()
    pusher = connect_pusher(q, rec)
    got = q.submit_many([{"type": "echo", "data": {"i": i}} for i in range(1200)], chunk=1200)
    ids = [s.job_id for s in got]
    ws_calls("subscribe", "job=", {"action": "subscribe", "job_id": ids[777]})
    while pusher.pump(block_ms=50):
        pass
    pusher.close()
    msgs = rec.to("all=")
    assert [m["job_id"] for m in msgs] == ids
    assert {(m["type"], m["status"], m["data"]["type"]) for m in msgs} == {
        ("job_update", "pending", "echo")}
    assert [m["data"]["data"]["i"] for m in msgs[:3]] == [0, 1, 2]
    assert [m["job_id"] for m in rec.to("job=")] == [ids[777]]


def test_pusher_carries_on_from_the_stored_cursor(ws_calls: Any, fn_env: Queue) -> None:
    q = fn_env
    ws_calls("$connect", "c=")
    ws_calls("subscribe", "c=", {"action": "subscribe", "topic": "all"})
    rec = Recorder()
    q.submit({"type": "echo"})
    p1 = connect_pusher(q, rec)
    assert p1.pump(block_ms=10) == 1
    p1.close()
    q.submit({"type": "echo"})
    p2 = connect_pusher(q, rec)  # a later invocation
    assert p2.pump(block_ms=10) == 1
    assert p2.pump(block_ms=10) == 0
    p2.close()
    assert len(rec.posts) == 2


def test_workflow_updates(ws_calls: Any, fn_env: Queue) -> None:
    from boltq_core.jobs.workflows import Workflows

    q = fn_env
    wf = Workflows(q).submit({"name": "w", "steps": [
        {"job_type": "echo"}, {"job_type": "echo", "depends_on": ["step-1"]}]})
    ws_calls("$connect", "c=")
    ws_calls("subscribe", "c=", {"action": "subscribe", "workflow_id": wf})
    rec = Recorder()
    pusher = connect_pusher(q, rec)
    run_worker(q, until=lambda: Workflows(q).get(wf)["status"] == "completed")
    while pusher.pump(block_ms=50):
        pass
    pusher.close()
    wf_msgs = [m for m in rec.to("c=") if m["type"] == "workflow_update"]
    assert wf_msgs[-1]["status"] == "completed" and wf_msgs[-1]["workflow_id"] == wf
    assert wf_msgs[-1]["data"]["completed_steps"] == 2
    job_msgs = [m for m in rec.to("c=") if m["type"] == "job_update"]
    assert {m["workflow_id"] for m in job_msgs} == {wf}
    assert [m["status"] for m in job_msgs].count("completed") == 2


def test_gone_connections_are_pruned_and_slow_ones_do_not_block(ws_calls: Any,
                                                                 fn_env: Queue) -> None:
    q = fn_env
    live = [f"live{i}=" for i in range(8)]
    for conn in [*live, "gone="]:
        ws_calls("$connect", conn)
        ws_calls("subscribe", conn, {"action": "subscribe", "topic": "all"})
    rec = Recorder(gone={"gone="}, delay=0.1)
    pusher = connect_pusher(q, rec, threads=16)
    t0 = time.monotonic()
    for _ in range(5):
        q.submit({"type": "echo"})
    assert time.monotonic() - t0 < 0.5  # submitting never waits on sockets
    t0 = time.monotonic()
    assert pusher.pump(block_ms=10) == 40
    # 41 posts of 0.1 s: connections in parallel (each in order), not one after another
    assert time.monotonic() - t0 < 1.5
    pusher.close()
    assert registry(q).endpoint("gone=") is None
    assert set(registry(q).subscribers(["all"])["all"]) == set(live)
    for conn in live:  # every connection got its messages in stream order
        ids = [m["job_id"] for m in rec.to(conn)]
        assert len(ids) == 5 and ids == [m["job_id"] for m in rec.to(live[0])]


def test_management_api_poster_with_moto_and_gone(aws_env: None) -> None:
    with mock_aws():
        poster = ManagementApiPoster()
        assert poster(WS_ENDPOINT, "abcDEF123", b'{"type":"job_update"}') is True
        from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

        backend = apigatewaymanagementapi_backends["123456789012"]["us-east-1"]
        assert backend.connections["abcDEF123"].data == b'{"type":"job_update"}'

    client = boto3.client("apigatewaymanagementapi", endpoint_url=WS_ENDPOINT)
    poster._clients[WS_ENDPOINT] = client
    with Stubber(client) as stub:
        stub.add_client_error("post_to_connection", service_error_code="GoneException",
                              http_status_code=410)
        assert poster(WS_ENDPOINT, "gone=", b"{}") is False


def test_pusher_coalesces_a_burst_and_delivers_every_event(ws_calls: Any, fn_env: Queue) -> None:
    """With coalesce_ms, a stream of events is read a batch per interval (not one read per
    event), the first event after a quiet spell goes out at once, and nothing is lost."""
    q = fn_env
    ws_calls("$connect", "all=")
    ws_calls("subscribe", "all=", {"action": "subscribe", "topic": "all"})
    rec = Recorder()
    pusher = connect_pusher(q, rec, coalesce_ms=500)
    stop = threading.Event()
    t = threading.Thread(target=lambda: pusher.run_until(time.monotonic() + 5, stop.is_set, 50))
    t.start()
    try:
        time.sleep(0.2)  # quiet: the pusher is blocked on the stream
        first = q.submit({"type": "echo"}).job_id
        sent = time.monotonic()
        wait_until = sent + 2
        while not rec.to("all=") and time.monotonic() < wait_until:
            time.sleep(0.002)
        # the leading edge: at once, well before the 500 ms window (the bound holds on a loaded box)
        assert rec.to("all=") and time.monotonic() - sent < 0.3
        ids = [first]
        burst_start = time.monotonic()
        while time.monotonic() - burst_start < 1.5:  # a burst: a submit every ~5 ms
            ids.append(q.submit({"type": "echo"}).job_id)
            time.sleep(0.005)
        time.sleep(0.8)
    finally:
        stop.set()
        t.join()
        pusher.close()
    got = [m["job_id"] for m in rec.to("all=")]
    assert got == ids  # every event, in stream order
    assert len(ids) > 50 and pusher.reads <= 8, pusher.reads  # ~1.5 s / 500 ms, not one per submit


def test_the_relays_wake_ups_are_not_pushed(ws_calls: Any, fn_env: Queue) -> None:
    """A step in another queue leaves an outbox message, whose event ('o', status 'relay')
    wakes the promoter: subscribers get the jobs' and workflows' changes, never that."""
    q = fn_env
    ws_calls("$connect", "all=")
    ws_calls("subscribe", "all=", {"action": "subscribe", "topic": "all"})
    rec = Recorder()
    pusher = connect_pusher(q, rec)
    wf_id = Workflows(q).submit({"name": "w", "steps": [{"job_type": "echo", "queue": "far"}]})
    assert any(f.get("k") == "o" for _, f in q.redis.xrange(q.keys.events))
    assert Relay(q).deliver_all() == 1
    while pusher.pump(block_ms=50):
        pass
    pusher.close()
    got = rec.to("all=")
    assert [(m["type"], m["status"]) for m in got] == [
        ("workflow_update", "running"), ("job_update", "pending")]
    assert got[0]["workflow_id"] == wf_id and got[1]["job_id"].startswith("far:")


def test_with_no_subscription_the_pusher_reads_no_events(ws_calls: Any, fn_env: Queue) -> None:
    """Nobody subscribed: the pusher skips to the stream's end without reading or looking up
    anything; once a connection subscribes it pushes what happens from then on."""
    q = fn_env
    for _ in range(5):
        q.submit({"type": "echo"})
    rec = Recorder()
    pusher = connect_pusher(q, rec)
    assert pusher.pump(block_ms=10) == 0
    last = q.redis.xrevrange(q.keys.events, count=1)[0][0]
    assert q.redis.get(pusher.cursor_key) == last and pusher.reads == 0

    ws_calls("$connect", "c=")
    ws_calls("subscribe", "c=", {"action": "subscribe", "topic": "all"})
    job = q.submit({"type": "echo"}).job_id
    assert pusher.pump(block_ms=10) == 1
    assert [(m["job_id"], m["status"]) for m in rec.to("c=")] == [(job, "pending")]

    ws_calls("$disconnect", "c=")  # the last subscriber gone: back to skipping
    q.submit({"type": "echo"})
    assert pusher.pump(block_ms=10) == 0 and pusher.reads == 1
    pusher.close()


def test_messages_over_api_gateways_128_kb_are_trimmed_not_dropped(
        ws_calls: Any, fn_env: Queue) -> None:
    q = fn_env
    big = "x" * 200_000  # data and result of 200 KB each: a whole job is ~400 KB of JSON
    job = q.submit({"type": "echo", "data": {"blob": big}}).job_id
    ws_calls("$connect", "big=")
    reply = body_of(ws_calls("subscribe", "big=", {"action": "subscribe", "job_id": job}))
    assert len(json.dumps(reply).encode()) <= 128 * 1024
    assert reply["trimmed"] == ["data"] and "data" not in reply["data"]
    assert reply["data"]["id"] == job and reply["status"] == "pending"
    rec = Recorder()
    pusher = connect_pusher(q, rec)
    run_worker(q, until=lambda: q.get(job).status == "completed")
    while pusher.pump(block_ms=50):
        pass
    pusher.close()
    messages = rec.to("big=")
    assert [m["status"] for m in messages][-2:] == ["running", "completed"]
    done = messages[-1]
    assert len(json.dumps(done).encode()) <= 128 * 1024
    assert done["trimmed"] == ["data", "result"]
    assert done["data"]["status"] == "completed" and "result" not in done["data"]
