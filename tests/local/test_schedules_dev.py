"""Schedules (SPEC §12) end to end through `boltq dev` and the `boltq schedules` command: an
every-second schedule's jobs are pending within 1 s of their time and run; list, pause,
trigger, resume, delete; a bad cron is refused naming the field; and a `boltq dev` stopped for
a few seconds and started again follows the schedule's catch_up (which of `one` and `skip`
makes the latest missed occurrence is tests/core/test_schedules.py's)."""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.local.conftest import FAST_ENV, ROOT, DevProcess, wait_job, wait_until

pytestmark = pytest.mark.slow


def boltq(d: DevProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "boltq_local.cli", "schedules", *args,
                           "--url", d.url], capture_output=True, text=True, timeout=60, cwd=ROOT)


def schedule(d: DevProcess, name: str) -> dict[str, Any]:
    status, body, _ = d.call("GET", f"/api/v1/schedules/{name}")
    assert status == 200, body
    return dict(body["data"])


def t(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_an_every_second_schedule_through_the_cli(dev: DevProcess) -> None:
    r = boltq(dev, "create", "tick", "--every", "1", "--type", "echo", "--data",
              '{"message": "tick"}', "--catch-up", "skip")
    assert r.returncode == 0, r.stderr
    assert "next_run_at" in r.stdout
    wait_until(lambda: len(schedule(dev, "tick")["recent"]) >= 3, timeout=10)
    r = boltq(dev, "list")
    assert r.returncode == 0, r.stderr
    assert "tick" in r.stdout and "every 1 s" in r.stdout and "echo" in r.stdout
    recent = schedule(dev, "tick")["recent"]
    times = [t(o["scheduled_for"]) for o in reversed(recent)]
    assert all(round(b - a, 3) == 1.0 for a, b in itertools.pairwise(times)), times
    for o in recent[:3]:
        job = wait_job(dev, o["job_id"])  # it ran
        assert job["schedule"] == "tick" and job["scheduled_for"] == o["scheduled_for"]
        late = t(job["created_at"]) - t(o["scheduled_for"])
        assert 0 <= late < 1.0, (late, job)  # pending within 1 s of its time

    r = boltq(dev, "pause", "tick")
    assert r.returncode == 0 and "paused" in r.stdout, r.stderr
    made = schedule(dev, "tick")["runs"]
    time.sleep(2.2)
    assert schedule(dev, "tick")["runs"] == made  # no occurrence while paused
    r = boltq(dev, "trigger", "tick", "--json")
    assert r.returncode == 0, r.stderr
    wait_job(dev, json.loads(r.stdout)["job_id"])
    r = boltq(dev, "resume", "tick")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: schedule(dev, "tick")["runs"] > made, timeout=5)
    r = boltq(dev, "show", "tick")
    assert r.returncode == 0 and "trigger" in r.stdout, r.stdout
    r = boltq(dev, "delete", "tick")
    assert r.returncode == 0, r.stderr
    r = boltq(dev, "show", "tick")
    assert r.returncode == 1 and "HTTP 404" in r.stderr and "'tick' not found" in r.stderr


def test_a_schedule_in_a_named_queue_runs_there(dev: DevProcess) -> None:
    r = boltq(dev, "create", "rep", "--every", "1", "--type", "echo", "--queue", "cli-reports")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: len(schedule(dev, "rep")["recent"]) >= 1, timeout=10)
    job = wait_job(dev, schedule(dev, "rep")["recent"][-1]["job_id"])  # made and run there
    assert job["queue"] == "cli-reports" and job["id"].startswith("cli-reports:")
    r = boltq(dev, "list")
    assert r.returncode == 0 and "cli-reports" in r.stdout, r.stdout
    r = boltq(dev, "create", "rep", "--every", "1", "--type", "echo", "--queue", "bad queue")
    assert r.returncode == 1 and "HTTP 400: job.queue:" in r.stderr, r.stderr
    r = boltq(dev, "delete", "rep")
    assert r.returncode == 0, r.stderr


def test_bad_input_through_the_cli_names_the_field(dev: DevProcess) -> None:
    r = boltq(dev, "create", "bad", "--cron", "99 * * * *", "--type", "echo")
    assert r.returncode == 1 and "HTTP 400: cron:" in r.stderr, r.stderr
    r = boltq(dev, "create", "bad", "--cron", "0 3 * * *", "--timezone", "Nowhere/Land",
              "--type", "echo")
    assert r.returncode == 1 and "HTTP 400: timezone:" in r.stderr, r.stderr
    r = boltq(dev, "create", "bad", "--every", "5")
    assert r.returncode == 1 and "HTTP 400: job.type:" in r.stderr, r.stderr
    r = boltq(dev, "create")
    assert r.returncode == 1 and "give the schedule's name" in r.stderr, r.stderr


def test_a_restart_follows_catch_up(tmp_path: Path) -> None:
    d = DevProcess(tmp_path / "data", env=FAST_ENV)
    d.start()
    try:
        for name, catch_up in (("one", "one"), ("all", "all"), ("skip", "skip")):
            status, body, _ = d.call("POST", "/api/v1/schedules", {
                "name": name, "every_seconds": 1, "catch_up": catch_up,
                "job": {"type": "echo"}})
            assert status == 200, body
        wait_until(lambda: all(schedule(d, n)["runs"] >= 1 for n in ("one", "all", "skip")),
                   timeout=10)
        d.stop()  # nothing runs for 8 s and more (SCHEDULE_GRACE_SECONDS is 5)
        time.sleep(8)
        d.start()
        wait_until(lambda: schedule(d, "skip")["runs"] >= 4, timeout=30)  # promoting again
        gaps = {}
        for name in ("one", "all", "skip"):
            times = [t(o["scheduled_for"]) for o in reversed(schedule(d, name)["recent"])]
            gaps[name] = max(round(b - a, 3) for a, b in itertools.pairwise(times))
        # all: every occurrence of the downtime made (the list is consecutive seconds);
        # one: only the latest of them; skip: none but one on time (inside the grace)
        assert gaps["all"] == 1.0, gaps
        assert gaps["one"] >= 7 and gaps["skip"] >= 7, gaps
        assert schedule(d, "one")["runs"] + 5 < schedule(d, "all")["runs"]
    finally:
        with contextlib.suppress(Exception):
            d.stop()
