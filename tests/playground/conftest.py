"""Fixtures for the playground: its npm packages (`npm ci` when node_modules is missing or
older than package-lock.json), a fresh `npm run build`, and Debian's chromium (installed with
apt-get when it is not there)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import running_dev, FAST_ENV, DevProcess

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


@pytest.fixture
def served(dist: Path, tmp_path: Path) -> Iterator[DevProcess]:
    """A `boltq dev` serving the built playground (dist), stopped after the test."""
    with running_dev(tmp_path / "data", args=["--no-build-playground", "--quiet"]) as d:
        yield d


def node_e2e(script: str, *args: str, chromium: str, timeout: float,
             env: dict[str, str] | None = None, merge_stderr: bool = False) -> tuple[int, str, str]:
    """Run playground/e2e/<script> with node: (exit code, stdout, stderr). In a process group of
    its own, so a timeout takes chromium down with node, and nothing of it outlives the test."""
    proc = subprocess.Popen(["node", f"e2e/{script}", *args], cwd=PLAYGROUND,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                            text=True, env={**os.environ, "CHROMIUM": chromium, **(env or {})},
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out, err or ""


def page_test(served: DevProcess, chromium: str, name: str) -> None:
    """One page's end-to-end script (e2e/<name>.mjs) against `served`: it passes and leaves its
    screenshot (test-artifacts/playground/<name>.png)."""
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    code, out, err = node_e2e(f"{name}.mjs", served.url, str(ARTIFACTS), chromium=chromium,
                              timeout=300)
    log = "\n".join(served.lines[-40:])
    assert code == 0, f"e2e failed:\n{out}\n{err}\n--- boltq dev ---\n{log}"
    assert "e2e: all passed" in out
    assert shot.is_file() and shot.stat().st_size > 1000

