"""The fault harness itself (tests/support/faults.py): the proxy moves, black-holes and cuts real
connections, and the replica pair fails over the way the reliability tests rely on."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from boltq_local.valkey import ValkeyServer
from tests.support.faults import Proxy, ReplicaPair

pytestmark = pytest.mark.slow


def client(port: int, **kw: object) -> redis.Redis:
    # no retries: redis-py 8 retries a failed call 10 times, which would hide the fault
    opts: dict[str, object] = {"socket_timeout": 5, "retry": Retry(NoBackoff(), 0), **kw}
    return redis.Redis(port=port, decode_responses=True, **opts)  # type: ignore[arg-type]


def test_switch_moves_new_connections_and_keeps_open_ones() -> None:
    with ValkeyServer() as a, ValkeyServer() as b, Proxy(a.port) as proxy:
        client(a.port).set("node", "a")
        client(b.port).set("node", "b")
        old = client(proxy.port, single_connection_client=True)
        assert old.get("node") == "a"
        proxy.switch(b.port)
        assert client(proxy.port).get("node") == "b"  # a new connection
        assert old.get("node") == "a"  # the open socket stayed on the old node
        old.close()


def test_blackhole_holds_bytes_until_heal_and_cut_resets_everything() -> None:
    with ValkeyServer() as server, Proxy(server.port) as proxy:
        held = client(proxy.port, single_connection_client=True)
        assert held.ping()
        proxy.blackhole()
        t0 = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client(proxy.port, socket_timeout=0.3).ping()  # accepted, never answered
        assert time.monotonic() - t0 < 2
        got: list[object] = []
        t = threading.Thread(target=lambda: got.append(held.incr("n")))
        t.start()
        time.sleep(0.3)
        assert got == [] and client(server.port).get("n") is None  # nothing reached it
        proxy.heal()
        t.join(5)
        assert got == [1]  # the held command was delivered and answered
        assert proxy.connections >= 1
        assert proxy.cut() >= 1
        with pytest.raises(redis.ConnectionError):
            held.get("n")  # the socket was reset
        assert client(proxy.port).get("n") == "1"  # new connections work after a cut
        held.close()


def test_failover_swaps_roles_and_old_primary_refuses_writes() -> None:
    with ReplicaPair() as pair:
        old = pair.primary
        client(old.port).set("k", "v")
        t0 = time.monotonic()
        new = pair.failover()
        took = time.monotonic() - t0
        assert pair.primary is new and pair.replica is old
        assert client(new.port).get("k") == "v"  # nothing acknowledged was lost
        with pytest.raises(redis.ReadOnlyError):
            client(old.port).set("k", "w")
        assert took < 10
