"""How store clients ride through a failover or an outage without a restart.

- Which errors mean "the store is unavailable or failing over" (`is_store_trouble`), and
  which of them prove the command never ran (`is_refusal`): the server answered READONLY (a
  primary that became a replica), LOADING, MASTERDOWN, TRYAGAIN or UNBLOCKED, or the
  connection failed before the command was written.
- Connections that, once one of them is told READONLY (or another refusal), make every
  connection of the same client reconnect before its next command: the endpoint's name has
  moved to the new primary, the pooled sockets are still on the old node (`harden`).
- A reply lost in transit (the socket broke or timed out after the command was written) is
  `ReplyLost`: the command may have run, so only idempotent calls may be sent again
  (boltq_core.jobs.queue decides per call); the connection-level retry (`StoreRetry`) resends
  only commands that provably did not run, with backoff, for at most a time budget.
- A TLS certificate the client refuses (not from a trusted CA, not naming the host) is
  `CertificateRefused`: a setting to fix, never store trouble, never retried.
"""

from __future__ import annotations

import random
import ssl
import time
from typing import Any

import redis
from redis.backoff import NoBackoff

# replies of a node that cannot serve the command now; the command did not run
_REFUSALS = ("READONLY", "LOADING", "MASTERDOWN", "UNBLOCKED", "TRYAGAIN", "CLUSTERDOWN")


class ReplyLost(redis.ConnectionError):
    """The command was written but its reply never came (connection reset or read timeout):
    it may or may not have run."""


class ConnectFailed(redis.ConnectionError):
    """No connection could be made (refused, unreachable, cut in the handshake, or the connect
    timed out): nothing was sent. `exhausted`: the connect was already tried for a whole
    budget."""

    exhausted = False


class CertificateRefused(redis.AuthenticationError):
    """The store's TLS certificate was refused (it does not chain to a trusted CA or does not
    name the host): a setting to fix, not an outage to wait out, so it is never retried."""


def certificate_refused(exc: BaseException | None) -> bool:
    """True when `exc` or what caused it is a failed TLS certificate check."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ssl.SSLCertVerificationError | CertificateRefused):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def is_refusal(exc: BaseException) -> bool:
    """The server (or the network, before anything was written) refused the command: it did
    not run, so sending it again is always safe."""
    e = redis.exceptions
    if isinstance(exc, ReplyLost) or certificate_refused(exc):
        return False
    if isinstance(exc, e.ReadOnlyError | e.BusyLoadingError | e.MasterDownError
                  | e.TryAgainError | e.ClusterDownError | ConnectFailed):
        return True
    if isinstance(exc, e.ResponseError):
        # redis-py strips the code of the replies it maps to a class; the others keep it
        return str(exc).split(" ", 1)[0].upper() in _REFUSALS
    # a ConnectionError redis-py raised while connecting or writing (reads raise ReplyLost), or
    # the socket error of a connect attempt itself (refused, reset, unreachable, timed out)
    return type(exc) is e.ConnectionError or not isinstance(exc, redis.RedisError)


def is_store_trouble(exc: BaseException) -> bool:
    """True for errors that mean "the store is unavailable or failing over, try again later"
    (never for bad input, a script bug or a wrong password)."""
    e = redis.exceptions
    if isinstance(exc, e.AuthenticationError | e.AuthorizationError) or certificate_refused(exc):
        return False
    if isinstance(exc, e.ConnectionError | e.TimeoutError | OSError):
        return True
    return is_refusal(exc)


def _resend(error: BaseException) -> bool:
    # a connect already tried for a whole budget is not tried for another one
    return is_refusal(error) and not (isinstance(error, ConnectFailed) and error.exhausted)


class _Shared:
    """What every connection of one client shares: a refusal epoch (connections made before
    the latest refusal reconnect) and a "down" window. Once a call has spent its whole budget
    without the store serving it, the calls that follow within the window try once instead of
    waiting the budget out again, so a request touching the store several times, or a burst of
    requests, fails fast (503) while the store stays away. That one try is real: a store that
    is back serves it at once."""

    def __init__(self, window: float) -> None:
        self.epoch = 0
        self.window = window
        self.down_until = 0.0

    def __deepcopy__(self, memo: Any) -> _Shared:
        return self  # redis-py copies a client's retry into each connection: keep one state

    def down(self) -> bool:
        return time.monotonic() < self.down_until

    def gave_up(self) -> None:
        self.down_until = time.monotonic() + self.window

    def failed(self, exc: BaseException) -> ConnectFailed:
        if isinstance(exc, ConnectFailed):
            return exc
        what = "connect timed out" if isinstance(exc, redis.TimeoutError) else "connect failed"
        failed = ConnectFailed(f"{what}: {exc}")
        failed.__cause__ = exc
        failed.exhausted = self.down()  # the socket connect's own retry spent its budget
        return failed


class StoreRetry(redis.retry.Retry):
    """Resends a command only after a refusal (it did not run), with exponential backoff and
    jitter, for at most `budget` seconds (once only while the store is known to be down); a
    lost reply or a timeout is raised at once."""

    def __init__(self, budget: float, base: float = 0.05, cap: float = 1.0) -> None:
        super().__init__(NoBackoff(), -1, (redis.RedisError, OSError))
        self.budget, self.base, self.cap = budget, base, cap
        self.shared = _Shared(max(1.0, budget))

    def pause(self, failures: int) -> float:
        return random.uniform(0.5, 1.0) * min(self.cap, self.base * 2 ** (failures - 1))

    def _end(self) -> float:
        return time.monotonic() + (0.0 if self.shared.down() else self.budget)

    def _give_up(self, error: BaseException, pause: float, end: float) -> bool:
        if time.monotonic() + pause <= end:
            return False
        if self.budget > 0:
            self.shared.gave_up()
        return True

    def call_with_retry(self, do: Any, fail: Any, is_retryable: Any = None,
                        with_failure_count: bool = False) -> Any:
        end = self._end()
        failures = 0
        while True:
            try:
                return do()
            except (redis.RedisError, OSError) as error:
                if not _resend(error) or (is_retryable and not is_retryable(error)):
                    raise
                failures += 1
                fail(error, failures) if with_failure_count else fail(error)
                pause = self.pause(failures)
                if self._give_up(error, pause, end):
                    raise
                time.sleep(pause)


class AsyncStoreRetry(StoreRetry):
    """StoreRetry for redis.asyncio connections."""

    async def call_with_retry(self, do: Any, fail: Any, is_retryable: Any = None,  # type: ignore[override]
                              with_failure_count: bool = False) -> Any:
        import asyncio

        end = self._end()
        failures = 0
        while True:
            try:
                return await do()
            except (redis.RedisError, OSError) as error:
                if not _resend(error) or (is_retryable and not is_retryable(error)):
                    raise
                failures += 1
                await (fail(error, failures) if with_failure_count else fail(error))
                pause = self.pause(failures)
                if self._give_up(error, pause, end):
                    raise
                await asyncio.sleep(pause)


def call(fn: Any, *, budget: float, resend: bool, what: str = "call") -> Any:
    """Run `fn()` through a store outage. Refusals were already resent by the connection's
    StoreRetry for a whole budget; a lost reply or a timeout is resent here only when `resend`
    says the call is idempotent, until `budget` seconds have passed. Any store trouble left
    becomes StoreUnavailable (the API answers 503 with Retry-After)."""
    from boltq_core.errors import StoreUnavailable

    end = time.monotonic() + budget
    failures = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_store_trouble(exc):
                raise
            failures += 1
            pause = random.uniform(0.5, 1.0) * min(1.0, 0.05 * 2 ** failures)
            if not resend or is_refusal(exc) or time.monotonic() + pause > end:
                raise StoreUnavailable(
                    f"the store is unreachable or failing over ({what}): {exc}",
                    retry_after=1) from exc
            time.sleep(pause)


def _lost(exc: BaseException) -> ReplyLost:
    lost = ReplyLost(f"reply lost: {exc}")
    lost.__cause__ = exc
    return lost


class _SyncGuard:
    """Mixed into a client's connection class (see `harden`)."""

    _shared: _Shared
    _seen = -1  # the epoch this connection was made in
    _safe_read = False  # reading the handshake or a health-check PING: safe to resend

    def connect(self) -> None:
        # as redis-py does: the whole connect (socket and handshake) tried again after a
        # refusal (the connection pool connects here, outside any command's retry)
        self.retry.call_with_retry(  # type: ignore[attr-defined]
            lambda: self.connect_check_health(check_health=True, retry_socket_connect=False),
            lambda error: self.disconnect())  # type: ignore[attr-defined]

    # the one way in to a new connection: connect() and a send on a closed connection
    def connect_check_health(self, check_health: bool = True,
                             retry_socket_connect: bool = True) -> None:
        if getattr(self, "_sock", None):
            return
        safe, self._safe_read = self._safe_read, True
        self._seen = self._shared.epoch  # before the handshake, which sends commands itself
        try:
            super().connect_check_health(check_health, retry_socket_connect)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if isinstance(exc, redis.AuthenticationError):
                raise
            if certificate_refused(exc):
                raise CertificateRefused(f"the store's TLS certificate was refused: {exc}") from exc
            raise self._shared.failed(exc) from exc
        finally:
            self._safe_read = safe

    def check_health(self) -> None:
        safe, self._safe_read = self._safe_read, True
        try:
            super().check_health()  # type: ignore[misc]
        finally:
            self._safe_read = safe

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._seen != self._shared.epoch and getattr(self, "_sock", None):
            self.disconnect()  # type: ignore[attr-defined]  # made before a refusal: its node may be gone
        super().send_packed_command(command, check_health)  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if self._safe_read or isinstance(exc, redis.exceptions.BusyLoadingError):
                raise
            raise _lost(exc) from exc
        except redis.ResponseError as exc:
            if is_refusal(exc):
                self._shared.epoch += 1
            raise


class _AsyncGuard:
    """_SyncGuard for redis.asyncio connections."""

    _shared: _Shared
    _seen = -1
    _safe_read = False

    async def connect(self) -> None:
        await self.retry.call_with_retry(  # type: ignore[attr-defined]
            lambda: self.connect_check_health(check_health=True, retry_socket_connect=False),
            lambda error: self.disconnect())  # type: ignore[attr-defined]

    async def connect_check_health(self, check_health: bool = True,
                                   retry_socket_connect: bool = True) -> None:
        if self.is_connected:  # type: ignore[attr-defined]
            return
        safe, self._safe_read = self._safe_read, True
        self._seen = self._shared.epoch  # before the handshake, which sends commands itself
        try:
            await super().connect_check_health(  # type: ignore[misc]
                check_health, retry_socket_connect)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if isinstance(exc, redis.AuthenticationError):
                raise
            if certificate_refused(exc):
                raise CertificateRefused(f"the store's TLS certificate was refused: {exc}") from exc
            raise self._shared.failed(exc) from exc
        finally:
            self._safe_read = safe

    async def check_health(self) -> None:
        safe, self._safe_read = self._safe_read, True
        try:
            await super().check_health()  # type: ignore[misc]
        finally:
            self._safe_read = safe

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._seen != self._shared.epoch and self.is_connected:  # type: ignore[attr-defined]
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
        await super().send_packed_command(command, check_health)  # type: ignore[misc]

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if self._safe_read or isinstance(exc, redis.exceptions.BusyLoadingError):
                raise
            raise _lost(exc) from exc
        except redis.ResponseError as exc:
            if is_refusal(exc):
                self._shared.epoch += 1
            raise


def harden(client: Any, extra: dict[str, Any] | None = None, is_async: bool = False) -> Any:
    """Give a standalone client's connections the failover behaviour above (the connection
    class the URL chose - TCP, TLS or Unix socket - is kept); `extra` adds class attributes."""
    pool = client.connection_pool
    base = pool.connection_class
    if getattr(base, "_shared", None) is not None:
        return client
    retry = pool.connection_kwargs.get("retry")
    shared = retry.shared if isinstance(retry, StoreRetry) else _Shared(1.0)
    guard = _AsyncGuard if is_async else _SyncGuard
    pool.connection_class = type(base.__name__, (guard, base),
                                 {"_shared": shared, **(extra or {})})
    return client


def drop_connections(client: Any) -> None:
    """Make every pooled connection of `client` reconnect before its next command."""
    cls = getattr(getattr(client, "connection_pool", None), "connection_class", None)
    shared = getattr(cls, "_shared", None)
    if shared is not None:
        shared.epoch += 1
