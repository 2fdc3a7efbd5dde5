"""The api function's group routes (SPEC §13): a queue's default limits, a group's own limits
set and cleared, the page of a queue's groups, the default limits in GET /queues/{queue}, a
job's `group`, a '/' in a group's name (URL-encoded in the path), and bad input as a 400 naming
the field."""

from __future__ import annotations

from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.access.api_keys import ApiKeys
from boltq_core.jobs.groups import Groups
from tests.functions.conftest import namespace_keys
from tests.support.queue_calls import claim

Call = Any
RATE = {"max": 2, "per_seconds": 60}


def test_a_job_names_its_group_and_reads_it_back(call_api: Call, fn_env: Queue) -> None:
    status, body = call_api("POST", "/api/v1/jobs", {"type": "echo", "group": "tenant:a/b@c"})
    assert status == 200, body
    job_id = body["data"]["job_id"]
    status, body = call_api("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200 and body["data"]["group"] == "tenant:a/b@c"
    _, body = call_api("GET", "/api/v1/jobs")
    assert [j["group"] for j in body["data"]["items"]] == ["tenant:a/b@c"]
    status, body = call_api("POST", "/api/v1/jobs", {"type": "echo"})
    assert call_api("GET", f"/api/v1/jobs/{body['data']['job_id']}")[1]["data"]["group"] is None


def test_queue_limits_are_set_shown_and_cleared(call_api: Call, fn_env: Queue) -> None:
    call_api("POST", "/api/v1/jobs", {"type": "echo", "queue": "mail", "group": "t1"})
    assert call_api("GET", "/api/v1/queues/mail")[1]["data"]["limits"] is None
    limits = {"group_concurrency": 3, "group_rate": RATE}
    status, body = call_api("PUT", "/api/v1/queues/mail/limits", limits)
    assert status == 200, body
    assert body["data"] == {"queue": "mail", "limits": {
        "group_concurrency": 3, "group_rate": {"max": 2, "per_seconds": 60.0}}}
    status, body = call_api("GET", "/api/v1/queues/mail")
    assert status == 200 and body["data"]["limits"]["group_concurrency"] == 3
    assert body["data"]["limits"]["group_rate"] == {"max": 2, "per_seconds": 60.0}
    assert Groups(fn_env.of("mail")).limits().group_concurrency == 3  # stored, not echoed
    assert call_api("GET", "/api/v1/queues/default")[1]["data"]["limits"] is None

    status, body = call_api("PUT", "/api/v1/queues/mail/limits",
                            {"group_concurrency": None, "group_rate": None})
    assert status == 200 and body["data"] == {"queue": "mail", "limits": None}
    assert call_api("GET", "/api/v1/queues/mail")[1]["data"]["limits"] is None
    assert Groups(fn_env.of("mail")).limits() is None


def test_limits_on_a_new_queue_make_it_known(call_api: Call, fn_env: Queue) -> None:
    status, _ = call_api("PUT", "/api/v1/queues/fresh/limits", {"group_concurrency": 1})
    assert status == 200
    status, body = call_api("GET", "/api/v1/queues/fresh")
    assert status == 200 and body["data"]["limits"] == {"group_concurrency": 1,
                                                        "group_rate": None}


def test_a_groups_own_limits_replace_the_default_until_cleared(
    call_api: Call, fn_env: Queue,
) -> None:
    for g in ("a", "b", "b"):
        call_api("POST", "/api/v1/jobs", {"type": "echo", "group": g})
    call_api("PUT", "/api/v1/queues/default/limits", {"group_concurrency": 5})
    status, body = call_api("PUT", "/api/v1/queues/default/groups/b/limits",
                            {"group_concurrency": 1})
    assert status == 200, body
    assert body["data"] == {"queue": "default", "group": "b", "own_limits": True,
                            "limits": {"group_concurrency": 1, "group_rate": None}}
    assert len(claim(fn_env, count=10)) == 2  # a's one, and one of b's (its own limit is 1)

    status, body = call_api("GET", "/api/v1/queues/default/groups")
    assert status == 200, body
    page = body["data"]
    assert page["count"] == 2 and page["next_cursor"] is None
    a, b = page["items"]
    assert a == {"name": "a", "ready": 0, "running": 1, "limited": False,
                 "limited_until": None, "own_limits": False,
                 "limits": {"group_concurrency": 5, "group_rate": None}}
    assert b["name"] == "b" and b["ready"] == 1 and b["running"] == 1
    assert b["limited"] is True and b["limited_until"] is None  # until one of its jobs ends
    assert b["own_limits"] is True and b["limits"]["group_concurrency"] == 1

    status, body = call_api("DELETE", "/api/v1/queues/default/groups/b/limits")
    assert status == 200, body
    assert body["data"] == {"queue": "default", "group": "b", "own_limits": False,
                            "limits": {"group_concurrency": 5, "group_rate": None}}
    assert len(claim(fn_env, count=10)) == 1  # the default (5) applies to b again
    _, body = call_api("GET", "/api/v1/queues/default/groups")
    b = body["data"]["items"][1]
    assert b["own_limits"] is False and b["limited"] is False and b["running"] == 2


def test_a_rate_limited_group_says_until_when(call_api: Call, fn_env: Queue) -> None:
    for _ in range(3):
        call_api("POST", "/api/v1/jobs", {"type": "echo", "group": "api.example.com"})
    call_api("PUT", "/api/v1/queues/default/groups/api.example.com/limits",
             {"group_concurrency": None, "group_rate": {"max": 2, "per_seconds": 30}})
    assert len(claim(fn_env, count=10)) == 2
    _, body = call_api("GET", "/api/v1/queues/default/groups")
    (info,) = body["data"]["items"]
    assert info["limited"] is True and info["ready"] == 1
    assert info["limited_until"] is not None and info["limited_until"].endswith("Z")


@pytest.mark.parametrize("sent", ["team%2Fa:b@c", "team/a:b@c", "team%2fa%3Ab%40c"])
def test_a_group_with_a_slash_goes_url_encoded_in_the_path(
    call_api: Call, fn_env: Queue, sent: str,
) -> None:
    """API Gateway routes a '/' in a path segment only as %2F; whether the event's path keeps
    it encoded or has it decoded, the route takes the group's name decoded."""
    call_api("POST", "/api/v1/jobs", {"type": "echo", "group": "team/a:b@c"})
    path = f"/api/v1/queues/default/groups/{sent}/limits"
    status, body = call_api("PUT", path, {"group_concurrency": 2})
    assert status == 200, body
    assert body["data"]["group"] == "team/a:b@c"
    _, body = call_api("GET", "/api/v1/queues/default/groups")
    (info,) = body["data"]["items"]
    assert info["name"] == "team/a:b@c" and info["own_limits"] is True
    assert info["limits"]["group_concurrency"] == 2
    status, body = call_api("DELETE", path)
    assert status == 200 and body["data"]["own_limits"] is False
    _, body = call_api("GET", "/api/v1/queues/default/groups")
    assert body["data"]["items"][0]["own_limits"] is False


def test_the_groups_page_by_name(call_api: Call, fn_env: Queue) -> None:
    for g in ("c", "a/1", "b", "d"):
        call_api("POST", "/api/v1/jobs", {"type": "echo", "group": g})
    _, body = call_api("GET", "/api/v1/queues/default/groups", query={"limit": "2"})
    assert [g["name"] for g in body["data"]["items"]] == ["a/1", "b"]
    cursor = body["data"]["next_cursor"]
    assert cursor == "b"
    _, body = call_api("GET", "/api/v1/queues/default/groups",
                       query={"limit": "2", "cursor": cursor})
    assert [g["name"] for g in body["data"]["items"]] == ["c", "d"]
    _, body = call_api("GET", "/api/v1/queues/default/groups",
                       query={"limit": "2", "cursor": "d"})
    assert body["data"] == {"items": [], "next_cursor": None, "count": 0}


def test_the_groups_of_an_unknown_queue_are_a_404(call_api: Call, fn_env: Queue) -> None:
    status, body = call_api("GET", "/api/v1/queues/never-used/groups")
    assert status == 404 and "never-used" in body["error"]


BAD = [
    ("POST", "/api/v1/jobs", {"type": "echo", "group": "has space"}, None, "group"),
    ("POST", "/api/v1/jobs", {"type": "echo", "group": ""}, None, "group"),
    ("POST", "/api/v1/jobs", {"type": "echo", "group": "x" * 129}, None, "group"),
    ("POST", "/api/v1/jobs", {"type": "echo", "group": 7}, None, "group"),
    ("POST", "/api/v1/jobs/batch", {"jobs": [{"type": "echo", "group": "a b"}]}, None,
     "jobs.0.group"),
    ("POST", "/api/v1/workflows", {"name": "w", "steps": [
        {"job_type": "echo", "group": "a%b"}]}, None, "steps.0.group"),
    ("PUT", "/api/v1/queues/default/limits", {"group_concurrency": 0}, None,
     "group_concurrency"),
    ("PUT", "/api/v1/queues/default/limits", {"group_concurrency": "5"}, None,
     "group_concurrency"),
    ("PUT", "/api/v1/queues/default/limits", {"group_concurrency": 1.5}, None,
     "group_concurrency"),
    ("PUT", "/api/v1/queues/default/limits", {"group_rate": {"max": 0, "per_seconds": 1}},
     None, "group_rate.max"),
    ("PUT", "/api/v1/queues/default/limits", {"group_rate": {"max": 1, "per_seconds": 0}},
     None, "group_rate.per_seconds"),
    ("PUT", "/api/v1/queues/default/limits", {"group_rate": {"max": 1, "per_seconds": 1e-4}},
     None, "group_rate.per_seconds"),
    ("PUT", "/api/v1/queues/default/limits", {"group_rate": {"max": 1, "per_seconds": 5e-4}},
     None, "group_rate.per_seconds"),  # the schema's minimum: 0.001
    ("PUT", "/api/v1/queues/default/limits", {"group_rate": {"max": 1}}, None,
     "group_rate.per_seconds"),
    ("PUT", "/api/v1/queues/default/limits", {"group_rate": {"max": 1, "per_seconds": "1"}},
     None, "group_rate.per_seconds"),
    ("PUT", "/api/v1/queues/default/limits", {"group_rate": 5}, None, "group_rate"),
    ("PUT", "/api/v1/queues/default/limits", {"concurrency": 5}, None, "concurrency"),
    ("PUT", "/api/v1/queues/default/limits", None, None, "body"),
    ("PUT", "/api/v1/queues/a%20b/limits", {"group_concurrency": 1}, None, "queue_name"),
    ("PUT", "/api/v1/queues/default/groups/a%20b/limits", {"group_concurrency": 1}, None,
     "group"),
    ("PUT", "/api/v1/queues/default/groups/a%25b/limits", {"group_concurrency": 1}, None,
     "group"),
    ("PUT", "/api/v1/queues/default/groups/a%FFb/limits", {"group_concurrency": 1}, None,
     "group"),
    ("PUT", "/api/v1/queues/default/groups/" + "x" * 129 + "/limits", {"group_concurrency": 1},
     None, "group"),
    ("PUT", "/api/v1/queues/default/groups/g/limits", {"group_concurrency": -1}, None,
     "group_concurrency"),
    ("DELETE", "/api/v1/queues/default/groups/a%20b/limits", None, None, "group"),
    ("GET", "/api/v1/queues/default/groups", None, {"limit": "0"}, "limit"),
    ("GET", "/api/v1/queues/default/groups", None, {"limit": "101"}, "limit"),
    ("GET", "/api/v1/queues/default/groups", None, {"cursor": "a b"}, "cursor"),
]


@pytest.mark.parametrize(("method", "path", "body", "query", "field"), BAD,
                         ids=[f"{m} {p} {b} {q}"[:90] for m, p, b, q, _ in BAD])
def test_bad_groups_and_limits_are_a_400_naming_the_field_and_store_nothing(
    call_api: Call, fn_env: Queue, method: str, path: str, body: Any,
    query: dict[str, str] | None, field: str,
) -> None:
    fn_env.submit({"type": "echo"})
    before = namespace_keys(fn_env)
    status, reply = call_api(method, path, body, query=query)
    assert status == 400, reply
    assert reply["success"] is False and field in reply["error"], reply
    assert namespace_keys(fn_env) == before


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/api/v1/queues/default/limits", {"group_concurrency": 1}),
    ("PUT", "/api/v1/queues/default/groups/a%2Fb/limits", {"group_concurrency": 1}),
    ("PUT", "/api/v1/queues/default/groups/a/b/limits", {"group_concurrency": 1}),
    ("DELETE", "/api/v1/queues/default/groups/a%2Fb/limits", None),
    ("DELETE", "/api/v1/queues/default/groups/a/b/limits", None),
])
def test_limits_are_an_admin_action(call_api: Call, fn_env: Queue, method: str, path: str,
                                    body: Any) -> None:
    """A read key may list the groups, not change limits: also with the group's '/' decoded
    in the event's path (the scope check sees the route the router takes)."""
    key_id = ApiKeys(fn_env.redis, fn_env.keys).create("reader", "read")[0].key_id
    reader = {"name": "reader", "key_id": key_id, "scope": "read", "principalId": key_id}
    status, reply = call_api(method, path, body, authorizer=reader)
    assert status == 403, reply
    assert "admin" in reply["error"]
    assert Groups(fn_env).limits() is None
    status, reply = call_api("GET", "/api/v1/queues/default/groups", authorizer=reader)
    assert status == 200, reply
