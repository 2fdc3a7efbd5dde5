"""The `boltq` command: `boltq dev` (the local runtime) and a small client of the REST API:
submit, status [--watch], stats, queues, queue show|pause|resume|set, groups QUEUE,
limits QUEUE [--group G], dlq list|requeue|purge, workflow submit FILE, keys create|list|revoke;
schedules list|show|create|delete|pause|resume|trigger (boltq_local.schedule_cli).

The client talks to --url (BOLTQ_URL, default http://localhost:8080; an AWS stage URL works
too) with --api-key (BOLTQ_API_KEY) sent as x-api-key."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from boltq_local.live import ws_url_for

END_STATES = ("completed", "failed", "cancelled")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("x-api-key", self.api_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
                msg = payload.get("error") or payload.get("message") or raw.decode()
            except (ValueError, AttributeError):
                msg = raw.decode(errors="replace") or exc.reason
            raise ApiError(exc.code, f"HTTP {exc.code}: {msg}") from None
        except urllib.error.URLError as exc:
            raise ApiError(0, f"cannot reach {self.url}: {exc.reason} "
                              "(is `boltq dev` running? see --url)") from None
        if isinstance(payload, dict) and "success" in payload:
            if not payload["success"]:
                raise ApiError(200, str(payload.get("error")))
            return payload.get("data")
        return payload


# --- output ------------------------------------------------------------------------------------


def table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r]
                                           for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = ["  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells[1:]]
    return "\n".join(line.rstrip() for line in out)


def short(value: Any, n: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= n else text[: n - 3] + "..."


def job_table(job: dict[str, Any]) -> str:
    keys = ("id", "type", "status", "priority", "group", "attempts", "max_attempts", "created_at",
            "scheduled_at", "started_at", "finished_at", "workflow_id", "step_id", "progress",
            "result", "last_error")
    rows = [[k, short(job[k], 90)] for k in keys if job.get(k) not in (None, "")]
    return table(rows, ["field", "value"])


def progress_bar(job: dict[str, Any], width: int = 24) -> str:
    p = job.get("progress")
    frac = None
    if isinstance(p, int | float):
        frac = p / 100 if p > 1 else p
    elif isinstance(p, dict):
        for k in ("percent", "pct"):
            if isinstance(p.get(k), int | float):
                frac = p[k] / 100
        if frac is None and isinstance(p.get("done"), int | float) and p.get("total"):
            frac = p["done"] / p["total"]
    if job.get("status") == "completed":
        frac = 1.0
    if frac is None:
        return ""
    frac = max(0.0, min(1.0, float(frac)))
    filled = int(frac * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}%"


# --- commands ----------------------------------------------------------------------------------


def cmd_submit(c: Client, a: argparse.Namespace) -> int:
    try:
        data = json.loads(a.data)
    except ValueError as exc:
        raise ApiError(0, f"--data: not valid JSON ({exc})") from None
    body: dict[str, Any] = {"type": a.type, "data": data}
    if a.queue:
        body["queue"] = a.queue
    if a.group:
        body["group"] = a.group
    if a.priority is not None:
        body["priority"] = int(a.priority) if a.priority.isdigit() else a.priority
    if a.delay is not None:
        body["delay_seconds"] = a.delay
    if a.max_attempts is not None:
        body["max_attempts"] = a.max_attempts
    if a.timeout is not None:
        body["timeout_seconds"] = a.timeout
    if a.idempotency_key:
        body["idempotency_key"] = a.idempotency_key
    out = c.call("POST", "/api/v1/jobs", body)
    if a.json:
        print(json.dumps(out))
    else:
        print(table([[out["job_id"], out["status"]]], ["job_id", "status"]))
    if a.watch:
        return watch(c, out["job_id"], a.interval, a.ws_url or ws_url_for(c.url))
    return 0


def watch(c: Client, job_id: str, interval: float, ws_url: str | None = None) -> int:
    """Print the job on every change until it ends: pushed over the WebSocket (with a ticket)
    when one is reachable, read every `interval` otherwise."""
    from boltq_local.live import JobChanges

    changes = JobChanges(c, ws_url, job_id).start() if ws_url else None
    try:
        return _watch(c, job_id, interval, changes)
    finally:
        if changes is not None:
            changes.stop()


def _watch(c: Client, job_id: str, interval: float, changes: Any) -> int:
    last = None
    tty = sys.stdout.isatty()
    while True:
        job = c.call("GET", f"/api/v1/jobs/{job_id}")
        line = f"{time.strftime('%H:%M:%S')}  {job_id}  {job['status']:<10} {progress_bar(job)}"
        if line.split("  ", 1)[1] != last:
            if tty:
                print("\r" + line.ljust(80), end="\n" if job["status"] != last else "",
                      flush=True)
            else:
                print(line, flush=True)
            last = line.split("  ", 1)[1]
        if job["status"] in END_STATES:
            print(job_table(job))
            return 0 if job["status"] == "completed" else 2
        if changes is not None:  # a change is pushed: wake for it, read now and then anyway
            changes.changed.wait(max(interval, 5.0) if changes.live.is_set() else interval)
            changes.changed.clear()
        else:
            time.sleep(interval)


def cmd_status(c: Client, a: argparse.Namespace) -> int:
    if a.watch:
        return watch(c, a.id, a.interval, a.ws_url or ws_url_for(c.url))
    job = c.call("GET", f"/api/v1/jobs/{a.id}")
    print(json.dumps(job, indent=2) if a.json else job_table(job))
    return 0


def cmd_stats(c: Client, a: argparse.Namespace) -> int:
    s = c.call("GET", "/api/v1/queues/stats")
    if a.json:
        print(json.dumps(s, indent=2))
        return 0
    depth = [[k, v] for k, v in (s.get("pending") or {}).items()]
    depth += [[k, s.get(k)] for k in ("scheduled", "running", "retrying", "dead_letter")]
    print(table(depth, ["queue", "jobs"]))
    print()
    print(table([[k, v] for k, v in (s.get("totals") or {}).items()], ["total", "count"]))
    by_type = s.get("by_type") or {}
    if by_type:
        cols = sorted({k for row in by_type.values() for k in row})
        print()
        print(table([[t, *[row.get(k, 0) for k in cols]] for t, row in sorted(by_type.items())],
                    ["type", *cols]))
    return 0


QUEUE_COLUMNS = ("paused", "pending", "running", "scheduled", "retrying", "dead_letter")


def cmd_queues(c: Client, a: argparse.Namespace) -> int:
    out = c.call("GET", "/api/v1/queues")
    if a.json:
        print(json.dumps(out, indent=2))
        return 0
    rows = [[q["name"], *("yes" if q[k] is True else "" if q[k] is False else q[k]
                          for k in QUEUE_COLUMNS)] for q in out["queues"]]
    print(table(rows, ["queue", *QUEUE_COLUMNS]))
    return 0


def cmd_queue(c: Client, a: argparse.Namespace) -> int:
    name = urllib.parse.quote(a.name, safe="")
    if a.action == "show":
        q = c.call("GET", f"/api/v1/queues/{name}")
        if a.json:
            print(json.dumps(q, indent=2))
        else:
            print(table([[q["name"], *(q[k] for k in QUEUE_COLUMNS)]], ["queue", *QUEUE_COLUMNS]))
            most = (q.get("settings") or {}).get("max_workers")
            print(f"max_workers: {'none' if most is None else most}")
        return 0
    if a.action == "set":
        if a.max_workers is NOT_GIVEN:
            print("boltq queue set: give --max-workers N (or none)", file=sys.stderr)
            return 2
        out = c.call("PUT", f"/api/v1/queues/{name}/settings", {"max_workers": a.max_workers})
        if a.json:
            print(json.dumps(out, indent=2))
        else:
            most = out["settings"]["max_workers"]
            print(f"queue {out['queue']}: max_workers {'none' if most is None else most}")
        return 0
    out = c.call("POST", f"/api/v1/queues/{name}/{a.action}")
    print(f"queue {out['queue']}: {'paused' if out['paused'] else 'running'}")
    return 0


def limits_text(limits: dict[str, Any] | None) -> str:
    """A group's limits in one cell: "concurrency 3, rate 10/60s", or "none"."""
    if not limits:
        return "none"
    parts = []
    if limits.get("group_concurrency") is not None:
        parts.append(f"concurrency {limits['group_concurrency']}")
    rate = limits.get("group_rate")
    if rate:
        parts.append(f"rate {rate['max']}/{rate['per_seconds']:g}s")
    return ", ".join(parts) or "none"


def cmd_groups(c: Client, a: argparse.Namespace) -> int:
    name = urllib.parse.quote(a.queue, safe="")
    query = {"limit": a.limit, **({"cursor": a.cursor} if a.cursor else {})}
    out = c.call("GET", f"/api/v1/queues/{name}/groups?{urllib.parse.urlencode(query)}")
    if a.json:
        print(json.dumps(out, indent=2))
        return 0
    rows = []
    for g in out["items"]:
        until = g["limited_until"] or ("a running job ends" if g["limited"] else "")
        own = " (own)" if g["own_limits"] else ""
        rows.append([g["name"], g["ready"], g["running"], until, limits_text(g["limits"]) + own])
    print(table(rows, ["group", "ready", "running", "limited until", "limits"]))
    if out.get("next_cursor"):
        print(f"more: --cursor {out['next_cursor']}")
    return 0


_KEEP: Any = object()  # an option left out: its value stays as it is


def concurrency_arg(text: str) -> int | None:
    """--concurrency N, or none (no such limit)."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number or none: {text!r}") from None


def rate_arg(text: str) -> dict[str, Any] | None:
    """--rate MAX/SECONDS (e.g. 10/60, 5/1.5), or none (no such limit)."""
    if text.strip().lower() == "none":
        return None
    most, sep, per = text.partition("/")
    try:
        if not sep:
            raise ValueError
        return {"max": int(most), "per_seconds": float(per)}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not MAX/SECONDS (e.g. 10/60) or none: {text!r}") from None


def cmd_limits(c: Client, a: argparse.Namespace) -> int:
    """The queue's default limits, or (--group) one group's own; --clear gives the group back
    to the queue's default. An option left out keeps what applies now (a group without limits
    of its own starts from the default); both left out shows them."""
    queue = urllib.parse.quote(a.queue, safe="")
    given = {k: v for k, v in (("group_concurrency", a.concurrency), ("group_rate", a.rate))
             if v is not _KEEP}
    if a.group is None:
        who, path = f"queue {a.queue}", f"/api/v1/queues/{queue}/limits"
    else:
        who = f"group {a.group}"
        path = f"/api/v1/queues/{queue}/groups/{urllib.parse.quote(a.group, safe='')}/limits"
    if a.clear:
        if a.group is None or given:
            raise ApiError(0, "--clear takes --group, and neither --concurrency nor --rate")
        out = c.call("DELETE", path)
        default = limits_text(out["limits"])
        return _print_limits(a, out, f"{who}: no limits of its own (the queue's default: "
                                     f"{default})")
    current = None if len(given) == 2 else _current_limits(c, a.queue, a.group)
    if not given:
        print(json.dumps(current, indent=2) if a.json else f"{who}: {limits_text(current)}")
        return 0
    body = {"group_concurrency": None, "group_rate": None, **(current or {}), **given}
    out = c.call("PUT", path, body)
    return _print_limits(a, out, f"{who}: {limits_text(out['limits'])}")


def _current_limits(c: Client, queue: str, group: str | None) -> dict[str, Any] | None:
    """The limits that apply now: the queue's default, or those of a group (its own, else the
    default); None: none."""
    q = urllib.parse.quote(queue, safe="")
    try:
        return _applied(c, q, group)
    except ApiError as exc:
        if exc.status == 404:  # a queue no job was submitted to yet has no limits
            return None
        raise


def _applied(c: Client, q: str, group: str | None) -> dict[str, Any] | None:
    if group is not None:
        cursor = None
        while True:  # a group with limits of its own is always in the list
            query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = c.call("GET", f"/api/v1/queues/{q}/groups?{urllib.parse.urlencode(query)}")
            for g in page["items"]:
                if g["name"] == group:
                    return g["limits"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return c.call("GET", f"/api/v1/queues/{q}")["limits"]


def _print_limits(a: argparse.Namespace, out: dict[str, Any], text: str) -> int:
    print(json.dumps(out) if a.json else text)
    return 0


def cmd_dlq(c: Client, a: argparse.Namespace) -> int:
    if a.action == "list":
        query = urllib.parse.urlencode({"limit": a.limit, "queue": a.queue})
        page = c.call("GET", f"/api/v1/dlq?{query}")
        jobs = page.get("jobs") or page.get("items") or []
        if a.json:
            print(json.dumps(page, indent=2))
            return 0
        rows = [[j["id"], j["type"], j.get("attempts"), j.get("finished_at"),
                 short((j.get("last_error") or {}).get("message", ""), 50)] for j in jobs]
        print(table(rows, ["id", "type", "attempts", "failed_at", "last error"]))
        if page.get("next_cursor"):
            print(f"(more: {page['next_cursor']})")
        return 0
    of_queue = urllib.parse.urlencode({"queue": a.queue})
    if a.action == "requeue":
        if a.ids:
            out = c.call("POST", "/api/v1/dlq/requeue", {"job_ids": a.ids})
        else:
            out = c.call("POST", f"/api/v1/dlq/requeue?{of_queue}", {})
        print(f"requeued {out['requeued']}")
        return 0
    out = c.call("DELETE", f"/api/v1/dlq?{of_queue}")
    print(f"purged {out['purged']}")
    return 0


def cmd_keys(c: Client, a: argparse.Namespace) -> int:
    """API keys (an admin key's work): the store keeps their hashes, so a key is shown once."""
    if a.action == "create":
        if not a.name or not a.scope:
            raise ApiError(0, "keys create NAME --scope submit|read|admin")
        out = c.call("POST", "/api/v1/keys", {"name": a.name, "scope": a.scope})
        if a.json:
            print(json.dumps(out))
            return 0
        print(table([[out["name"], out["scope"], out["key_id"]]], ["name", "scope", "key_id"]))
        print(f"\nkey (shown this once; send it as x-api-key): {out['key']}")
        return 0
    if a.action == "revoke":
        if not a.name:
            raise ApiError(0, "keys revoke NAME")
        c.call("DELETE", f"/api/v1/keys/{urllib.parse.quote(a.name, safe='')}")
        print(f"revoked {a.name}")
        return 0
    items = c.call("GET", "/api/v1/keys")["items"]
    if a.json:
        print(json.dumps(items, indent=2))
        return 0
    print(table([[k["name"], k["scope"], k["prefix"] + "...", k["created_at"]] for k in items],
                ["name", "scope", "key", "created_at"]))
    return 0


def cmd_workflow(c: Client, a: argparse.Namespace) -> int:
    if a.action == "submit":
        try:
            spec = json.loads(Path(a.target).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ApiError(0, f"{a.target}: {exc}") from None
        out = c.call("POST", "/api/v1/workflows", spec)
        print(table([[out["workflow_id"]]], ["workflow_id"]))
        if not a.watch:
            return 0
        a.target = out["workflow_id"]
    while True:
        wf = c.call("GET", f"/api/v1/workflows/{a.target}")
        if not a.watch or wf.get("status") in (*END_STATES, "skipped"):
            break
        time.sleep(a.interval)
    if a.json:
        print(json.dumps(wf, indent=2))
        return 0
    print(f"workflow {wf.get('id')} {wf.get('name', '')}: {wf.get('status')}")
    steps = wf.get("steps") or []
    rows = [[s.get("id"), s.get("job_type"), s.get("status"), ",".join(s.get("depends_on") or []),
             s.get("job_id"), short(s.get("result"), 40) if s.get("result") is not None else ""]
            for s in steps]
    print(table(rows, ["step", "type", "status", "depends_on", "job_id", "result"]))
    return 0


def cmd_dev(a: argparse.Namespace) -> int:
    from boltq_local.dev import Options, default_request_concurrency, run

    template = Path(a.template) if a.template else find_template()
    if template is None or not template.exists():
        print("boltq dev: no template.yaml here or above (use --template)", file=sys.stderr)
        return 1
    if not a.no_build_playground:
        build_playground(template.parent / "playground")
    opts = Options(
        template=template,
        host=a.host,
        api_port=a.api_port,
        metrics_port=a.metrics_port,
        data_dir=Path(a.data_dir) if a.data_dir else None,
        redis_url=a.redis_url,
        num_workers=a.num_workers,
        request_concurrency=a.concurrency or default_request_concurrency(),
        schedule_speed=a.schedule_speed,
        parameters=pairs(a.parameter_overrides, "--parameter-overrides"),
        env=pairs(a.env, "--env"),
        quiet=a.quiet,
        allowed_hosts=a.allowed_host,
    )
    return run(opts)


def build_playground(folder: Path) -> None:
    """Build playground/dist once when the playground exists, is not built and npm is here."""
    import shutil
    import subprocess

    npm = shutil.which("npm")
    if not (folder / "package.json").exists() or (folder / "dist" / "index.html").exists():
        return
    if npm is None:
        print("boltq dev: npm not found; serving a page of links instead of the playground",
              file=sys.stderr)
        return
    print(f"==> building the playground ({folder})", flush=True)
    for step in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
        if subprocess.run([npm, *step], cwd=folder).returncode != 0:
            print(f"boltq dev: `npm {' '.join(step)}` failed; serving without the playground",
                  file=sys.stderr)
            return


NOT_GIVEN = object()  # --max-workers left out (None is "none": no cap)


def max_workers_arg(text: str) -> int | None:
    """--max-workers: a number, or "none" (no cap of its own); the API checks the range."""
    if text.strip().lower() in ("none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number or none, not {text!r}") from None


def pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise SystemExit(f"{flag}: expected KEY=VALUE, got {item!r}")
        out[k] = v
    return out


def find_template() -> Path | None:
    here = Path.cwd()
    for d in (here, *here.parents):
        if (d / "template.yaml").exists():
            return d / "template.yaml"
    return None


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip().isdigit() else default


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="boltq", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dev", help="run template.yaml locally (no Docker, no AWS account)")
    d.add_argument("--template", help="the SAM template (default: template.yaml here or above)")
    d.add_argument("--host", default="localhost", help="address to bind (default localhost)")
    d.add_argument("--api-port", type=int, default=_env_int("API_PORT", 8080))
    d.add_argument("--metrics-port", type=int, default=_env_int("METRICS_PORT", 9090))
    d.add_argument("--data-dir", default=os.environ.get("BOLTQ_DATA_DIR"),
                   help="where the embedded Valkey keeps its data (default .boltq/data)")
    d.add_argument("--redis-url", help="use this store instead of the embedded one "
                                       "(also REDIS_URL / REDIS_ADDR)")
    d.add_argument("--concurrency", type=int,
                   default=_env_int("BOLTQ_DEV_CONCURRENCY", 0) or None,
                   help="containers a function serving REST/WebSocket requests may run at once "
                        "(unless the template reserves its concurrency); default: two per core, "
                        "at least 4 (BOLTQ_DEV_CONCURRENCY)")
    d.add_argument("--num-workers", type=int, default=_env_int("NUM_WORKERS", 4),
                   help="most worker processes at once (NUM_WORKERS, default 4)")
    d.add_argument("--schedule-speed", type=float, default=1.0,
                   help="run the template's schedules this many times faster")
    d.add_argument("--parameter-overrides", nargs="*", metavar="NAME=VALUE",
                   help="template parameter values")
    d.add_argument("--env", action="append", metavar="KEY=VALUE",
                   help="set an environment variable in every function (repeatable)")
    d.add_argument("--quiet", action="store_true", help="no log line for successful REST calls")
    d.add_argument("--allowed-host", action="append", metavar="NAME[:PORT]",
                   default=[h for h in os.environ.get("BOLTQ_DEV_ALLOWED_HOSTS", "").split(",")
                            if h.strip()],
                   help="a Host name requests may use besides localhost, 127.0.0.1 and [::1] "
                        "(repeatable; BOLTQ_DEV_ALLOWED_HOSTS, comma-separated)")
    d.add_argument("--no-build-playground", action="store_true",
                   help="do not build playground/dist even when npm is available")

    def client(name: str, **kw: Any) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, **kw)
        sp.add_argument("--url", default=os.environ.get("BOLTQ_URL", "http://localhost:8080"))
        sp.add_argument("--api-key", default=os.environ.get("BOLTQ_API_KEY"))
        sp.add_argument("--json", action="store_true", help="print JSON instead of tables")
        sp.add_argument("--ws-url", default=os.environ.get("BOLTQ_WS_URL"),
                        help="the WebSocket URL for --watch (AWS: the WebSocketUrl output; "
                             "default: ws://HOST/ws of a local --url)")
        return sp

    s = client("submit", help="submit a job")
    s.add_argument("type")
    s.add_argument("--queue", help="the queue (default: default)")
    s.add_argument("--group", help="its group (fair share and limits: a tenant, a user, ...)")
    s.add_argument("--data", default="{}", help="the job's data as JSON")
    s.add_argument("--priority", help="high|normal|low or 0|1|2")
    s.add_argument("--delay", type=float, help="seconds before it may start")
    s.add_argument("--max-attempts", type=int)
    s.add_argument("--timeout", type=int, help="timeout_seconds")
    s.add_argument("--idempotency-key")
    s.add_argument("--watch", action="store_true", help="then watch it until it ends")
    s.add_argument("--interval", type=float, default=0.5)

    st = client("status", help="show a job")
    st.add_argument("id")
    st.add_argument("--watch", action="store_true", help="follow it until it ends")
    st.add_argument("--interval", type=float, default=0.5)

    client("stats", help="queue depths and totals")
    client("queues", help="every queue with its depths and whether it is paused")
    qu = client("queue", help="show, pause, resume or set a queue")
    qu.add_argument("action", choices=["show", "pause", "resume", "set"])
    qu.add_argument("name")
    qu.add_argument("--max-workers", type=max_workers_arg, default=NOT_GIVEN, metavar="N|none",
                    help="set: the most workers the poller starts for this queue (none: no cap)")

    gr = client("groups", help="a queue's groups: ready, running, limited until, limits")
    gr.add_argument("queue")
    gr.add_argument("--limit", type=int, default=50)
    gr.add_argument("--cursor", help="the group the page before ended with")
    li = client("limits", help="show or set a queue's default group limits, or a group's own")
    li.add_argument("queue")
    li.add_argument("--group", help="set this group's own limits (they replace the default)")
    li.add_argument("--concurrency", type=concurrency_arg, default=_KEEP, metavar="N|none",
                    help="at most N jobs of a group running at once")
    li.add_argument("--rate", type=rate_arg, default=_KEEP, metavar="MAX/SECONDS|none",
                    help="at most MAX starts of a group in any SECONDS")
    li.add_argument("--clear", action="store_true",
                    help="with --group: drop its own limits (the queue's default applies)")

    q = client("dlq", help="the dead-letter queue")
    q.add_argument("action", choices=["list", "requeue", "purge"])
    q.add_argument("ids", nargs="*", help="requeue only these job ids")
    q.add_argument("--limit", type=int, default=50)
    q.add_argument("--queue", default="default",
                   help="list, requeue or purge this queue's (default: default)")

    w = client("workflow", help="submit or show a workflow")
    w.add_argument("action", choices=["submit", "status"])
    w.add_argument("target", help="a JSON file (submit) or a workflow id (status)")
    w.add_argument("--watch", action="store_true", help="wait until it ends")
    w.add_argument("--interval", type=float, default=0.5)

    k = client("keys", help="API keys: create NAME --scope S (shown once), list, revoke NAME")
    k.add_argument("action", choices=["create", "list", "revoke"])
    k.add_argument("name", nargs="?", help="the key's name (create, revoke)")
    k.add_argument("--scope", choices=["submit", "read", "admin"],
                   help="submit: submit and read back by id; read: every GET; admin: all")

    from boltq_local.playground import add_parser as add_playground
    from boltq_local.schedule_cli import add_parser as add_schedules

    add_playground(sub)
    add_schedules(client)
    return p


COMMANDS = {"submit": cmd_submit, "status": cmd_status, "stats": cmd_stats, "dlq": cmd_dlq,
            "workflow": cmd_workflow, "keys": cmd_keys, "queues": cmd_queues,
            "queue": cmd_queue, "groups": cmd_groups, "limits": cmd_limits}


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    if a.command == "dev":
        return cmd_dev(a)
    if a.command == "playground":
        from boltq_local.playground import cmd_playground

        return cmd_playground(a)
    if a.command == "schedules":
        from boltq_local.schedule_cli import cmd_schedules

        COMMANDS["schedules"] = cmd_schedules
    try:
        return COMMANDS[a.command](Client(a.url, a.api_key), a)
    except ApiError as exc:
        print(f"boltq {a.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
