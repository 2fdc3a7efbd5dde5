"""Fixtures for the playground: its npm packages (`npm ci` when node_modules is missing or
older than package-lock.json), a fresh `npm run build`, and Debian's chromium (installed with
apt-get when it is not there)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYGROUND = ROOT / "playground"
ARTIFACTS = ROOT / "test-artifacts" / "playground"


def run(cmd: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=kw.pop("cwd", PLAYGROUND), capture_output=True, text=True,
                          timeout=timeout, **kw)


def _check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="session")
def npm() -> str:
    path = shutil.which("npm")
    if path is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed for the playground tests (Node 20+)")
    return path


@pytest.fixture(scope="session")
def node_modules(npm: str) -> Path:
    modules = PLAYGROUND / "node_modules"
    marker = modules / ".package-lock.json"
    lock = PLAYGROUND / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        _check(run([npm, "ci", "--no-audit", "--no-fund"]), "npm ci")
    return modules


@pytest.fixture(scope="session")
def dist(npm: str, node_modules: Path) -> Path:
    _check(run([npm, "run", "build"]), "npm run build")
    out = PLAYGROUND / "dist"
    assert (out / "index.html").is_file()
    return out


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _check(run(["apt-get", "update"], env=env, cwd=ROOT), "apt-get update")
        _check(run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                   env=env, cwd=ROOT), "apt-get install chromium")
        found = shutil.which("chromium")
    if found is None:
        pytest.fail("Debian's chromium is needed (apt-get install chromium, as root)")
    return found
