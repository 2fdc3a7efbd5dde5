"""Untrusted text stays text in the playground (SPEC §14, issue 12), in real headless Chromium
against a real `boltq dev`, one test per field: job data, results, error texts, dead-letter
errors, workflow names and step ids each get an HTML payload through the API and are shown as
text (no element made, no handler run); settings links are http(s) only; the API key is kept
for the tab's session unless "remember" is ticked. playground/e2e/untrusted.mjs holds the steps
and assertions of each check (a fresh browser profile per check)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import running_dev, FAST_ENV, DevProcess
from tests.playground.conftest import ARTIFACTS, PLAYGROUND, node_e2e

CHECKS = ["job-data", "results", "error-texts", "dead-letter-errors", "workflow-names",
          "step-ids", "settings-links", "key-for-the-session", "key-remembered"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    with running_dev(tmp_path_factory.mktemp("data"), args=["--no-build-playground", "--quiet"]) as d:
        yield d


def run_checks(served: DevProcess, chromium: str, *names: str) -> tuple[int, str]:
    code, out, _ = node_e2e("untrusted.mjs", served.url, str(ARTIFACTS), *names,
                            chromium=chromium, timeout=240, merge_stderr=True)
    return code, out


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
