"""Real Prometheus servers for the observability tests: `prometheus-pushgateway` and
`prometheus` (Debian packages, installed with apt-get when missing), started once per session
on free loopback ports with temporary directories; Prometheus scrapes the Pushgateway every
second with honor_labels: true (as infra/prometheus/prometheus.yml does)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from boltq_core import Queue
from tests.functions.conftest import env_for

PACKAGES = ("prometheus", "prometheus-pushgateway")


def _ensure_installed() -> None:
    if all(shutil.which(b) for b in PACKAGES):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"could not install {PACKAGES} with apt-get (root needed): {r.stderr}")
    if not all(shutil.which(b) for b in PACKAGES):
        pytest.fail(f"{PACKAGES} installed but not on PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return bytes(resp.read())


class Server:
    def __init__(self, args: list[str], url: str, log: Path) -> None:
        self.url = url
        self._log = log.open("wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 30
        while True:
            try:
                http_get(url + "/-/ready", 0.5)
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    self.stop()
                    tail = log.read_text()[-2000:]
                    raise RuntimeError(f"{args[0]} did not start: {tail}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def prom_binaries() -> None:
    _ensure_installed()


@pytest.fixture(scope="session")
def pushgateway(prom_binaries: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("pushgateway")
    port = free_port()
    server = Server(["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}"],
                    f"http://127.0.0.1:{port}", d / "log")
    yield server.url
    server.stop()


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"query": expr})
        body = json.loads(http_get(f"{self.url}/api/v1/query?{q}"))
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def values(self, expr: str, *labels: str) -> dict[Any, float]:
        """{label value(s): value} of an instant query."""
        out: dict[Any, float] = {}
        for r in self.query(expr):
            key = tuple(r["metric"].get(name, "") for name in labels)
            out[key[0] if len(key) == 1 else key] = float(r["value"][1])
        return out


@pytest.fixture(scope="session")
def prometheus(pushgateway: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Prometheus]:
    d = tmp_path_factory.mktemp("prometheus")
    target = pushgateway.removeprefix("http://")
    (d / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['{target}']\n")
    port = free_port()
    server = Server(["prometheus", f"--config.file={d / 'prometheus.yml'}",
                     f"--storage.tsdb.path={d / 'data'}",
                     f"--web.listen-address=127.0.0.1:{port}"],
                    f"http://127.0.0.1:{port}", d / "log")
    yield Prometheus(server.url)
    server.stop()


@pytest.fixture
def env(queue: Queue, monkeypatch: pytest.MonkeyPatch) -> Queue:
    """Point the functions at `queue`'s namespace (as tests/functions' fn_env does)."""
    for k, v in {**env_for(queue), "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                 "POWERTOOLS_LOG_LEVEL": "WARNING", "BOLTQ_PUSH": "0",
                 "WORKER_IDLE_SECONDS": "0.3", "METRICS_PUSH_SECONDS": "0.2",
                 "PROMOTER_STOP_BEFORE_SECONDS": "2"}.items():
        monkeypatch.setenv(k, v)
    for k in ("REDIS_ADDR", "REDIS_CLUSTER", "BOLTQ_METRICS", "PUSHGATEWAY_URL", "BOLTQ_API_KEY",
              "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(k, raising=False)
    return queue
