"""Who may pass: the caller of a REST request or a WebSocket $connect, from the authorizer's
context when an authorizer ran (API Gateway, boltq dev), else from the credentials themselves
(an API key in x-api-key, a ticket in ?ticket=), then checked against the route table; a
stored key the authorizer named must still exist (its cached policy outlives a revocation).

Access control is on when BOLTQ_API_KEY (the bootstrap admin key) is set; with it unset (a
laptop's `boltq dev` by default) every caller is an admin, as before scoped keys existed."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from boltq_core.access.api_keys import ApiKeys, authenticate
from boltq_core.access.principal import BOOTSTRAP, OPEN, OPEN_PRINCIPAL, Principal
from boltq_core.access.routes import ALL_TOPIC_SCOPES, ROUTES, WS, allowed, permits
from boltq_core.access.tickets import Tickets
from boltq_core.config import Settings
from boltq_core.errors import Forbidden, Unauthorized

KEY_HEADER = "x-api-key"
TICKET_PARAM = "ticket"
MISSING_KEY = "missing API key (x-api-key)"
WRONG_KEY = "invalid API key (x-api-key): unknown or revoked"
MISSING_TICKET = "missing WebSocket ticket (?ticket=; POST /api/v1/ws/tickets gives one)"
WRONG_TICKET = "invalid WebSocket ticket: unknown, expired or used"


def header(event: dict[str, Any], name: str) -> str | None:
    for k, v in (event.get("headers") or {}).items():
        if str(k).lower() == name:
            return str(v) if v is not None else None
    return None


def query(event: dict[str, Any], name: str) -> str | None:
    value = (event.get("queryStringParameters") or {}).get(name)
    return str(value) if value is not None else None


@cache
def _patterns() -> list[tuple[str, str, re.Pattern[str]]]:
    out = []
    for method, path in ROUTES:
        if method != WS:
            regex = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))
            out.append((method, path, regex))
    # the most literal characters first: /api/v1/jobs/batch before /api/v1/jobs/{job_id}
    return sorted(out, key=lambda t: -len(re.sub(r"\{[^}]+\}", "", t[1])))


def route_for(method: str, path: str) -> str | None:
    """The table's path template of a request path, or None."""
    for m, template, regex in _patterns():
        if m == method.upper() and regex.fullmatch(path):
            return template
    return None


def authorizer_principal(event: dict[str, Any]) -> Principal | None:
    return Principal.from_context((event.get("requestContext") or {}).get("authorizer"))


def scope_refusal(who: Principal, method: str, route: str) -> Forbidden:
    scopes = allowed(method, route) or frozenset()
    needs = " or ".join(sorted(scopes)) or "a route the table names"
    return Forbidden(f"the key's scope {who.scope.value!r} may not call {method} {route} "
                     f"(needs {needs})", [{"field": KEY_HEADER, "in": "header",
                                          "scope": who.scope.value}])


def rest_caller(event: dict[str, Any], settings: Settings, client: Any, keys: Any,
                ) -> Principal | None:
    """The caller of a REST request that may make it (None: a public route). Raises
    Unauthorized (no key) or Forbidden (a wrong key, or too small a scope)."""
    method, path = str(event.get("httpMethod") or ""), str(event.get("path") or "")
    route = route_for(method, path)
    if method == "OPTIONS" or (route is not None and permits(None, method, route)):
        return None
    who = authorizer_principal(event)
    if who is not None and who.key_id not in (BOOTSTRAP, OPEN) and not ApiKeys(
            client, keys).exists(who.key_id):
        # API Gateway may serve a revoked key's cached policy for its TTL: it stops here at once
        raise Forbidden(WRONG_KEY, [{"field": KEY_HEADER, "in": "header",
                                     "message": "revoked"}])
    if who is None:
        if not settings.api_key:
            return OPEN_PRINCIPAL
        given = header(event, KEY_HEADER)
        if not given:
            raise Unauthorized(MISSING_KEY, [{"field": KEY_HEADER, "in": "header",
                                              "message": "missing"}])
        who = authenticate(client, keys, settings.api_key, given)
        if who is None:
            raise Forbidden(WRONG_KEY, [{"field": KEY_HEADER, "in": "header",
                                         "message": "invalid"}])
    if route is None:
        return who  # no such route: the router answers 404 (the authorizer refused it in AWS)
    if not permits(who.scope.value, method, route):
        raise scope_refusal(who, method, route)
    return who


def connect_caller(event: dict[str, Any], settings: Settings, client: Any,
                   keys: Any) -> Principal:
    """The caller of a WebSocket $connect: the authorizer's principal, or the one its ticket
    was issued to (the ticket is used up). Raises Unauthorized / Forbidden."""
    who = authorizer_principal(event)
    if who is not None:
        return who
    if not settings.api_key:
        return OPEN_PRINCIPAL
    ticket = query(event, TICKET_PARAM)
    if not ticket:
        raise Unauthorized(MISSING_TICKET, [{"field": TICKET_PARAM, "in": "query"}])
    who = Tickets(client, keys, settings.ws_ticket_seconds).redeem(ticket)
    if who is None:
        raise Forbidden(WRONG_TICKET, [{"field": TICKET_PARAM, "in": "query"}])
    return who


def may_follow_all(scope: str | None) -> bool:
    """May a connection of this scope subscribe to topic "all" (every job's changes)?"""
    return scope in ALL_TOPIC_SCOPES
