"""The playground's groups end to end: the built playground served by a real `boltq dev`,
driven in headless Chromium (playground/e2e/groups.mjs holds the steps)."""

from __future__ import annotations

import pytest

from tests.local.conftest import DevProcess
from tests.playground.conftest import page_test


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_groups_on_the_queues_page(served: DevProcess, chromium: str) -> None:
    page_test(served, chromium, "groups")
