"""The playground's Vitest component tests, run from pytest so one command runs everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.playground.conftest import run


@pytest.mark.timeout(900)
def test_vitest_component_tests(npm: str, node_modules: Path) -> None:
    proc = run([npm, "test", "--", "--reporter=dot"])
    assert proc.returncode == 0, f"vitest failed:\n{proc.stdout}\n{proc.stderr}"
    assert "passed" in proc.stdout


@pytest.mark.timeout(900)
def test_build_is_self_contained(dist: Path) -> None:
    """The page loads nothing from the internet and keeps asset URLs relative (S3 prefixes)."""
    index = (dist / "index.html").read_text()
    assert "./assets/" in index
    for f in dist.rglob("*"):
        if f.suffix in (".html", ".css"):
            text = f.read_text()
            assert "https://" not in text and "http://" not in text, f
            assert "@import" not in text and "fonts.g" not in text, f
    assert not (dist / "config.json").exists()  # written per deploy, not baked in
