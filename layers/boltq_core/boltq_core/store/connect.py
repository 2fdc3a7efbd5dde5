"""Connections to the Redis/Valkey store: standalone or cluster, sync or asyncio, with explicit
timeouts, TCP keepalive and the failover behaviour of store.failover; and a check of the
store's eviction policy."""

from __future__ import annotations

import functools
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis

from boltq_core.config import Settings
from boltq_core.store.failover import AsyncStoreRetry, StoreRetry, harden, is_store_trouble

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


__all__ = ["AsyncClient", "SyncClient", "connect", "connect_async", "disconnect",
           "eviction_warning", "is_store_trouble", "job_client_async",
           "single_client_async"]

# TCP keepalive: a peer that vanished (a black-holed socket, a node gone mid-failover) is
# noticed after about 10 + 3 * 5 s even on a connection that waits in a blocking call
_KEEPALIVE = {getattr(socket, name): value for name, value in (
    ("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)) if hasattr(socket, name)}


def _options(settings: Settings, retry: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "decode_responses": True,
        "health_check_interval": 30,
        "socket_connect_timeout": settings.store_connect_timeout_seconds,
        "socket_timeout": settings.store_timeout_seconds,
        "socket_keepalive": True,
        "socket_keepalive_options": _KEEPALIVE,
        # resend only what provably did not run (boltq_core.store.failover); never redis-py's
        # default of ten blind retries, which would run a claim or a cancel twice
        "retry": retry,
    }
    if settings.redis_password:
        opts["password"] = settings.redis_password
    if urlsplit(settings.url).scheme == "rediss":
        # TLS (ElastiCache in transit, Serverless): the certificate must chain to a trusted CA
        # and name the host, whatever the installed redis-py's defaults
        opts["ssl_cert_reqs"] = "required"
        opts["ssl_check_hostname"] = True
        if settings.redis_tls_ca_file:
            opts["ssl_ca_certs"] = settings.redis_tls_ca_file
    return opts


def _cluster(opts: dict[str, Any]) -> dict[str, Any]:
    # a cluster client follows MOVED/ASK and a replica's promotion with its own bounded retry
    # (it counts attempts: StoreRetry's time budget does not fit it)
    return {k: v for k, v in opts.items() if k not in ("health_check_interval", "retry")}


def connect(settings: Settings) -> SyncClient:
    opts = _options(settings, StoreRetry(settings.store_retry_seconds))
    if settings.redis_cluster:
        return _cluster_client().from_url(settings.url, **_cluster(opts))
    return harden(redis.Redis.from_url(settings.url, **opts))


@functools.cache  # one class; redis.cluster is imported only for a cluster
def _cluster_client() -> type:
    """RedisCluster whose close() also closes the connections of every node: redis-py closes
    the nodes' clients but not their pools (the pools are handed to them, so they do not own
    them), and the sockets stay open until garbage collection."""
    from redis.cluster import RedisCluster

    class ClusterClient(RedisCluster):
        def close(self) -> None:
            for node in self.get_nodes():
                if node.redis_connection is not None:
                    node.redis_connection.connection_pool.disconnect()
            super().close()

    return ClusterClient


def disconnect(client: SyncClient) -> None:
    """Close every connection the client holds (each node's, for a cluster) and keep the client
    usable: its next command opens a new connection. For connections that are known dead
    without the client having noticed, e.g. after a Lambda SnapStart restore (the snapshot kept
    the sockets, not the peer's side of them)."""
    if hasattr(client, "get_nodes"):  # a cluster: one pool per node
        for node in client.get_nodes():
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
    else:
        client.connection_pool.disconnect()


def connect_async(settings: Settings) -> AsyncClient:
    import redis.asyncio as aredis
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    opts = _options(settings, AsyncStoreRetry(settings.store_retry_seconds))
    if settings.redis_cluster:
        return AsyncRedisCluster.from_url(settings.url, **_cluster(opts))
    return harden(aredis.Redis.from_url(settings.url, **opts), _hiredis_packer(), True)


def job_client_async(settings: Settings) -> AsyncClient:
    """The client a runner lends its jobs (JobContext.redis): the store's URL, TLS, timeouts
    and failover behaviour, and on a standalone store auto-pipelined (store.autopipeline),
    so the jobs' commands of one loop turn share a round trip."""
    if settings.redis_cluster:
        return connect_async(settings)
    from boltq_core.store.autopipeline import AutoPipelined

    opts = _options(settings, AsyncStoreRetry(settings.store_retry_seconds))
    return harden(AutoPipelined.from_url(settings.url, **opts), _hiredis_packer(), True)


def _hiredis_packer() -> dict[str, Any]:
    """redis-py's asyncio connections pack commands in Python: 25-33 us for a claim's 29
    arguments, where the sync client's hiredis packer (redis-py's own HiredisRespSerializer)
    takes 8.5 us. The asyncio connections get that packer when hiredis is installed."""
    from redis.connection import HiredisRespSerializer
    from redis.utils import HIREDIS_AVAILABLE

    if not HIREDIS_AVAILABLE:
        return {}
    packer = HiredisRespSerializer()

    def pack_command(self: Any, *args: Any) -> list[bytes]:
        return packer.pack(*args)

    return {"pack_command": pack_command}


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
    opts = {**_options(settings, AsyncStoreRetry(settings.store_retry_seconds)),
            "single_connection_client": True, **overrides}
    return harden(aredis.Redis.from_url(url, **opts), _hiredis_packer(), True)


def eviction_warning(client: Any) -> str | None:
    """A warning when the store may evict keys under memory pressure (any maxmemory-policy but
    noeviction, with a memory limit set): an evicted job, lease or lock is lost silently. None
    when it cannot (or when INFO does not say)."""
    try:
        info = client.info("memory")
    except Exception:
        return None
    nodes = info.values() if info and all(isinstance(v, dict) for v in info.values()) else [info]
    for node in nodes:
        policy = str(node.get("maxmemory_policy", "noeviction"))
        if policy != "noeviction" and int(node.get("maxmemory") or 0) > 0:
            return (f"the store's maxmemory-policy is {policy}: when it runs out of memory it "
                    "can evict BoltQ's keys (jobs, leases, locks) and lose them silently; set "
                    "maxmemory-policy to noeviction (template.yaml's parameter group does)")
    return None
