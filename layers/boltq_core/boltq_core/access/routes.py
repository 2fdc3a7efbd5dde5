"""Which scopes may call which route: the one table the Lambda authorizer (its IAM policy), the
api and ws functions (their defence-in-depth check) and `boltq dev` all read (SPEC §14).

Scopes are not a ladder: `submit` submits jobs and workflows and reads them back by id,
`read` makes every GET but the keys listing, `admin` does everything (dead letters, cancel,
delete, keys, ...).
A route missing from the table is refused to every key (tests/functions/test_access_routes.py
proves the table names every route of template.yaml, and only those)."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    SUBMIT = "submit"
    READ = "read"
    ADMIN = "admin"


SCOPES = tuple(s.value for s in Scope)
PUBLIC: frozenset[Scope] = frozenset()  # no key needed
ANY = frozenset(Scope)  # any valid key
SUBMIT = frozenset({Scope.SUBMIT, Scope.ADMIN})
READ = frozenset({Scope.READ, Scope.ADMIN})
ADMIN = frozenset({Scope.ADMIN})

WS = "WS"  # the "method" of a WebSocket route key
# the topic that follows every job: the WebSocket's "list", so a submit ticket may not have it
# (it follows the jobs and workflows it names by id, as its key reads them back by id)
ALL_TOPIC_SCOPES = READ

# (method, path as template.yaml writes it) -> the scopes that may call it
ROUTES: dict[tuple[str, str], frozenset[Scope]] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/docs"): PUBLIC,
    ("POST", "/api/v1/jobs"): SUBMIT,
    ("POST", "/api/v1/jobs/batch"): SUBMIT,
    ("GET", "/api/v1/jobs"): READ,
    ("GET", "/api/v1/jobs/{job_id}"): ANY,
    ("POST", "/api/v1/jobs/{job_id}/cancel"): ADMIN,
    ("GET", "/api/v1/queues/stats"): READ,
    ("GET", "/api/v1/queues"): READ,
    ("GET", "/api/v1/queues/{queue_name}"): READ,
    ("POST", "/api/v1/queues/{queue_name}/pause"): ADMIN,
    ("POST", "/api/v1/queues/{queue_name}/resume"): ADMIN,
    ("PUT", "/api/v1/queues/{queue_name}/settings"): ADMIN,
    ("PUT", "/api/v1/queues/{queue_name}/limits"): ADMIN,
    ("GET", "/api/v1/queues/{queue_name}/groups"): READ,
    ("PUT", "/api/v1/queues/{queue_name}/groups/{group}/limits"): ADMIN,
    ("DELETE", "/api/v1/queues/{queue_name}/groups/{group}/limits"): ADMIN,
    ("POST", "/api/v1/workflows"): SUBMIT,
    ("GET", "/api/v1/workflows"): READ,
    ("GET", "/api/v1/workflows/{workflow_id}"): ANY,
    ("POST", "/api/v1/workflows/{workflow_id}/cancel"): ADMIN,
    ("DELETE", "/api/v1/workflows/{workflow_id}"): ADMIN,
    ("GET", "/api/v1/dlq"): READ,
    ("GET", "/api/v1/dlq/{job_id}"): READ,
    ("POST", "/api/v1/dlq/{job_id}/requeue"): ADMIN,
    ("POST", "/api/v1/dlq/requeue"): ADMIN,
    ("DELETE", "/api/v1/dlq"): ADMIN,
    ("POST", "/api/v1/ws/tickets"): ANY,
    ("GET", "/api/v1/keys"): ADMIN,
    ("POST", "/api/v1/keys"): ADMIN,
    ("DELETE", "/api/v1/keys/{name}"): ADMIN,
    ("POST", "/api/v1/schedules"): ADMIN,
    ("GET", "/api/v1/schedules"): READ,
    ("GET", "/api/v1/schedules/{name}"): READ,
    ("DELETE", "/api/v1/schedules/{name}"): ADMIN,
    ("POST", "/api/v1/schedules/{name}/pause"): ADMIN,
    ("POST", "/api/v1/schedules/{name}/resume"): ADMIN,
    ("POST", "/api/v1/schedules/{name}/trigger"): ADMIN,
    # WebSocket: the connection is authorised once, at $connect, by a ticket; what it may
    # subscribe to is limited by the ticket's scope (ALL_TOPIC_SCOPES)
    (WS, "$connect"): ANY,
    (WS, "$disconnect"): ANY,
    (WS, "subscribe"): ANY,
    (WS, "unsubscribe"): ANY,
    (WS, "$default"): ANY,
}


def allowed(method: str, path: str) -> frozenset[Scope] | None:
    """The scopes that may call a route (PUBLIC: no key), or None for a route not in the
    table (refused to everyone)."""
    return ROUTES.get((method.upper() if method != WS else WS, path))


def permits(scope: str | None, method: str, path: str) -> bool:
    """May a caller with `scope` (None: no key) call this route?"""
    scopes = allowed(method, path)
    if scopes is None:
        return False
    return not scopes or (scope is not None and scope in scopes)


def rest_routes() -> list[tuple[str, str]]:
    return [k for k in ROUTES if k[0] != WS]


def is_public(method: str, path: str) -> bool:
    return allowed(method, path) == PUBLIC
