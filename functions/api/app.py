"""api: the REST API (SPEC §4) on API Gateway REST proxy events. Thin: every route parses its
input (pydantic, via Powertools validation), calls boltq_core and wraps the reply in the seed's
envelope {"success": true, "data": ...} / {"success": false, "error": ..., "details": [...]}.

Access (SPEC §14): the Lambda authorizer (functions/authorizer) checks the x-api-key header
in AWS and in `boltq dev` and passes the caller on as requestContext.authorizer; this function
checks that caller's scope against the same route table again and that its key still exists
(defence in depth: a cached or too wide policy lets nothing through that the table does not
allow, and a revoked key stops at once, not when its cached policy expires). When no
authorizer ran (`sam local`, a direct invocation) and BOLTQ_API_KEY is set, it checks the key
itself.
CORS: CORS_ALLOW_ORIGINS (comma-separated, default "*")."""

from __future__ import annotations

import gc

# Cold start: no cyclic garbage collection while the modules below load (they create a few
# hundred thousand objects and no garbage worth a pass; the collector's passes cost ~25 ms of
# the import). It is on again at the end of this module, with what was loaded frozen (kept out
# of every later pass). pyproject.toml lets the imports below stand after this line (E402).
gc.disable()

import base64
import binascii
import functools
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from boltq_core.access.api_keys import NAME_PATTERN, ApiKeys
from boltq_core.access.gate import rest_caller
from boltq_core.access.principal import BOOTSTRAP, OPEN_PRINCIPAL, Principal
from boltq_core.access.routes import PUBLIC, ROUTES, SCOPES
from boltq_core.access.tickets import Tickets
from boltq_core.config import Settings
from boltq_core.errors import (
    BoltQError,
    ConfigError,
    NotFound,
    invalid_input,
    validation_message,
)
from boltq_core.jobs.groups import (
    MAX_RATE,
    MAX_RATE_SECONDS,
    GroupLimits,
    GroupRate,
    Groups,
    check_group,
)
from boltq_core.jobs.models import GROUP_PATTERN, JOB_TYPE_PATTERN, JobSpec, JobStatus
from boltq_core.jobs.queue import MAX_WORKERS_LIMIT, Queue, shared_queue
from boltq_core.jobs.schedule_model import SCHEDULE_NAME_PATTERN, ScheduleJob, ScheduleSpec
from boltq_core.jobs.schedules import Schedules
from boltq_core.jobs.snapstart import register as register_snapstart_hooks
from boltq_core.jobs.workflows import MAX_STEPS, StepSpec, Workflows, WorkflowSpec
from boltq_core.keys import DEFAULT_QUEUE, QUEUE_PATTERN
from boltq_core.observability import tracing
from boltq_core.observability.counters import InvocationCounter
from boltq_core.store.connect import is_store_trouble

logger = Logger(service="boltq-api")
tracing.setup_from_env("boltq-api")  # OTLP export only when OTEL_EXPORTER_OTLP_ENDPOINT is set
PUBLIC_PATHS = frozenset(p for (m, p), scopes in ROUTES.items() if scopes == PUBLIC)
DOCS_PATH = "/api/v1/docs"


def _cors() -> CORSConfig:
    try:
        origins = Settings.from_env().cors_origins
    except ConfigError:  # bad settings: every route answers with the error; CORS stays open
        origins = ["*"]
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:] or None,
        allow_headers=["Content-Type", "x-api-key", "traceparent"],
        max_age=600,
    )


CORS = _cors()
app = APIGatewayRestResolver(enable_validation=True, cors=CORS)
OPENAPI_INFO = {
    "title": "BoltQ",
    "version": "1.0.0",
    "description": "A serverless distributed task queue. Send the API key in `x-api-key`.",
}

STORE_RETRY_AFTER = 1  # seconds a client waits when the store is down or failing over


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def fail(status: int, message: str, details: list[Any] | None = None,
         retry_after: int | None = None) -> Response:
    body = {"success": False, "error": message, "details": details or []}
    headers = {"Retry-After": str(max(0, int(retry_after)))} if retry_after is not None else None
    return Response(status, "application/json", json.dumps(body, default=str), headers)


# --- before routing: the API key and malformed bytes ------------------------------------------
# Both are answered before Powertools sees the event: it would check the body before any
# middleware of ours runs (so a bad body without a key got 400, not 401), and it decodes a
# base64 body with a strict .decode() (a UnicodeDecodeError, i.e. a 500, for bytes that are not
# UTF-8). A lone surrogate ("\udcff": a byte that was not UTF-8, surrogate-escaped, or a JSON
# escape) cannot be encoded for the store and ended as a UnicodeEncodeError.

Refusal = tuple[int, str, list[dict[str, Any]]]
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _malformed(field: str, where: str, message: str = "not valid UTF-8") -> Refusal:
    """A 400 naming the part of the request that is malformed."""
    return 400, f"{field}: {message}", [{"field": field, "in": where, "message": message}]


def _caller(event: dict[str, Any], q: Queue | None) -> tuple[Principal | None, Refusal | None]:
    """Who calls (the authorizer's principal, or the key checked here when no authorizer ran:
    `sam local`, a direct invocation), or why the request is refused (401 no key, 403 a wrong
    key or too small a scope: boltq_core.access.routes)."""
    if q is None:  # bad settings: every route answers with the error
        return None, None
    try:
        return rest_caller(event, q.settings, q.redis, q.keys), None
    except BoltQError as exc:
        return None, (exc.status, exc.message, exc.details)


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The dotted path of the first string (key or value) in decoded JSON that is not valid
    Unicode, or None."""
    if isinstance(value, str):
        return None if _utf8(value) else path
    if isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            if not _utf8(k):
                return path or "body"
            found = _lone_surrogate(v, where)
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _lone_surrogate(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def _check_body(event: dict[str, Any]) -> tuple[str | None, Refusal | None]:
    """The body as text (base64 decoded), or why it is refused."""
    body = event.get("body")
    if body is None or body == "":
        return body, None
    if not isinstance(body, str):
        return None, (400, "body: not a string", [{"field": "body", "in": "body",
                                                    "message": "not a string"}])
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None, _malformed("body", "body", "not valid base64")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, _malformed("body", "body", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}"
                                                   f" at offset {exc.start})")
    if not _utf8(body):
        return None, _malformed("body", "body")
    if event.get("httpMethod") in ("POST", "PUT", "PATCH") and not body.lstrip().startswith("{"):
        # every request body is a JSON object; Powertools would take a one-element list for
        # its element and JSON null for no body
        try:
            parsed = json.loads(body)
        except ValueError:
            return body, None  # not JSON: the route's validation says so
        if not isinstance(parsed, dict):
            kind = "null" if parsed is None else type(parsed).__name__
            kind = {"list": "an array", "str": "a string", "bool": "a boolean"}.get(kind, kind)
            return None, _malformed("body", "body", f"must be a JSON object, not {kind}")
    if _SURROGATE_ESCAPE.search(body):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body, None  # not JSON: the route's validation says so
        where = _lone_surrogate(parsed, "")
        if where is not None:
            return None, _malformed(where, "body", "not valid Unicode (a lone surrogate escape)")
    return body, None


def _refusal(event: dict[str, Any]) -> tuple[dict[str, Any], Refusal | None]:
    """The event as the routes get it (a base64 body decoded), or why the request is refused:
    a path, query string or body that is not UTF-8."""
    for name, value in (event.get("pathParameters") or {}).items():
        if isinstance(value, str) and not _utf8(value):
            return event, _malformed(f"path parameter {name!r}", "path")
    if not _utf8(str(event.get("path") or "")):
        return event, _malformed("path", "path")
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        for name, values in (event.get(key) or {}).items():
            if not _utf8(str(name)):
                return event, _malformed("query string", "query")
            for v in values if isinstance(values, list) else [values]:
                if isinstance(v, str) and not _utf8(v):
                    return event, _malformed(f"query parameter {name!r}", "query")
    body, refused = _check_body(event)
    if refused:
        return event, refused
    if body and event.get("httpMethod") in ("POST", "PUT", "PATCH"):
        ctype = next((str(v) for k, v in (event.get("headers") or {}).items()
                      if str(k).lower() == "content-type"), "")
        # JSON only: Powertools would also read form and multipart bodies into the models
        if ctype.strip() and not ctype.strip().lower().startswith("application/json"):
            msg = f"Content-Type must be application/json, not {ctype[:100]!r}"
            return event, (415, msg, [{"field": "Content-Type", "in": "header",
                                       "message": msg}])
    if event.get("isBase64Encoded"):
        event = {**event, "body": body, "isBase64Encoded": False}
    return event, None


def _refusal_response(event: dict[str, Any], refused: Refusal) -> dict[str, Any]:
    """A refusal as a REST proxy reply, with the CORS headers Powertools would have added."""
    status, message, details = refused
    headers = {"Content-Type": "application/json"}
    if status == 503:
        headers["Retry-After"] = str(STORE_RETRY_AFTER)
    origin = next((v for k, v in (event.get("headers") or {}).items()
                   if str(k).lower() == "origin"), None)
    if isinstance(origin, str):
        headers.update(CORS.to_dict(CORS.allowed_origin(origin)))
    body = {"success": False, "error": message, "details": details}
    return {"statusCode": status, "body": json.dumps(body), "isBase64Encoded": False,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}}


# --- errors ------------------------------------------------------------------------------------


@app.exception_handler(BoltQError)
def _boltq_error(exc: BoltQError) -> Response:
    if exc.status >= 500 and exc.status != 503:
        logger.error("request failed", extra={"error": exc.message})
    if exc.status == 503:  # StoreUnavailable: say when to come back
        retry = getattr(exc, "retry_after", STORE_RETRY_AFTER)
        return fail(503, exc.message, exc.details, retry_after=retry)
    return fail(exc.status, exc.message, exc.details)


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "body"
        field = ".".join(loc[1:]) if len(loc) > 1 else where
        if err.get("type") == "json_invalid":
            field = "body"
        details.append({"field": field, "in": where, "message": validation_message(err)})
    refused = invalid_input(details)
    return fail(400, refused.message, refused.details)


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_type(exc: RequestUnsupportedContentType) -> Response:
    return fail(415, "Content-Type must be application/json")


@app.exception_handler(NotFoundError)
def _no_route(exc: NotFoundError) -> Response:
    ev = app.current_event
    return fail(404, f"no route for {ev.http_method} {ev.path}")


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    if is_store_trouble(exc):  # unreachable, timed out, loading, read-only in a failover...
        logger.warning("store unavailable", extra={"error": str(exc)})
        return fail(503, f"the store is unreachable or failing over: {exc}",
                    [{"store": "unavailable"}],
                    retry_after=STORE_RETRY_AFTER)
    logger.exception("unhandled error")
    return fail(500, f"internal error: {type(exc).__name__}")


# --- request bodies ----------------------------------------------------------------------
ID_MAX = 128  # job and workflow ids (uuid4 strings) in paths and bodies


# The bodies as the API takes them: the core's models, but a number must be a JSON number and a
# date-time a string (pydantic's lax mode takes "5" or true for a number and 0 for a date-time,
# which the schema does not allow; its strict mode would refuse 14.0 for an integer, which JSON
# Schema allows). defer_build: their validators are built on first use, not at cold start.
_BODY = ConfigDict(extra="forbid", defer_build=True)
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})?")


def _json_number(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number")
    return value


def _date_time(value: Any) -> Any:
    """run_at: an ISO-8601 date-time string (a time without an offset is UTC), or null."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError("must be an ISO-8601 date-time string, e.g. 2030-01-01T12:00:00Z")
    return value


class JobRequest(JobSpec):
    model_config = _BODY
    _numbers = field_validator("delay_seconds", "max_attempts", "timeout_seconds",
                               mode="before")(_json_number)
    _run_at = field_validator("run_at", mode="before")(_date_time)


class StepRequest(StepSpec):
    model_config = _BODY
    _numbers = field_validator("max_attempts", "timeout_seconds", mode="before")(_json_number)


class WorkflowRequest(WorkflowSpec):
    model_config = _BODY
    steps: list[StepRequest] = Field(min_length=1, max_length=MAX_STEPS)


class JobBatch(BaseModel):
    model_config = _BODY
    jobs: list[JobRequest] = Field(min_length=1, max_length=500)


class ScheduleJobRequest(ScheduleJob):
    model_config = _BODY
    _numbers = field_validator("max_attempts", "timeout_seconds", mode="before")(_json_number)


class ScheduleRequest(ScheduleSpec):
    model_config = _BODY
    job: ScheduleJobRequest
    _numbers = field_validator("every_seconds", "max_runs", mode="before")(_json_number)
    _times = field_validator("start_at", "end_at", mode="before")(_date_time)


class QueueSettingsRequest(BaseModel):
    model_config = _BODY
    max_workers: int | None = Field(
        ge=1, le=MAX_WORKERS_LIMIT,
        description="the most workers the poller starts for this queue's backlog; null: no "
                    "cap of its own (NUM_WORKERS still caps the fleet)")
    _numbers = field_validator("max_workers", mode="before")(_json_number)


class RequeueBody(BaseModel):
    model_config = _BODY
    job_ids: list[Annotated[str, Field(min_length=1, max_length=ID_MAX)]] | None = Field(
        None, max_length=1000, description="jobs to requeue ([] requeues none); omit to "
                                           "requeue every dead letter")


class GroupRateRequest(GroupRate):
    model_config = _BODY
    max: int = Field(ge=1, le=MAX_RATE, description="starts in any window")
    # the window is kept in whole milliseconds: the schema says so (>= 0.001), not only the
    # core's check
    per_seconds: float = Field(ge=0.001, le=MAX_RATE_SECONDS, description="the window's length")
    _numbers = field_validator("max", "per_seconds", mode="before")(_json_number)


class GroupLimitsRequest(GroupLimits):
    """A queue's default limits for each of its groups, or one group's own; null: no such
    limit."""

    model_config = _BODY
    group_rate: GroupRateRequest | None = Field(
        None, description="at most `max` starts of a group in any window of `per_seconds` "
                          "(retries count)")
    _numbers = field_validator("group_concurrency", mode="before")(_json_number)


class KeyRequest(BaseModel):
    model_config = _BODY
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN,
                      description="a name of your choice, unique (`bootstrap` is BOLTQ_API_KEY)",
                      json_schema_extra={"not": {"const": BOOTSTRAP}})
    scope: Literal["submit", "read", "admin"] = Field(
        description="submit: submit jobs and workflows, read them back by id; read: every "
                    "GET; admin: everything")


# Query and path parameters carry their limits, so the OpenAPI document states them and the
# validation enforces them (400 naming the parameter). Declaring them costs no import time: the
# OpenAPI models are imported only when the document is built.
MAX_PAGE = 100
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, 1..{MAX_PAGE}")]
Cursor = Annotated[str | None, Query(
    pattern=r"^[0-9]{1,15}$", description="the next_cursor of the previous page")]
JobId = Annotated[str, PathParam(min_length=1, max_length=ID_MAX, description="a job id")]
WorkflowId = Annotated[str, PathParam(min_length=1, max_length=ID_MAX,
                                      description="a workflow id")]
KeyName = Annotated[str, PathParam(min_length=1, max_length=64, pattern=NAME_PATTERN,
                                   description="the key's name")]
ScheduleName = Annotated[str, PathParam(min_length=1, max_length=128,
                                        pattern=SCHEDULE_NAME_PATTERN,
                                        description="a schedule's name")]
StatusFilter = Annotated[JobStatus | None, Query(description="only jobs in this status")]
TypeFilter = Annotated[str | None, Query(
    min_length=1, max_length=128, pattern=JOB_TYPE_PATTERN, description="only jobs of this type")]
QueueFilter = Annotated[str, Query(alias="queue", pattern=QUEUE_PATTERN,
                                   description="the queue to list")]
QueueName = Annotated[str, PathParam(pattern=QUEUE_PATTERN, description="a queue name")]
# a group's name may hold '/': API Gateway routes it only URL-encoded (%2F: one path segment), so
# the parameter is checked once decoded (the document states GROUP_PATTERN for the decoded name)
GROUP_PATH_MAX = 3 * 128  # every character %XX-encoded
GroupName = Annotated[str, PathParam(
    min_length=1, max_length=GROUP_PATH_MAX,
    description="a group name (`^[A-Za-z0-9_.:@/-]{1,128}$`); a '/' in it is sent URL-encoded "
                "as %2F (a path segment cannot hold a bare '/')")]
GroupCursor = Annotated[str | None, Query(
    pattern=GROUP_PATTERN, description="the next_cursor of the previous page (a group name)")]

# --- routes ------------------------------------------------------------------------------


@app.get("/health", tags=["system"])
def health():
    try:
        reachable = queue().ping()
    except BoltQError as exc:  # bad store settings: this function cannot reach any store
        return fail(503, exc.message, exc.details,
                    retry_after=getattr(exc, "retry_after", STORE_RETRY_AFTER))
    if not reachable:
        return fail(503, "the store is unreachable", [{"store": "unreachable"}],
                    retry_after=STORE_RETRY_AFTER)
    return Response(200, "application/json", json.dumps(ok({"status": "ok", "store": "ok"})))


def _server_url() -> str:
    """Where the API is mounted, from the request: API Gateway's execute-api domain puts the
    stage first (requestContext.path "/prod/api/v1/..." for path "/api/v1/..."); under a
    custom domain, `sam local` and boltq dev, requestContext.path is the path itself."""
    raw = app.current_event.raw_event
    path = str(raw.get("path") or "")
    full = str((raw.get("requestContext") or {}).get("path") or "")
    if path and full.endswith(path) and len(full) > len(path):
        return full[: -len(path)]
    return "/"


def _openapi_json() -> str:
    return _document(_server_url(), _max_timeout())


def _max_timeout() -> int:
    """The limits the routes apply come from the settings (e.g. MAX_JOB_TIMEOUT_SECONDS)."""
    try:
        return int(queue().settings.max_timeout_seconds)
    except BoltQError:
        return int(Settings.model_fields["max_timeout_seconds"].default)


@functools.lru_cache(maxsize=8)  # one per stage and settings
def _document(server: str, max_timeout: int) -> str:
    """The OpenAPI document: Powertools' (paths, parameters, request bodies) with what it cannot
    know put in: every status code a route answers with its envelope, typed replies, the API key,
    the limits the core applies, no 422 (validation errors are 400). Built on first request:
    the OpenAPI models cost ~100 ms to import, kept off the cold start."""
    from aws_lambda_powertools.event_handler.openapi.models import Server

    doc = json.loads(app.get_openapi_json_schema(**OPENAPI_INFO, servers=[Server(url=server)]))
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_reply_schemas())
    _tighten_request_schemas(schemas, max_timeout)
    doc["components"]["securitySchemes"] = {
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                   "description": "an API key of scope " + ", ".join(SCOPES) + " (`boltq keys "
                                  "create`), or BOLTQ_API_KEY (the bootstrap admin key); "
                                  "each route names the scopes that may call it"}}
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                param["schema"] = _not_null(param["schema"])
                if param["in"] == "path" and param["name"] == "group":
                    param["schema"] = _GROUP_NAME  # the name as decoded from its %XX
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:  # an optional body is absent, not JSON null
                body["schema"] = _not_null(body["schema"])
            op["responses"] = _responses(method, path, bool(body))
            if path not in PUBLIC_PATHS:
                op["security"] = [{"apiKey": []}]
                scopes = sorted(ROUTES.get((method.upper(), path), ()))
                op["x-boltq-scopes"] = scopes
                op["description"] = (op.get("description", "") + "\n\nScopes: "
                                     + ", ".join(scopes)).strip()
    return json.dumps(doc)


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query or path parameter is absent or a string, never JSON null: `X | None` is X."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **branches[0]}
    for key in ("minimum", "maximum"):
        if isinstance(schema.get(key), float) and schema[key].is_integer():
            schema[key] = int(schema[key])
    return schema


_GROUP_NAME = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": GROUP_PATTERN,
               "title": "Group", "description": "a group name; a '/' in it goes as %2F"}

# the reply schema (components/schemas) of each route's 200
_REPLY = {
    ("get", "/health"): "Health",
    ("post", "/api/v1/jobs"): "Submitted",
    ("post", "/api/v1/jobs/batch"): "SubmittedBatch",
    ("get", "/api/v1/jobs"): "JobPage",
    ("get", "/api/v1/jobs/{job_id}"): "Job",
    ("post", "/api/v1/jobs/{job_id}/cancel"): "JobCancelled",
    ("get", "/api/v1/queues/stats"): "AllQueueStats",
    ("get", "/api/v1/queues"): "QueueList",
    ("get", "/api/v1/queues/{queue_name}"): "QueueDetail",
    ("post", "/api/v1/queues/{queue_name}/pause"): "QueuePaused",
    ("post", "/api/v1/queues/{queue_name}/resume"): "QueuePaused",
    ("put", "/api/v1/queues/{queue_name}/settings"): "QueueSettingsSaved",
    ("put", "/api/v1/queues/{queue_name}/limits"): "QueueLimits",
    ("put", "/api/v1/queues/{queue_name}/groups/{group}/limits"): "GroupLimitsSet",
    ("delete", "/api/v1/queues/{queue_name}/groups/{group}/limits"): "GroupLimitsSet",
    ("get", "/api/v1/queues/{queue_name}/groups"): "GroupPage",
    ("post", "/api/v1/workflows"): "WorkflowSubmitted",
    ("get", "/api/v1/workflows"): "WorkflowPage",
    ("get", "/api/v1/workflows/{workflow_id}"): "Workflow",
    ("post", "/api/v1/workflows/{workflow_id}/cancel"): "WorkflowCancelled",
    ("delete", "/api/v1/workflows/{workflow_id}"): "WorkflowDeleted",
    ("get", "/api/v1/dlq"): "JobPage",
    ("get", "/api/v1/dlq/{job_id}"): "Job",
    ("post", "/api/v1/dlq/{job_id}/requeue"): "Requeued",
    ("post", "/api/v1/dlq/requeue"): "RequeuedMany",
    ("delete", "/api/v1/dlq"): "Purged",
    ("post", "/api/v1/schedules"): "ScheduleSaved",
    ("get", "/api/v1/schedules"): "SchedulePage",
    ("get", "/api/v1/schedules/{name}"): "ScheduleDetail",
    ("delete", "/api/v1/schedules/{name}"): "ScheduleDeleted",
    ("post", "/api/v1/schedules/{name}/pause"): "SchedulePaused",
    ("post", "/api/v1/schedules/{name}/resume"): "SchedulePaused",
    ("post", "/api/v1/schedules/{name}/trigger"): "ScheduleTriggered",
    ("post", "/api/v1/ws/tickets"): "WsTicket",
    ("get", "/api/v1/keys"): "ApiKeyList",
    ("post", "/api/v1/keys"): "ApiKeyCreated",
    ("delete", "/api/v1/keys/{name}"): "ApiKeyRevoked",
}
_CONFLICTS = frozenset({("post", "/api/v1/keys")})  # beside every .../cancel
_SUBMITS = frozenset({"/api/v1/jobs", "/api/v1/jobs/batch", "/api/v1/workflows",
                      "/api/v1/schedules"})
_ERRORS = {
    400: "bad input, named in `error` (a field out of its limits, malformed JSON, bytes that "
         "are not UTF-8 in the body, query string or path)",
    401: "no API key (x-api-key)",
    403: "a wrong or revoked API key, or one whose scope may not call this route",
    404: "no such id or queue (or a path parameter no route takes)",
    409: "the object's state does not allow it (e.g. cancel a finished job, a key name "
         "that is taken)",
    413: "`data` (or a step's `params`, a workflow's `metadata`, a schedule's `job.data`) "
         "over MAX_PAYLOAD_BYTES",
    415: "a body that is not application/json",
    503: "the store is unreachable or failing over: retry after `Retry-After` seconds",
}


def _responses(method: str, path: str, has_body: bool) -> dict[str, Any]:
    ref = f"#/components/schemas/{_REPLY[(method, path)]}"
    out: dict[str, Any] = {"200": {"description": "success", "content": {"application/json": {
        "schema": {"type": "object", "required": ["success", "data"],
                   "properties": {"success": {"const": True}, "data": {"$ref": ref}}}}}}}
    codes = [400, 503]  # any route: malformed bytes; the store
    if path not in PUBLIC_PATHS:
        codes += [401, 403]
    if "{" in path:
        codes.append(404)
    if path.endswith("/cancel") or (method, path) in _CONFLICTS:
        codes.append(409)
    if method == "post" and path in _SUBMITS:
        codes.append(413)
    if has_body:
        codes.append(415)
    for code in sorted(codes):
        resp: dict[str, Any] = {"description": _ERRORS[code], "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}
        if code == 503:
            resp["headers"] = {"Retry-After": {
                "description": "seconds to wait before trying again", "required": True,
                "schema": {"type": "integer", "minimum": 0}}}
        out[str(code)] = resp
    return out


# priority as parse_priority takes it: 0/1/2, or a name (any case, surrounding spaces) or digit
_PRIORITY = {"anyOf": [
    {"type": "integer", "enum": [0, 1, 2]},
    {"type": "string",
     "pattern": r"^\s*([Hh][Ii][Gg][Hh]|[Nn][Oo][Rr][Mm][Aa][Ll]|[Ll][Oo][Ww]|[012])\s*$"},
], "default": 1, "description": "0 = high, 1 = normal, 2 = low (or 'high', 'normal', 'low')"}


def _tighten_request_schemas(schemas: dict[str, Any], max_timeout: int) -> None:
    """The request bodies' limits the core applies beyond their pydantic models."""
    for name in ("JobRequest", "StepRequest", "ScheduleJobRequest"):
        props = schemas.get(name, {}).get("properties", {})
        if "priority" in props:
            props["priority"] = {**_PRIORITY, "title": "Priority"}
        timeout = props.get("timeout_seconds", {})
        for branch in timeout.get("anyOf", [timeout]):
            if branch.get("type") == "integer":
                branch["maximum"] = max_timeout  # MAX_JOB_TIMEOUT_SECONDS
        if name == "StepRequest" and "depends_on" in props:
            props["depends_on"]["uniqueItems"] = True


def _reply_schemas() -> dict[str, Any]:
    """JSON schemas of the replies' `data`, and of the error envelope."""
    from pydantic.json_schema import models_json_schema

    from boltq_core.jobs.groups import GroupInfo
    from boltq_core.jobs.models import ErrorInfo, Job, JobSummary, QueueInfo, QueueStats
    from boltq_core.jobs.queue import QueueSettings

    class Error(BaseModel):
        """Every refusal: `error` names the field or the problem; `details` lists each."""

        success: Literal[False]
        error: str
        details: list[Any]

    class Health(BaseModel):
        status: Literal["ok"]
        store: Literal["ok"]

    class Submitted(BaseModel):
        job_id: str
        status: JobStatus
        duplicate: bool = Field(description="true when idempotency_key returned an earlier job")

    class SubmittedBatch(BaseModel):
        jobs: list[Submitted]

    class JobPage(BaseModel):
        items: list[JobSummary]
        next_cursor: Annotated[str | None, Field(pattern=r"^[0-9]+$")] = Field(
            description="pass as `cursor` for the next page; null on the last")
        count: int = Field(ge=0)

    class JobCancelled(BaseModel):
        job_id: str
        status: JobStatus

    class WorkflowSubmitted(BaseModel):
        workflow_id: str

    class WorkflowSummary(BaseModel):
        id: str
        name: str
        status: str
        created_at: datetime | None
        finished_at: datetime | None
        metadata: dict[str, Any]
        total_steps: int
        completed_steps: int

    class WorkflowPage(BaseModel):
        items: list[WorkflowSummary]
        next_cursor: Annotated[str | None, Field(pattern=r"^[0-9]+$")]
        count: int = Field(ge=0)

    class WorkflowStep(BaseModel):
        id: str
        job_type: str
        params: dict[str, Any]
        depends_on: list[str]
        job_id: str
        queue: str = Field(description="the queue the step's job runs in")
        status: str
        attempts: int
        result: Any = None
        error: ErrorInfo | None
        started_at: datetime | None
        finished_at: datetime | None

    class Workflow(WorkflowSummary):
        steps: list[WorkflowStep]
        step_counts: dict[str, int]

    class WorkflowCancelled(BaseModel):
        workflow_id: str
        status: str

    class WorkflowDeleted(BaseModel):
        workflow_id: str
        deleted: Literal[True]

    class Requeued(BaseModel):
        requeued: list[str] = Field(description="the ids requeued")

    class RequeuedMany(BaseModel):
        requeued: int = Field(ge=0)
        job_ids: list[str] | None = Field(None, description="with job_ids given: those requeued")

    class Purged(BaseModel):
        purged: int = Field(ge=0)

    class WsTicket(BaseModel):
        ticket: str = Field(description="open the WebSocket with ?ticket=; once")
        expires_in: int = Field(ge=1, description="seconds it stays good (WS_TICKET_SECONDS)")

    class ApiKeyInfo(BaseModel):
        name: str
        key_id: str
        prefix: str = Field(description="how the key begins (bq_<key_id>_)")
        scope: Literal["submit", "read", "admin"]
        created_at: datetime

    class ApiKeyList(BaseModel):
        items: list[ApiKeyInfo]

    class ApiKeyCreated(ApiKeyInfo):
        key: str = Field(description="the key: shown this once, stored only as its sha256")

    class ApiKeyRevoked(BaseModel):
        name: str
        revoked: Literal[True]

    class AllQueueStats(QueueStats):
        queues: dict[str, QueueStats] = Field(description="each queue's own, by name")

    class QueueList(BaseModel):
        queues: list[QueueInfo]

    class QueueDetail(QueueInfo):
        stats: QueueStats
        settings: QueueSettings
        limits: GroupLimits | None = Field(description="its default group limits (null: none)")

    class QueuePaused(BaseModel):
        queue: str
        paused: bool

    class QueueSettingsSaved(BaseModel):
        queue: str
        settings: QueueSettings

    class QueueLimits(BaseModel):
        queue: str
        limits: GroupLimits | None = Field(description="its default group limits (null: none)")

    class GroupLimitsSet(BaseModel):
        queue: str
        group: str
        limits: GroupLimits | None = Field(description="the limits that apply to the group now")
        own_limits: bool = Field(description="false: the queue's default applies")

    class GroupPage(BaseModel):
        items: list[GroupInfo]
        next_cursor: Annotated[str | None, Field(pattern=GROUP_PATTERN)] = Field(
            description="pass as `cursor` for the next page; null on the last")
        count: int = Field(ge=0)

    models: list[type[BaseModel]] = [
        Error, Health, Submitted, SubmittedBatch, JobPage, Job, JobCancelled, AllQueueStats,
        QueueList, QueueDetail, QueuePaused, QueueSettingsSaved, WorkflowSubmitted, WorkflowPage,
        Workflow, WorkflowCancelled, WorkflowDeleted, Requeued, RequeuedMany, Purged, WsTicket,
        ApiKeyInfo, ApiKeyList, ApiKeyCreated, ApiKeyRevoked, QueueLimits, GroupLimitsSet,
        GroupPage, *_schedule_replies()]
    _, top = models_json_schema([(m, "serialization") for m in models],
                                ref_template="#/components/schemas/{model}")
    out: dict[str, Any] = top["$defs"]
    for name in ("Job", "JobSummary"):
        props = out[name]["properties"]
        props["status"] = {"$ref": "#/components/schemas/JobStatus"}
        props.pop("trace_context", None)
    return out


def _schedule_replies() -> list[type[BaseModel]]:
    """The schedule routes' replies (SPEC §12)."""

    from boltq_core.jobs.schedule_model import Schedule, ScheduleDetail

    class ScheduleSaved(BaseModel):
        name: str
        next_run_at: datetime | None = Field(description="null when paused or none is left")

    class SchedulePage(BaseModel):
        items: list[Schedule]
        next_cursor: Annotated[str | None, Field(pattern=r"^[0-9]+$")]
        count: int = Field(ge=0)

    class ScheduleDeleted(BaseModel):
        name: str
        deleted: Literal[True]

    class SchedulePaused(BaseModel):
        name: str
        paused: bool
        next_run_at: datetime | None

    class ScheduleTriggered(BaseModel):
        name: str
        job_id: str
        status: JobStatus

    return [ScheduleSaved, SchedulePage, ScheduleDetail, ScheduleDeleted, SchedulePaused,
            ScheduleTriggered]


@app.get("/api/v1/openapi.json", include_in_schema=False)
def openapi_document():
    return Response(200, "application/json", _openapi_json())


@app.get(DOCS_PATH, include_in_schema=False)
def docs_page():
    """Swagger UI, served with its bundled script and style (no CDN)."""
    from pathlib import Path

    import aws_lambda_powertools.event_handler.openapi.swagger_ui as ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    folder = Path(ui.__file__).parent
    js = (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (folder / "swagger-ui.min.css").read_text(encoding="utf-8")
    spec = _openapi_json().replace("</", "<\\/")
    html = generate_swagger_html(spec, js, css, None, None)  # type: ignore[arg-type]
    return Response(200, "text/html", html)


def _traceparent() -> str | None:
    """The caller's W3C trace context, when tracing is on (the submit span's parent)."""
    if not tracing.enabled():
        return None
    return app.current_event.headers.get("traceparent")  # case-insensitive in Powertools 3


@app.post("/api/v1/jobs", tags=["jobs"])
def submit_job(job: JobRequest) -> dict[str, Any]:
    """Submit a job; its status is readable at once."""
    with tracing.submit_span(_traceparent(), **{"boltq.job_type": job.type}) as tp:
        sub = queue().submit(job, trace=tp)
        tracing.set_attribute("boltq.job_id", sub.job_id)
    return ok({"job_id": sub.job_id, "status": sub.status, "duplicate": sub.duplicate})


@app.post("/api/v1/jobs/batch", tags=["jobs"])
def submit_jobs(batch: JobBatch) -> dict[str, Any]:
    """Submit up to 500 jobs at once; all are validated before any is stored."""
    with tracing.submit_span(_traceparent(), **{"boltq.jobs": len(batch.jobs)}) as tp:
        subs = queue().submit_many(batch.jobs, [tp] * len(batch.jobs) if tp else None)
    return ok({"jobs": [
        {"job_id": s.job_id, "status": s.status, "duplicate": s.duplicate} for s in subs
    ]})


@app.get("/api/v1/jobs", tags=["jobs"])
def list_jobs(
    status: StatusFilter = None,
    type: TypeFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    queue_name: QueueFilter = DEFAULT_QUEUE,
) -> dict[str, Any]:
    """The jobs of one queue (default: `default`), newest first, optionally filtered by status
    and type."""
    page = queue().of(queue_name).list_jobs(status.value if status else None, type, limit, cursor)
    return ok(page.public())


@app.get("/api/v1/jobs/<job_id>", tags=["jobs"])
def get_job(job_id: JobId) -> dict[str, Any]:
    return ok(queue().get(job_id).public())


@app.post("/api/v1/jobs/<job_id>/cancel", tags=["jobs"])
def cancel_job(job_id: JobId) -> dict[str, Any]:
    """Cancel: `cancelled` at once, or `running` while a running job is being stopped."""
    return ok({"job_id": job_id, "status": queue().cancel(job_id)})


@app.get("/api/v1/queues/stats", tags=["queues"])
def queue_stats() -> dict[str, Any]:
    """Totals over every queue (the seed's shape), with each queue's own under `queues`."""
    total, each = queue().stats_all()
    return ok({**total.model_dump(), "queues": {n: st.model_dump() for n, st in each.items()}})


@app.get("/api/v1/queues", tags=["queues"])
def list_queues() -> dict[str, Any]:
    """Every known queue with its depths and whether it is paused."""
    q = queue()
    return ok({"queues": [q.of(name).info()[0].model_dump() for name in q.known_queues()]})


@app.get("/api/v1/queues/<queue_name>", tags=["queues"])
def get_queue(queue_name: QueueName) -> dict[str, Any]:
    """One queue: its depths, whether it is paused, its stats, its settings and its default
    group limits (null: none)."""
    q = _known_queue(queue_name)
    info, stats, settings = q.detail()
    limits = Groups(q).limits()
    return ok({**info.model_dump(), "stats": stats.model_dump(),
               "settings": settings.model_dump(), "limits": limits.public() if limits else None})


@app.post("/api/v1/queues/<queue_name>/pause", tags=["queues"])
def pause_queue(queue_name: QueueName) -> dict[str, Any]:
    """Pause a queue: it still accepts jobs, none is claimed until it is resumed (running jobs
    finish)."""
    queue().of(queue_name).pause()
    return ok({"queue": queue_name, "paused": True})


@app.post("/api/v1/queues/<queue_name>/resume", tags=["queues"])
def resume_queue(queue_name: QueueName) -> dict[str, Any]:
    queue().of(queue_name).resume()
    return ok({"queue": queue_name, "paused": False})


@app.put("/api/v1/queues/<queue_name>/settings", tags=["queues"])
def set_queue_settings(queue_name: QueueName, body: QueueSettingsRequest) -> dict[str, Any]:
    """Replace a queue's settings: `max_workers` caps the workers the poller starts for its
    backlog (null clears it). A queue not known yet becomes known."""
    settings = queue().of(queue_name).configure(body.max_workers)
    return ok({"queue": queue_name, "settings": settings.model_dump()})


@app.put("/api/v1/queues/<queue_name>/limits", tags=["queues"])
def set_queue_limits(queue_name: QueueName, body: GroupLimitsRequest) -> dict[str, Any]:
    """Set the queue's default limits for each of its groups (SPEC §13): at most
    `group_concurrency` jobs of a group running at once, at most `group_rate.max` starts of a
    group in any window of `group_rate.per_seconds`. Both null clears them."""
    Groups(queue().of(queue_name)).set_limits(body)
    return ok({"queue": queue_name, "limits": _limits_or_none(body)})


@app.put("/api/v1/queues/<queue_name>/groups/<group>/limits", tags=["queues"])
def set_group_limits(queue_name: QueueName, group: GroupName,
                     body: GroupLimitsRequest) -> dict[str, Any]:
    """Give one group limits of its own: they replace the queue's default whole (a null here
    is no such limit for this group). A '/' in the group's name is sent as %2F."""
    name = _group_param(group)
    Groups(queue().of(queue_name)).set_group_limits(name, body)
    return ok({"queue": queue_name, "group": name, "limits": body.public(), "own_limits": True})


@app.delete("/api/v1/queues/<queue_name>/groups/<group>/limits", tags=["queues"])
def clear_group_limits(queue_name: QueueName, group: GroupName) -> dict[str, Any]:
    """Clear a group's own limits: the queue's default (in `limits`, or null) applies to it
    again. A '/' in the group's name is sent as %2F."""
    name = _group_param(group)
    groups = Groups(queue().of(queue_name))
    groups.clear_group_limits(name)
    default = groups.limits()
    return ok({"queue": queue_name, "group": name,
               "limits": default.public() if default else None, "own_limits": False})


@app.get("/api/v1/queues/<queue_name>/groups", tags=["queues"])
def list_groups(queue_name: QueueName, limit: Limit = 50,
                cursor: GroupCursor = None) -> dict[str, Any]:
    """A queue's groups by name (those with jobs ready or running, or limits of their own):
    ready, running, whether a limit holds the group back and until when (null while held by
    its concurrency: until one of its running jobs ends), the limits that apply to it."""
    return ok(Groups(_known_queue(queue_name)).list(limit, cursor).public())


def _limits_or_none(limits: GroupLimits) -> dict[str, Any] | None:
    empty = limits.group_concurrency is None and limits.group_rate is None
    return None if empty else limits.public()


def _group_param(raw: str) -> str:
    """The group path parameter decoded: API Gateway passes a %2F on as it came (no group
    name holds a '%', so decoding once is never ambiguous)."""
    return check_group(unquote(raw, errors="replace") if "%" in raw else raw)


_GROUP_LIMITS_PATH = re.compile(r"(/api/v1/queues/[^/]+/groups/)(.+)(/limits)")


def _group_in_one_segment(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a group's '/' in its path encoded again (%2F), when what delivered it
    decoded the path (boltq dev does, as API Gateway does for its `path`): the route table
    (the scope check) and the router then see the group as the one segment it was sent as."""
    path = event.get("path")
    m = _GROUP_LIMITS_PATH.fullmatch(path) if isinstance(path, str) else None
    if m is None or "/" not in m.group(2):
        return event
    group = quote(m.group(2), safe="", errors="surrogateescape")
    return {**event, "path": m.group(1) + group + m.group(3)}


def _known_queue(name: str) -> Queue:
    q = queue()
    if name not in q.known_queues():
        raise NotFound(f"queue {name!r} not found (no job was ever submitted to it)")
    return q.of(name)


@app.post("/api/v1/workflows", tags=["workflows"])
def submit_workflow(workflow: WorkflowRequest) -> dict[str, Any]:
    """Submit a workflow; every step's job carries its trace context (one trace per run)."""
    with tracing.submit_span(_traceparent(), name="boltq.workflow",
                             **{"boltq.workflow": workflow.name}) as tp:
        wf_id = Workflows(queue()).submit(workflow, trace=tp)
        tracing.set_attribute("boltq.workflow_id", wf_id)
    return ok({"workflow_id": wf_id})


@app.get("/api/v1/workflows", tags=["workflows"])
def list_workflows(
    limit: Limit = 50, cursor: Cursor = None,
    queue_name: QueueFilter = DEFAULT_QUEUE,
) -> dict[str, Any]:
    return ok(Workflows(queue().of(queue_name)).list(limit, cursor).public())


@app.get("/api/v1/workflows/<workflow_id>", tags=["workflows"])
def get_workflow(workflow_id: WorkflowId) -> dict[str, Any]:
    return ok(Workflows(queue()).get(workflow_id))


@app.post("/api/v1/workflows/<workflow_id>/cancel", tags=["workflows"])
def cancel_workflow(workflow_id: WorkflowId) -> dict[str, Any]:
    return ok({"workflow_id": workflow_id, "status": Workflows(queue()).cancel(workflow_id)})


@app.delete("/api/v1/workflows/<workflow_id>", tags=["workflows"])
def delete_workflow(workflow_id: WorkflowId) -> dict[str, Any]:
    Workflows(queue()).delete(workflow_id)
    return ok({"workflow_id": workflow_id, "deleted": True})


@app.get("/api/v1/dlq", tags=["dead-letter queue"])
def list_dead_letters(
    limit: Limit = 50, cursor: Cursor = None,
    queue_name: QueueFilter = DEFAULT_QUEUE,
) -> dict[str, Any]:
    """The dead letters of one queue (default: `default`), most recent first."""
    return ok(queue().of(queue_name).dlq_list(limit, cursor).public())


@app.get("/api/v1/dlq/<job_id>", tags=["dead-letter queue"])
def get_dead_letter(job_id: JobId) -> dict[str, Any]:
    return ok(queue().dlq_get(job_id).public())


@app.post("/api/v1/dlq/<job_id>/requeue", tags=["dead-letter queue"])
def requeue_dead_letter(job_id: JobId) -> dict[str, Any]:
    return ok({"requeued": queue().dlq_requeue([job_id])})


@app.post("/api/v1/dlq/requeue", tags=["dead-letter queue"])
def requeue_dead_letters(body: RequeueBody | None = None,
                         queue_name: QueueFilter = DEFAULT_QUEUE) -> dict[str, Any]:
    """Requeue the given dead letters (whatever their queue), or all of one queue's (default:
    `default`) when no job_ids are given."""
    q = queue()
    if body is not None and body.job_ids is not None:
        # an empty list requeues nothing (a client whose selection came out empty must not
        # requeue every dead letter)
        try:
            done = q.dlq_requeue(body.job_ids) if body.job_ids else []
        except NotFound:  # the core's answer for a single id; here the reply names those done
            done = []
        return ok({"requeued": len(done), "job_ids": done})
    return ok({"requeued": q.of(queue_name).dlq_requeue_all()})


@app.delete("/api/v1/dlq", tags=["dead-letter queue"])
def purge_dead_letters(queue_name: QueueFilter = DEFAULT_QUEUE) -> dict[str, Any]:
    """Delete every dead letter of one queue (default: `default`)."""
    return ok({"purged": queue().of(queue_name).dlq_purge()})


@app.post("/api/v1/ws/tickets", tags=["access"])
def create_ws_ticket() -> dict[str, Any]:
    """A single-use ticket to open the WebSocket (`?ticket=`) within `expires_in` seconds;
    the connection may follow what the key's scope may read."""
    q = queue()
    who = app.context.get("caller") or OPEN_PRINCIPAL
    ticket = Tickets(q.redis, q.keys, q.settings.ws_ticket_seconds).issue(who)
    return ok({"ticket": ticket, "expires_in": q.settings.ws_ticket_seconds})


@app.get("/api/v1/keys", tags=["access"])
def list_api_keys() -> dict[str, Any]:
    """The stored API keys (name, scope, key id; never the key)."""
    q = queue()
    return ok({"items": [k.public() for k in ApiKeys(q.redis, q.keys).list()]})


@app.post("/api/v1/keys", tags=["access"])
def create_api_key(body: KeyRequest) -> dict[str, Any]:
    """A new API key of a scope; the key is in this reply only (the store keeps its hash)."""
    q = queue()
    info, key = ApiKeys(q.redis, q.keys).create(body.name, body.scope)
    return ok({**info.public(), "key": key})


@app.delete("/api/v1/keys/<name>", tags=["access"])
def revoke_api_key(name: KeyName) -> dict[str, Any]:
    """Revoke a key: refused at once by this function, by the authorizer once its cached
    policy for the key expires (ReauthorizeEvery)."""
    q = queue()
    ApiKeys(q.redis, q.keys).revoke(name)
    return ok({"name": name, "revoked": True})


# --- schedules (SPEC §12) -----------------------------------------------------------------


def _iso(ms: int) -> str | None:
    from boltq_core.timefmt import iso

    return iso(ms) if ms >= 0 else None


@app.post("/api/v1/schedules", tags=["schedules"])
def save_schedule(schedule: ScheduleRequest) -> dict[str, Any]:
    """Create or replace (by name) a schedule; a replacement keeps its history and pause."""
    name, nxt = Schedules(queue()).save(schedule)
    return ok({"name": name, "next_run_at": _iso(nxt)})


@app.get("/api/v1/schedules", tags=["schedules"])
def list_schedules(limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """Schedules by name, each with its next and last run, runs and pause state."""
    page = Schedules(queue()).list(limit, cursor)
    return ok({"items": [i.model_dump(mode="json") for i in page.items],
               "next_cursor": page.next_cursor, "count": len(page.items)})


@app.get("/api/v1/schedules/<name>", tags=["schedules"])
def get_schedule(name: ScheduleName) -> dict[str, Any]:
    """A schedule with its recent occurrences' job ids, newest first."""
    return ok(Schedules(queue()).get(name).model_dump(mode="json"))


@app.delete("/api/v1/schedules/<name>", tags=["schedules"])
def delete_schedule(name: ScheduleName) -> dict[str, Any]:
    """Delete a schedule (the jobs it made stay)."""
    Schedules(queue()).delete(name)
    return ok({"name": name, "deleted": True})


@app.post("/api/v1/schedules/<name>/pause", tags=["schedules"])
def pause_schedule(name: ScheduleName) -> dict[str, Any]:
    Schedules(queue()).pause(name)
    return ok({"name": name, "paused": True, "next_run_at": None})


@app.post("/api/v1/schedules/<name>/resume", tags=["schedules"])
def resume_schedule(name: ScheduleName) -> dict[str, Any]:
    """Resume from now: what fell in the pause is not caught up."""
    nxt = Schedules(queue()).resume(name)
    return ok({"name": name, "paused": False, "next_run_at": _iso(nxt)})


@app.post("/api/v1/schedules/<name>/trigger", tags=["schedules"])
def trigger_schedule(name: ScheduleName) -> dict[str, Any]:
    """Run its job once now (paused or not); its plan is unchanged."""
    job_id, status = Schedules(queue()).trigger(name)
    return ok({"name": name, "job_id": job_id, "status": status})


def queue() -> Queue:
    """The store of this invocation: the handler looked it up (routes reuse it rather than
    checking the environment again)."""
    q = app.context.get("queue")
    return q if q is not None else shared_queue()


count_invocation = InvocationCounter("api")


def _warm() -> None:
    """Before a SnapStart snapshot (boltq_core.jobs.snapstart): do at init what the first
    requests would, so every environment restored from the snapshot skips it - the request
    bodies' validators (deferred at cold start), every route's parameters and the OpenAPI
    models and document. It sends the store nothing (the settings only), and before_snapshot
    closes any connection the init opened."""
    for model in (JobRequest, JobBatch, StepRequest, WorkflowRequest, ScheduleJobRequest,
                  ScheduleRequest, QueueSettingsRequest, RequeueBody, GroupRateRequest,
                  GroupLimitsRequest, KeyRequest):
        model.model_rebuild()
    _document("/", _max_timeout())  # the routes' dependants, the reply schemas, the models


register_snapstart_hooks(_warm)  # only in a Lambda runtime with SnapStart hooks; nothing elsewhere


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    event = _group_in_one_segment(event)
    q: Queue | None = None
    try:
        q = shared_queue()
    except BoltQError:
        pass  # bad settings: the route answers with the error
    else:
        count_invocation(q.redis, q.keys)
        app.append_context(queue=q)
    try:
        who, refused = _caller(event, q)
    except Exception as exc:
        if not is_store_trouble(exc):
            raise
        who, refused = None, (503, f"the store is unreachable or failing over: {exc}",
                              [{"store": "unavailable"}])
    if not refused:
        app.append_context(caller=who)
        event, refused = _refusal(event)
    if refused:
        app.clear_context()
        return _refusal_response(event, refused)
    try:
        return app.resolve(event, context)
    finally:
        tracing.flush()


gc.freeze()  # what the cold start loaded lives as long as the process: no pass looks at it again
gc.enable()
