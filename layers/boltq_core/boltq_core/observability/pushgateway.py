"""The Pushgateway: ONE process (the promoter, under its lock) reads the namespace's metrics
(snapshot) and replaces one Pushgateway group (job="boltq", namespace=<prefix>) with them (HTTP
PUT), so Prometheus sees the store's totals, never a sum of per-invocation pushes. From a
thread of its own: a slow or down Pushgateway never delays the caller."""

from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.request
from typing import Any

from boltq_core.observability.exposition import render
from boltq_core.observability.snapshot import snapshot

log = logging.getLogger("boltq.metrics")


def _path_segment(name: str, value: str) -> str:
    if value and "/" not in value:
        return f"/{name}/{urllib.request.quote(value, safe='')}"
    enc = base64.urlsafe_b64encode(value.encode()).decode() or "="
    return f"/{name}@base64/{enc}"


def push(url: str, body: str, grouping: dict[str, str], timeout: float = 2.0) -> None:
    """Replace the Pushgateway group (PUT): what Prometheus sees is exactly `body`."""
    path = "/metrics" + _path_segment("job", grouping.get("job", "boltq")) + "".join(
        _path_segment(k, v) for k, v in grouping.items() if k != "job")
    req = urllib.request.Request(url.rstrip("/") + path, data=body.encode(), method="PUT",
                                 headers={"Content-Type": "text/plain; version=0.0.4"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


class MetricsPusher:
    """Pushes `snapshot(queue)` every `interval` seconds from its own thread, so a slow or down
    Pushgateway never delays the caller; failures are logged (once per outage), never raised."""

    def __init__(self, queue: Any, url: str, interval: float = 10.0, timeout: float = 2.0,
                 logger: Any = None) -> None:
        self.queue = queue
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.log = logger or log
        self.grouping = {"job": "boltq", "namespace": queue.settings.key_prefix}
        self.pushes = 0
        self.failures = 0
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def push_once(self) -> bool:
        try:
            push(self.url, render(snapshot(self.queue)), self.grouping, self.timeout)
        except Exception as exc:
            self.failures += 1
            if not self._failing:
                self.log.warning(f"metrics push to the Pushgateway failed: {exc}")
            self._failing = True
            return False
        if self._failing:
            self.log.info("metrics push to the Pushgateway works again")
        self._failing = False
        self.pushes += 1
        return True

    def start(self) -> MetricsPusher:
        def loop() -> None:
            while True:
                started = time.monotonic()
                self.push_once()
                if self._stop.wait(max(0.0, self.interval - (time.monotonic() - started))):
                    # a final push, the totals as this pusher leaves them: tried after a failed
                    # push too (the gateway may be back), else it keeps older totals until the
                    # next promoter; stop() bounds how long the caller waits for it
                    self.push_once()
                    return

        self._thread = threading.Thread(target=loop, name="boltq-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 0.5 if wait is None else wait)


def pusher_from_settings(queue: Any, logger: Any = None) -> MetricsPusher | None:
    """A MetricsPusher (not started) when PUSHGATEWAY_URL is set (every METRICS_PUSH_SECONDS,
    each push at most METRICS_PUSH_TIMEOUT_SECONDS), else None."""
    s = queue.settings
    url = (s.pushgateway_url or "").strip()
    if not url:
        return None
    return MetricsPusher(queue, url, s.metrics_push_seconds, s.metrics_push_timeout_seconds,
                         logger)
