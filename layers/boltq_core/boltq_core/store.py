"""Connections to the Redis/Valkey store: standalone or cluster, sync or asyncio, and the
script runner that loads each Lua script once per client (EVALSHA, reloading on NOSCRIPT)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis

from boltq_core.config import Settings
from boltq_core.scripts import source

# the asyncio and cluster clients are imported only where used: the api function's cold start
# needs neither
if TYPE_CHECKING:
    import redis.asyncio as aredis
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
    from redis.cluster import RedisCluster

    SyncClient = redis.Redis | RedisCluster
    AsyncClient = aredis.Redis | AsyncRedisCluster
else:
    SyncClient = AsyncClient = Any


# errors that say the store (or the node a pooled socket is on) cannot serve us right now: a
# lost or timed-out connection, a node that is loading its data, a primary that became a replica
# in a failover (READONLY), a replica whose primary is gone, a blocked call the server ended
# because the node changed role
_TROUBLE_REPLIES = ("READONLY", "LOADING", "MASTERDOWN", "UNBLOCKED", "TRYAGAIN", "CLUSTERDOWN")


def is_store_trouble(exc: BaseException) -> bool:
    """True for errors that mean "the store is unavailable or failing over, try again later"
    (never for bad input, a script bug or a wrong password)."""
    e = redis.exceptions
    if isinstance(exc, e.AuthenticationError | e.AuthorizationError):
        return False
    if isinstance(exc, e.ConnectionError | e.TimeoutError | OSError | e.ReadOnlyError
                  | e.MasterDownError | e.ClusterDownError | e.TryAgainError):
        return True
    # redis-py strips the error code of the replies it maps to a class; others keep it
    return isinstance(exc, e.ResponseError) and (
        str(exc).split(" ", 1)[0].upper() in _TROUBLE_REPLIES)


def _options(settings: Settings) -> dict[str, Any]:
    opts: dict[str, Any] = {"decode_responses": True, "health_check_interval": 30}
    if settings.redis_password:
        opts["password"] = settings.redis_password
    return opts


def connect(settings: Settings) -> SyncClient:
    opts = _options(settings)
    if settings.redis_cluster:
        from redis.cluster import RedisCluster

        opts.pop("health_check_interval")
        return RedisCluster.from_url(settings.url, **opts)
    return redis.Redis.from_url(settings.url, **opts)


def connect_async(settings: Settings) -> AsyncClient:
    import redis.asyncio as aredis
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    opts = _options(settings)
    if settings.redis_cluster:
        opts.pop("health_check_interval")
        return AsyncRedisCluster.from_url(settings.url, **opts)
    return _hiredis_packing(aredis.Redis.from_url(settings.url, **opts))


def _hiredis_packing(client: Any) -> Any:
    """redis-py's asyncio connections pack commands in Python: 25-33 us for a claim's 29
    arguments, where the sync client's hiredis packer (redis-py's own HiredisRespSerializer)
    takes 8.5 us. Give the client's connections that packer when hiredis is installed; the
    connection class (TCP, TLS or Unix socket) is otherwise kept as the URL chose it."""
    from redis.connection import HiredisRespSerializer
    from redis.utils import HIREDIS_AVAILABLE

    pool = client.connection_pool
    if HIREDIS_AVAILABLE and not getattr(pool.connection_class, "_boltq_hiredis", False):
        packer = HiredisRespSerializer()

        def pack_command(self: Any, *args: Any) -> list[bytes]:
            return packer.pack(*args)

        base = pool.connection_class
        pool.connection_class = type(base.__name__, (base,), {
            "pack_command": pack_command, "_boltq_hiredis": True})
    return client


def single_client_async(
    settings: Settings, node: tuple[str, int] | None = None, **overrides: Any
) -> aredis.Redis:
    """A client holding one connection: to the configured server, or to one cluster `node`
    (with the cluster URL's scheme and credentials)."""
    import redis.asyncio as aredis

    url = settings.url
    if node is not None:
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@{node[0]}:{node[1]}" if auth else f"{node[0]}:{node[1]}"
        url = urlunsplit((parts.scheme, netloc, "", parts.query, ""))
    opts = {**_options(settings), "single_connection_client": True, **overrides}
    return _hiredis_packing(aredis.Redis.from_url(url, **opts))


class Scripts:
    """The registered scripts of one client, by name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._cache: dict[str, Any] = {}

    def sha(self, name: str) -> str:
        return str(self[name].sha)

    def __getitem__(self, name: str) -> Any:
        script = self._cache.get(name)
        if script is None:
            script = self._cache[name] = self._client.register_script(source(name))
        return script
