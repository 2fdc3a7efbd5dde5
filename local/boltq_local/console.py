"""What `boltq dev` prints: the banner with every address, and one line per invocation."""

from __future__ import annotations

import json
import time
from typing import Any

from boltq_local.lambda_host import Result


def now() -> str:
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


class InvocationLog:
    """One line per invocation (REST calls that went well only when not `quiet`)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.count = 0

    def __call__(self, function: str, kind: str, res: Result, label: Any) -> None:
        self.count += 1
        rest_call = isinstance(label, str) and label[:1].isupper() and " /" in label
        if self.quiet and rest_call and res.ok:
            return
        if rest_call and res.ok and isinstance(res.payload, dict):
            outcome = str(res.payload.get("statusCode"))
        elif res.ok:
            text = json.dumps(res.payload, separators=(",", ":"), default=str)
            outcome = "ok " + (text if len(text) <= 120 else text[:117] + "...")
        else:
            outcome = f"ERROR {res.error_type}: {(res.payload or {}).get('errorMessage')}"
        print(f"{now()} {function:<17} {label or kind} -> {outcome} ({res.duration_ms:.1f} ms, "
              f"pid {res.container_pid})", flush=True)


def banner(t: Any, *, api_port: int, metrics_port: int, api_key: bool, playground_built: bool,
           store: str, store_warning: str | None, caps: dict[str, int],
           schedule_speed: float, credentials_file: str = "") -> str:
    h, p = "localhost", api_port
    key = ("x-api-key required: BOLTQ_API_KEY or a `boltq keys create` key" if api_key
           else "no API key (set BOLTQ_API_KEY to turn access control on)")
    play = "" if playground_built else "  (not built: a page of links)"
    lines = [
        f"BoltQ dev: {t.path} - {len(t.functions)} functions, {len(t.routes)} REST routes,"
        f" {len(t.schedules)} schedules,"
        f" {len(t.websocket.routes) if t.websocket else 0} WebSocket routes",
        f"  REST API      http://{h}:{p}/api/v1   ({key})",
        f"  WebSocket     ws://{h}:{p}/ws",
        f"  @connections  http://{h}:{p}/@connections/{{connection_id}}   (SigV4 only)",
        f"  Lambda API    http://{h}:{p}/2015-03-31/functions/{{name}}/invocations"
        "   (SigV4 only)",
        f"  Credentials   {credentials_file}   (the functions' own; random per run)",
        f"  Playground    http://{h}:{p}/{play}",
        f"  API docs      http://{h}:{p}/api/v1/docs   "
        f"(OpenAPI: http://{h}:{p}/api/v1/openapi.json)",
        f"  Metrics       http://{h}:{metrics_port}/metrics",
        f"  Store         {store}",
        "  Functions     " + ", ".join(
            f"{f.logical_id} ({f.timeout:g} s, max {caps[f.logical_id]})"
            for f in t.functions.values()),
    ]
    if t.schedules:
        speed = f" (x{schedule_speed:g})" if schedule_speed != 1 else ""
        lines.append("  Schedules     " + ", ".join(
            f"{s.function} {s.expression}" for s in t.schedules if s.enabled) + speed)
    if store_warning:
        lines.append(f"  WARNING       {store_warning}")
    lines.append("Ready. Ctrl-C to stop.")
    return "\n".join(lines)
