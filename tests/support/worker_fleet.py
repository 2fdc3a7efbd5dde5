"""Worker processes (tests.support.worker_proc) for the reliability tests: started, watched,
restarted and always stopped. Each one's stderr goes to a file, so a test can say why a worker
died (the traceback's last line)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Start worker processes on one namespace; stop() ends every one of them."""

    def __init__(self, url: str, prefix: str, logs: Path, lease: float = 1.0,
                 concurrency: int = 20, record_url: str | None = None) -> None:
        self.url, self.prefix, self.logs = url, prefix, logs
        self.lease, self.concurrency, self.record_url = lease, concurrency, record_url
        self.procs: list[subprocess.Popen[str]] = []
        self._stderr: dict[int, Path] = {}

    def spawn(self) -> subprocess.Popen[str]:
        """Start one worker; returns once it has built its runner ("ready")."""
        args = [sys.executable, "-m", "tests.support.worker_proc", self.url, self.prefix,
                str(self.lease), "--concurrency", str(self.concurrency)]
        if self.record_url:
            args += ["--record-url", self.record_url]
        err = self.logs / f"worker-{len(self.procs)}.err"
        with err.open("w") as f:
            p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=f, text=True)
        self.procs.append(p)
        self._stderr[p.pid] = err
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        assert line == "ready", f"worker {p.pid} did not start: {self.why(p)}"
        return p

    def alive(self) -> list[subprocess.Popen[str]]:
        return [p for p in self.procs if p.poll() is None]

    def dead(self) -> list[subprocess.Popen[str]]:
        return [p for p in self.procs if p.poll() is not None]

    def why(self, p: subprocess.Popen[str]) -> str:
        """Exit code and the last line of a worker's stderr."""
        path = self._stderr.get(p.pid)
        lines = path.read_text(errors="replace").strip().splitlines() if path else []
        last = lines[-1] if lines else "(no output)"
        return f"pid {p.pid} exit {p.poll()}: {last}"

    def stop(self, timeout: float = 10.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout:
                with contextlib.suppress(Exception):
                    p.stdout.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
