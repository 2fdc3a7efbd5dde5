"""The api function driven with API Gateway REST proxy events against a real Valkey/Redis."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.access.routes import ROUTES
from tests.conftest import run_worker
from tests.functions.conftest import (
    LambdaContext,
    load_function,
    namespace_keys,
    response_headers,
    rest_event,
)

Call = Any


def test_seed_readme_examples_work_unchanged(call_api: Call, fn_env: Queue) -> None:
    # curl -X POST /api/v1/jobs -d '{"type":"echo","data":{...},"priority":1,"delay_seconds":0}'
    status, body = call_api("POST", "/api/v1/jobs", {
        "type": "echo", "data": {"message": "Hello World"}, "priority": 1, "delay_seconds": 0,
    })
    assert status == 200, body
    assert body["success"] is True
    assert body["data"]["status"] == "pending"
    job_id = body["data"]["job_id"]

    status, body = call_api("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200
    assert body == {"success": True, "data": body["data"]}
    assert body["data"]["id"] == job_id and body["data"]["status"] == "pending"
    assert body["data"]["data"] == {"message": "Hello World"}

    status, body = call_api("GET", "/api/v1/queues/stats")
    assert status == 200
    assert body["data"]["pending"]["normal"] == 1
    assert body["data"]["totals"]["submitted"] == 1

    status, body = call_api("POST", "/api/v1/workflows", {
        "name": "Data Processing Pipeline",
        "steps": [
            {"job_type": "fetch_data", "params": {"url": "https://example.com/data.csv"}},
            {"job_type": "process_data", "params": {"operation": "transform"},
             "depends_on": ["step-1"]},
        ],
    })
    assert status == 200, body
    wf_id = body["data"]["workflow_id"]
    status, body = call_api("GET", f"/api/v1/workflows/{wf_id}")
    assert status == 200
    assert [s["id"] for s in body["data"]["steps"]] == ["step-1", "step-2"]
    assert body["data"]["steps"][1]["depends_on"] == ["step-1"]


def test_jobs_routes(call_api: Call, fn_env: Queue) -> None:
    ids = []
    for prio in ("high", 2, "normal"):
        status, body = call_api("POST", "/api/v1/jobs", {"type": "echo", "priority": prio})
        assert status == 200, body
        ids.append(body["data"]["job_id"])
    status, body = call_api("POST", "/api/v1/jobs", {"type": "sleep", "delay_seconds": 60})
    assert body["data"]["status"] == "scheduled"
    delayed = body["data"]["job_id"]

    status, body = call_api("GET", "/api/v1/jobs", query={"status": "pending", "limit": "2"})
    assert status == 200, body
    page = body["data"]
    assert page["count"] == 2 and page["next_cursor"]
    query = {"status": "pending", "limit": "2", "cursor": page["next_cursor"]}
    status, body = call_api("GET", "/api/v1/jobs", query=query)
    assert body["data"]["count"] == 1
    status, body = call_api("GET", "/api/v1/jobs", query={"type": "sleep"})
    assert [j["id"] for j in body["data"]["items"]] == [delayed]

    status, body = call_api("POST", f"/api/v1/jobs/{delayed}/cancel")
    assert (status, body["data"]["status"]) == (200, "cancelled")
    status, body = call_api("POST", f"/api/v1/jobs/{delayed}/cancel")
    assert status == 409 and "already cancelled" in body["error"]

    status, body = call_api("POST", "/api/v1/jobs/batch",
                            {"jobs": [{"type": "echo"}, {"type": "echo", "priority": "low"}]})
    assert status == 200 and len(body["data"]["jobs"]) == 2

    status, body = call_api("POST", "/api/v1/jobs",
                            {"type": "echo", "idempotency_key": "order-42"})
    first = body["data"]["job_id"]
    status, body = call_api("POST", "/api/v1/jobs",
                            {"type": "echo", "idempotency_key": "order-42"})
    assert body["data"]["job_id"] == first and body["data"]["duplicate"] is True


def test_dead_letter_routes(call_api: Call, fn_env: Queue) -> None:
    q = fn_env
    dead = [q.submit({"type": "fail", "data": {"permanent": True}}).job_id for _ in range(4)]
    run_worker(q, until=lambda: q.stats().dead_letter == 4)

    status, body = call_api("GET", "/api/v1/dlq", query={"limit": "2"})
    assert status == 200 and body["data"]["count"] == 2 and body["data"]["next_cursor"]
    status, body = call_api("GET", f"/api/v1/dlq/{dead[0]}")
    assert body["data"]["last_error"]["category"] == "permanent"

    status, body = call_api("POST", f"/api/v1/dlq/{dead[0]}/requeue")
    assert (status, body["data"]["requeued"]) == (200, [dead[0]])
    assert q.get(dead[0]).status == "pending"
    status, body = call_api("POST", f"/api/v1/dlq/{dead[0]}/requeue")
    assert status == 404

    status, body = call_api("POST", "/api/v1/dlq/requeue", {"job_ids": [dead[1]]})
    assert body["data"] == {"requeued": 1, "job_ids": [dead[1]]}
    status, body = call_api("DELETE", "/api/v1/dlq")
    assert body["data"] == {"purged": 2}
    status, body = call_api("POST", "/api/v1/dlq/requeue")
    assert body["data"] == {"requeued": 0}
    assert q.stats().dead_letter == 0
    assert q.get(dead[1]).status == "pending"


def test_workflow_routes(call_api: Call, fn_env: Queue) -> None:
    made = []
    for i in range(3):
        _, body = call_api("POST", "/api/v1/workflows", {
            "name": f"wf-{i}", "steps": [{"job_type": "echo", "params": {"i": i}}],
        })
        made.append(body["data"]["workflow_id"])
    status, body = call_api("GET", "/api/v1/workflows", query={"limit": "2"})
    assert status == 200 and body["data"]["count"] == 2
    _, more = call_api("GET", "/api/v1/workflows",
                       query={"limit": "2", "cursor": body["data"]["next_cursor"]})
    listed = [w["id"] for w in body["data"]["items"] + more["data"]["items"]]
    assert sorted(listed) == sorted(made)

    status, body = call_api("POST", f"/api/v1/workflows/{made[0]}/cancel")
    assert (status, body["data"]["status"]) == (200, "cancelled")
    status, body = call_api("DELETE", f"/api/v1/workflows/{made[1]}")
    assert status == 200 and body["data"]["deleted"] is True
    status, body = call_api("GET", f"/api/v1/workflows/{made[1]}")
    assert status == 404 and made[1] in body["error"]


# Bad input to every route: (method, path, body, query, raw body, status, words in the error)
BAD_INPUT = [
    ("POST", "/api/v1/jobs", None, None, None, 400, "body"),
    ("POST", "/api/v1/jobs", None, None, "{not json", 400, "body"),
    ("POST", "/api/v1/jobs", {"data": {}}, None, None, 400, "type"),
    ("POST", "/api/v1/jobs", {"type": ""}, None, None, 400, "type"),
    ("POST", "/api/v1/jobs", {"type": "echo", "priority": 7}, None, None, 400, "priority"),
    ("POST", "/api/v1/jobs", {"type": "echo", "priority": "urgent"}, None, None, 400, "priority"),
    ("POST", "/api/v1/jobs", {"type": "echo", "delay_seconds": -1}, None, None, 400,
     "delay_seconds"),
    ("POST", "/api/v1/jobs", {"type": "echo", "data": [1]}, None, None, 400, "data"),
    ("POST", "/api/v1/jobs", {"type": "echo", "colour": "red"}, None, None, 400, "colour"),
    ("POST", "/api/v1/jobs", {"type": "echo", "timeout_seconds": 100000}, None, None, 400,
     "timeout_seconds"),
    ("POST", "/api/v1/jobs", {"type": "echo", "data": {"x": "y" * 300_000}}, None, None, 413,
     "data"),
    ("POST", "/api/v1/jobs/batch", {"jobs": [{"type": "echo"}, {"type": "echo", "priority": 9}]},
     None, None, 400, "jobs.1.priority"),
    ("POST", "/api/v1/jobs/batch", {"jobs": []}, None, None, 400, "jobs"),
    ("GET", "/api/v1/jobs/nope", None, None, None, 404, "nope"),
    ("GET", "/api/v1/jobs", None, {"status": "sleeping"}, None, 400, "status"),
    ("GET", "/api/v1/jobs", None, {"limit": "0"}, None, 400, "limit"),
    ("GET", "/api/v1/jobs", None, {"limit": "many"}, None, 400, "limit"),
    ("GET", "/api/v1/jobs", None, {"cursor": "abc"}, None, 400, "cursor"),
    ("POST", "/api/v1/jobs/nope/cancel", None, None, None, 404, "nope"),
    ("POST", "/api/v1/workflows", {"name": "x", "steps": []}, None, None, 400, "steps"),
    ("POST", "/api/v1/workflows", {"steps": [{"job_type": "echo"}]}, None, None, 400, "name"),
    ("POST", "/api/v1/workflows",
     {"name": "x", "steps": [{"job_type": "echo", "depends_on": ["step-9"]}]}, None, None, 400,
     "step-9"),
    ("POST", "/api/v1/workflows",
     {"name": "x", "steps": [{"id": "a", "job_type": "echo", "depends_on": ["b"]},
                             {"id": "b", "job_type": "echo", "depends_on": ["a"]}]},
     None, None, 400, "cycle"),
    ("POST", "/api/v1/workflows", {"name": "x", "steps": [{"job_type": ""}]}, None, None, 400,
     "job_type"),
    ("GET", "/api/v1/workflows", None, {"limit": "5000"}, None, 400, "limit"),
    ("GET", "/api/v1/workflows/nope", None, None, None, 404, "nope"),
    ("POST", "/api/v1/workflows/nope/cancel", None, None, None, 404, "nope"),
    ("DELETE", "/api/v1/workflows/nope", None, None, None, 404, "nope"),
    ("GET", "/api/v1/dlq", None, {"cursor": "x"}, None, 400, "cursor"),
    ("GET", "/api/v1/dlq/nope", None, None, None, 404, "nope"),
    ("POST", "/api/v1/dlq/nope/requeue", None, None, None, 404, "nope"),
    ("POST", "/api/v1/dlq/requeue", {"job_ids": "all"}, None, None, 400, "job_ids"),
    ("GET", "/api/v1/nothing-here", None, None, None, 404, "no route"),
    # the limits the OpenAPI document states
    ("GET", "/api/v1/jobs", None, {"limit": "101"}, None, 400, "limit"),
    ("GET", "/api/v1/dlq", None, {"limit": "101"}, None, 400, "limit"),
    ("GET", "/api/v1/workflows", None, {"limit": "101"}, None, 400, "limit"),
    ("GET", "/api/v1/jobs", None, {"cursor": "1" * 16}, None, 400, "cursor"),
    ("GET", "/api/v1/jobs", None, {"type": "no spaces"}, None, 400, "type"),
    ("GET", "/api/v1/jobs/" + "x" * 129, None, None, None, 400, "job_id"),
    ("DELETE", "/api/v1/workflows/" + "x" * 129, None, None, None, 400, "workflow_id"),
    # JSON types as the schema says: no strings or booleans for numbers, run_at a date-time
    ("POST", "/api/v1/jobs", {"type": "echo", "max_attempts": "3"}, None, None, 400,
     "max_attempts"),
    ("POST", "/api/v1/jobs", {"type": "echo", "delay_seconds": True}, None, None, 400,
     "delay_seconds"),
    ("POST", "/api/v1/jobs", {"type": "echo", "run_at": 0}, None, None, 400, "run_at"),
    ("POST", "/api/v1/jobs", {"type": "echo", "run_at": "1700000000"}, None, None, 400, "run_at"),
    ("POST", "/api/v1/workflows", {"name": "x", "steps": [{"job_type": "e", "timeout_seconds":
                                                           "9"}]}, None, None, 400,
     "steps.0.timeout_seconds"),
    ("POST", "/api/v1/workflows", {"name": "x", "steps": [
        {"id": "a", "job_type": "e"}, {"id": "b", "job_type": "e", "depends_on": ["a", "a"]}]},
     None, None, 400, "steps[1].depends_on: step 'b' lists 'a' more than once"),
    # a body is a JSON object (Powertools would take [job] for job, null for no body)
    ("POST", "/api/v1/jobs", [{"type": "echo"}], None, None, 400, "body: must be a JSON object"),
    ("POST", "/api/v1/dlq/requeue", None, None, "null", 400, "body: must be a JSON object"),
    ("POST", "/api/v1/dlq/requeue", None, None, "[null, null]", 400, "JSON object"),
]


@pytest.mark.parametrize(("method", "path", "body", "query", "raw", "status", "words"),
                         BAD_INPUT, ids=[f"{m} {p} {s}" for m, p, _, _, _, s, _ in BAD_INPUT])
def test_bad_input_is_a_clear_error_and_stores_nothing(
    call_api: Call, fn_env: Queue, method: str, path: str, body: Any, query: Any, raw: Any,
    status: int, words: str,
) -> None:
    before = namespace_keys(fn_env)
    got, reply = call_api(method, path, body, query=query, raw_body=raw)
    assert got == status, reply
    assert reply["success"] is False
    assert words in reply["error"], reply
    assert isinstance(reply["details"], list)
    assert namespace_keys(fn_env) == before


def test_a_body_must_be_json(call_api: Call, fn_env: Queue) -> None:
    before = namespace_keys(fn_env)
    for ctype in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; b=x"):
        status, body = call_api("POST", "/api/v1/jobs", raw_body="type=echo",
                                headers={"Content-Type": ctype})
        assert status == 415 and "application/json" in body["error"], (ctype, body)
    assert namespace_keys(fn_env) == before
    status, _ = call_api("POST", "/api/v1/jobs", raw_body='{"type": "echo"}',
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200


def test_requeue_an_empty_list_requeues_nothing(call_api: Call, fn_env: Queue) -> None:
    q = fn_env
    dead = q.submit({"type": "fail", "data": {"permanent": True}}).job_id
    run_worker(q, until=lambda: q.stats().dead_letter == 1)
    status, body = call_api("POST", "/api/v1/dlq/requeue", {"job_ids": []})
    assert (status, body["data"]) == (200, {"requeued": 0, "job_ids": []})
    status, body = call_api("POST", "/api/v1/dlq/requeue", {"job_ids": ["not-dead"]})
    assert (status, body["data"]) == (200, {"requeued": 0, "job_ids": []})  # no 404 in bulk
    assert q.get(dead).status == "failed"


def test_api_key(call_api: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOLTQ_API_KEY", "s3cret-key-for-tests")
    status, body = call_api("GET", "/api/v1/queues/stats")
    assert status == 401 and "API key" in body["error"]
    status, _ = call_api("GET", "/api/v1/queues/stats", headers={"x-api-key": "wrong"})
    assert status == 403
    status, _ = call_api("GET", "/api/v1/queues/stats",
                         headers={"X-Api-Key": "s3cret-key-for-tests"})
    assert status == 200
    status, _ = call_api("GET", "/health")
    assert status == 200
    # the key is checked before the input, as API Gateway does: no key, bad body -> 401
    status, body = call_api("POST", "/api/v1/jobs", raw_body="{not json")
    assert status == 401, body
    status, body = call_api("POST", "/api/v1/jobs", raw_body="{not json",
                            headers={"x-api-key": "s3cret-key-for-tests"})
    assert status == 400 and "body" in body["error"]
    status, _ = call_api("GET", "/api/v1/queues/stats", headers={"x-api-key": "k\udcff"})
    assert status == 403


def test_cors(call_api: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    status, _ = call_api("GET", "/health", headers={"Origin": "https://play.example.com"})
    assert status == 200
    api = load_function("api")
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://play.example.com")
    resp = api.handler(
        rest_event("OPTIONS", "/api/v1/jobs", headers={"Origin": "https://play.example.com",
                                                        "Access-Control-Request-Method": "POST"}),
        LambdaContext(),
    )
    flat = response_headers(resp)
    assert resp["statusCode"] == 204
    assert "access-control-allow-origin" in flat
    assert "x-api-key" in str(flat.get("access-control-allow-headers")).lower()
    # a request refused before routing (no API key, bytes that are not UTF-8) keeps CORS, so a
    # browser can read why
    monkeypatch.setenv("BOLTQ_API_KEY", "s3cret-key-for-tests")
    for extra in ({}, {"body": "////", "isBase64Encoded": True,
                       "headers": {"Origin": "https://play.example.com",
                                   "x-api-key": "s3cret-key-for-tests"}}):
        event = rest_event("POST", "/api/v1/jobs", headers={"Origin": "https://play.example.com"})
        event.update(extra)
        resp = api.handler(event, LambdaContext())
        assert resp["statusCode"] in (400, 401), resp
        assert "access-control-allow-origin" in response_headers(resp), resp


def test_health(call_api: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = call_api("GET", "/health")
    assert (status, body["data"]["status"]) == (200, "ok")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    status, body = call_api("GET", "/health")
    assert status == 503 and body["success"] is False
    status, body = call_api("GET", "/api/v1/queues/stats")
    assert status == 503 and "unreachable" in body["error"]


# every route that reads or writes the store, with a request it would otherwise accept
STORE_ROUTES = [
    ("GET", "/health", None), ("POST", "/api/v1/jobs", {"type": "echo"}),
    ("POST", "/api/v1/jobs/batch", {"jobs": [{"type": "echo"}]}), ("GET", "/api/v1/jobs", None),
    ("GET", "/api/v1/jobs/some-id", None), ("POST", "/api/v1/jobs/some-id/cancel", None),
    ("GET", "/api/v1/queues/stats", None),
    ("POST", "/api/v1/workflows", {"name": "w", "steps": [{"job_type": "echo"}]}),
    ("GET", "/api/v1/workflows", None), ("GET", "/api/v1/workflows/some-id", None),
    ("POST", "/api/v1/workflows/some-id/cancel", None),
    ("DELETE", "/api/v1/workflows/some-id", None), ("GET", "/api/v1/dlq", None),
    ("GET", "/api/v1/dlq/some-id", None), ("POST", "/api/v1/dlq/some-id/requeue", None),
    ("POST", "/api/v1/dlq/requeue", None), ("DELETE", "/api/v1/dlq", None),
]


def _assert_unavailable(resp: dict[str, Any], what: str) -> None:
    body = json.loads(resp["body"])
    assert resp["statusCode"] == 503, (what, body)
    assert body["success"] is False and body["error"], (what, body)
    retry = response_headers(resp).get("retry-after")
    assert retry is not None and retry.isdigit() and int(retry) >= 1, (what, retry)


def test_store_unreachable_is_503_with_retry_after_on_every_route(
    fn_env: Queue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from boltq_local.valkey import free_port

    api = load_function("api")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    for method, path, body in STORE_ROUTES:
        resp = api.handler(rest_event(method, path, body), LambdaContext("boltq-api"))
        _assert_unavailable(resp, f"{method} {path}")


def test_store_failing_over_is_503_with_retry_after(
    aws_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real Valkey turned into a replica of a primary that is gone, as during a failover: it
    refuses writes (READONLY) and, with replica-serve-stale-data off, reads too (MASTERDOWN).
    Then the server is stopped outright (connection refused)."""
    import redis

    from boltq_local.valkey import ValkeyServer, free_port

    api = load_function("api")
    with ValkeyServer() as server:
        monkeypatch.setenv("REDIS_URL", server.url)
        monkeypatch.setenv("BOLTQ_PREFIX", "failover")
        ok_resp = api.handler(rest_event("POST", "/api/v1/jobs", {"type": "echo"}),
                              LambdaContext("boltq-api"))
        assert ok_resp["statusCode"] == 200, ok_resp
        job_id = json.loads(ok_resp["body"])["data"]["job_id"]
        admin = redis.Redis.from_url(server.url)
        admin.replicaof("127.0.0.1", free_port())
        try:
            for method, path, body in [("POST", "/api/v1/jobs", {"type": "echo"}),
                                       ("POST", "/api/v1/jobs/batch", {"jobs": [{"type": "e"}]}),
                                       ("POST", "/api/v1/workflows",
                                        {"name": "w", "steps": [{"job_type": "echo"}]}),
                                       ("POST", f"/api/v1/jobs/{job_id}/cancel", None)]:
                resp = api.handler(rest_event(method, path, body), LambdaContext("boltq-api"))
                _assert_unavailable(resp, f"read-only {method} {path}")
            admin.config_set("replica-serve-stale-data", "no")
            for method, path, body in STORE_ROUTES:
                if path == "/health":
                    continue  # PING is served even without a primary
                resp = api.handler(rest_event(method, path, body), LambdaContext("boltq-api"))
                _assert_unavailable(resp, f"masterdown {method} {path}")
        finally:
            admin.replicaof("NO", "ONE")
            admin.close()
    # the server is gone now
    for method, path, body in STORE_ROUTES[:3]:
        resp = api.handler(rest_event(method, path, body), LambdaContext("boltq-api"))
        _assert_unavailable(resp, f"stopped {method} {path}")


def test_openapi_document_and_docs_page(call_api: Call) -> None:
    status, doc = call_api("GET", "/api/v1/openapi.json")
    assert status == 200
    assert doc["info"]["title"] == "BoltQ"
    paths = doc["paths"]
    for p in ("/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/workflows", "/api/v1/dlq",
              "/api/v1/queues/stats", "/health"):
        assert p in paths, sorted(paths)
    body_schema = paths["/api/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert body_schema["schema"]
    status, html = call_api("GET", "/api/v1/docs")
    assert status == 200 and "swagger" in html.lower()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]


def test_openapi_document_states_what_the_api_does(call_api: Call) -> None:
    _, doc = call_api("GET", "/api/v1/openapi.json")
    text = json.dumps(doc)
    assert '"422"' not in text and "HTTPValidationError" not in text  # validation is a 400
    schemas = doc["components"]["schemas"]
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    public = {"/health"}
    ops = _operations(doc)
    assert len(ops) == 37  # the seed's 17, 4 of access, 7 of schedules, 9 of queues
    for method, path, op in ops:
        codes = set(op["responses"])
        where = f"{method} {path}"
        assert {"200", "400", "503"} <= codes, where
        assert ("401" in codes and "403" in codes) == (path not in public), where
        assert ("404" in codes) == ("{" in path), where
        assert ("409" in codes) == (path.endswith("/cancel") or where == "post /api/v1/keys"), \
            where
        assert ("415" in codes) == ("requestBody" in op), where
        assert op["responses"]["503"]["headers"]["Retry-After"]["required"] is True
        assert (op.get("security") == [{"apiKey": []}]) == (path not in public), where
        if path not in public:  # the scopes that may call it, from the one route table
            assert op["x-boltq-scopes"] == sorted(ROUTES[(method.upper(), path)]), where
            assert "Scopes: " + ", ".join(op["x-boltq-scopes"]) in op["description"], where
        ok_schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok_schema["properties"]["success"] == {"const": True}
        assert ok_schema["properties"]["data"]["$ref"].startswith("#/components/schemas/")
        for code in codes - {"200"}:
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (where, code)
    assert {"413"} <= set(paths_op(doc, "post", "/api/v1/jobs")["responses"])
    # access: tickets, keys (shown once, never listed), 401/403 said as they are
    ticket = paths_op(doc, "post", "/api/v1/ws/tickets")
    assert ticket["responses"]["200"]["content"]["application/json"]["schema"]["properties"][
        "data"]["$ref"] == "#/components/schemas/WsTicket"
    assert set(schemas["WsTicket"]["required"]) == {"ticket", "expires_in"}
    assert "key" in schemas["ApiKeyCreated"]["properties"]
    assert "key" not in schemas["ApiKeyInfo"]["properties"]
    assert set(schemas["KeyRequest"]["properties"]["scope"]["enum"]) == {"submit", "read",
                                                                         "admin"}
    assert "scope" in paths_op(doc, "get", "/api/v1/jobs")["responses"]["403"]["description"]
    error = schemas["Error"]
    assert set(error["required"]) == {"success", "error", "details"}
    # the limits the routes apply are in the schema
    params = {p["name"]: p for p in paths_op(doc, "get", "/api/v1/jobs")["parameters"]}
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 100)
    assert params["cursor"]["schema"]["pattern"] == "^[0-9]{1,15}$"
    assert params["queue"]["schema"]["pattern"] == "^[A-Za-z0-9_.-]{1,64}$"
    assert params["status"]["schema"] == {**params["status"]["schema"],
                                          "$ref": "#/components/schemas/JobStatus"}
    assert set(schemas["JobStatus"]["enum"]) == {
        "pending", "scheduled", "running", "retrying", "completed", "failed", "cancelled"}
    job_id = paths_op(doc, "get", "/api/v1/jobs/{job_id}")["parameters"][0]["schema"]
    assert (job_id["minLength"], job_id["maxLength"]) == (1, 128)
    job = schemas["JobRequest"]["properties"]
    assert job["timeout_seconds"]["anyOf"][0]["maximum"] == 840  # MAX_JOB_TIMEOUT_SECONDS
    assert {b.get("type") for b in job["priority"]["anyOf"]} == {"integer", "string"}
    assert schemas["JobBatch"]["properties"]["jobs"]["maxItems"] == 500
    assert schemas["StepRequest"]["properties"]["depends_on"]["uniqueItems"] is True
    settings = paths_op(doc, "put", "/api/v1/queues/{queue_name}/settings")
    assert settings["x-boltq-scopes"] == ["admin"]
    assert schemas["QueueSettingsRequest"]["required"] == ["max_workers"]
    assert schemas["QueueSettingsRequest"]["additionalProperties"] is False
    workers = schemas["QueueSettingsRequest"]["properties"]["max_workers"]["anyOf"]
    assert workers[0]["minimum"] == 1 and workers[1] == {"type": "null"}
    assert "settings" in schemas["QueueDetail"]["required"]
    assert schemas["RequeueBody"]["additionalProperties"] is False
    # list items are summaries; the single job keeps data and result
    assert not {"data", "result", "parent_results"} & set(schemas["JobSummary"]["properties"])
    assert {"data", "result", "parent_results"} <= set(schemas["Job"]["properties"])


def paths_op(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return doc["paths"][path][method]


def test_openapi_servers_come_from_the_request(fn_env: Queue) -> None:
    api = load_function("api")
    # API Gateway's execute-api domain: the stage is the first segment of the URL
    event = rest_event("GET", "/api/v1/openapi.json")
    doc = json.loads(api.handler(event, LambdaContext())["body"])
    assert doc["servers"] == [{"url": "/prod"}]
    event["requestContext"].update(stage="v2", path="/v2/api/v1/openapi.json")
    doc = json.loads(api.handler(event, LambdaContext())["body"])
    assert doc["servers"] == [{"url": "/v2"}]
    # a custom domain (and boltq dev, sam local): no stage in the path
    event["requestContext"].update(path="/api/v1/openapi.json", domainName="api.example.com")
    doc = json.loads(api.handler(event, LambdaContext())["body"])
    assert doc["servers"] == [{"url": "/"}]
    del event["requestContext"]["path"]
    doc = json.loads(api.handler(event, LambdaContext())["body"])
    assert doc["servers"] == [{"url": "/"}]


def _raw_call(event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    resp = load_function("api").handler(event, LambdaContext("boltq-api"))
    return resp["statusCode"], json.loads(resp["body"]), response_headers(resp)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# Malformed bytes as API Gateway hands them over: a body in base64 (binary media types) that is
# not UTF-8 or not base64, a text body with a lone surrogate (raw or as a JSON escape), and
# query strings, path parameters or a path that do not decode as UTF-8 (surrogate-escaped bytes)
NOT_UTF8 = [
    ("POST", "/api/v1/jobs", {"body": _b64(b'{"type": "echo\xff"}'), "isBase64Encoded": True},
     "body: not valid UTF-8"),
    ("POST", "/api/v1/workflows", {"body": _b64(b'{"name": "\xc3\x28", "steps": []}'),
                                   "isBase64Encoded": True}, "body: not valid UTF-8"),
    ("POST", "/api/v1/dlq/requeue", {"body": _b64(b'{"job_ids": ["\xed\xa0\x80"]}'),
                                     "isBase64Encoded": True}, "body: not valid UTF-8"),
    ("POST", "/api/v1/jobs/batch", {"body": "not base64!", "isBase64Encoded": True},
     "body: not valid base64"),
    ("POST", "/api/v1/jobs", {"body": '{"type": "echo\udcff"}'}, "body: not valid UTF-8"),
    ("POST", "/api/v1/jobs", {"body": '{"type": "echo", "data": {"k": "\\udcff"}}'},
     "data.k: not valid Unicode"),
    ("POST", "/api/v1/workflows",
     {"body": '{"name": "w", "steps": [{"job_type": "echo", "params": {"\\ud800": 1}}]}'},
     "steps.0.params: not valid Unicode"),
    ("GET", "/api/v1/jobs", {"queryStringParameters": {"type": "\udcff"},
                             "multiValueQueryStringParameters": {"type": ["\udcff"]}},
     "query parameter 'type': not valid UTF-8"),
    ("GET", "/api/v1/dlq", {"queryStringParameters": {"\udcfe": "1"}},
     "query string: not valid UTF-8"),
    ("GET", "/api/v1/jobs/\udcff", {"pathParameters": {"job_id": "\udcff"}},
     "path parameter 'job_id': not valid UTF-8"),
    ("DELETE", "/api/v1/workflows/\udcff", {}, "path: not valid UTF-8"),
]


@pytest.mark.parametrize(("method", "path", "fields", "words"), NOT_UTF8,
                         ids=[f"{m} {p!a} {w}" for m, p, _, w in NOT_UTF8])
def test_malformed_bytes_are_a_400_naming_the_part(
    fn_env: Queue, method: str, path: str, fields: dict[str, Any], words: str,
) -> None:
    before = namespace_keys(fn_env)
    event = rest_event(method, path, headers={"Content-Type": "application/json"})
    event.update(fields)
    status, reply, _ = _raw_call(event)
    assert status == 400, reply
    assert reply["success"] is False and words in reply["error"], reply
    assert isinstance(reply["details"], list) and reply["details"], reply
    assert namespace_keys(fn_env) == before


def test_valid_base64_utf8_body_is_accepted(fn_env: Queue) -> None:
    # API Gateway base64-encodes bodies of binary media types: valid UTF-8 JSON still works
    event = rest_event("POST", "/api/v1/jobs", headers={"Content-Type": "application/json"})
    event.update(body=_b64('{"type": "echo", "data": {"w": "grüße 🌍"}}'.encode()),
                 isBase64Encoded=True)
    status, reply, _ = _raw_call(event)
    assert status == 200, reply
    assert fn_env.get(reply["data"]["job_id"]).data == {"w": "grüße 🌍"}


def test_openapi_models_stay_off_the_cold_start() -> None:
    """Importing the function (a cold start) does not import Powertools' OpenAPI models (about
    100 ms): the document is built on its first request."""
    import subprocess
    import sys

    from tests.functions.conftest import ROOT

    probe = ("import sys, app; "
             "print(sorted(m for m in sys.modules if m.endswith('openapi.models')))")
    env = {"PYTHONPATH": f"{ROOT / 'layers' / 'boltq_core'}", "AWS_DEFAULT_REGION": "us-east-1",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "functions" / "api",
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
