"""The Lua loader (jobs/scripts.py): every script expands its declared includes depth first,
each once, carries a KEYS/ARGV header, and compiles on the real server."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
import redis

from boltq_core import Queue
from boltq_core.config import Settings
from boltq_core.jobs.scripts import LUA_DIR, Scripts, library, source
from tests.conftest import run_worker
from tests.support.store_clients import without_functions

SCRIPTS = sorted(p.stem for p in LUA_DIR.glob("*.lua"))
INCLUDES = sorted(p.stem for p in (LUA_DIR / "includes").glob("*.lua"))
LOCAL_FUNCTION = re.compile(r"^local function (\w+)", re.M)
COMMENT = re.compile(r"--\[\[.*?\]\]|--[^\n]*", re.S)


def test_every_script_and_include_has_a_header() -> None:
    for path in [*LUA_DIR.glob("*.lua"), *(LUA_DIR / "includes").glob("*.lua")]:
        head = path.read_text().split("]]", 1)[0]
        assert head.startswith("--[["), f"{path.name} has no header comment"
        if path.parent == LUA_DIR:
            assert "KEYS[" in head and "ARGV[" in head, f"{path.name}: header names no KEYS/ARGV"


@pytest.mark.parametrize("name", SCRIPTS)
def test_includes_are_expanded_once_and_before_use(name: str) -> None:
    text = source(name)
    assert "--@include" not in text
    text = COMMENT.sub("", text)
    defined = LOCAL_FUNCTION.findall(text)
    assert len(defined) == len(set(defined)), f"{name}: a function is defined twice"
    for fn in defined:
        first_def = text.index(f"local function {fn}")
        # a call before the definition would be a call of a nil global in Lua
        assert re.search(rf"(?<![\w.:]){fn}\(", text[:first_def]) is None, (name, fn)


def test_an_include_that_is_missing_is_an_error(tmp_path, monkeypatch) -> None:
    import boltq_core.jobs.scripts as scripts

    (tmp_path / "includes").mkdir()
    (tmp_path / "broken.lua").write_text("--[[ broken ]]\n--@include nowhere\n")
    monkeypatch.setattr(scripts, "LUA_DIR", tmp_path)
    scripts.source.cache_clear()
    try:
        with pytest.raises(FileNotFoundError):
            scripts.source("broken")
    finally:
        scripts.source.cache_clear()


def test_every_include_is_used_by_some_script() -> None:
    used = {inc for name in SCRIPTS
            for inc in re.findall(r"^--@include (\w+)", (LUA_DIR / f"{name}.lua").read_text(),
                                  re.M)}
    nested = {inc for name in INCLUDES
              for inc in re.findall(r"^--@include (\w+)",
                                    (LUA_DIR / "includes" / f"{name}.lua").read_text(), re.M)}
    assert set(INCLUDES) <= used | nested


def test_every_script_compiles_on_the_server(queue: Queue) -> None:
    scripts = Scripts(queue.redis)
    for name in SCRIPTS:
        sha = queue.redis.script_load(source(name))
        assert sha == scripts.sha(name)
    assert all(queue.redis.script_exists(*[scripts.sha(n) for n in SCRIPTS]))


# --- the function library (Redis Functions) -----------------------------------------------


def _fcalls(client) -> int:
    return int(client.info("commandstats").get("cmdstat_fcall", {}).get("calls", 0))


def test_the_scripts_on_common_run_as_functions_of_one_library(queue: Queue) -> None:
    lib, _code, functions = library()
    with_includes = {n for n in SCRIPTS if "--@include" in (LUA_DIR / f"{n}.lua").read_text()}
    assert set(functions) == with_includes
    before = _fcalls(queue.redis)
    job_id = queue.submit({"type": "echo"}).job_id
    assert queue.get(job_id).status == "pending"
    assert queue._scripts.functions is True
    assert _fcalls(queue.redis) > before
    (listed,) = queue.redis.function_list(library=lib)
    entry = dict(zip(listed[::2], listed[1::2], strict=True))  # a RESP2 map: flat pairs
    names = {dict(zip(f[::2], f[1::2], strict=True))["name"] for f in entry["functions"]}
    assert names == set(functions.values())


def test_a_store_that_lost_the_library_loads_it_again(queue: Queue) -> None:
    """The library deleted under running clients (as a store restarted without persistence
    loses it): the next submit loads it again, and so does a worker's pipelined finish+claim."""
    lib = library()[0]
    queue.submit({"type": "echo"})
    queue.redis.function_delete(lib)
    second = queue.submit({"type": "echo"}).job_id
    assert queue.get(second).status == "pending"
    assert queue.redis.function_list(library=lib)
    ids = [queue.submit({"type": "echo"}).job_id for _ in range(40)]
    deleted: list[bool] = []

    def done() -> bool:
        completed = queue.stats().totals.get("completed", 0)
        if completed and not deleted:  # once while the worker is mid-drain
            queue.redis.function_delete(lib)
            deleted.append(True)
        return completed == len(ids) + 2

    run_worker(queue, until=done, batch=5, concurrency=5)
    assert deleted and all(queue.get(i).status == "completed" for i in ids)
    assert queue.redis.function_list(library=lib)


def test_a_store_that_refuses_functions_runs_the_scripts_by_evalsha(queue: Queue) -> None:
    with without_functions(queue) as limited:
        job_id = limited.submit({"type": "echo"}).job_id
        assert limited._scripts.functions is False
        assert limited.get(job_id).status == "pending"
        assert queue.get(job_id).status == "pending"  # the same store, the same job


def test_an_error_inside_a_function_is_not_run_again_by_evalsha(queue: Queue) -> None:
    """A refusal from inside the function (here an ACL denying XADD, which every submit runs)
    is the call's own error: a client that has not yet seen FCALL work must not take it for a
    refusal of FCALL and run the script a second time by EVALSHA."""
    user = f"noxadd-{uuid.uuid4().hex[:8]}"
    queue.redis.acl_setuser(user, enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                            commands=["+@all", "-xadd"])
    queue.submit({"type": "echo"})  # the library is on the server
    evalshas = int(queue.redis.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
    try:
        url = urlsplit(queue.settings.redis_url)
        limited = Queue(Settings(redis_url=f"redis://{user}:pw@{url.hostname}:{url.port}/0",
                                 key_prefix=queue.settings.key_prefix))
        try:
            # Valkey names the command ("... run the 'xadd' command script: ..."), Redis 7 does
            # not ("The user executing the script can't run this command ... script: ...")
            with pytest.raises(redis.ResponseError, match="script"):
                limited.submit({"type": "echo"})
            assert limited._scripts.functions is not False
        finally:
            limited.redis.close()
    finally:
        queue.redis.acl_deluser(user)
    after = int(queue.redis.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
    assert after == evalshas


def test_a_call_packed_with_its_namespace_prefix_is_the_same_request() -> None:
    from hiredis import pack_command

    from boltq_core.jobs.calls import ScriptCalls, parse_specs
    from boltq_core.jobs.scripts import pack_fcall

    a = ScriptCalls(Settings(key_prefix="pk"))
    b = ScriptCalls(Settings(key_prefix="pk", retention_seconds=60))  # the same keys, other args
    named = ScriptCalls(Settings(key_prefix="pk"), "reports")
    specs = parse_specs([{"type": "t", "data": {"s": "\u00e9\u00e9"}}, {"type": "u"}])
    calls = [
        a.submit(a.prepare(specs))[0],  # own keys and own args
        a.promote(),  # own args only
        a.call("unidle"),  # the prefix alone
        b.submit(b.prepare(specs))[0],  # its args differ from the prefix kept last for the keys
        named.submit(named.prepare(specs))[0],
    ]
    calls.append(type(calls[0])("submit", ["k", *calls[0].keys], calls[0].args))  # no prefix
    for call in calls:
        whole = pack_command(("FCALL", "fn", len(call.keys), *call.keys, *call.args))
        assert pack_fcall("fn", call.keys, call.args) == whole, call
