"""Connections to the Redis/Valkey store: standalone or cluster, sync or asyncio, and the
script runner that loads each Lua script once per client (EVALSHA, reloading on NOSCRIPT)."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from boltq_core.config import Settings
from boltq_core.scripts import source

SyncClient = redis.Redis | RedisCluster
AsyncClient = aredis.Redis | AsyncRedisCluster


def _options(settings: Settings) -> dict[str, Any]:
    opts: dict[str, Any] = {"decode_responses": True, "health_check_interval": 30}
    if settings.redis_password:
        opts["password"] = settings.redis_password
    return opts


def connect(settings: Settings) -> SyncClient:
    opts = _options(settings)
    if settings.redis_cluster:
        opts.pop("health_check_interval")
        return RedisCluster.from_url(settings.url, **opts)
    return redis.Redis.from_url(settings.url, **opts)


def connect_async(settings: Settings) -> AsyncClient:
    opts = _options(settings)
    if settings.redis_cluster:
        opts.pop("health_check_interval")
        return AsyncRedisCluster.from_url(settings.url, **opts)
    return aredis.Redis.from_url(settings.url, **opts)


class Scripts:
    """The registered scripts of one client, by name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        script = self._cache.get(name)
        if script is None:
            script = self._cache[name] = self._client.register_script(source(name))
        return script
