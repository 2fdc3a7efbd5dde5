"""Named queues through `boltq dev` end to end: the CLI submits into queues, pauses and resumes
one while the others drain, lists them; a subscriber follows a named queue's job over the
WebSocket API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.local.conftest import DevProcess, job_status, submit, wait_job
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
