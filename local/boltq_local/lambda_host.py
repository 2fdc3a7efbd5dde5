"""Run a Lambda function locally the way Lambda does: each function gets warm "containers"
(separate processes with the function's own environment, its handler imported once), each
container runs one invocation at a time, new ones start on demand up to a cap, and an
invocation gets a Lambda-like context (aws_request_id, function_name, remaining time from the
template's Timeout). An invocation that overruns its timeout has its container killed, as in
Lambda; a container that dies (crash, SIGKILL) fails its invocation and is replaced on demand."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import multiprocessing
import os
import random
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from boltq_local.template import Function

# what a container keeps from the environment of `boltq dev` (the rest comes from the template)
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "VIRTUAL_ENV",
            "PYTHONPATH", "PYTHONHASHSEED", "SYSTEMROOT", "USER")


LOST = ("Sandbox.Timedout", "Runtime.ExitError")  # the container did not finish the handler


@dataclass
class Result:
    ok: bool
    payload: Any  # the handler's return value (JSON round-tripped), or Lambda's error shape
    duration_ms: float
    request_id: str
    container_pid: int | None = None

    @property
    def error_type(self) -> str | None:
        return None if self.ok else str((self.payload or {}).get("errorType", "Error"))


# --- inside the container process ----------------------------------------------------------


class LambdaContext:
    """The context object Lambda passes to a handler."""

    def __init__(self, fn: dict[str, Any], request_id: str, deadline_epoch: float) -> None:
        name = fn["name"]
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = fn["memory_mb"]
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline_epoch

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when `boltq dev` dies, even by SIGKILL (no orphans)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(0)


def container_main(conn: Connection, fn: dict[str, Any]) -> None:
    """The container's loop: import the handler once, then run invocations sent on `conn`."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for `boltq dev` to handle

    def on_term(*_: Any) -> None:
        raise SystemExit(0)  # unwinds: finally blocks release locks and fleet slots

    signal.signal(signal.SIGTERM, on_term)
    keep = {k: v for k, v in os.environ.items() if k in KEEP_ENV}
    os.environ.clear()
    os.environ.update(keep)
    os.environ.update(fn["env"])
    os.chdir(fn["code_dir"])
    sys.path.insert(0, fn["code_dir"])
    module_name, _, attr = fn["handler"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attr)
        conn.send_bytes(b'{"ready":true}')
    except BaseException as exc:
        conn.send_bytes(json.dumps({"ready": False, "error": _error(exc)}).encode())
        return
    while True:
        try:
            msg = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        ctx = LambdaContext(fn, msg["id"], msg["deadline"])
        try:
            out = handler(msg["event"], ctx)
            raw = json.dumps({"ok": True, "payload": out}, default=str)
        except Exception as exc:
            raw = json.dumps({"ok": False, "payload": _error(exc)}, default=str)
        conn.send_bytes(raw.encode())


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_exception(exc)[-6:],
    }


# --- in `boltq dev` --------------------------------------------------------------------------


class ContainerDied(Exception):
    pass


@dataclass
class Container:
    proc: Any  # multiprocessing.Process
    conn: Connection
    started: float = field(default_factory=time.monotonic)
    busy: bool = False
    invocations: int = 0
    request_id: str | None = None
    # the reply being waited for: the pipe stays registered with the event loop for the
    # container's whole life (no add/remove of a reader, no task per invocation)
    waiting: asyncio.Future[bytes] | None = None
    gone: BaseException | None = None  # set when the pipe hit EOF: the process exited
    release_on_reply: bool = False  # the caller gave up waiting: release it when it replies
    replied: bool = False  # the reply to the current invocation has been read

    @property
    def pid(self) -> int | None:
        return self.proc.pid


class FunctionPool:
    """The warm containers of one function, at most `cap` at once."""

    def __init__(
        self,
        fn: Function,
        env: dict[str, str],
        cap: int,
        on_invoke: Callable[[str, str, Result, Any], None] | None = None,
    ) -> None:
        self.fn = fn
        self.env = env
        self.cap = max(1, cap)
        self.containers: list[Container] = []
        self.on_invoke = on_invoke
        # called with the event of an invocation whose container died or was killed mid-way
        self.on_lost: Callable[[Any], None] | None = None
        self._idle: list[Container] = []
        self._starting = 0
        self._waiters: list[asyncio.Future[Container]] = []
        self._ctx = multiprocessing.get_context("spawn")
        self.closed = False
        self.pending_events = 0

    @property
    def name(self) -> str:
        return self.fn.logical_id

    def _spec(self) -> dict[str, Any]:
        return {"name": self.name, "env": self.env, "code_dir": str(self.fn.code_dir),
                "handler": self.fn.handler, "memory_mb": self.fn.memory_mb}

    async def _start(self) -> Container:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=container_main, args=(child, self._spec()),
                                 name=f"boltq-{self.name}", daemon=True)
        proc.start()
        child.close()
        c = Container(proc, parent)
        asyncio.get_running_loop().add_reader(parent.fileno(), self._readable, c)
        try:
            hello = json.loads(await self._recv(c, 60.0))
        except BaseException:
            self._kill(c)
            raise
        if not hello.get("ready"):
            self._kill(c)
            err = hello.get("error") or {}
            raise ContainerDied(f"{self.name} failed to start: {err.get('errorType')}: "
                                f"{err.get('errorMessage')}")
        self.containers.append(c)
        return c

    def _readable(self, c: Container) -> None:
        """The container's pipe is readable: a reply, or EOF when the process has exited."""
        try:
            raw = c.conn.recv_bytes()
        except (EOFError, OSError) as exc:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(c.conn.fileno())
            c.gone = ContainerDied(f"{self.name} container (pid {c.pid}) exited"
                                   f" ({type(exc).__name__})")
            if c.waiting is not None and not c.waiting.done():
                c.waiting.set_exception(c.gone)
            elif c.release_on_reply:
                c.release_on_reply = False
                self._release(c)  # drops it: its slot frees up
            return
        if c.waiting is not None and not c.waiting.done():
            c.replied = True
            c.waiting.set_result(raw)
        elif c.release_on_reply:  # the reply of an invocation whose caller went away
            c.release_on_reply = False
            self._release(c)

    async def _recv(self, c: Container, timeout: float | None) -> bytes:
        if c.gone is not None:
            raise c.gone
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        c.waiting = fut
        try:
            async with asyncio.timeout(timeout):
                return await fut
        finally:
            c.waiting = None

    async def warm(self, n: int = 1) -> None:
        for _ in range(min(n, self.cap) - len(self.containers)):
            self._release(await self._start())

    async def _acquire(self) -> Container:
        while self._idle:
            c = self._idle.pop()
            if c.gone is None and c.proc.is_alive():
                return c
            self._drop(c)
        if len(self.containers) + self._starting < self.cap:
            self._starting += 1
            try:
                return await self._start()
            finally:
                self._starting -= 1
        fut: asyncio.Future[Container] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(fut.result())
            raise

    def _release(self, c: Container) -> None:
        c.busy = False
        c.request_id = None
        if self.closed or c.gone is not None or not c.proc.is_alive():
            self._drop(c)
            c = None  # type: ignore[assignment]
        while self._waiters:
            w = self._waiters.pop(0)
            if w.done():
                continue
            if c is not None:
                w.set_result(c)
                return
            # a slot freed up: let the waiter start a new container
            _keep(asyncio.ensure_future(self._start_for(w)))
            return
        if c is not None:
            self._idle.append(c)

    async def _start_for(self, w: asyncio.Future[Container]) -> None:
        try:
            c = await self._start()
        except Exception as exc:
            if not w.done():
                w.set_exception(exc)
            return
        if w.done():
            self._release(c)
        else:
            w.set_result(c)

    def _drop(self, c: Container) -> None:
        self._kill(c)
        if c in self.containers:
            self.containers.remove(c)
        if c in self._idle:
            self._idle.remove(c)

    @staticmethod
    def _kill(c: Container) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(c.conn.fileno())
        with contextlib.suppress(Exception):
            if c.proc.is_alive():
                c.proc.kill()
            c.proc.join(2)
        with contextlib.suppress(Exception):
            c.conn.close()

    async def invoke(self, event: Any, kind: str = "RequestResponse", label: Any = None) -> Result:
        """Run one invocation in a container; never raises for the handler's own failures."""
        request_id = request_uuid()
        t0 = time.perf_counter()
        c: Container | None = None
        try:
            c = await self._acquire()
            c.busy, c.request_id = True, request_id
            c.invocations += 1
            deadline = time.time() + self.fn.timeout
            c.replied = False
            c.conn.send_bytes(json.dumps(
                {"id": request_id, "event": event, "deadline": deadline}
            ).encode())
            raw = await self._recv(c, self.fn.timeout + 1.0)
            reply = json.loads(raw)
            result = Result(reply["ok"], reply["payload"], _ms(t0), request_id, c.pid)
        except TimeoutError:
            result = Result(False, {"errorType": "Sandbox.Timedout", "errorMessage":
                                    f"Task timed out after {self.fn.timeout:.2f} seconds"},
                            _ms(t0), request_id, c.pid if c else None)
            if c is not None:
                self._drop(c)
                c = None
        except ContainerDied as exc:
            result = Result(False, {"errorType": "Runtime.ExitError", "errorMessage": str(exc)},
                            _ms(t0), request_id, c.pid if c else None)
            if c is not None:
                self._drop(c)
                c = None
        except asyncio.CancelledError:
            # the caller went away mid-invocation: the handler still runs to its end, as in
            # Lambda; the container takes new work only after its reply has been read
            if c is not None and c.busy and not c.replied and c.gone is None:
                c.release_on_reply = True
                c = None
            raise
        finally:
            if c is not None:
                self._release(c)
        if not result.ok and result.error_type in LOST and self.on_lost is not None:
            with contextlib.suppress(Exception):
                self.on_lost(event)
        if self.on_invoke is not None and not self.closed:
            self.on_invoke(self.name, kind, result, label)
        return result

    def invoke_event(self, event: Any, label: Any = None) -> asyncio.Task[Result]:
        """InvocationType=Event: queued, run when a container is free."""
        self.pending_events += 1

        async def run() -> Result:
            try:
                return await self.invoke(event, "Event", label)
            finally:
                self.pending_events -= 1

        return _keep(asyncio.ensure_future(run()))

    def describe(self) -> dict[str, Any]:
        return {
            "function": self.name,
            "cap": self.cap,
            "queued_events": self.pending_events,
            "containers": [
                {"pid": c.pid, "busy": c.busy, "request_id": c.request_id,
                 "invocations": c.invocations} for c in self.containers
            ],
        }

    async def close(self, grace: float = 5.0) -> None:
        """SIGTERM every container (handlers unwind), SIGKILL what is left after `grace`."""
        self.closed = True
        for w in self._waiters:
            if not w.done():
                w.cancel()
        for c in list(self.containers):
            with contextlib.suppress(Exception):
                if c.proc.is_alive():
                    os.kill(c.pid, signal.SIGTERM)  # type: ignore[arg-type]
        end = time.monotonic() + grace
        while time.monotonic() < end and any(c.proc.is_alive() for c in self.containers):
            await asyncio.sleep(0.05)
        for c in list(self.containers):
            self._drop(c)


_background: set[asyncio.Future[Any]] = set()


def _keep(task: asyncio.Future[Any]) -> Any:
    """Hold a reference to a background task until it ends."""
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def request_uuid() -> str:
    """A random (version 4) UUID without a getrandom syscall per call, as uuid.uuid4() makes."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
