"""store.connect.disconnect: every connection of a client closed, the client still usable (a
new connection on its next command), for a standalone store and a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from boltq_core import Settings
from boltq_core.store.connect import connect, disconnect
from boltq_local.valkey import ValkeyCluster


def _pools(client: Any) -> list[Any]:
    if hasattr(client, "get_nodes"):
        return [n.redis_connection.connection_pool for n in client.get_nodes()
                if n.redis_connection is not None]
    return [client.connection_pool]


def _open(client: Any) -> int:
    return sum(c._sock is not None for pool in _pools(client)
               for c in [*pool._available_connections, *pool._in_use_connections])


def test_a_standalone_client_reconnects_after_disconnect(redis_url: str) -> None:
    client = connect(Settings(redis_url=redis_url))
    try:
        before = client.client_id()
        assert _open(client) == 1
        disconnect(client)
        assert _open(client) == 0
        assert client.ping() is True
        assert client.client_id() != before
    finally:
        client.close()


@pytest.mark.cluster
def test_a_cluster_client_reconnects_after_disconnect() -> None:
    with ValkeyCluster(3) as cluster:
        client = connect(Settings(redis_url=cluster.url, redis_cluster=True))
        try:
            client.set("{t}k", "v")
            assert _open(client) >= 1
            disconnect(client)
            assert _open(client) == 0
            assert client.get("{t}k") in (b"v", "v")
            assert _open(client) >= 1
        finally:
            client.close()
