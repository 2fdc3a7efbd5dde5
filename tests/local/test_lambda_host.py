"""lambda_host.FunctionPool in-process: one invocation at a time per container over a pipe that
stays registered with the event loop, a caller that goes away does not hand a busy container
to the next invocation, a dead container fails its invocation and is replaced; and `boltq dev`
gives request-driven functions (REST/WebSocket) their own container cap."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest

from boltq_local.dev import DevServer, Options
from boltq_local.lambda_host import FunctionPool, request_uuid
from boltq_local.template import Function
from tests.local.conftest import ROOT

HANDLER = '''
import os, time

def handler(event, context):
    if event.get("die"):
        os._exit(3)
    t0 = time.time()
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "t0": t0, "t1": time.time(), "n": event.get("n"),
            "request_id": context.aws_request_id}
'''


def pool(tmp_path: Path, cap: int) -> FunctionPool:
    (tmp_path / "app.py").write_text(HANDLER)
    fn = Function("TestFunction", tmp_path, "app.handler", 10.0, 128, {})
    return FunctionPool(fn, {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}, cap)


def test_one_invocation_at_a_time_per_container(tmp_path: Path) -> None:
    async def main() -> None:
        p = pool(tmp_path, 2)
        try:
            results = await asyncio.gather(*(p.invoke({"n": i, "sleep": 0.05})
                                             for i in range(8)))
            assert all(r.ok for r in results)
            assert sorted(r.payload["n"] for r in results) == list(range(8))
            assert all(r.payload["request_id"] == r.request_id for r in results)
            by_pid: dict[int, list[tuple[float, float]]] = {}
            for r in results:
                by_pid.setdefault(r.payload["pid"], []).append((r.payload["t0"], r.payload["t1"]))
            assert len(by_pid) == 2 and len(p.containers) == 2  # the cap
            for spans in by_pid.values():  # never two at once in one container
                spans.sort()
                assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
            # a caller that goes away: the container finishes, then serves the next one
            slow = asyncio.ensure_future(p.invoke({"n": "slow", "sleep": 0.3}))
            await asyncio.sleep(0.1)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            nxt = await asyncio.gather(*(p.invoke({"n": i}) for i in range(4)))
            assert [r.payload["n"] for r in nxt] == [0, 1, 2, 3]  # no stale replies
            # a container that dies fails its invocation and is replaced on demand
            dead = await p.invoke({"die": True})
            assert not dead.ok and dead.error_type == "Runtime.ExitError"
            again = await asyncio.gather(*(p.invoke({"n": i}) for i in range(3)))
            assert all(r.ok for r in again) and len(p.containers) <= 2
        finally:
            await p.close()

    asyncio.run(main())


def test_request_ids_are_uuid4() -> None:
    import uuid

    ids = {request_uuid() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_request_driven_functions_get_their_own_cap() -> None:
    server = DevServer(Options(ROOT / "template.yaml", num_workers=3, request_concurrency=7))
    caps = {name: server._cap(fn) for name, fn in server.template.functions.items()}
    assert caps["ApiFunction"] == 7 and caps["WsFunction"] == 7
    assert caps["WorkerFunction"] == 3
    assert caps["PollerFunction"] == 1 and caps["PromoterFunction"] == 1  # reserved
