"""SnapStart's runtime hooks in the api function (boltq_core.jobs.snapstart), against a real
Valkey/Redis. The hook registry is the Lambda runtime's `snapshot_restore_py`, which exists only
there: a fake one stands in for it, keeping what the function registers so the test can run
the hooks as Lambda would (before the snapshot, after a restore)."""

from __future__ import annotations

import importlib.util
import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from boltq_core import Queue
from boltq_core.jobs import snapstart
from boltq_core.jobs.queue import shared_queue
from tests.functions.conftest import ROOT, LambdaContext, body_of, rest_event

Hook = tuple[Callable[..., Any], tuple[Any, ...]]


class Runtime:
    """The hooks registered with the fake `snapshot_restore_py`, run as Lambda runs them."""

    def __init__(self) -> None:
        self.before: list[Hook] = []
        self.after: list[Hook] = []

    def snapshot(self) -> None:
        for fn, args in reversed(self.before):  # Lambda: in the reverse order of registration
            fn(*args)

    def restore(self) -> None:
        for fn, args in self.after:
            fn(*args)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Runtime:
    rt = Runtime()
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_before_snapshot = lambda fn, *a: rt.before.append((fn, a)) or fn  # type: ignore[attr-defined]
    fake.register_after_restore = lambda fn, *a: rt.after.append((fn, a)) or fn  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    return rt


@pytest.fixture
def api(runtime: Runtime, fn_env: Queue, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """functions/api/app.py imported afresh, as a SnapStart init does, with the fake runtime."""
    name = "boltq_fn_api_snapstart"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / "api" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def _get(api: types.ModuleType, path: str) -> tuple[int, Any]:
    resp = api.handler(rest_event("GET", path), LambdaContext("boltq-api"))
    return resp["statusCode"], body_of(resp)


def _open_sockets(q: Queue) -> int:
    pool = q.redis.connection_pool
    return sum(c._sock is not None for c in [*pool._available_connections,
                                              *pool._in_use_connections])


def test_without_the_lambda_runtime_nothing_is_registered() -> None:
    assert "snapshot_restore_py" not in sys.modules
    assert snapstart.register(lambda: None) is False


def test_the_api_registers_both_hooks(api: types.ModuleType, runtime: Runtime) -> None:
    assert [fn for fn, _ in runtime.before] == [snapstart.before_snapshot]
    assert runtime.before[0][1] == (api._warm,)
    assert [fn for fn, _ in runtime.after] == [snapstart.after_restore]


def test_after_a_restore_the_next_request_runs_on_a_fresh_connection(
    api: types.ModuleType, runtime: Runtime, fn_env: Queue
) -> None:
    resp = api.handler(rest_event("POST", "/api/v1/jobs", {"type": "echo"}),
                       LambdaContext("boltq-api"))
    assert resp["statusCode"] == 200, resp
    job_id = body_of(resp)["data"]["job_id"]
    q = shared_queue()
    before = q.redis.client_id()
    assert _open_sockets(q) >= 1
    # the snapshot's connections are dead after a restore: the store has forgotten them
    assert fn_env.redis.client_kill_filter(_id=before) == 1
    assert _open_sockets(q) >= 1  # the client has not noticed

    runtime.restore()

    assert _open_sockets(q) == 0
    status, body = _get(api, f"/api/v1/jobs/{job_id}")
    assert status == 200 and body["data"]["id"] == job_id, body
    assert shared_queue() is q  # the same client, on a new connection
    assert q.redis.client_id() != before


def test_after_a_restore_random_is_seeded_again(runtime: Runtime, fn_env: Queue) -> None:
    snapstart.register()
    random.seed(1234)
    snapshot_state = random.random()
    random.seed(1234)  # the state every restored environment would share
    runtime.restore()
    assert random.random() != snapshot_state


def test_before_the_snapshot_the_first_requests_work_is_done_and_no_connection_is_left(
    api: types.ModuleType, runtime: Runtime
) -> None:
    status, _ = _get(api, "/health")  # an init that did talk to the store
    assert status == 200
    assert not api.JobRequest.__pydantic_complete__  # deferred at cold start
    runtime.snapshot()
    assert api.JobRequest.__pydantic_complete__ and api.KeyRequest.__pydantic_complete__
    assert api._document.cache_info().currsize == 1  # the OpenAPI document, built
    assert _open_sockets(shared_queue()) == 0


def test_a_failing_warm_does_not_stop_the_snapshot(runtime: Runtime, fn_env: Queue) -> None:
    def warm() -> None:
        raise RuntimeError("boom")

    assert snapstart.register(warm) is True
    runtime.snapshot()  # logged, not raised
