"""The api function's queue routes (SPEC §11): a job's `queue`, ?queue= on lists, the queue list,
one queue, pause/resume, and /queues/stats with its per-queue breakdown."""

from __future__ import annotations

from typing import Any

import pytest

from boltq_core import Queue
from tests.conftest import run_worker
from tests.functions.conftest import namespace_keys

Call = Any


def test_jobs_in_named_queues_through_the_api(call_api: Call, fn_env: Queue) -> None:
    status, body = call_api("POST", "/api/v1/jobs", {"type": "echo", "queue": "emails"})
    assert status == 200, body
    job_id = body["data"]["job_id"]
    status, body = call_api("POST", "/api/v1/jobs/batch", {"jobs": [
        {"type": "echo", "queue": "emails"}, {"type": "echo"}, {"type": "echo", "queue": "sms"}]})
    assert status == 200, body
    status, body = call_api("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200 and body["data"]["queue"] == "emails"

    _, body = call_api("GET", "/api/v1/jobs", query={"queue": "emails"})
    assert body["data"]["count"] == 2 and {j["queue"] for j in body["data"]["items"]} == {
        "emails"}
    _, body = call_api("GET", "/api/v1/jobs")
    assert body["data"]["count"] == 1  # the default queue's

    status, body = call_api("GET", "/api/v1/queues")
    assert status == 200, body
    by_name = {q["name"]: q for q in body["data"]["queues"]}
    assert list(by_name) == ["default", "emails", "sms"]
    assert by_name["emails"]["pending"] == 2 and by_name["emails"]["paused"] is False

    status, body = call_api("GET", "/api/v1/queues/stats")
    assert status == 200
    assert body["data"]["totals"]["submitted"] == 4  # the seed's shape: totals over all queues
    assert body["data"]["pending_total"] == 4
    assert body["data"]["queues"]["emails"]["totals"]["submitted"] == 2
    assert body["data"]["queues"]["sms"]["pending_total"] == 1


def test_pause_and_resume_a_queue(call_api: Call, fn_env: Queue) -> None:
    call_api("POST", "/api/v1/jobs", {"type": "echo", "queue": "slow"})
    status, body = call_api("POST", "/api/v1/queues/slow/pause")
    assert status == 200 and body["data"] == {"queue": "slow", "paused": True}
    status, body = call_api("GET", "/api/v1/queues/slow")
    assert status == 200 and body["data"]["paused"] is True
    assert body["data"]["stats"]["pending_total"] == 1
    sub = call_api("POST", "/api/v1/jobs", {"type": "echo", "queue": "slow"})[1]["data"]
    other = call_api("POST", "/api/v1/jobs", {"type": "echo"})[1]["data"]
    run_worker(fn_env, until=lambda: fn_env.get(other["job_id"]).status == "completed")
    assert fn_env.get(sub["job_id"]).status == "pending"
    status, body = call_api("POST", "/api/v1/queues/slow/resume")
    assert status == 200 and body["data"]["paused"] is False
    run_worker(fn_env, until=lambda: fn_env.get(sub["job_id"]).status == "completed")


@pytest.mark.parametrize(("method", "path", "body", "query", "field"), [
    ("POST", "/api/v1/jobs", {"type": "echo", "queue": "no spaces"}, None, "queue"),
    ("POST", "/api/v1/jobs", {"type": "echo", "queue": "x" * 65}, None, "queue"),
    ("GET", "/api/v1/jobs", None, {"queue": "a:b"}, "queue"),
    ("GET", "/api/v1/dlq", None, {"queue": ""}, "queue"),
    ("POST", "/api/v1/queues/a%20b/pause", None, None, "queue_name"),
    ("POST", "/api/v1/workflows", {"name": "w", "queue": "q r", "steps": [
        {"job_type": "echo"}]}, None, "queue"),
    ("POST", "/api/v1/workflows", {"name": "w", "queue": "q", "steps": [
        {"job_type": "echo", "queue": "q/r"}]}, None, "steps.0.queue"),
])
def test_bad_queue_names_are_a_400_naming_the_field_and_store_nothing(
    call_api: Call, fn_env: Queue, method: str, path: str, body: Any,
    query: dict[str, str] | None, field: str,
) -> None:
    before = namespace_keys(fn_env)
    status, reply = call_api(method, path, body, query=query)
    assert status == 400, reply
    assert field in reply["error"]
    assert namespace_keys(fn_env) == before
    assert fn_env.known_queues() == ["default"]


def test_an_unknown_queue_is_a_404(call_api: Call, fn_env: Queue) -> None:
    status, body = call_api("GET", "/api/v1/queues/never-used")
    assert status == 404 and "never-used" in body["error"]


def test_requeue_all_and_purge_take_a_queue(call_api: Call, fn_env: Queue) -> None:
    dead = [call_api("POST", "/api/v1/jobs", {"type": "no-such-type", "queue": q})[1]["data"][
        "job_id"] for q in ("mail", "mail", "default")]
    run_worker(fn_env, until=lambda: all(fn_env.get(j).status == "failed" for j in dead))
    status, body = call_api("POST", "/api/v1/dlq/requeue", {}, query={"queue": "mail"})
    assert status == 200 and body["data"]["requeued"] == 2
    assert fn_env.get(dead[2]).status == "failed"  # the default queue's stays
    run_worker(fn_env, until=lambda: all(fn_env.get(j).status == "failed" for j in dead))
    status, body = call_api("DELETE", "/api/v1/dlq", query={"queue": "mail"})
    assert status == 200 and body["data"]["purged"] == 2
    _, body = call_api("GET", "/api/v1/dlq")
    assert [j["id"] for j in body["data"]["items"]] == [dead[2]]


def test_a_queues_settings_are_set_shown_and_cleared(call_api: Call, fn_env: Queue) -> None:
    call_api("POST", "/api/v1/jobs", {"type": "echo", "queue": "reports"})
    _, body = call_api("GET", "/api/v1/queues/reports")
    assert body["data"]["settings"] == {"max_workers": None}
    status, body = call_api("PUT", "/api/v1/queues/reports/settings", {"max_workers": 2})
    assert status == 200, body
    assert body == {"success": True, "data": {"queue": "reports",
                                              "settings": {"max_workers": 2}}}
    _, body = call_api("GET", "/api/v1/queues/reports")
    assert body["data"]["settings"] == {"max_workers": 2} and body["data"]["pending"] == 1
    assert fn_env.of("reports").queue_settings().max_workers == 2
    assert fn_env.of("default").queue_settings().max_workers is None  # its own, per queue
    status, body = call_api("PUT", "/api/v1/queues/reports/settings", {"max_workers": None})
    assert status == 200 and body["data"]["settings"] == {"max_workers": None}
    _, body = call_api("GET", "/api/v1/queues/reports")
    assert body["data"]["settings"] == {"max_workers": None}
    assert fn_env.redis.exists(fn_env.of("reports").keys.settings) == 0


def test_settings_make_a_queue_known(call_api: Call, fn_env: Queue) -> None:
    status, body = call_api("PUT", "/api/v1/queues/later/settings", {"max_workers": 1})
    assert status == 200, body
    assert "later" in fn_env.known_queues()
    _, body = call_api("GET", "/api/v1/queues/later")
    assert body["data"]["settings"] == {"max_workers": 1} and body["data"]["pending"] == 0


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/queues/q/settings", {"max_workers": 0}, "max_workers"),
    ("/api/v1/queues/q/settings", {"max_workers": -3}, "max_workers"),
    ("/api/v1/queues/q/settings", {"max_workers": 2.5}, "max_workers"),
    ("/api/v1/queues/q/settings", {"max_workers": "3"}, "max_workers"),
    ("/api/v1/queues/q/settings", {"max_workers": True}, "max_workers"),
    ("/api/v1/queues/q/settings", {"max_workers": 10**7}, "max_workers"),
    ("/api/v1/queues/q/settings", {}, "max_workers"),
    ("/api/v1/queues/q/settings", {"max_workers": 1, "min_workers": 1}, "min_workers"),
    ("/api/v1/queues/q/settings", [1], "body"),
    ("/api/v1/queues/a%20b/settings", {"max_workers": 1}, "queue_name"),
    ("/api/v1/queues/a:b/settings", {"max_workers": 1}, "queue_name"),
])
def test_bad_settings_are_a_400_naming_the_field_and_store_nothing(
    call_api: Call, fn_env: Queue, path: str, body: Any, field: str,
) -> None:
    before = namespace_keys(fn_env)
    status, reply = call_api("PUT", path, body)
    assert status == 400, reply
    assert field in reply["error"]
    assert namespace_keys(fn_env) == before
    assert fn_env.known_queues() == ["default"]
