"""The authorizer function (REST: policy per key scope, cached by API Gateway; WebSocket
$connect: single-use tickets) and the api function's own access checks (defence in depth, the
key and ticket routes)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.access.api_keys import ApiKeys
from boltq_core.access.routes import ROUTES, SCOPES, WS, permits
from boltq_local.authorizers import allows
from boltq_local.template import load
from tests.functions.conftest import ROOT, LambdaContext, load_function, rest_event, ws_event

BOOTSTRAP = "bootstrap-admin-key-0123456789"
STAGE = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod"


@pytest.fixture
def auth_env(fn_env: Queue, monkeypatch: pytest.MonkeyPatch) -> Queue:
    monkeypatch.setenv("BOLTQ_API_KEY", BOOTSTRAP)
    return fn_env


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    return load_function("authorizer").handler(event, LambdaContext("boltq-authorizer"))


def rest_request(method: str, path: str, key: str | None) -> dict[str, Any]:
    event = rest_event(method, path, headers={"x-api-key": key} if key is not None else {})
    return {k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")} | {
        "type": "REQUEST", "methodArn": f"{STAGE}/{method}{path}"}


def namespace_size(q: Queue) -> int:
    return sum(1 for _ in q.redis.scan_iter(match=q.keys.tag + "*"))


def sample_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "some-id", path)


def test_a_missing_key_is_401_and_a_wrong_one_a_deny(auth_env: Queue) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(rest_request("GET", "/api/v1/jobs", None))
    for wrong in ("wrong", "bq_000000000000_" + "A" * 43, BOOTSTRAP + "x"):
        out = authorize(rest_request("GET", "/api/v1/jobs", wrong))
        st = out["policyDocument"]["Statement"]
        assert st == [{"Action": "execute-api:Invoke", "Effect": "Deny",
                       "Resource": [f"{STAGE}/*"]}]
        assert "context" not in out and "usageIdentifierKey" not in out
    assert namespace_size(auth_env) == 0  # refusals store nothing


@pytest.mark.parametrize("scope", SCOPES)
def test_a_keys_policy_allows_exactly_what_its_scope_may_call(auth_env: Queue,
                                                               scope: str) -> None:
    """API Gateway caches the policy per key for every route, so it is checked against every
    route of the template (IAM's * also matches "/": no wildcard may reach a route of a
    larger scope)."""
    info, key = ApiKeys(auth_env.redis, auth_env.keys).create(f"k-{scope}", scope)
    out = authorize(rest_request("GET", "/api/v1/jobs/some-id", key))
    assert out["principalId"] == info.key_id
    assert out["context"] == {"name": f"k-{scope}", "key_id": info.key_id, "scope": scope}
    assert out["usageIdentifierKey"] == BOOTSTRAP  # the usage plan's key: throttling stays
    doc = out["policyDocument"]
    template = load(ROOT / "template.yaml")
    assert template.routes
    for route in template.routes:
        if not ROUTES.get((route.method, route.path)):
            continue  # public: no authorizer in front
        arn = f"{STAGE}/{route.method}{sample_path(route.path)}"
        assert allows(doc, arn) == permits(scope, route.method, route.path), (scope, arn)


def test_the_bootstrap_key_is_admin(auth_env: Queue) -> None:
    out = authorize(rest_request("DELETE", "/api/v1/dlq", BOOTSTRAP))
    assert out["context"]["scope"] == "admin" and out["context"]["name"] == "bootstrap"
    assert allows(out["policyDocument"], f"{STAGE}/DELETE/api/v1/dlq")


def test_a_revoked_key_is_denied(auth_env: Queue) -> None:
    keys = ApiKeys(auth_env.redis, auth_env.keys)
    _, key = keys.create("gone", "admin")
    keys.revoke("gone")
    out = authorize(rest_request("GET", "/api/v1/jobs", key))
    assert out["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def connect_request(query: dict[str, str] | None) -> dict[str, Any]:
    return ws_event("$connect", "c1=", query=query) | {
        "type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:abc123defg/prod/$connect"}


def test_connect_redeems_a_ticket_once(auth_env: Queue, call_api: Any) -> None:
    _, key = ApiKeys(auth_env.redis, auth_env.keys).create("reader", "read")
    status, body = call_api("POST", "/api/v1/ws/tickets", headers={"x-api-key": key})
    assert status == 200 and body["data"]["expires_in"] == 60
    ticket = body["data"]["ticket"]
    before = namespace_size(auth_env)
    out = authorize(connect_request({"ticket": ticket}))
    assert out["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert out["policyDocument"]["Statement"][0]["Resource"] == [
        "arn:aws:execute-api:us-east-1:1:abc123defg/prod/$connect"]
    assert out["context"]["scope"] == "read" and out["context"]["name"] == "reader"
    assert namespace_size(auth_env) == before - 1  # the ticket is used up
    again = authorize(connect_request({"ticket": ticket}))
    assert again["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(connect_request(None))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(connect_request({"api_key": BOOTSTRAP}))  # no key in a URL opens anything


def test_api_checks_the_authorizers_principal_again(auth_env: Queue, call_api: Any) -> None:
    """Defence in depth: a principal an authorizer passed on still meets the route table."""
    keys = ApiKeys(auth_env.redis, auth_env.keys)
    made = {s: keys.create(f"ctx-{s}", s)[0].key_id for s in ("submit", "read")}
    submit = {"name": "ctx-submit", "key_id": made["submit"], "scope": "submit",
              "principalId": made["submit"]}
    status, body = call_api("GET", "/api/v1/jobs", authorizer=submit)
    assert status == 403 and "'submit' may not call GET /api/v1/jobs" in body["error"]
    status, body = call_api("POST", "/api/v1/jobs", {"type": "echo", "data": {}},
                            authorizer=submit)
    assert status == 200, body
    job_id = body["data"]["job_id"]
    assert call_api("GET", f"/api/v1/jobs/{job_id}", authorizer=submit)[0] == 200
    assert call_api("POST", f"/api/v1/jobs/{job_id}/cancel", authorizer=submit)[0] == 403
    read = {**submit, "scope": "read", "key_id": made["read"]}
    assert call_api("GET", "/api/v1/jobs", authorizer=read)[0] == 200
    assert call_api("POST", "/api/v1/jobs", {"type": "echo", "data": {}},
                    authorizer=read)[0] == 403
    # a key revoked while API Gateway still serves its cached policy stops at once
    keys.revoke("ctx-read")
    status, body = call_api("GET", "/api/v1/jobs", authorizer=read)
    assert status == 403 and "revoked" in body["error"], body
    boot = {"name": "bootstrap", "key_id": "bootstrap", "scope": "admin"}
    assert call_api("DELETE", "/api/v1/dlq", authorizer=boot)[0] == 200


def test_keys_routes(auth_env: Queue, call_api: Any) -> None:
    admin = {"x-api-key": BOOTSTRAP}
    status, body = call_api("POST", "/api/v1/keys", {"name": "ci", "scope": "submit"},
                            headers=admin)
    assert status == 200, body
    created = body["data"]
    assert created["key"].startswith(created["prefix"]) and created["scope"] == "submit"
    status, body = call_api("GET", "/api/v1/keys", headers=admin)
    assert [k["name"] for k in body["data"]["items"]] == ["ci"]
    assert "key" not in body["data"]["items"][0]
    # the new key works for its scope, and only for it
    assert call_api("GET", "/api/v1/jobs/nope", headers={"x-api-key": created["key"]})[0] == 404
    assert call_api("GET", "/api/v1/keys", headers={"x-api-key": created["key"]})[0] == 403
    assert call_api("POST", "/api/v1/keys", {"name": "ci", "scope": "read"},
                    headers=admin)[0] == 409
    assert call_api("POST", "/api/v1/keys", {"name": "x", "scope": "root"},
                    headers=admin)[0] == 400
    status, body = call_api("DELETE", "/api/v1/keys/ci", headers=admin)
    assert (status, body["data"]) == (200, {"name": "ci", "revoked": True})
    assert call_api("GET", "/api/v1/jobs/nope", headers={"x-api-key": created["key"]})[0] == 403
    assert call_api("DELETE", "/api/v1/keys/ci", headers=admin)[0] == 404


def test_without_bootstrap_key_access_control_is_off(fn_env: Queue, call_api: Any) -> None:
    """A laptop's boltq dev without BOLTQ_API_KEY: every caller is an admin, as before."""
    status, body = call_api("POST", "/api/v1/ws/tickets")
    assert status == 200 and body["data"]["ticket"].startswith("bqt_")
    assert call_api("GET", "/api/v1/keys")[0] == 200


def test_the_table_names_every_route_of_the_template_and_only_those() -> None:
    template = load(ROOT / "template.yaml")
    rest = {(r.method, r.path) for r in template.routes}
    assert template.websocket is not None
    ws = {(WS, k) for k in template.websocket.routes}
    assert rest | ws == set(ROUTES)


def test_local_policy_evaluation_is_iams() -> None:
    """boltq dev evaluates an authorizer's policy as API Gateway does: * spans anything (a "/"
    or a newline too), an explicit Deny wins, nothing allowed is refused."""
    def doc(*statements: tuple[str, str]) -> dict[str, Any]:
        return {"Statement": [{"Action": "execute-api:Invoke", "Effect": e, "Resource": [r]}
                              for e, r in statements]}

    arn = f"{STAGE}/GET/api/v1/jobs/a\nb"
    assert allows(doc(("Allow", f"{STAGE}/GET/api/v1/jobs/*")), arn)
    assert allows(doc(("Allow", f"{STAGE}/*")), f"{STAGE}/POST/api/v1/jobs/x/cancel")
    assert not allows(doc(("Allow", f"{STAGE}/GET/api/v1/jobs/*"),
                          ("Deny", f"{STAGE}/GET/*")), arn)
    assert not allows(doc(("Allow", f"{STAGE}/GET/api/v1/jobs")), f"{STAGE}/GET/api/v1/jobs/x")
    assert not allows(doc(), arn) and not allows(None, arn)
    assert allows(doc(("Allow", f"{STAGE}/GET/api/v1/job?/x")), f"{STAGE}/GET/api/v1/jobs/x")
