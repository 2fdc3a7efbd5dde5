"""`boltq dev`: the whole stack of template.yaml on one machine, no Docker, no AWS account.

It starts (or connects to) the store, runs every function of the template in warm local
containers (lambda_host), and serves on API_PORT: the REST routes (rest), the WebSocket API and
its @connections endpoint (websocket), the Lambda Invoke API (invoke) and the playground; on
METRICS_PORT, /metrics. The schedules run at their rates (schedules). Ctrl-C stops everything:
containers get SIGTERM (handlers unwind, locks and worker slots are released), a job cut short
runs again when its lease expires."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from boltq_core.config import ENV_VARIABLES
from boltq_local import rest
from boltq_local.invoke import PATH as INVOKE_PATH
from boltq_local.invoke import InvokeApi
from boltq_local.lambda_host import FunctionPool, Result
from boltq_local.schedules import Scheduler
from boltq_local.template import Function, Template, load
from boltq_local.websocket import WebSocketGateway

# BoltQ settings and function knobs a developer may set in the shell of `boltq dev` (every
# variable boltq_core.config.Settings reads, but those naming the store, which boltq dev sets),
# and the observability tools' own; they reach every function even where the template does not
# declare them
PASS_THROUGH = (
    *(n for n in ENV_VARIABLES if n not in ("REDIS_URL", "REDIS_ADDR", "REDIS_PASSWORD",
                                            "REDIS_AUTH_TOKEN", "API_PORT", "METRICS_PORT",
                                            "NUM_WORKERS")),
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL",
)
LOCAL_PARAMETERS = {"Environment": "development"}  # parameter defaults for a laptop
WARM = ("api", "ws")  # functions whose first container starts with `boltq dev`


@dataclass
class Options:
    template: Path
    host: str = "localhost"
    api_port: int = 8080
    metrics_port: int = 9090
    data_dir: Path | None = None  # embedded store's AOF folder (default: .boltq/data)
    redis_url: str | None = None  # an existing store instead of the embedded one
    num_workers: int = 4
    # containers of a function that serves REST/WebSocket requests (Lambda scales those with the
    # concurrent requests; NUM_WORKERS caps the worker fan-out and the other functions). More
    # processes than cores only take turns: requests beyond the cap wait for a free container
    request_concurrency: int = field(default_factory=lambda: default_request_concurrency())
    schedule_speed: float = 1.0
    parameters: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # --env KEY=VALUE, wins over all
    quiet: bool = False
    playground: Path | None = None


def default_request_concurrency() -> int:
    """Two containers per core (at least 4): enough to overlap each one's store round trips;
    10 on 2 cores measured 25% fewer submits/s than 4 (processes evicting each other's caches)."""
    return max(4, 2 * (os.cpu_count() or 1))


def _now() -> str:
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


class DevServer:
    def __init__(self, opts: Options, shell_env: dict[str, str] | None = None) -> None:
        self.opts = opts
        self.shell = dict(os.environ if shell_env is None else shell_env)
        self.template: Template = load(opts.template, {**LOCAL_PARAMETERS, **opts.parameters})
        self.pools: dict[str, FunctionPool] = {}
        self.store: Any = None
        self.store_desc = ""
        self.store_warning: str | None = None
        self.store_url = ""
        self.scheduler: Scheduler | None = None
        self.runners: list[web.AppRunner] = []
        self.ws: WebSocketGateway | None = None
        self.routes = rest.RouteTable(self.template.routes)
        self.invocations = 0

    # --- setup -------------------------------------------------------------------------------

    def _start_store(self) -> None:
        url = self.opts.redis_url or self.shell.get("REDIS_URL")
        addr = self.shell.get("REDIS_ADDR")
        if url or addr:
            self.store_url = url or f"redis://{addr}/0"
            self.store_desc = f"{self.store_url} (REDIS_URL/REDIS_ADDR)"
            self._check_store()
            return
        from boltq_local.valkey import ValkeyServer

        data = self.opts.data_dir or (self.template.path.parent / ".boltq" / "data")
        self.store = ValkeyServer(data_dir=data).start()
        self.store_url = self.store.url
        self.store_desc = (f"embedded Valkey at 127.0.0.1:{self.store.port}, "
                           f"append-only data in {data}")

    def _check_store(self) -> None:
        """A store of the developer's own: warn when its eviction policy can lose jobs."""
        from boltq_core.config import Settings
        from boltq_core.store.connect import connect, eviction_warning

        try:
            settings = Settings.from_env(self.shell, redis_url=self.store_url,
                                         store_retry_seconds=0.5)
            client = connect(settings)
        except Exception:
            return  # bad settings: the functions report them
        try:
            self.store_warning = eviction_warning(client)
        finally:
            client.close()

    def function_env(self, fn: Function) -> dict[str, str]:
        """The template's environment, shell overrides of the names it declares and of BoltQ's
        settings, then what makes the function talk to this runtime."""
        env = dict(fn.environment)
        for k in env:
            if k in self.shell:
                env[k] = self.shell[k]
        for k in PASS_THROUGH:
            if k in self.shell:
                env[k] = self.shell[k]
        env.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        if "POWERTOOLS_LOG_LEVEL" not in self.shell:
            env["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one line per invocation is ours
        local = f"http://127.0.0.1:{self.opts.api_port}"
        env.update({
            "REDIS_URL": self.store_url,
            "REDIS_AUTH_TOKEN": self.shell.get("REDIS_AUTH_TOKEN", "")
            if not self.store else "",
            "NUM_WORKERS": str(self.opts.num_workers),
            "WS_MANAGEMENT_ENDPOINT": local,
            "LAMBDA_ENDPOINT_URL": local,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "BOLTQ_LOCAL": "1",
        })
        env.pop("REDIS_ADDR", None)
        env.update(self.opts.env)
        return env

    def _cap(self, fn: Function) -> int:
        if fn.reserved_concurrency is not None:
            return max(1, fn.reserved_concurrency)
        if fn.logical_id in self._request_driven():
            return max(1, self.opts.request_concurrency)
        return self.opts.num_workers

    def _request_driven(self) -> set[str]:
        """The functions behind a REST route or a WebSocket route."""
        names = {r.function for r in self.template.routes}
        if self.template.websocket is not None:
            names.update(self.template.websocket.routes.values())
        return names

    async def start(self) -> None:
        await asyncio.to_thread(self._start_store)
        for fn in self.template.functions.values():
            pool = FunctionPool(fn, self.function_env(fn), self._cap(fn), self._log_invocation)
            pool.on_lost = self._free_worker_slot
            self.pools[fn.logical_id] = pool
        app = web.Application(client_max_size=10 * 1024 * 1024)
        if self.template.websocket is not None:
            self.ws = WebSocketGateway(self.template.websocket, self._invoke)
            app.router.add_get("/ws", self.ws.handle)
            for prefix in ("", "/{stage}"):
                app.router.add_route("*", prefix + "/@connections/{conn_id}", self.ws.manage)
        app.router.add_post(INVOKE_PATH, InvokeApi(self.pools).handle)
        app.router.add_get("/_boltq/functions", self._functions)
        # [\s\S]: a path with a newline (%0A) is still the API's (aiohttp's own 404 otherwise)
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._rest)
        metrics = web.Application()
        metrics.router.add_get("/metrics", self._metrics)
        metrics.router.add_get("/", self._metrics)
        self._metrics_registry = self._make_metrics_registry()
        for a, port in ((app, self.opts.api_port), (metrics, self.opts.metrics_port)):
            runner = web.AppRunner(a, access_log=None, handle_signals=False,
                                   shutdown_timeout=2.0)
            await runner.setup()
            await web.TCPSite(runner, self.opts.host, port, reuse_address=True).start()
            self.runners.append(runner)
        warm = [p for name, p in self.pools.items()
                if any(name.lower().startswith(w) for w in WARM)]
        await asyncio.gather(*(p.warm(1) for p in warm))
        self.scheduler = Scheduler(self.template.schedules, self.pools, self.opts.schedule_speed)
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler:
            await self.scheduler.stop()
        if self.ws:
            await self.ws.close_all()
        await asyncio.gather(*(p.close() for p in self.pools.values()))
        for r in self.runners:
            with contextlib.suppress(Exception):
                await r.cleanup()
        if self.store is not None:
            await asyncio.to_thread(self.store.stop)

    # --- requests ----------------------------------------------------------------------------

    async def _invoke(self, function: str, event: dict[str, Any], label: str) -> Result:
        return await self.pools[function].invoke(event, "RequestResponse", label)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        cors = rest.cors_headers(self.template.cors)
        if request.method == "OPTIONS" and self.template.cors and self.routes.methods_for(path):
            return web.Response(status=200, headers=cors)
        c, params, known = self.routes.find(request.method, path)
        if c is None:
            if request.method in ("GET", "HEAD") and not path.startswith("/api/"):
                page = self._playground(path)
                if page is not None:
                    return page
            if known:
                allowed = ", ".join(self.routes.methods_for(path))
                return rest.envelope_error(405, f"method {request.method} is not allowed on "
                                                f"{path} (allowed: {allowed})",
                                           headers={"Allow": allowed})
            return rest.envelope_error(404, f"no route for {request.method} {path}")
        key = self.function_env_key(c.route.function, "BOLTQ_API_KEY")
        if c.route.api_key_required and key and not rest.api_key_ok(request, key):
            status = 401 if not request.headers.get("x-api-key") else 403
            return rest.envelope_error(status, "missing or invalid API key (x-api-key)",
                                       headers=cors)
        event = await rest.build_event(request, c, params, self.template.rest_stage)
        res = await self.pools[c.route.function].invoke(
            event, "RequestResponse", f"{request.method} {request.path_qs}")
        if not res.ok:
            return rest.envelope_error(502, f"Internal server error: {res.error_type}: "
                                            f"{(res.payload or {}).get('errorMessage')}")
        resp = rest.to_response(res.payload)
        for k, v in cors.items():
            if k == "Access-Control-Allow-Origin" and k not in resp.headers:
                resp.headers[k] = v
        return resp

    def function_env_key(self, function: str, name: str) -> str:
        return self.pools[function].env.get(name, "")

    def _playground(self, path: str) -> web.StreamResponse | None:
        dist = self.opts.playground or (self.template.path.parent / "playground" / "dist")
        if dist.is_dir() and (dist / "index.html").exists():
            target = (dist / path.lstrip("/")).resolve()
            if not target.is_relative_to(dist.resolve()) or not target.is_file():
                target = dist / "index.html"  # single-page app: every page is index.html
            ctype = mimetypes.guess_type(str(target))[0] or "application/octet-stream"
            return web.FileResponse(target, headers={"Content-Type": ctype})
        if path in ("/", "/index.html"):
            return web.Response(text=self._home_page(), content_type="text/html")
        return None

    def _home_page(self) -> str:
        links = "".join(f'<li><a href="{u}">{t}</a></li>' for t, u in (
            ("API docs (Swagger UI)", "/api/v1/docs"),
            ("OpenAPI document", "/api/v1/openapi.json"),
            ("Health", "/health"),
            ("Queue statistics", "/api/v1/queues/stats"),
            ("Metrics", f"http://localhost:{self.opts.metrics_port}/metrics"),
            ("Local functions", "/_boltq/functions"),
        ))
        return ("<!doctype html><meta charset=utf-8><title>BoltQ dev</title>"
                "<h1>BoltQ local runtime</h1><p>The playground is not built "
                "(<code>cd playground &amp;&amp; npm install &amp;&amp; npm run build</code>)."
                f"</p><ul>{links}</ul><p>WebSocket: <code>ws://localhost:"
                f"{self.opts.api_port}/ws</code></p>")

    async def _functions(self, request: web.Request) -> web.Response:
        return web.json_response({"functions": [p.describe() for p in self.pools.values()],
                                  "store": self.store_desc})

    # --- metrics -----------------------------------------------------------------------------

    def _make_metrics_registry(self) -> Any:
        from prometheus_client import CollectorRegistry

        from boltq_core.config import Settings
        from boltq_core.jobs.queue import Queue
        from boltq_core.observability.prometheus_collector import QueueCollector

        api = next(iter(self.pools.values()))
        self._metrics_queue = Queue(Settings.from_env(api.env))
        registry = CollectorRegistry()
        registry.register(QueueCollector(self._metrics_queue))
        return registry

    def _free_worker_slot(self, event: Any) -> None:
        """A worker invocation the poller started (it carries a fleet token) died with its
        container: give its slot back at once, as its own `finally` would have, instead of
        holding it until the invocation's deadline (up to the worker's 900 s timeout)."""
        if isinstance(event, dict) and event.get("source") == "boltq.poller" and event.get(
                "token"):
            from boltq_core.duties.fleet import Fleet

            q = self._metrics_queue
            Fleet(q.redis, q.keys).leave(str(event["token"]))

    async def _metrics(self, request: web.Request) -> web.Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        try:
            body = await asyncio.to_thread(generate_latest, self._metrics_registry)
        except Exception as exc:
            return web.Response(status=503, text=f"# store unreachable: {exc}\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    # --- output ------------------------------------------------------------------------------

    def _log_invocation(self, function: str, kind: str, res: Result, label: Any) -> None:
        self.invocations += 1
        rest_call = isinstance(label, str) and label[:1].isupper() and " /" in label
        if self.opts.quiet and rest_call and res.ok:
            return
        if rest_call and res.ok and isinstance(res.payload, dict):
            outcome = str(res.payload.get("statusCode"))
        elif res.ok:
            text = json.dumps(res.payload, separators=(",", ":"), default=str)
            outcome = "ok " + (text if len(text) <= 120 else text[:117] + "...")
        else:
            outcome = f"ERROR {res.error_type}: {(res.payload or {}).get('errorMessage')}"
        what = label or kind
        print(f"{_now()} {function:<17} {what} -> {outcome} ({res.duration_ms:.1f} ms, "
              f"pid {res.container_pid})", flush=True)

    def banner(self) -> str:
        h, p = "localhost", self.opts.api_port
        t = self.template
        key = "x-api-key required (BOLTQ_API_KEY)" if self.shell.get("BOLTQ_API_KEY") else (
            "no API key (set BOLTQ_API_KEY to require one)")
        dist = self.opts.playground or (t.path.parent / "playground" / "dist")
        play = "" if (dist / "index.html").exists() else "  (not built: a page of links)"
        lines = [
            f"BoltQ dev: {t.path} - {len(t.functions)} functions, {len(t.routes)} REST routes,"
            f" {len(t.schedules)} schedules,"
            f" {len(t.websocket.routes) if t.websocket else 0} WebSocket routes",
            f"  REST API      http://{h}:{p}/api/v1   ({key})",
            f"  WebSocket     ws://{h}:{p}/ws",
            f"  @connections  http://{h}:{p}/@connections/{{connection_id}}",
            f"  Lambda API    http://{h}:{p}/2015-03-31/functions/{{name}}/invocations",
            f"  Playground    http://{h}:{p}/{play}",
            f"  API docs      http://{h}:{p}/api/v1/docs   "
            f"(OpenAPI: http://{h}:{p}/api/v1/openapi.json)",
            f"  Metrics       http://{h}:{self.opts.metrics_port}/metrics",
            f"  Store         {self.store_desc}",
            "  Functions     " + ", ".join(
                f"{f.logical_id} ({f.timeout:g} s, max {self.pools[f.logical_id].cap})"
                for f in t.functions.values()),
        ]
        if t.schedules:
            speed = (f" (x{self.opts.schedule_speed:g})" if self.opts.schedule_speed != 1
                     else "")
            lines.append("  Schedules     " + ", ".join(
                f"{s.function} {s.expression}" for s in t.schedules if s.enabled) + speed)
        if self.store_warning:
            lines.append(f"  WARNING       {self.store_warning}")
        lines.append("Ready. Ctrl-C to stop.")
        return "\n".join(lines)


async def serve(opts: Options) -> int:
    server = DevServer(opts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    print(server.banner(), flush=True)
    await stop.wait()
    print(f"{_now()} stopping: containers get SIGTERM, jobs cut short run again after their "
          "lease", flush=True)
    await server.stop()
    print(f"{_now()} stopped", flush=True)
    return 0


def run(opts: Options) -> int:
    try:
        return asyncio.run(serve(opts))
    except OSError as exc:
        print(f"boltq dev: {exc}", file=sys.stderr)
        return 1
