"""api: the REST API (SPEC §4) on API Gateway REST proxy events. Thin: every route parses its
input (pydantic, via Powertools validation), calls boltq_core and wraps the reply in the seed's
envelope {"success": true, "data": ...} / {"success": false, "error": ..., "details": [...]}.

Auth: in AWS, API Gateway checks the x-api-key header (API keys + usage plan); when
BOLTQ_API_KEY is set (the local runtime, `sam local`), this function checks it as well.
CORS: CORS_ALLOW_ORIGINS (comma-separated, default "*")."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from boltq_core import tracing
from boltq_core.errors import BoltQError
from boltq_core.metrics import InvocationCounter
from boltq_core.models import JobSpec, JobStatus
from boltq_core.queue import Queue, shared_queue
from boltq_core.store import is_store_trouble
from boltq_core.workflows import Workflows, WorkflowSpec

logger = Logger(service="boltq-api")
tracing.setup_from_env("boltq-api")  # OTLP export only when OTEL_EXPORTER_OTLP_ENDPOINT is set
PUBLIC_PATHS = frozenset({"/health", "/api/v1/openapi.json", "/api/v1/docs"})
DOCS_PATH = "/api/v1/docs"


def _cors() -> CORSConfig:
    origins = [o.strip() for o in os.environ.get("CORS_ALLOW_ORIGINS", "*").split(",")]
    origins = [o for o in origins if o] or ["*"]
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


def _not_utf8(field: str, where: str, message: str = "not valid UTF-8") -> Refusal:
    return 400, f"{field}: {message}", [{"field": field, "in": where, "message": message}]


def _api_key_refusal(event: dict[str, Any]) -> Refusal | None:
    expected = os.environ.get("BOLTQ_API_KEY", "")
    if not expected or event.get("httpMethod") == "OPTIONS" or event.get("path") in PUBLIC_PATHS:
        return None
    import hmac

    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    given = str(headers.get("x-api-key") or "")
    # surrogatepass: a key that is not UTF-8 is a wrong key (403), not an error
    if hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode()):
        return None
    msg = "missing or invalid API key (x-api-key)"
    return (401 if not given else 403), msg, [{"field": "x-api-key", "in": "header",
                                               "message": msg}]


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
            return None, _not_utf8("body", "body", "not valid base64")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, _not_utf8("body", "body", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}"
                                                   f" at offset {exc.start})")
    if not _utf8(body):
        return None, _not_utf8("body", "body")
    if _SURROGATE_ESCAPE.search(body):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body, None  # not JSON: the route's validation says so
        where = _lone_surrogate(parsed, "")
        if where is not None:
            return None, _not_utf8(where, "body", "not valid Unicode (a lone surrogate escape)")
    return body, None


def _refusal(event: dict[str, Any]) -> tuple[dict[str, Any], Refusal | None]:
    """The event as the routes get it (a base64 body decoded), or why the request is refused:
    a missing or wrong API key, or a path, query string or body that is not UTF-8."""
    refused = _api_key_refusal(event)
    if refused:
        return event, refused
    for name, value in (event.get("pathParameters") or {}).items():
        if isinstance(value, str) and not _utf8(value):
            return event, _not_utf8(f"path parameter {name!r}", "path")
    if not _utf8(str(event.get("path") or "")):
        return event, _not_utf8("path", "path")
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        for name, values in (event.get(key) or {}).items():
            if not _utf8(str(name)):
                return event, _not_utf8("query string", "query")
            for v in values if isinstance(values, list) else [values]:
                if isinstance(v, str) and not _utf8(v):
                    return event, _not_utf8(f"query parameter {name!r}", "query")
    body, refused = _check_body(event)
    if refused:
        return event, refused
    if event.get("isBase64Encoded"):
        event = {**event, "body": body, "isBase64Encoded": False}
    return event, None


def _refusal_response(event: dict[str, Any], refused: Refusal) -> dict[str, Any]:
    """A refusal as a REST proxy reply, with the CORS headers Powertools would have added."""
    status, message, details = refused
    headers = {"Content-Type": "application/json"}
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
    if exc.status >= 500:
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
        details.append({"field": field, "in": where, "message": err.get("msg", "invalid")})
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return fail(400, f"{first['field']}: {first['message']}{more}", details)


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


class JobBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: list[JobSpec] = Field(min_length=1, max_length=500)


class RequeueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        None, max_length=1000, description="jobs to requeue; omit to requeue every dead letter"
    )


# query parameters are plain typed arguments (Powertools' Query() would pull the OpenAPI models
# into the cold start); boltq_core checks their ranges and names the field when they are wrong
Limit = int
Cursor = str | None

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


def _openapi_json() -> str:
    # built on first request: the OpenAPI models cost ~100 ms to import, kept off cold start
    base = app._get_base_path() or "/"
    from aws_lambda_powertools.event_handler.openapi.models import Server

    return app.get_openapi_json_schema(**OPENAPI_INFO, servers=[Server(url=base)])


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
def submit_job(job: JobSpec) -> dict[str, Any]:
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
    status: JobStatus | None = None,
    type: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Jobs, newest first, optionally filtered by status and type."""
    page = queue().list_jobs(status.value if status else None, type, limit, cursor)
    return ok(page.public())


@app.get("/api/v1/jobs/<job_id>", tags=["jobs"])
def get_job(job_id: str) -> dict[str, Any]:
    return ok(queue().get(job_id).public())


@app.post("/api/v1/jobs/<job_id>/cancel", tags=["jobs"])
def cancel_job(job_id: str) -> dict[str, Any]:
    """Cancel: `cancelled` at once, or `running` while a running job is being stopped."""
    return ok({"job_id": job_id, "status": queue().cancel(job_id)})


@app.get("/api/v1/queues/stats", tags=["queues"])
def queue_stats() -> dict[str, Any]:
    return ok(queue().stats().model_dump())


@app.post("/api/v1/workflows", tags=["workflows"])
def submit_workflow(workflow: WorkflowSpec) -> dict[str, Any]:
    """Submit a workflow; every step's job carries its trace context (one trace per run)."""
    with tracing.submit_span(_traceparent(), name="boltq.workflow",
                             **{"boltq.workflow": workflow.name}) as tp:
        wf_id = Workflows(queue()).submit(workflow, trace=tp)
        tracing.set_attribute("boltq.workflow_id", wf_id)
    return ok({"workflow_id": wf_id})


@app.get("/api/v1/workflows", tags=["workflows"])
def list_workflows(limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    return ok(Workflows(queue()).list(limit, cursor).public())


@app.get("/api/v1/workflows/<workflow_id>", tags=["workflows"])
def get_workflow(workflow_id: str) -> dict[str, Any]:
    return ok(Workflows(queue()).get(workflow_id))


@app.post("/api/v1/workflows/<workflow_id>/cancel", tags=["workflows"])
def cancel_workflow(workflow_id: str) -> dict[str, Any]:
    return ok({"workflow_id": workflow_id, "status": Workflows(queue()).cancel(workflow_id)})


@app.delete("/api/v1/workflows/<workflow_id>", tags=["workflows"])
def delete_workflow(workflow_id: str) -> dict[str, Any]:
    Workflows(queue()).delete(workflow_id)
    return ok({"workflow_id": workflow_id, "deleted": True})


@app.get("/api/v1/dlq", tags=["dead-letter queue"])
def list_dead_letters(limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    return ok(queue().dlq_list(limit, cursor).public())


@app.get("/api/v1/dlq/<job_id>", tags=["dead-letter queue"])
def get_dead_letter(job_id: str) -> dict[str, Any]:
    return ok(queue().dlq_get(job_id).public())


@app.post("/api/v1/dlq/<job_id>/requeue", tags=["dead-letter queue"])
def requeue_dead_letter(job_id: str) -> dict[str, Any]:
    return ok({"requeued": queue().dlq_requeue([job_id])})


@app.post("/api/v1/dlq/requeue", tags=["dead-letter queue"])
def requeue_dead_letters(body: RequeueBody | None = None) -> dict[str, Any]:
    """Requeue the given dead letters, or all of them when no job_ids are given."""
    q = queue()
    if body is not None and body.job_ids:
        done = q.dlq_requeue(body.job_ids)
        return ok({"requeued": len(done), "job_ids": done})
    return ok({"requeued": q.dlq_requeue_all()})


@app.delete("/api/v1/dlq", tags=["dead-letter queue"])
def purge_dead_letters() -> dict[str, Any]:
    return ok({"purged": queue().dlq_purge()})


def queue() -> Queue:
    """The store of this invocation: the handler looked it up (routes reuse it rather than
    checking the environment again)."""
    q = app.context.get("queue")
    return q if q is not None else shared_queue()


count_invocation = InvocationCounter("api")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        q = shared_queue()
    except BoltQError:
        pass  # bad settings: the route answers with the error
    else:
        count_invocation(q.redis, q.keys.tag)
        app.append_context(queue=q)
    event, refused = _refusal(event)
    if refused:
        app.clear_context()
        return _refusal_response(event, refused)
    try:
        return app.resolve(event, context)
    finally:
        tracing.flush()
