"""Named queues through `boltq dev` end to end: the CLI submits into queues, pauses and resumes
one while the others drain, lists them; a subscriber follows a named queue's job over the
WebSocket API; groups and their limits through the CLI (a group name with a '/' goes as %2F
through boltq dev's router)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.local.conftest import DevProcess, job_status, submit, wait_job, wait_until
from tests.local.test_runtime import boltq

pytestmark = pytest.mark.slow


def test_queues_through_the_cli(dev: DevProcess) -> None:
    r = boltq(dev, "queue", "pause", "cli-held")
    assert r.returncode == 0 and "paused" in r.stdout, r.stderr
    r = boltq(dev, "submit", "echo", "--queue", "cli-held", "--json")
    assert r.returncode == 0, r.stderr
    held = json.loads(r.stdout)["job_id"]
    assert held.startswith("cli-held:")
    r = boltq(dev, "submit", "echo", "--queue", "cli-free", "--watch", "--interval", "0.1")
    assert r.returncode == 0 and "completed" in r.stdout, r.stderr
    assert job_status(dev, held)["status"] == "pending"
    r = boltq(dev, "queues", "--json")
    queues = {q["name"]: q for q in json.loads(r.stdout)["queues"]}
    assert queues["cli-held"]["paused"] is True and queues["cli-held"]["pending"] == 1
    assert queues["cli-free"]["paused"] is False
    r = boltq(dev, "queues")
    assert r.returncode == 0 and "cli-held" in r.stdout and "yes" in r.stdout
    r = boltq(dev, "queue", "resume", "cli-held")
    assert r.returncode == 0 and "running" in r.stdout
    wait_job(dev, held)
    r = boltq(dev, "queue", "pause", "no spaces")
    assert r.returncode == 1 and "400" in r.stderr


def test_a_queues_max_workers_through_the_cli(dev: DevProcess) -> None:
    r = boltq(dev, "queue", "set", "cli-capped", "--max-workers", "2")
    assert r.returncode == 0 and "max_workers 2" in r.stdout, r.stderr
    r = boltq(dev, "queue", "show", "cli-capped", "--json")
    assert json.loads(r.stdout)["settings"] == {"max_workers": 2}
    r = boltq(dev, "queue", "show", "cli-capped")
    assert r.returncode == 0 and "max_workers: 2" in r.stdout
    r = boltq(dev, "queue", "set", "cli-capped", "--max-workers", "none", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["settings"] == {"max_workers": None}
    r = boltq(dev, "queue", "set", "cli-capped", "--max-workers", "0")
    assert r.returncode == 1 and "400" in r.stderr and "max_workers" in r.stderr
    r = boltq(dev, "queue", "set", "cli-capped", "--max-workers", "many")
    assert r.returncode == 2 and "--max-workers" in r.stderr
    r = boltq(dev, "queue", "set", "cli-capped")
    assert r.returncode == 2 and "--max-workers" in r.stderr


def test_dlq_requeue_all_and_purge_through_the_cli_take_a_queue(dev: DevProcess) -> None:
    dead = [submit(dev, {"type": "no-such-type", "queue": q, "max_attempts": 1})
            for q in ("cli-dead", "default")]
    for job_id in dead:
        wait_job(dev, job_id, "failed")
    r = boltq(dev, "dlq", "requeue", "--queue", "cli-dead")
    assert r.returncode == 0 and "requeued 1" in r.stdout, r.stderr
    wait_job(dev, dead[0], "failed")
    assert job_status(dev, dead[1])["status"] == "failed"
    r = boltq(dev, "dlq", "purge", "--queue", "cli-dead")
    assert r.returncode == 0 and "purged 1" in r.stdout, r.stderr
    r = boltq(dev, "dlq", "list", "--json")
    assert dead[1] in [j["id"] for j in json.loads(r.stdout)["items"]]


def test_a_named_queues_job_is_pushed_to_its_subscriber(dev: DevProcess) -> None:
    async def main() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as s, s.ws_connect(dev.ws_url) as ws:
            job_id = submit(dev, {"type": "sleep", "queue": "ws-q",
                                  "data": {"seconds": 0.2}, "delay_seconds": 0.5})
            await ws.send_json({"action": "subscribe", "job_id": job_id})
            assert (await ws.receive_json(timeout=10))["type"] == "subscribed"
            got: list[dict[str, Any]] = []
            while not any(m.get("status") == "completed" for m in got):
                got.append(await ws.receive_json(timeout=15))
            return got

    statuses = [m["status"] for m in asyncio.run(main()) if m.get("type") == "job_update"]
    assert "running" in statuses and statuses[-1] == "completed"


def test_a_workflow_with_steps_in_other_queues_through_boltq_dev(dev: DevProcess) -> None:
    """The promoter function relays between the queues: each step runs in its own queue and
    hands its result on; the workflow and its steps read back with their queues."""
    status, body, _ = dev.call("POST", "/api/v1/workflows", {
        "name": "spread", "queue": "wf-home", "steps": [
            {"id": "fetch", "job_type": "echo", "params": {"url": "u"}, "queue": "wf-io"},
            {"id": "crunch", "job_type": "echo", "depends_on": ["fetch"], "queue": "wf-cpu"},
            {"id": "store", "job_type": "echo", "depends_on": ["crunch"]},
        ]})
    assert status == 200, body
    wf_id = body["data"]["workflow_id"]

    def finished() -> dict[str, Any] | None:
        got = dev.call("GET", f"/api/v1/workflows/{wf_id}")[1]["data"]
        return got if got["status"] != "running" else None

    got = wait_until(finished, 30)
    assert got["status"] == "completed", got
    assert [s["queue"] for s in got["steps"]] == ["wf-io", "wf-cpu", "wf-home"]
    crunch = job_status(dev, got["steps"][1]["job_id"])
    assert crunch["queue"] == "wf-cpu" and crunch["workflow_id"] == wf_id
    names = {q["name"] for q in dev.call("GET", "/api/v1/queues")[1]["data"]["queues"]}
    assert {"wf-home", "wf-io", "wf-cpu"} <= names
    status, body, _ = dev.call("POST", "/api/v1/workflows", {
        "name": "bad", "steps": [{"job_type": "echo", "queue": "no spaces"}]})
    assert status == 400 and "steps.0.queue" in body["error"], body


def test_groups_and_limits_through_the_cli(dev: DevProcess) -> None:
    q = "cli-groups"
    assert boltq(dev, "queue", "pause", q).returncode == 0  # its jobs stay ready
    for group in ("team/a", "team/a", "b@x"):
        r = boltq(dev, "submit", "echo", "--queue", q, "--group", group, "--json")
        assert r.returncode == 0, r.stderr
    job_id = json.loads(r.stdout)["job_id"]
    r = boltq(dev, "status", job_id)
    assert r.returncode == 0 and "b@x" in r.stdout, r.stdout

    r = boltq(dev, "limits", q, "--concurrency", "2", "--rate", "10/60")
    assert r.returncode == 0 and "concurrency 2, rate 10/60s" in r.stdout, r.stderr
    r = boltq(dev, "limits", q, "--rate", "none")  # the concurrency stays
    assert r.returncode == 0 and r.stdout.strip() == f"queue {q}: concurrency 2", r.stdout
    r = boltq(dev, "limits", q)
    assert r.returncode == 0 and r.stdout.strip() == f"queue {q}: concurrency 2"
    r = boltq(dev, "limits", q, "--group", "team/a", "--rate", "5/1.5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "group team/a: concurrency 2, rate 5/1.5s"  # from the default
    r = boltq(dev, "limits", q, "--group", "team/a", "--concurrency", "none")
    assert r.stdout.strip() == "group team/a: rate 5/1.5s", r.stdout  # its own rate stays

    r = boltq(dev, "groups", q, "--json")
    assert r.returncode == 0, r.stderr
    page = {g["name"]: g for g in json.loads(r.stdout)["items"]}
    assert page["team/a"]["ready"] == 2 and page["team/a"]["own_limits"] is True
    assert page["team/a"]["limits"] == {"group_concurrency": None,
                                        "group_rate": {"max": 5, "per_seconds": 1.5}}
    assert page["b@x"]["limits"] == {"group_concurrency": 2, "group_rate": None}
    r = boltq(dev, "groups", q)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["group", "ready", "running", "limited", "until", "limits"]
    assert lines[2].split() == ["b@x", "1", "0", "concurrency", "2"]
    assert lines[3].split() == ["team/a", "2", "0", "rate", "5/1.5s", "(own)"]

    r = boltq(dev, "limits", q, "--group", "team/a", "--clear")
    assert r.returncode == 0 and "the queue's default: concurrency 2" in r.stdout, r.stdout
    page = {g["name"]: g for g in json.loads(boltq(dev, "groups", q, "--json").stdout)["items"]}
    assert page["team/a"]["own_limits"] is False
    assert page["team/a"]["limits"] == {"group_concurrency": 2, "group_rate": None}

    r = boltq(dev, "limits", "cli-new", "--group", "g", "--rate", "1/1")  # a queue yet unknown
    assert r.returncode == 0 and r.stdout.strip() == "group g: rate 1/1s", r.stderr
    r = boltq(dev, "limits", q, "--rate", "ten")
    assert r.returncode == 2 and "MAX/SECONDS" in r.stderr
    r = boltq(dev, "limits", q, "--clear")
    assert r.returncode == 1 and "--group" in r.stderr
    r = boltq(dev, "limits", q, "--concurrency", "0")
    assert r.returncode == 1 and "400" in r.stderr and "group_concurrency" in r.stderr
    r = boltq(dev, "limits", q, "--group", "a b", "--concurrency", "1")
    assert r.returncode == 1 and "400" in r.stderr and "group" in r.stderr
    r = boltq(dev, "submit", "echo", "--group", "no spaces")
    assert r.returncode == 1 and "400" in r.stderr and "group" in r.stderr
    assert boltq(dev, "queue", "resume", q).returncode == 0
    wait_job(dev, job_id)
