"""`boltq schedules list|show|create|delete|pause|resume|trigger`: the schedule routes
(SPEC §12) from the command line, through the REST API like the other client commands."""

from __future__ import annotations

import argparse
import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from boltq_local.cli import Client, short, table

# a mistake on the command line ends the command with its message (exit status 1); `python -m
# boltq_local.cli` runs cli as __main__, so its ApiError is not the one this module would import
Usage = SystemExit

ACTIONS = ("list", "show", "create", "delete", "pause", "resume", "trigger")


def add_parser(client: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `schedules` command; `client` makes a subcommand with --url/--api-key/--json."""
    s = client("schedules", help="cron and repeatable jobs")
    s.add_argument("action", choices=ACTIONS)
    s.add_argument("name", nargs="?", help="the schedule (all but list)")
    s.add_argument("--cron", help="create: 5 fields, or 6 with seconds first")
    s.add_argument("--every", type=int, metavar="SECONDS", help="create: every N seconds")
    s.add_argument("--timezone", help="create: IANA time zone of --cron (default UTC)")
    s.add_argument("--type", help="create: the job's type")
    s.add_argument("--queue", help="create: the queue its jobs go to (default: default)")
    s.add_argument("--data", default="{}", help="create: the job's data as JSON")
    s.add_argument("--priority", help="create: high|normal|low or 0|1|2")
    s.add_argument("--max-attempts", type=int, help="create: the job's max_attempts")
    s.add_argument("--timeout", type=int, help="create: the job's timeout_seconds")
    s.add_argument("--start-at", help="create: ISO-8601, no occurrence before")
    s.add_argument("--end-at", help="create: ISO-8601, no occurrence after")
    s.add_argument("--max-runs", type=int, help="create: stop after this many")
    s.add_argument("--catch-up", choices=["skip", "one", "all"],
                   help="create: what missed occurrences become (default one)")
    s.add_argument("--file", help="create: the whole schedule as a JSON file (flags win)")
    s.add_argument("--limit", type=int, default=100, help="list: at most this many")


def _body(a: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if a.file:
        try:
            body = json.loads(Path(a.file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise Usage(f"boltq schedules: --file {a.file}: {exc}") from None
    body["name"] = a.name
    job = dict(body.get("job") or {})
    if a.type:
        job["type"] = a.type
    if a.queue:
        job["queue"] = a.queue
    if a.data != "{}" or "data" not in job:
        try:
            job["data"] = json.loads(a.data)
        except ValueError as exc:
            raise Usage(f"boltq schedules: --data: not valid JSON ({exc})") from None
    if a.priority is not None:
        job["priority"] = int(a.priority) if a.priority.isdigit() else a.priority
    for flag, field in (("max_attempts", "max_attempts"), ("timeout", "timeout_seconds")):
        if getattr(a, flag) is not None:
            job[field] = getattr(a, flag)
    body["job"] = job
    for flag, field in (("cron", "cron"), ("every", "every_seconds"), ("timezone", "timezone"),
                        ("start_at", "start_at"), ("end_at", "end_at"),
                        ("max_runs", "max_runs"), ("catch_up", "catch_up")):
        if getattr(a, flag) is not None:
            body[field] = getattr(a, flag)
    return body


def _when(s: dict[str, Any]) -> str:
    if s.get("cron"):
        tz = s.get("timezone") or "UTC"
        return f"cron {s['cron']}" + ("" if tz == "UTC" else f" ({tz})")
    return f"every {s.get('every_seconds')} s"


def cmd_schedules(c: Client, a: argparse.Namespace) -> int:
    if a.action != "list" and not a.name:
        raise Usage(f"boltq schedules {a.action}: give the schedule's name")
    path = "/api/v1/schedules"
    if a.name:
        item = f"{path}/{urllib.parse.quote(a.name, safe='')}"
    if a.action == "list":
        page = c.call("GET", f"{path}?limit={a.limit}")
        if a.json:
            print(json.dumps(page, indent=2))
            return 0
        rows = [[s["name"], _when(s), s["job"]["type"], s["job"].get("queue", "default"),
                 s.get("next_run_at") or "-", s.get("last_run_at") or "-", s["runs"],
                 "yes" if s["paused"] else "no"] for s in page["items"]]
        print(table(rows, ["name", "when", "job type", "queue", "next run", "last run", "runs",
                           "paused"]))
        return 0
    if a.action == "show":
        s = c.call("GET", item)
        if a.json:
            print(json.dumps(s, indent=2))
            return 0
        fields = [["name", s["name"]], ["when", _when(s)], ["job", short(s["job"], 90)],
                  ["catch_up", s["catch_up"]], ["paused", s["paused"]], ["runs", s["runs"]],
                  ["next_run_at", s.get("next_run_at") or "-"],
                  ["last_run_at", s.get("last_run_at") or "-"]]
        print(table(fields, ["field", "value"]))
        recent = [[o["scheduled_for"], o["job_id"], "trigger" if o["triggered"] else ""]
                  for o in s.get("recent") or []]
        if recent:
            print()
            print(table(recent, ["scheduled_for", "job_id", ""]))
        return 0
    if a.action == "create":
        out = c.call("POST", path, _body(a))
    elif a.action == "delete":
        out = c.call("DELETE", item)
    else:
        out = c.call("POST", f"{item}/{a.action}")
    if a.json:
        print(json.dumps(out))
    else:
        print(table([[k, v] for k, v in out.items()], ["field", "value"]))
    return 0
