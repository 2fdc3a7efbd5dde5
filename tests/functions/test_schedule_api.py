"""The schedule routes (SPEC §12) through the api function, against a real Valkey/Redis:
create or replace, list, read (recent occurrences' job ids), pause, resume, trigger, delete;
bad input is a 400 naming the field, an unknown name a 404; the OpenAPI document states them."""

from __future__ import annotations

from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.jobs.schedules import Schedules

Call = Any
NIGHTLY = {"name": "nightly", "cron": "30 2 * * *", "timezone": "Europe/Berlin",
           "job": {"type": "echo", "data": {"report": "daily"}, "priority": "low"}}


def test_schedule_routes(call_api: Call, fn_env: Queue) -> None:
    status, body = call_api("POST", "/api/v1/schedules", NIGHTLY)
    assert status == 200, body
    assert body["data"]["name"] == "nightly" and body["data"]["next_run_at"].endswith(":30:00Z")
    status, body = call_api("POST", "/api/v1/schedules",
                            {"name": "tick", "every_seconds": 1, "job": {"type": "echo"},
                             "catch_up": "skip", "max_runs": 5})
    assert status == 200, body

    status, body = call_api("GET", "/api/v1/schedules")
    assert status == 200, body
    items = {i["name"]: i for i in body["data"]["items"]}
    assert set(items) == {"nightly", "tick"} and body["data"]["count"] == 2
    assert items["nightly"]["paused"] is False and items["nightly"]["runs"] == 0
    assert items["nightly"]["last_run_at"] is None and items["nightly"]["next_run_at"]
    assert items["tick"]["catch_up"] == "skip" and items["tick"]["max_runs"] == 5

    # an occurrence (the promoter's part), then the schedule lists its job
    plan = Schedules(fn_env)
    first = int(plan._hash(fn_env, "tick")["next"])
    assert plan.fire_due(now_ms=first).made == 1
    status, body = call_api("GET", "/api/v1/schedules/tick")
    assert status == 200, body
    (recent,) = body["data"]["recent"]
    job = fn_env.get(recent["job_id"]).public()
    assert job["schedule"] == "tick" and job["scheduled_for"] == recent["scheduled_for"]
    assert body["data"]["runs"] == 1 and body["data"]["last_run_at"] == recent["scheduled_for"]

    status, body = call_api("POST", "/api/v1/schedules/tick/pause")
    assert (status, body["data"]) == (200, {"name": "tick", "paused": True,
                                            "next_run_at": None})
    status, body = call_api("POST", "/api/v1/schedules/tick/trigger")
    assert status == 200 and body["data"]["status"] == "pending", body
    assert fn_env.get(body["data"]["job_id"]).public()["schedule"] == "tick"
    status, body = call_api("POST", "/api/v1/schedules/tick/resume")
    assert status == 200 and body["data"]["paused"] is False and body["data"]["next_run_at"]

    # replace by name
    status, body = call_api("POST", "/api/v1/schedules", {**NIGHTLY, "cron": "0 4 * * *"})
    assert status == 200
    status, body = call_api("GET", "/api/v1/schedules/nightly")
    assert body["data"]["cron"] == "0 4 * * *"

    status, body = call_api("DELETE", "/api/v1/schedules/tick")
    assert (status, body["data"]) == (200, {"name": "tick", "deleted": True})
    for method, path in [("GET", "/api/v1/schedules/tick"), ("DELETE", "/api/v1/schedules/tick"),
                         ("POST", "/api/v1/schedules/tick/pause"),
                         ("POST", "/api/v1/schedules/tick/resume"),
                         ("POST", "/api/v1/schedules/tick/trigger")]:
        status, body = call_api(method, path)
        assert status == 404 and "'tick' not found" in body["error"], (method, path, body)


@pytest.mark.parametrize(("change", "field"), [
    ({"cron": "not a cron"}, "cron"),
    ({"cron": "61 2 * * *"}, "cron"),
    ({"cron": "0 0 31 2 *"}, "cron"),
    ({"cron": None}, "cron"),  # neither cron nor every_seconds
    ({"every_seconds": 10}, "cron"),  # both
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"catch_up": "most"}, "catch_up"),
    ({"max_runs": 0}, "max_runs"),
    ({"max_runs": "3"}, "max_runs"),
    ({"start_at": "tomorrow"}, "start_at"),
    ({"job": {"type": "echo", "priority": "urgent"}}, "job.priority"),
    ({"job": {"type": "echo", "surprise": 1}}, "job.surprise"),
    ({"job": {"type": "echo", "delay_seconds": 5}}, "job.delay_seconds"),
    ({"job": {"type": "echo", "timeout_seconds": 100000}}, "job.timeout_seconds"),
    ({"job": {"type": "echo", "queue": "no spaces"}}, "job.queue"),
    ({"job": {"type": "echo", "queue": "a:b"}}, "job.queue"),
    ({"job": {"type": "echo", "queue": ""}}, "job.queue"),
    ({"name": "white space"}, "name"),
    ({"extra": True}, "extra"),
])
def test_bad_input_is_a_400_naming_the_field(call_api: Call, fn_env: Queue,
                                            change: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in {**NIGHTLY, **change}.items() if v is not None}
    status, reply = call_api("POST", "/api/v1/schedules", body)
    assert status == 400, reply
    assert reply["error"].startswith(f"{field}:"), reply["error"]
    assert fn_env.redis.zcard(fn_env.keys.schedules) == 0


def test_a_schedule_in_a_named_queue_through_the_api(call_api: Call, fn_env: Queue) -> None:
    body = {"name": "rep", "every_seconds": 60, "job": {"type": "echo", "queue": "reports"}}
    status, reply = call_api("POST", "/api/v1/schedules", body)
    assert status == 200, reply
    status, reply = call_api("POST", "/api/v1/schedules", NIGHTLY)  # the default queue
    assert status == 200, reply
    _, reply = call_api("GET", "/api/v1/schedules")
    assert [(i["name"], i["job"]["queue"]) for i in reply["data"]["items"]] == [
        ("nightly", "default"), ("rep", "reports")]
    status, reply = call_api("POST", "/api/v1/schedules/rep/trigger")
    assert status == 200 and reply["data"]["job_id"].startswith("reports:"), reply
    _, job = call_api("GET", f"/api/v1/jobs/{reply['data']['job_id']}")
    assert job["data"]["queue"] == "reports" and job["data"]["schedule"] == "rep"
    nxt = int(fn_env.of("reports").redis.zscore(fn_env.of("reports").keys.schedules_due, "rep"))
    assert Schedules(fn_env).fire_due(now_ms=nxt).made == 1
    _, listed = call_api("GET", "/api/v1/jobs", query={"queue": "reports"})
    assert listed["data"]["count"] == 2 and {j["schedule"] for j in listed["data"]["items"]} == {
        "rep"}
    _, queues = call_api("GET", "/api/v1/queues")
    assert "reports" in [q["name"] for q in queues["data"]["queues"]]

    # saved into another queue, it moves: one schedule, in the new queue
    status, reply = call_api("POST", "/api/v1/schedules", {**body, "job": {"type": "echo",
                                                                          "queue": "other"}})
    assert status == 200, reply
    _, reply = call_api("GET", "/api/v1/schedules")
    assert [(i["name"], i["job"]["queue"]) for i in reply["data"]["items"]] == [
        ("nightly", "default"), ("rep", "other")]
    _, reply = call_api("GET", "/api/v1/schedules/rep")
    assert reply["data"]["job"]["queue"] == "other" and reply["data"]["runs"] == 1
    assert not fn_env.redis.exists(fn_env.of("reports").keys.schedule("rep"))
    status, _ = call_api("DELETE", "/api/v1/schedules/rep")
    assert status == 200
    status, _ = call_api("GET", "/api/v1/schedules/rep")
    assert status == 404


def test_a_huge_job_is_a_413(call_api: Call, fn_env: Queue) -> None:
    big = {**NIGHTLY, "job": {"type": "echo", "data": {"x": "a" * 300_000}}}
    status, reply = call_api("POST", "/api/v1/schedules", big)
    assert status == 413 and reply["error"].startswith("job.data"), reply


def test_the_openapi_document_states_the_schedule_routes(call_api: Call) -> None:
    _, doc = call_api("GET", "/api/v1/openapi.json")
    paths = doc["paths"]
    assert set(paths["/api/v1/schedules"]) == {"get", "post"}
    assert set(paths["/api/v1/schedules/{name}"]) == {"get", "delete"}
    for action in ("pause", "resume", "trigger"):
        assert set(paths[f"/api/v1/schedules/{{name}}/{action}"]) == {"post"}
    schemas = doc["components"]["schemas"]
    req = schemas["ScheduleRequest"]["properties"]
    assert set(schemas["CatchUp"]["enum"]) == {"skip", "one", "all"}
    assert req["job"]["$ref"].endswith("/ScheduleJobRequest")
    job = schemas["ScheduleJobRequest"]["properties"]
    assert job["timeout_seconds"]["anyOf"][0]["maximum"] == 840
    assert not {"run_at", "delay_seconds", "idempotency_key"} & set(job)
    assert {"next_run_at", "last_run_at", "runs", "paused"} <= set(
        schemas["Schedule"]["properties"])
    assert "recent" in schemas["ScheduleDetail"]["properties"]
    assert "413" in paths["/api/v1/schedules"]["post"]["responses"]
