"""authorizer: the Lambda REQUEST authorizer in front of the REST API and the WebSocket
$connect route (SPEC §14). Thin: the credentials in, boltq_core.access, a policy out.

REST (identity source: the x-api-key header; API Gateway caches the policy per key for the
template's ReauthorizeEvery): a valid key gets an Allow for every route its scope may call
(boltq_core.access.routes, the one table) and its principal as context; a wrong or revoked key
a Deny (403); no key never gets here (API Gateway answers 401). `usageIdentifierKey` is
BOLTQ_API_KEY, the stack's API Gateway API key, so the usage plan throttles every caller.
WebSocket $connect (never cached: a ticket is single use): a ticket is redeemed (GETDEL) and
the connection allowed with the ticket's principal as context; no ticket is 401
("Unauthorized"), a wrong, expired or used one a Deny (403).
It only reads, but for the ticket it uses up: a refused request stores nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.access.api_keys import authenticate
from boltq_core.access.gate import KEY_HEADER, TICKET_PARAM, header, query
from boltq_core.access.policy import policy, rest_resources, stage_arn
from boltq_core.access.tickets import Tickets
from boltq_core.jobs.queue import shared_queue

logger = Logger(service="boltq-authorizer")
UNAUTHORIZED = "Unauthorized"  # the exact message API Gateway turns into a 401


def is_connect(event: dict[str, Any]) -> bool:
    rc = event.get("requestContext") or {}
    return rc.get("eventType") == "CONNECT" or rc.get("routeKey") == "$connect"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    q = shared_queue()
    method_arn = str(event.get("methodArn") or "")
    if is_connect(event):
        ticket = query(event, TICKET_PARAM)
        if not ticket:
            raise Exception(UNAUTHORIZED)
        who = Tickets(q.redis, q.keys, q.settings.ws_ticket_seconds).redeem(ticket)
        if who is None:
            logger.info("connect refused: unknown, expired or used ticket")
            return policy("anonymous", "Deny", [method_arn])
        out = policy(who.key_id, "Allow", [method_arn])
        out["context"] = who.context()
        return out
    given = header(event, KEY_HEADER)
    if not given:
        raise Exception(UNAUTHORIZED)
    who = authenticate(q.redis, q.keys, q.settings.api_key, given)
    stage = stage_arn(method_arn)
    if who is None:
        logger.info("request refused: unknown or revoked API key")
        return policy("anonymous", "Deny", [f"{stage}/*"])
    out = policy(who.key_id, "Allow", rest_resources(stage, who.scope))
    out["context"] = who.context()
    if q.settings.api_key:
        out["usageIdentifierKey"] = q.settings.api_key
    return out
