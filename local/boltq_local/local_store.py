"""The store `boltq dev` runs on: an embedded Valkey (data kept append-only on disk, so jobs
survive a restart), or the developer's own (REDIS_URL / REDIS_ADDR / --redis-url), checked
once for an eviction policy that could lose jobs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from boltq_local.valkey import ValkeyServer


class LocalStore:
    def __init__(self, url: str | None, addr: str | None, data_dir: Path) -> None:
        self.given = url or (f"redis://{addr}/0" if addr else None)
        self.data_dir = data_dir
        self.server: ValkeyServer | None = None
        self.url = ""
        self.description = ""
        self.warning: str | None = None

    @property
    def embedded(self) -> bool:
        return self.server is not None

    def start(self, shell: Mapping[str, str]) -> None:
        if self.given:
            self.url = self.given
            self.description = f"{self.url} (REDIS_URL/REDIS_ADDR)"
            self.warning = _eviction_warning(shell, self.url)
            return
        self.server = ValkeyServer(data_dir=self.data_dir).start()
        self.url = self.server.url
        self.description = (f"embedded Valkey at 127.0.0.1:{self.server.port}, "
                            f"append-only data in {self.data_dir}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def _eviction_warning(shell: Mapping[str, str], url: str) -> str | None:
    from boltq_core.config import Settings
    from boltq_core.store.connect import connect, eviction_warning

    try:
        client = connect(Settings.from_env(shell, redis_url=url, store_retry_seconds=0.5))
    except Exception:
        return None  # bad settings: the functions report them
    try:
        return eviction_warning(client)
    finally:
        client.close()
