"""Untrusted text stays text in the playground (SPEC §14, issue 12), in real headless Chromium
against a real `boltq dev`, one test per field: job data, results, error texts, dead-letter
errors, workflow names and step ids each get an HTML payload through the API and are shown as
text (no element made, no handler run); settings links are http(s) only; the API key is kept
for the tab's session unless "remember" is ticked. playground/e2e/untrusted.mjs holds the steps
and assertions of each check (a fresh browser profile per check)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import FAST_ENV, DevProcess
from tests.playground.conftest import ARTIFACTS, PLAYGROUND

CHECKS = ["job-data", "results", "error-texts", "dead-letter-errors", "workflow-names",
          "step-ids", "settings-links", "key-for-the-session", "key-remembered"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    d = DevProcess(tmp_path_factory.mktemp("data"), env=FAST_ENV,
                   args=["--no-build-playground", "--quiet"])
    d.start()
    try:
        yield d
    finally:
        with contextlib.suppress(Exception):
            d.stop()


def run_checks(served: DevProcess, chromium: str, *names: str) -> tuple[int, str]:
    proc = subprocess.Popen(["node", "e2e/untrusted.mjs", served.url, str(ARTIFACTS), *names],
                            cwd=PLAYGROUND, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "CHROMIUM": chromium},
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of it may outlive the test
    return proc.returncode, out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("check", CHECKS)
def test_rendered_as_text(served: DevProcess, chromium: str, check: str) -> None:
    code, out = run_checks(served, chromium, check)
    log = "\n".join(served.lines[-20:])
    assert code == 0, f"{check} failed:\n{out}\n--- boltq dev ---\n{log}"
    assert f"untrusted: {check} passed" in out and "untrusted: all passed" in out


def test_every_check_has_its_test() -> None:
    text = (PLAYGROUND / "e2e" / "untrusted.mjs").read_text()
    found = re.findall(r"^  async (?:'([\w-]+)'|(\w+))\(page", text, re.M)
    assert sorted(a or b for a, b in found) == sorted(CHECKS)
