"""WebSocket tickets: a browser cannot set headers on a WebSocket, and a long-lived key in a URL
ends up in logs and histories, so a client trades its key (POST /api/v1/ws/tickets) for a
ticket that opens one connection (`?ticket=`) within WS_TICKET_SECONDS. The ticket carries its
key's principal: the connection may subscribe to what that key's scope may read.

Single use: the $connect authorizer takes it with GETDEL (one atomic command: two connects
with one ticket cannot both get it). The store keeps the ticket's sha256, not the ticket.
Key (prefix `{p}`): {p}:ws:ticket:<sha256> STRING the principal as JSON, with its expiry."""

from __future__ import annotations

import json
import secrets
from typing import Any

from boltq_core.access.api_keys import MAX_PRESENTED, digest
from boltq_core.access.principal import Principal
from boltq_core.keys import Keys

PREFIX = "bqt_"


class Tickets:
    def __init__(self, client: Any, keys: Keys, ttl_seconds: int) -> None:
        self.redis = client
        self.keys = keys
        self.ttl = int(ttl_seconds)

    def issue(self, who: Principal) -> str:
        ticket = PREFIX + secrets.token_urlsafe(32)
        self.redis.set(self.keys.ws_ticket(digest(ticket)), json.dumps(who.context()),
                       ex=self.ttl)
        return ticket

    def redeem(self, ticket: str | None) -> Principal | None:
        """The principal a ticket was issued to, once; None for an unknown, expired or used
        ticket (a malformed one costs no store call)."""
        if not ticket or not ticket.startswith(PREFIX) or len(ticket) > MAX_PRESENTED:
            return None
        raw = self.redis.getdel(self.keys.ws_ticket(digest(ticket)))
        if raw is None:
            return None
        try:
            return Principal.from_context(json.loads(raw))
        except ValueError:
            return None
