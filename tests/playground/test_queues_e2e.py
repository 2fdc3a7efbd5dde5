"""The playground's named queues end to end: the built playground served by a real
`boltq dev`, driven in headless Chromium (playground/e2e/queues.mjs holds the steps)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.local.conftest import FAST_ENV, DevProcess
from tests.playground.conftest import ARTIFACTS, PLAYGROUND


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_queues_page(dist: Path, chromium: str, tmp_path: Path) -> None:
    d = DevProcess(tmp_path / "data", env=FAST_ENV, args=["--no-build-playground", "--quiet"])
    d.start()
    try:
        (ARTIFACTS / "queues.png").unlink(missing_ok=True)
        proc = subprocess.Popen(["node", "e2e/queues.mjs", d.url, str(ARTIFACTS)],
                                cwd=PLAYGROUND, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "CHROMIUM": chromium},
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=300)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # nothing of it may outlive the test
        log = "\n".join(d.lines[-40:])
        assert proc.returncode == 0, f"e2e failed:\n{out}\n{err}\n--- boltq dev ---\n{log}"
        assert "e2e: all passed" in out
        shot = ARTIFACTS / "queues.png"
        assert shot.is_file() and shot.stat().st_size > 1000
    finally:
        with contextlib.suppress(Exception):
            d.stop()
