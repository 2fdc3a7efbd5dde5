"""`boltq dev`: the whole stack of template.yaml on one machine, no Docker, no AWS account.

It starts (or connects to) the store (local_store), runs every function of the template in
warm local containers (lambda_host) with the environment it would have (environment), and
serves on API_PORT: the REST routes (rest), the WebSocket API and its @connections endpoint
(websocket), the Lambda Invoke API (invoke) and the playground (static_site); on METRICS_PORT,
/metrics. The schedules run at their rates (schedules); console prints the banner and a line
per invocation. Ctrl-C stops everything: containers get SIGTERM (handlers unwind, locks and
worker slots are released), a job cut short runs again when its lease expires."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from boltq_local import rest
from boltq_local.authorizers import AuthorizerGate
from boltq_local.console import InvocationLog, banner, now
from boltq_local.environment import function_env
from boltq_local.gate import Gate
from boltq_local.invoke import PATH as INVOKE_PATH
from boltq_local.invoke import InvokeApi
from boltq_local.lambda_host import FunctionPool, Result
from boltq_local.local_store import LocalStore
from boltq_local.schedules import Scheduler
from boltq_local.signing import LocalCredentials
from boltq_local.static_site import StaticSite
from boltq_local.template import Function, Template, load
from boltq_local.websocket import WebSocketGateway

LOCAL_PARAMETERS = {"Environment": "development"}  # parameter defaults for a laptop
WARM = ("api", "ws", "authorizer")  # functions whose first container starts with `boltq dev`


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
    # --env KEY=VALUE, wins over all but the AWS credentials (those the local APIs accept)
    env: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    playground: Path | None = None
    # Host names (beyond localhost/127.0.0.1/[::1]) requests may name (--allowed-host)
    allowed_hosts: list[str] = field(default_factory=list)


def default_request_concurrency() -> int:
    """Two containers per core (at least 4): enough to overlap each one's store round trips;
    10 on 2 cores measured 25% fewer submits/s than 4 (processes evicting each other's caches)."""
    return max(4, 2 * (os.cpu_count() or 1))


class DevServer:
    """The stack of one template: the store, a pool of warm containers per function, the
    HTTP/WebSocket front (REST, WebSocket + @connections, Lambda Invoke API, the site) on
    API_PORT, /metrics on METRICS_PORT, and the schedules."""

    def __init__(self, opts: Options, shell_env: dict[str, str] | None = None) -> None:
        self.opts = opts
        self.shell = dict(os.environ if shell_env is None else shell_env)
        # browsers may reach it only from the playground's origin (this server) or origins the
        # developer allowed in CORS_ALLOW_ORIGINS (e.g. a Vite dev server)
        self.gate = Gate(opts.api_port, opts.allowed_hosts,
                         self.shell.get("CORS_ALLOW_ORIGINS", "").split(","))
        self.cors_origins = ",".join(sorted(self.gate.origins))
        self.template: Template = load(opts.template, {
            **LOCAL_PARAMETERS, "CorsAllowOrigin": self.gate.playground_origin,
            **opts.parameters})
        # what its functions sign their Invoke and @connections calls with (random per run)
        self.credentials = LocalCredentials.generate()
        data_dir = opts.data_dir or self.template.path.parent / ".boltq" / "data"
        self.credentials_file = data_dir / "lambda-credentials.json"
        self.store = LocalStore(opts.redis_url or self.shell.get("REDIS_URL"),
                                self.shell.get("REDIS_ADDR"),
                                data_dir)
        self.site = StaticSite(opts.playground or self.template.path.parent / "playground"
                               / "dist", opts.api_port, opts.metrics_port)
        self.log = InvocationLog(opts.quiet)
        self.pools: dict[str, FunctionPool] = {}
        self.scheduler: Scheduler | None = None
        self.runners: list[web.AppRunner] = []
        self.ws: WebSocketGateway | None = None
        self.queue: Any = None  # boltq_core Queue on the functions' namespace (metrics, fleet)

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
        await asyncio.to_thread(self.store.start, self.shell)
        for fn in self.template.functions.values():
            env = function_env(fn, self.shell, store_url=self.store.url,
                               embedded=self.store.embedded, api_port=self.opts.api_port,
                               num_workers=self.opts.num_workers, overrides=self.opts.env,
                               credentials=self.credentials.environment(),
                               cors_origins=self.cors_origins)
            pool = FunctionPool(fn, env, self._cap(fn), self.log)
            pool.on_lost = self._free_worker_slot
            self.pools[fn.logical_id] = pool
        self.queue = self._namespace_queue()
        await asyncio.to_thread(self.credentials.write, self.credentials_file)
        app = web.Application(client_max_size=10 * 1024 * 1024,
                              middlewares=[self.gate.middleware])
        auth = AuthorizerGate(self._invoke, lambda fn: self.pools[fn].env)
        if self.template.websocket is not None:
            self.ws = WebSocketGateway(self.template.websocket, self._invoke, self.credentials,
                                       auth)
            app.router.add_get("/ws", self.ws.handle)
            for prefix in ("", "/{stage}"):
                app.router.add_route("*", prefix + "/@connections/{conn_id}", self.ws.manage)
        app.router.add_post(INVOKE_PATH, InvokeApi(self.pools, self.credentials).handle)
        app.router.add_get("/_boltq/functions", self._functions)
        # [\s\S]: a path with a newline (%0A) is still the API's (aiohttp's own 404 otherwise)
        app.router.add_route("*", r"/{tail:[\s\S]*}",
                             rest.RestGateway(self.template, self.pools, self.site,
                                               self.gate.origin_allowed, auth).handle)
        metrics = web.Application(middlewares=[Gate(self.opts.metrics_port,
                                                    self.opts.allowed_hosts).middleware])
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
        await asyncio.to_thread(self.store.stop)

    # --- requests ----------------------------------------------------------------------------

    async def _invoke(self, function: str, event: dict[str, Any], label: str) -> Result:
        return await self.pools[function].invoke(event, "RequestResponse", label)

    async def _functions(self, request: web.Request) -> web.Response:
        return web.json_response({"functions": [p.describe() for p in self.pools.values()],
                                  "store": self.store.description})

    # --- the namespace: metrics, fleet slots ----------------------------------------------------

    def _namespace_queue(self) -> Any:
        from boltq_core.config import Settings
        from boltq_core.jobs.queue import Queue

        return Queue(Settings.from_env(next(iter(self.pools.values())).env))

    def _make_metrics_registry(self) -> Any:
        from prometheus_client import CollectorRegistry

        from boltq_core.observability.prometheus_collector import QueueCollector

        registry = CollectorRegistry()
        registry.register(QueueCollector(self.queue))
        return registry

    def _free_worker_slot(self, event: Any) -> None:
        """A worker invocation the poller started (it carries a fleet token) died with its
        container: give its slot back at once, as its own `finally` would have, instead of
        holding it until the invocation's deadline (up to the worker's 900 s timeout)."""
        if isinstance(event, dict) and event.get("source") == "boltq.poller" and event.get(
                "token"):
            from boltq_core.duties.fleet import Fleet

            Fleet(self.queue.redis, self.queue.keys).leave(str(event["token"]))

    async def _metrics(self, request: web.Request) -> web.Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        try:
            body = await asyncio.to_thread(generate_latest, self._metrics_registry)
        except Exception as exc:
            return web.Response(status=503, text=f"# store unreachable: {exc}\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def banner(self) -> str:
        return banner(self.template, api_port=self.opts.api_port,
                      metrics_port=self.opts.metrics_port,
                      api_key=bool(self.shell.get("BOLTQ_API_KEY")),
                      playground_built=self.site.built, store=self.store.description,
                      store_warning=self.store.warning,
                      caps={n: p.cap for n, p in self.pools.items()},
                      schedule_speed=self.opts.schedule_speed,
                      credentials_file=str(self.credentials_file))


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
    print(f"{now()} stopping: containers get SIGTERM, jobs cut short run again after their "
          "lease", flush=True)
    await server.stop()
    print(f"{now()} stopped", flush=True)
    return 0


def run(opts: Options) -> int:
    try:
        return asyncio.run(serve(opts))
    except OSError as exc:
        print(f"boltq dev: {exc}", file=sys.stderr)
        return 1
