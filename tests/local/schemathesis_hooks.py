"""schemathesis hooks for the contract test (SCHEMATHESIS_HOOKS=tests.local.schemathesis_hooks).

Two rules of the API cannot be said in JSON Schema, so a request that the schema allows can still
be refused with a 400 for them; the hook repairs schema-valid (positive) requests before they are
sent, keeping them schema-valid, so positive_data_acceptance checks everything else:

- a workflow's `depends_on` must name steps of the same workflow, without a cycle, and step ids
  must be unique: the steps get a chain of dependencies on earlier steps;
- `run_at` must be at most 366 days ahead (like delay_seconds): it is moved into that window;
- a schedule has exactly one of `cron` and `every_seconds`, a cron expression croniter takes,
  a time zone zoneinfo knows and `end_at` after `start_at`: a valid expression, zone and window
  are put in.

Negative (schema-violating) requests are sent as generated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis


def _repair_workflow(body: dict[str, Any]) -> None:
    steps = body.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        return
    ids: list[str] = []
    for i, step in enumerate(steps):
        sid = step.get("id") if isinstance(step.get("id"), str) else None
        if sid is None or sid in ids or sid in {f"step-{j + 1}" for j in range(len(steps))}:
            step.pop("id", None)  # a missing id is step-N: unique by position
            sid = f"step-{i + 1}"
        ids.append(sid)
    for i, step in enumerate(steps):
        if "depends_on" in step:
            step["depends_on"] = [ids[i - 1]] if i and step["depends_on"] else []


def _repair_run_at(job: Any) -> None:
    if isinstance(job, dict) and isinstance(job.get("run_at"), str):
        job["run_at"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def _repair_schedule(body: dict[str, Any]) -> None:
    if isinstance(body.get("every_seconds"), int) and not isinstance(body.get("cron"), str):
        body.pop("cron", None)
    else:
        body.pop("every_seconds", None)
        body["cron"] = "*/5 * * * *"
    if isinstance(body.get("timezone"), str):
        body["timezone"] = "Europe/Berlin"
    now = datetime.now(UTC)
    for name, ahead in (("start_at", timedelta(hours=1)), ("end_at", timedelta(days=2))):
        if isinstance(body.get(name), str):
            body[name] = (now + ahead).isoformat()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    path, method = case.operation.path, case.method.upper()
    if method != "POST":
        return
    if path == "/api/v1/workflows":
        _repair_workflow(case.body)
    elif path == "/api/v1/jobs":
        _repair_run_at(case.body)
    elif path == "/api/v1/schedules":
        _repair_schedule(case.body)
    elif path == "/api/v1/jobs/batch" and isinstance(case.body.get("jobs"), list):
        for job in case.body["jobs"]:
            _repair_run_at(job)
