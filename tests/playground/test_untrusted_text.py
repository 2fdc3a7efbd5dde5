"""Untrusted text stays text in the playground (SPEC §14, issue 12), in real headless Chromium
against a real `boltq dev`: job data, results, error texts, workflow names, step ids,
dead-letter errors and ids from the address each get an HTML payload through the API and are
shown as text (no element made, no handler run); settings links are http(s) only; the API key
is kept for the tab's session unless "remember" is ticked. playground/e2e/untrusted.mjs holds
the steps and assertions."""

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

FIELDS = ["job data and its result", "a job's error text, and the dead-letter page's",
          "workflow names, step ids, what they depend on, step errors",
          "an id from the address bar", "settings links are http(s) only",
          "the API key is kept for this tab's session only", "remembered in this browser"]


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
@pytest.mark.timeout(600)
def test_untrusted_text_is_rendered_as_text(served: DevProcess, chromium: str) -> None:
    proc = subprocess.Popen(["node", "e2e/untrusted.mjs", served.url, str(ARTIFACTS)],
                            cwd=PLAYGROUND, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "CHROMIUM": chromium},
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    log = "\n".join(served.lines[-30:])
    assert proc.returncode == 0, f"untrusted.mjs failed:\n{out}\n{err}\n--- boltq dev ---\n{log}"
    assert "untrusted: all passed" in out
    for field in FIELDS:  # every step ran
        assert field in out, field
