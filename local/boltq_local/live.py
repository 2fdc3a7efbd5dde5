"""`boltq ... --watch` over the WebSocket: a thread trades the API key for a single-use ticket
(POST /api/v1/ws/tickets), connects with `?ticket=` (the key never goes into a URL),
subscribes to the job and sets an event on every message about it, so the watcher reads the
job as soon as it changed instead of on a timer. Any failure ends the thread quietly and the
watcher polls as before."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any
from urllib.parse import quote, urlsplit


def ws_url_for(api_url: str) -> str | None:
    """The WebSocket of a `boltq dev` (ws://host:port/ws); None for a URL with a path (an AWS
    stage: its WebSocket API has a URL of its own, --ws-url)."""
    parts = urlsplit(api_url)
    if parts.path.strip("/") or parts.scheme not in ("http", "https"):
        return None
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/ws"


class JobChanges:
    """Sets `changed` on every WebSocket message about `job_id`."""

    def __init__(self, client: Any, ws_url: str, job_id: str) -> None:
        self.client = client
        self.ws_url = ws_url
        self.job_id = job_id
        self.changed = threading.Event()
        self.live = threading.Event()  # subscribed: the watcher may wait longer between reads
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> JobChanges:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the follower and waits for it: a daemon thread still inside aiohttp while the
        interpreter shuts down can crash it (SIGSEGV after the watch printed the job)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            ticket = self.client.call("POST", "/api/v1/ws/tickets")["ticket"]
            asyncio.run(self._follow(f"{self.ws_url}?ticket={quote(ticket, safe='')}"))
        self.live.clear()

    async def _follow(self, url: str) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as s, s.ws_connect(url, heartbeat=30) as ws:
            await ws.send_json({"action": "subscribe", "job_id": self.job_id})
            while not self._stop.is_set():
                try:
                    msg = await ws.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                data = json.loads(msg.data)
                if data.get("type") == "subscribed":
                    self.live.set()  # (and read the job now: it may have changed meanwhile)
                if data.get("job_id") == self.job_id:
                    self.changed.set()
