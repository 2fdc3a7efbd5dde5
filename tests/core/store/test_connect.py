"""Store connections: timeouts, the eviction-policy check."""

from __future__ import annotations

from boltq_core import Settings
from boltq_core.store.connect import connect, eviction_warning
from boltq_local.valkey import ValkeyServer


def test_an_evicting_store_is_reported_and_a_safe_one_is_not() -> None:
    flags = ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]
    with ValkeyServer(extra=flags) as evicting, ValkeyServer() as safe:
        bad = connect(Settings(redis_url=evicting.url))
        good = connect(Settings(redis_url=safe.url))
        try:
            warning = eviction_warning(bad)
            assert warning and "allkeys-lru" in warning and "noeviction" in warning
            assert eviction_warning(good) is None
            bad.config_set("maxmemory-policy", "noeviction")
            assert eviction_warning(bad) is None
        finally:
            bad.close()
            good.close()
