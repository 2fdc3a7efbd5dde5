"""ws: the WebSocket API's routes (SPEC §5) — $connect (authorised), $disconnect, subscribe and
unsubscribe (a job, a workflow, or "all"), ping. It only keeps the connection registry in
Redis; the promoter's StatusPusher posts the updates (boltq_core.duties.status_push).

Replies go back through the routes' integration responses: {"type": "subscribed", ...} with
the current state of what was subscribed to, or {"type": "error", "error": ...}.
Access at $connect (SPEC §14): the authorizer (functions/authorizer) redeems the connection's
single-use `?ticket=` (POST /api/v1/ws/tickets) and passes its principal on; when no authorizer
ran (`sam local`, a direct invocation) and BOLTQ_API_KEY is set, this function redeems the
ticket itself. The connection keeps its scope: topic "all" needs read or admin; a submit ticket
follows the jobs and workflows it names by id (as a submit key reads them back by id).
The management endpoint recorded per connection is WS_MANAGEMENT_ENDPOINT when set (the local
runtime), else https://{domainName}/{stage} from the $connect event."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.access.gate import connect_caller, may_follow_all
from boltq_core.duties.status_push import encode_message
from boltq_core.duties.subscriptions import ConnectionRegistry, topic_for
from boltq_core.errors import BoltQError, Forbidden, InvalidInput
from boltq_core.jobs.queue import Queue, shared_queue
from boltq_core.jobs.workflows import Workflows
from boltq_core.observability.counters import InvocationCounter

logger = Logger(service="boltq-ws")


def registry(q: Queue) -> ConnectionRegistry:
    return ConnectionRegistry(q.redis, q.keys)


def management_endpoint(q: Queue, rc: dict[str, Any]) -> str:
    configured = (q.settings.ws_management_endpoint or "").rstrip("/")
    if configured:
        return configured
    return f"https://{rc['domainName']}/{rc['stage']}"


def reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    # a route reply is a WebSocket message too: kept under API Gateway's 128 KB
    return {"statusCode": status, "body": encode_message(body).decode()}


def subscribe(q: Queue, conn_id: str, body: dict[str, Any]) -> dict[str, Any]:
    job_id, wf_id, topic = body.get("job_id"), body.get("workflow_id"), body.get("topic")
    if topic not in (None, "all"):
        raise InvalidInput(f"topic: must be 'all', got {topic!r}", [{"field": "topic"}])
    name = topic_for(job_id, wf_id, topic == "all")
    # no scope: no such connection (the subscribe says "reconnect"), or one opened before
    # scopes existed (with the one admin key)
    scope = registry(q).scope(conn_id) if topic == "all" else None
    if scope is not None and not may_follow_all(scope):
        raise Forbidden("topic: 'all' needs a ticket of scope read or admin; subscribe by "
                        "job_id or workflow_id", [{"field": "topic"}])
    out: dict[str, Any] = {"type": "subscribed", "topic": name}
    if job_id:
        job = q.get(job_id)  # NotFound for an unknown job: nothing is subscribed
        out.update(job_id=job_id, status=job.status, data=job.public())
    elif wf_id:
        wf = Workflows(q).get(wf_id)
        out.update(workflow_id=wf_id, status=wf["status"], data=wf)
    registry(q).subscribe(conn_id, name)
    return out


def unsubscribe(q: Queue, conn_id: str, body: dict[str, Any]) -> dict[str, Any]:
    job_id, wf_id, topic = body.get("job_id"), body.get("workflow_id"), body.get("topic")
    name = topic_for(job_id, wf_id, topic == "all")
    registry(q).unsubscribe(conn_id, name)
    return {"type": "unsubscribed", "topic": name}


ACTIONS = {"subscribe": subscribe, "unsubscribe": unsubscribe}


count_invocation = InvocationCounter("ws")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rc = event["requestContext"]
    route, conn_id = rc["routeKey"], rc["connectionId"]
    logger.append_keys(connection_id=conn_id, route=route)
    try:
        q = shared_queue()
        count_invocation(q.redis, q.keys)
        if route == "$connect":
            try:
                who = connect_caller(event, q.settings, q.redis, q.keys)
            except BoltQError as exc:
                logger.info("connection refused", extra={"error": exc.message})
                return {"statusCode": exc.status, "body": exc.message}
            registry(q).connect(conn_id, management_endpoint(q, rc), who.scope.value)
            return {"statusCode": 200, "body": "connected"}
        if route == "$disconnect":
            registry(q).disconnect(conn_id)
            return {"statusCode": 200, "body": "disconnected"}
        try:
            body = json.loads(event.get("body") or "{}")
        except ValueError:
            raise InvalidInput("body: not valid JSON", [{"field": "body"}]) from None
        if not isinstance(body, dict):
            raise InvalidInput("body: must be a JSON object", [{"field": "body"}])
        action = body.get("action")
        if action == "ping":
            return reply(200, {"type": "pong"})
        fn = ACTIONS.get(action) if isinstance(action, str) else None
        if fn is None:
            raise InvalidInput(
                f"action: must be 'subscribe', 'unsubscribe' or 'ping', got {action!r}",
                [{"field": "action"}],
            )
        return reply(200, fn(q, conn_id, body))
    except BoltQError as exc:
        return reply(exc.status, {"type": "error", "error": exc.message, "details": exc.details})
