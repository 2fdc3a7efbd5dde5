"""End to end: the built playground served by a real `boltq dev`, driven in headless Chromium by
playwright-core (playground/e2e/run.mjs holds the steps and assertions). Screenshots of every
page go to test-artifacts/playground/."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import FAST_ENV, DevProcess
from tests.playground.conftest import ARTIFACTS, PLAYGROUND

PAGES = ["submit", "job-completed", "job-cancelled", "jobs", "workflow", "workflows",
         "dead-letters", "queues", "settings"]


@pytest.fixture
def served(dist: Path, tmp_path: Path) -> Iterator[DevProcess]:
    d = DevProcess(tmp_path / "data", env=FAST_ENV, args=["--no-build-playground", "--quiet"])
    d.start()
    try:
        yield d
    finally:
        with contextlib.suppress(Exception):
            d.stop()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_playground_end_to_end(served: DevProcess, chromium: str) -> None:
    status, body, headers = served.call("GET", "/")
    assert status == 200 and "BoltQ playground" in str(body), body
    for name in PAGES:
        (ARTIFACTS / f"{name}.png").unlink(missing_ok=True)
    (ARTIFACTS / "failure.png").unlink(missing_ok=True)
    # its own process group, so a timeout takes chromium down with node
    proc = subprocess.Popen(["node", "e2e/run.mjs", served.url, str(ARTIFACTS)], cwd=PLAYGROUND,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CHROMIUM": chromium}, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of it may outlive the test
    log = "\n".join(served.lines[-40:])
    assert proc.returncode == 0, f"e2e failed:\n{out}\n{err}\n--- boltq dev ---\n{log}"
    assert "e2e: all passed" in out
    for name in PAGES:
        shot = ARTIFACTS / f"{name}.png"
        assert shot.is_file() and shot.stat().st_size > 1000, shot
