"""api: the REST API (SPEC §4) on API Gateway REST proxy events. Thin: every route parses its
input (pydantic, via Powertools validation), calls boltq_core and wraps the reply in the seed's
envelope {"success": true, "data": ...} / {"success": false, "error": ..., "details": [...]}.

Auth: in AWS, API Gateway checks the x-api-key header (API keys + usage plan); when
BOLTQ_API_KEY is set (the local runtime, `sam local`), this function checks it as well.
CORS: CORS_ALLOW_ORIGINS (comma-separated, default "*")."""

from __future__ import annotations

import json
import os
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


app = APIGatewayRestResolver(enable_validation=True, cors=_cors())
OPENAPI_INFO = {
    "title": "BoltQ",
    "version": "1.0.0",
    "description": "A serverless distributed task queue. Send the API key in `x-api-key`.",
}

# --- the store, shared by warm invocations -------------------------------------------------







def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def fail(status: int, message: str, details: list[Any] | None = None) -> Response:
    body = {"success": False, "error": message, "details": details or []}
    return Response(status, "application/json", json.dumps(body, default=str))


# --- auth, errors ----------------------------------------------------------------------------


def require_api_key(app: APIGatewayRestResolver, next_middleware: Any) -> Response:
    expected = os.environ.get("BOLTQ_API_KEY", "")
    path = app.current_event.path
    if expected and path not in PUBLIC_PATHS and app.current_event.http_method != "OPTIONS":
        import hmac

        given = (app.current_event.headers or {}).get("x-api-key") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return fail(401 if not given else 403, "missing or invalid API key (x-api-key)")
    return next_middleware(app)


app.use(middlewares=[require_api_key])


@app.exception_handler(BoltQError)
def _boltq_error(exc: BoltQError) -> Response:
    if exc.status >= 500:
        logger.error("request failed", extra={"error": exc.message})
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
    import redis

    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return fail(503, f"the store is unreachable: {exc}")
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
    except BoltQError as exc:
        return fail(exc.status if exc.status != 500 else 503, exc.message)
    if not reachable:
        return fail(503, "the store is unreachable", [{"store": "unreachable"}])
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
    try:
        return app.resolve(event, context)
    finally:
        tracing.flush()
