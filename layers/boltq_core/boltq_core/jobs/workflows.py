"""Workflows (SPEC §3): validate a DAG of steps, store it, and read it back. Steps advance
inside the Redis scripts (lua/includes/workflow.lua) as their jobs finish."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from boltq_core.errors import Conflict, InvalidInput, NotFound
from boltq_core.jobs.calls import check_page, invalid
from boltq_core.jobs.models import GROUP_PATTERN, JOB_TYPE_PATTERN, PriorityField, encode_data
from boltq_core.jobs.queue import Page, Queue
from boltq_core.keys import DEFAULT_QUEUE, QUEUE_PATTERN, in_queue, queue_of
from boltq_core.timefmt import iso

MAX_STEPS = 200


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str | None = Field(None, min_length=1, max_length=128)
    job_type: str = Field(min_length=1, max_length=128, pattern=JOB_TYPE_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    priority: PriorityField = 1
    max_attempts: int | None = Field(None, ge=1, le=100)
    timeout_seconds: int | None = Field(None, ge=1)
    group: str | None = Field(None, pattern=GROUP_PATTERN)
    # None: the workflow's queue; another queue's steps go there through the relay (jobs.relay)
    queue: str | None = Field(None, pattern=QUEUE_PATTERN)


class WorkflowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=200)
    # where the workflow is stored and advances, and where its steps run unless they name one
    queue: str = Field(DEFAULT_QUEUE, pattern=QUEUE_PATTERN)
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)
    metadata: dict[str, Any] = Field(default_factory=dict)


def validate_steps(spec: WorkflowSpec) -> tuple[list[str], dict[str, list[str]]]:
    """Step ids (a missing id is step-N, 1-based) and each step's children. Raises InvalidInput
    naming the step for duplicate ids, unknown references and cycles."""
    ids: list[str] = []
    for i, step in enumerate(spec.steps):
        sid = step.id or f"step-{i + 1}"
        if sid in ids:
            raise InvalidInput(
                f"steps[{i}].id: duplicate step id {sid!r}", [{"field": f"steps[{i}].id"}]
            )
        ids.append(sid)
    known = set(ids)
    children: dict[str, list[str]] = {sid: [] for sid in ids}
    for i, step in enumerate(spec.steps):
        seen: set[str] = set()
        for dep in step.depends_on:
            if dep not in known:
                raise InvalidInput(
                    f"steps[{i}].depends_on: step {ids[i]!r} depends on unknown step {dep!r}",
                    [{"field": f"steps[{i}].depends_on", "step": ids[i]}],
                )
            if dep == ids[i]:
                raise InvalidInput(
                    f"steps[{i}].depends_on: step {dep!r} depends on itself",
                    [{"field": f"steps[{i}].depends_on", "step": dep}],
                )
            if dep in seen:
                # a repeat would leave the step waiting for a parent that completes once
                raise InvalidInput(
                    f"steps[{i}].depends_on: step {ids[i]!r} lists {dep!r} more than once",
                    [{"field": f"steps[{i}].depends_on", "step": ids[i]}],
                )
            seen.add(dep)
            children[dep].append(ids[i])
    cycle = _find_cycle(ids, children)
    if cycle:
        path = " -> ".join([*cycle, cycle[0]])
        raise InvalidInput(
            f"steps: dependency cycle {path}", [{"field": "steps", "steps": cycle}]
        )
    return ids, children


def _find_cycle(ids: list[str], children: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = dict.fromkeys(ids, 0)  # 0 new, 1 on the path, 2 done
    for root in ids:
        if state[root]:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            kids = children[node]
            if i < len(kids):
                stack.append((node, i + 1))
                kid = kids[i]
                if state[kid] == 1:
                    return path[path.index(kid) :]
                if state[kid] == 0:
                    stack.append((kid, 0))
            else:
                state[node] = 2
                path.pop()
    return None


class Workflows:
    """Submit, read, list, cancel and delete the workflows of one queue; a workflow named by
    id is found in its own queue."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self.keys = queue.keys

    def _of(self, wf_id: str) -> Workflows:
        q = self.queue.holding(wf_id)
        return self if q is self.queue else Workflows(q)

    def submit(self, body: WorkflowSpec | dict[str, Any], trace: str | None = None) -> str:
        try:
            spec = body if isinstance(body, WorkflowSpec) else WorkflowSpec.model_validate(body)
        except ValidationError as exc:
            raise invalid(exc) from None
        ids, children = validate_steps(spec)
        if spec.queue != self.queue.name:
            return Workflows(self.queue.of(spec.queue)).submit(spec, trace)
        s = self.queue.settings
        wf_id = in_queue(spec.queue, str(uuid.uuid4()))
        args: list[Any] = [
            wf_id,
            spec.name,
            encode_data(spec.metadata, s.max_payload_bytes, "metadata"),
            trace or "",
            len(ids),
        ]
        for i, (sid, step) in enumerate(zip(ids, spec.steps, strict=True)):
            timeout = s.job_timeout(step.timeout_seconds, f"steps[{i}].timeout_seconds")
            args += [
                sid,
                in_queue(step.queue or spec.queue, str(uuid.uuid4())),
                step.job_type,
                encode_data(step.params, s.max_payload_bytes, f"steps[{i}].params"),
                step.priority,
                step.max_attempts or s.max_attempts,
                timeout,
                json.dumps(step.depends_on),
                json.dumps(children[sid]),
                step.group or "",
            ]
        for name in {spec.queue, *(step.queue for step in spec.steps if step.queue)}:
            if name != DEFAULT_QUEUE:  # known before a job of it exists: workers serve it
                self.queue.of(name).register()
        ns = self.queue.calls
        self.queue.run(ns.call("workflow_submit", [self.keys.workflow(wf_id)], args))
        return wf_id

    def get(self, wf_id: str) -> dict[str, Any]:
        if (other := self._of(wf_id)) is not self:
            return other.get(wf_id)
        h = self.queue.read(lambda: self.queue.redis.hgetall(self.keys.workflow(wf_id)),
                            "workflow")
        if not h:
            raise NotFound(f"workflow {wf_id!r} not found")
        step_ids = json.loads(h["steps"])

        def read_steps() -> list[Any]:
            pipe = self.queue.redis.pipeline(transaction=False)
            for sid in step_ids:
                job_id = h[f"s:{sid}:job"]
                pipe.hmget(
                    self.queue.holding(job_id).keys.job(job_id),
                    "status", "result", "err_cat", "err_msg", "attempts", "started", "finished",
                )
            return list(pipe.execute())

        rows = self.queue.read(read_steps, "workflow steps")
        steps = []
        counts: dict[str, int] = {}
        for sid, row in zip(step_ids, rows, strict=True):
            state = h[f"s:{sid}:state"]
            status, result, cat, msg, attempts, started, finished = row
            if state in ("waiting", "skipped") or status is None:
                status = state
                if state == "released":  # gone, or in another queue and not delivered yet
                    status = "pending" if h["status"] == "running" else "cancelled"
            counts[status] = counts.get(status, 0) + 1
            steps.append(
                {
                    "id": sid,
                    "job_type": h[f"s:{sid}:type"],
                    "params": json.loads(h[f"s:{sid}:params"]),
                    "depends_on": json.loads(h[f"s:{sid}:deps"]),
                    "job_id": h[f"s:{sid}:job"],
                    "queue": queue_of(h[f"s:{sid}:job"]),
                    "status": status,
                    "attempts": int(attempts or 0),
                    "result": json.loads(result) if result else None,
                    "error": {"category": cat, "message": msg} if cat else None,
                    "started_at": iso(started),
                    "finished_at": iso(finished),
                }
            )
        return {**_summary(h), "steps": steps, "step_counts": counts}

    def list(self, limit: int = 50, cursor: str | None = None) -> Page:
        """Workflows, newest first; `cursor` continues below the last one returned."""
        check_page(limit, cursor)
        top = f"({cursor}" if cursor else "+inf"
        r = self.queue.redis

        def read() -> tuple[list[Any], list[Any]]:
            entries = r.zrange(
                self.keys.workflows, top, "-inf", byscore=True, desc=True, offset=0, num=limit,
                withscores=True,
            )
            pipe = r.pipeline(transaction=False)
            for wf_id, _ in entries:
                pipe.hmget(self.keys.workflow(wf_id), *_SUMMARY_FIELDS)
            return entries, pipe.execute()

        entries, rows = self.queue.read(read, "workflows")
        items = [
            _summary(dict(zip(_SUMMARY_FIELDS, row, strict=True)))
            for row in rows
            if row[0] is not None
        ]
        next_cursor = str(int(entries[-1][1])) if len(entries) == limit else None
        return Page(items, next_cursor)

    def cancel(self, wf_id: str) -> str:
        if (other := self._of(wf_id)) is not self:
            return other.cancel(wf_id)
        status, changed = self.queue.run(
            self.queue.calls.call("workflow_cancel", [self.keys.workflow(wf_id)], [wf_id, "0"])
        )
        if status == "missing":
            raise NotFound(f"workflow {wf_id!r} not found")
        if not int(changed) and status != "cancelled":
            raise Conflict(f"workflow {wf_id!r} is already {status}")
        return status

    def delete(self, wf_id: str) -> None:
        if (other := self._of(wf_id)) is not self:
            return other.delete(wf_id)
        status, _ = self.queue.run(
            self.queue.calls.call("workflow_cancel", [self.keys.workflow(wf_id)], [wf_id, "1"])
        )
        if status == "missing":
            raise NotFound(f"workflow {wf_id!r} not found")


_SUMMARY_FIELDS = ("id", "name", "status", "created", "finished", "metadata", "total", "done")




def _summary(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": h["id"],
        "name": h["name"],
        "queue": queue_of(h["id"]),
        "status": h["status"],
        "created_at": iso(h["created"]),
        "finished_at": iso(h.get("finished")),
        "metadata": json.loads(h["metadata"]) if h.get("metadata") else {},
        "total_steps": int(h["total"]),
        "completed_steps": int(h["done"]),
    }
