"""Real faults for reliability tests and benchmarks: a TCP proxy that can move, black-hole or cut
the connections of BoltQ's clients, and a primary + replica pair of valkey-servers that can
fail over. No mocks: real processes, real sockets, real replication.

    with ReplicaPair() as pair, Proxy(pair.primary.port) as proxy:
        queue = Queue(Settings(redis_url=proxy.url, ...))   # every client goes through the proxy
        ...
        proxy.switch(pair.failover().port)                  # a planned failover, DNS moves

`Proxy` is what an ElastiCache endpoint looks like to a client: one address whose DNS name may
move to another node in a failover. `switch()` sends new connections to the new node while
the sockets already open stay on the old one (a client must notice that itself, e.g. from a
READONLY reply); `blackhole()` is a network partition; `cut()` is a node or NAT dropping every
connection at once.

The proxy runs an asyncio loop in a daemon thread of the calling process. Each control method
returns once the change is in effect on the proxy's loop, so a test can time what follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine
from typing import Any

import redis

from boltq_local.valkey import ValkeyServer

Address = tuple[str, int]
_CHUNK = 65536


def _address(target: Address | int) -> Address:
    return ("127.0.0.1", target) if isinstance(target, int) else (target[0], int(target[1]))


class Proxy:
    """A TCP proxy on 127.0.0.1 forwarding each new connection to the current target.

    - `switch(target)`: new connections go to `target`; open ones stay where they are.
    - `blackhole()`: no byte passes in either direction and no connection is closed by the
      proxy (an EOF is held back too); new connections are accepted and held, unconnected.
      Bytes are held, not dropped: TCP never loses bytes in the middle of a stream, so after
      `heal()` everything sent meanwhile is delivered (like retransmissions after a partition
      ends) and held connections are connected to the then current target. A client that
      gave up meanwhile has closed its socket; its connection closes after the held bytes.
    - `heal()`: ends the black hole.
    - `cut()`: closes (resets) every open connection, black-holed or not, at once.

    Use it as a context manager, or call start() and stop(). `port` 0 picks a free port.
    """

    def __init__(self, target: Address | int, port: int = 0) -> None:
        self._target = _address(target)
        self._want_port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None  # set = forwarding, clear = black hole
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: dict[asyncio.Task[None], list[asyncio.StreamWriter]] = {}
        self.port = 0
        self.accepted = 0  # connections accepted since start (tests use it to see reconnects)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def target(self) -> Address:
        return self._target

    def start(self) -> Proxy:
        ready = threading.Event()
        failed: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start()'s caller
                failed.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=serve, name="boltq-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failed:
            raise failed[0]
        return self

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self._want_port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Close the listener and every connection, stop the loop, join the thread."""
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            with contextlib.suppress(Exception):
                self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()
        if self._server is not None:
            await self._server.wait_closed()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults ------------------------------------------------------------------------------

    def switch(self, target: Address | int) -> None:
        """New connections go to `target`; open connections stay on the old node."""
        address = _address(target)

        async def apply() -> None:
            self._target = address

        self._call(apply())

    def blackhole(self) -> None:
        async def apply() -> None:
            assert self._flowing is not None
            self._flowing.clear()

        self._call(apply())

    def heal(self) -> None:
        async def apply() -> None:
            assert self._flowing is not None
            self._flowing.set()

        self._call(apply())

    def cut(self) -> int:
        """Reset every open connection; returns how many there were."""
        return int(self._call(self._cut()))

    @property
    def connections(self) -> int:
        """Connections open right now."""
        return len(self._handlers)

    async def _cut(self) -> int:
        tasks = list(self._handlers)
        for task in tasks:
            for w in self._writers.get(task, []):
                w.transport.abort()  # RST, like a node that vanished
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        return len(tasks)

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the proxy is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- forwarding --------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._flowing is not None
        self.accepted += 1
        self._handlers.add(task)
        writers = self._writers[task] = [writer]
        try:
            await self._flowing.wait()  # black-holed: accepted, but nothing behind it yet
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._target)
            except OSError:
                return  # the node is gone: the client sees its connection close
            writers.append(up_writer)
            pumps = [asyncio.create_task(self._pump(reader, up_writer)),
                     asyncio.create_task(self._pump(up_reader, writer))]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for p in pumps:
                    p.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        except asyncio.CancelledError:
            pass  # cut() or stop(): end quietly (asyncio logs a handler that ends cancelled)
        finally:
            for w in writers:
                w.transport.abort()
            self._handlers.discard(task)
            self._writers.pop(task, None)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        while True:
            try:
                data = await src.read(_CHUNK)
            except OSError:
                data = b""
            # checked after the read: bytes read before a black hole began are held too
            await self._flowing.wait()
            if not data:
                return  # EOF or reset: the handler closes both sides
            dst.write(data)
            try:
                await dst.drain()
            except OSError:
                return


# --- a primary and its replica ---------------------------------------------------------------


def _client(server: ValkeyServer) -> redis.Redis:
    return redis.Redis(port=server.port, decode_responses=True, socket_timeout=5)


def _replication(server: ValkeyServer) -> dict[str, Any]:
    with _client(server) as c:
        return dict(c.info("replication"))


class ReplicaPair:
    """Two valkey-servers: a primary and a replica of it (`--replicaof`). `failover()` runs a
    planned failover with the FAILOVER command, the way ElastiCache does one: the primary pauses
    writes, lets the replica catch up and swaps roles with it. The old primary then answers
    writes with READONLY, and clients blocked there on a write command (BZPOPMIN) get an
    UNBLOCKED error; nothing acknowledged is lost. `primary` and `replica` follow the roles.

    Extra server arguments go to both (`extra`); without a data dir nothing touches the disk.
    """

    def __init__(self, extra: list[str] | None = None) -> None:
        # a replica's first full sync would otherwise wait 5 s for more replicas to join
        args = ["--repl-diskless-sync-delay", "0", *(extra or [])]
        self.primary = ValkeyServer(extra=args)
        self.replica = ValkeyServer(
            extra=[*args, "--replicaof", "127.0.0.1", str(self.primary.port)])

    def start(self, timeout: float = 15.0) -> ReplicaPair:
        try:
            self.primary.start()
            self.replica.start()
            self.wait_in_sync(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in (self.replica, self.primary):
            with contextlib.suppress(Exception):
                server.stop()

    def __enter__(self) -> ReplicaPair:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def in_sync(self) -> bool:
        """The replica's link is up and the primary counts it online at its own offset."""
        rep = _replication(self.replica)
        pri = _replication(self.primary)
        if rep.get("role") != "slave" or rep.get("master_link_status") != "up":
            return False
        if pri.get("role") != "master" or pri.get("master_failover_state") != "no-failover":
            return False
        link = pri.get("slave0")
        return (isinstance(link, dict) and link.get("state") == "online"
                and int(link.get("offset", -1)) == int(pri["master_repl_offset"]))

    def wait_in_sync(self, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while not self.in_sync():
            if time.monotonic() > end:
                raise RuntimeError(f"the replica did not sync within {timeout}s: "
                                   f"{_replication(self.replica)}")
            time.sleep(0.02)

    def failover(self, timeout: float = 15.0) -> ValkeyServer:
        """FAILOVER on the primary; returns the new primary once the roles have swapped (the
        old primary is a replica of it with its link up). Does not move any proxy: call
        `proxy.switch(new.port)` after, as a DNS change would."""
        old, new = self.primary, self.replica
        with _client(old) as c:
            c.execute_command("FAILOVER", "TIMEOUT", int(timeout * 1000))
        end = time.monotonic() + timeout
        while True:
            try:
                swapped = (_replication(new).get("role") == "master"
                           and _replication(old).get("master_link_status") == "up")
            except redis.RedisError:
                swapped = False
            if swapped:
                break
            if time.monotonic() > end:
                raise RuntimeError(f"the failover did not complete within {timeout}s: "
                                   f"{_replication(old)} / {_replication(new)}")
            time.sleep(0.01)
        self.primary, self.replica = new, old
        return new
