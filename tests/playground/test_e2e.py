"""End to end: the built playground served by a real `boltq dev`, driven in headless Chromium by
playwright-core (playground/e2e/run.mjs holds the steps and assertions). Screenshots of every
page go to test-artifacts/playground/."""

from __future__ import annotations

import pytest

from tests.local.conftest import DevProcess
from tests.playground.conftest import ARTIFACTS, node_e2e

PAGES = ["submit", "job-completed", "job-cancelled", "jobs", "workflow", "workflows",
         "dead-letters", "queues", "settings"]



@pytest.mark.slow
@pytest.mark.timeout(900)
def test_playground_end_to_end(served: DevProcess, chromium: str) -> None:
    status, body, _ = served.call("GET", "/")
    assert status == 200 and "BoltQ playground" in str(body), body
    for name in PAGES:
        (ARTIFACTS / f"{name}.png").unlink(missing_ok=True)
    (ARTIFACTS / "failure.png").unlink(missing_ok=True)
    code, out, err = node_e2e("run.mjs", served.url, str(ARTIFACTS), chromium=chromium,
                              timeout=600)
    log = "\n".join(served.lines[-40:])
    assert code == 0, f"e2e failed:\n{out}\n{err}\n--- boltq dev ---\n{log}"
    assert "e2e: all passed" in out
    for name in PAGES:
        shot = ARTIFACTS / f"{name}.png"
        assert shot.is_file() and shot.stat().st_size > 1000, shot
