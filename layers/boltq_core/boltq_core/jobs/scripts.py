"""The Lua scripts in lua/ (one per state transition) and the registry of them per client.

A script names the includes it uses with `--@include name` lines (lua/includes/name.lua); an
include names its own the same way. The loader expands them depth first, each once, so every
function is defined before the code that calls it.

On a server with Redis Functions (Redis/Valkey 7+), the scripts built on includes/common.lua run
as functions of one library, loaded once per server: an EVALSHA runs its whole chunk on every
call (defining every include function again), an FCALL runs only the function. The includes
are defined once when the library loads; common.lua's per-call block (between `--@begin_call`
and `--@end_call`) becomes `begin_call()`, run first by every function. A cluster client keeps
EVALSHA: redis-py asks the server for an FCALL's keys (COMMAND GETKEYS) before each call."""

from __future__ import annotations

import hashlib
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.exceptions import NoPermissionError, NoScriptError, ResponseError

from boltq_core.store import pinned

try:
    from hiredis import pack_command
except ImportError:  # hiredis is a pinned dependency; without it redis-py's own path serves
    pack_command = None

log = logging.getLogger(__name__)

LUA_DIR = Path(__file__).with_name("lua")
_INCLUDE = re.compile(r"^--@include (\w+)\s*$", re.M)


@cache
def source(name: str) -> str:
    """The full source of script `name`, its includes (and theirs) expanded, each once."""
    seen: set[str] = set()

    def load(path: Path) -> str:
        return _INCLUDE.sub(expand, path.read_text())

    def expand(match: re.Match[str]) -> str:
        inc = match.group(1)
        if inc in seen:
            return ""
        seen.add(inc)
        return load(LUA_DIR / "includes" / f"{inc}.lua")

    return load(LUA_DIR / f"{name}.lua")


def _closure(name: str) -> list[str]:
    """The includes script `name` pulls in, each once and after the includes it uses."""
    out: list[str] = []

    def walk(text: str) -> None:
        for inc in _INCLUDE.findall(text):
            if inc not in out:
                walk((LUA_DIR / "includes" / f"{inc}.lua").read_text())
                out.append(inc)

    walk((LUA_DIR / f"{name}.lua").read_text())
    return out


@cache
def library() -> tuple[str, str, dict[str, str]]:
    """(library name, FUNCTION LOAD code, script name -> function name) of the scripts built on
    common.lua. The name carries a digest of the code, so two versions of BoltQ on one store
    each call their own."""
    names = sorted(p.stem for p in LUA_DIR.glob("*.lua") if "common" in _closure(p.stem))
    defined: list[str] = []  # every include once, each after the includes it uses
    for name in names:
        defined += [inc for inc in _closure(name) if inc not in defined]
    prelude = "\n".join(_INCLUDE.sub("", (LUA_DIR / "includes" / f"{inc}.lua").read_text())
                        for inc in defined)
    prelude = prelude.replace("--@begin_call", "local function begin_call()")
    prelude = prelude.replace("--@end_call", "end")
    bodies = {name: _INCLUDE.sub("", (LUA_DIR / f"{name}.lua").read_text()) for name in names}
    digest = hashlib.sha1((prelude + "".join(bodies.values())).encode()).hexdigest()[:12]
    lib = f"boltq_{digest}"
    fns = {name: f"{lib}_{name}" for name in names}
    parts = [f"#!lua name={lib}", "local KEYS, ARGV", prelude]
    for name, text in bodies.items():
        parts.append(f"redis.register_function('{fns[name]}', function(keys, args)\n"
                     f"KEYS, ARGV = keys, args\nbegin_call()\n{text}\nend)")
    return lib, "\n".join(parts), fns


def lost(reply: Any) -> bool:
    """The server no longer has the script or function (restarted empty, flushed)."""
    return isinstance(reply, NoScriptError) or (
        isinstance(reply, ResponseError) and "Function not found" in str(reply))


def _refused(exc: ResponseError) -> bool:
    """FUNCTION LOAD is not there (Redis < 7) or not allowed (ACL): scripts go by EVALSHA."""
    return isinstance(exc, NoPermissionError) or "unknown command" in str(exc).lower()


class Scripts:
    """The registered scripts of one client, by name: `scripts[name](keys=, args=)` runs one
    (awaitable with an asyncio client) by FCALL where the server has functions, else EVALSHA;
    `queue_in(pipe, ...)` adds one to a pipeline."""

    def __init__(self, client: Any, functions: bool | None = None) -> None:
        self._client = client
        self._cache: dict[str, Any] = {}
        self._calls: dict[str, _SyncCall] = {}
        self._async = isinstance(client, (aredis.Redis, AsyncRedisCluster))
        cluster = isinstance(client, (RedisCluster, AsyncRedisCluster))
        # None: decided by the first call (does FUNCTION LOAD work here?)
        self.functions: bool | None = False if cluster else functions

    def sha(self, name: str) -> str:
        return str(self.script(name).sha)

    def script(self, name: str) -> Any:
        """redis-py's Script for `name` (EVALSHA, loading it when the server lacks it)."""
        script = self._cache.get(name)
        if script is None:
            script = self._cache[name] = self._client.register_script(source(name))
        return script

    def __getitem__(self, name: str) -> Any:
        call = self._calls.get(name)
        if call is None:
            fn = library()[2].get(name)
            if fn is None:
                return self.script(name)
            call = self._calls[name] = (_AsyncCall if self._async else _SyncCall)(self, name, fn)
        # a call by FCALL goes by EVALSHA once the store has refused functions
        return self.script(name) if self.functions is False else call

    # --- the library ------------------------------------------------------------------------

    def load(self, client: Any = None) -> None:
        """Load the library on the server (nothing to do where it is); the first load decides
        `functions`."""
        try:
            (client or self._client).function_load(library()[1])
        except ResponseError as exc:
            if not self.settle(exc):
                raise
        else:
            self.functions = self.functions is not False

    async def aload(self, client: Any = None) -> None:
        try:
            await (client or self._client).function_load(library()[1])
        except ResponseError as exc:
            if not self.settle(exc):
                raise
        else:
            self.functions = self.functions is not False

    def settle(self, exc: ResponseError) -> bool:
        """True when a refused FUNCTION LOAD leaves nothing to do: the library is there
        already, or this server takes no functions (then EVALSHA from now on)."""
        if "already exists" in str(exc):
            self.functions = self.functions is not False
            return True
        return self._no_functions(exc, "function")

    def refuses_fcall(self, exc: ResponseError) -> bool:
        """The first FCALL was refused as a command (Redis 6, an ACL): EVALSHA from now on.
        Any other error, one raised inside a function above all, is the call's own."""
        return self._no_functions(exc, "fcall")

    def _no_functions(self, exc: ResponseError, command: str) -> bool:
        if self.functions is None and _refused(exc) and command in str(exc).lower():
            log.info("the store refuses %s (%s): scripts run by EVALSHA", command.upper(), exc)
            self.functions = False
            return True
        return False

    def reload(self) -> None:
        """Load again what the server lost (a restart without persistence, a flush)."""
        if self.functions:
            self.load()
        for script in self._cache.values():
            self._client.script_load(script.script)

    def ready(self) -> None:
        if self.functions is None:
            self.load()

    async def aready(self) -> None:
        if self.functions is None:
            await self.aload()

    def queue_in(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """Add a call of `name` to `pipe` (call ready()/aready() first)."""
        fn = library()[2].get(name)
        if fn is not None and self.functions:
            pipe.fcall(fn, len(keys), *keys, *args)
        else:
            pipe.evalsha(self.sha(name), len(keys), *keys, *args)

    def packs(self) -> bool:
        """Calls go as FCALLs packed for the client's held connection (store.pinned), not by
        EVALSHA (call ready() first)."""
        return bool(self.functions) and _holds(self._client)

    def packed(self, name: str, keys: list[str], args: list[Any]) -> list[bytes]:
        """A call of `name` (a function of the library) as one packed FCALL (see packs())."""
        return [pack_fcall(library()[2][name], keys, args)]


class _SyncCall:
    """One script by FCALL; the first call of a client tries it before any FUNCTION LOAD (a
    cold Lambda on a store that has the library spends no round trip on loading it)."""

    __slots__ = ("fn", "name", "owner")

    def __init__(self, owner: Scripts, name: str, fn: str) -> None:
        self.owner, self.name, self.fn = owner, name, fn

    def __call__(self, keys: Any = (), args: Any = (), client: Any = None) -> Any:
        owner = self.owner
        c = client or owner._client
        if owner.functions is not False:
            try:
                reply = _fcall(c, self.fn, keys, args)
                owner.functions = True
                return reply
            except ResponseError as exc:
                if lost(exc):
                    owner.load(c)  # not there yet, or lost (a store restarted empty)
                    if owner.functions:
                        return _fcall(c, self.fn, keys, args)
                elif not owner.refuses_fcall(exc):
                    raise
        return owner.script(self.name)(keys=keys, args=args, client=c)


class _AsyncCall(_SyncCall):
    __slots__ = ()

    async def __call__(  # type: ignore[override]
        self, keys: Any = (), args: Any = (), client: Any = None
    ) -> Any:
        owner = self.owner
        c = client or owner._client
        if owner.functions is not False:
            try:
                reply = await c.fcall(self.fn, len(keys), *keys, *args)
                owner.functions = True
                return reply
            except ResponseError as exc:
                if lost(exc):
                    await owner.aload(c)
                    if owner.functions:
                        return await c.fcall(self.fn, len(keys), *keys, *args)
                elif not owner.refuses_fcall(exc):
                    raise
        return await owner.script(self.name)(keys=keys, args=args, client=c)


def _holds(client: Any) -> bool:
    """`client` sends packed commands on its held connection: a standalone sync client of its
    own pool (not a cluster or asyncio client, nor one bound to one connection), with hiredis."""
    return pack_command is not None and type(client) is redis.Redis and client.connection is None


def _fcall(client: Any, fn: str, keys: Any, args: Any) -> Any:
    """FCALL on a standalone client, packed by hiredis in one call and sent on the client's held
    connection (store.pinned) under the connection's own retry, as redis-py's execute_command
    does. It skips redis-py's per-command layers (a Python check per argument, per-command
    metrics) and the pool's checkout and return: about a third of a single submit's time."""
    if not _holds(client):
        return client.fcall(fn, len(keys), *keys, *args)
    return pinned.exchange(client.connection_pool, [pack_fcall(fn, keys, args)])


class _Prefix(NamedTuple):
    keys: list[str]
    args: list[Any]
    packed_keys: bytes
    packed_args: bytes


# the keys and settings that begin every call of a namespace, packed once (share_prefix); by
# the namespace's first key
_prefixes: dict[str, _Prefix] = {}
_heads: dict[str, bytes] = {}  # "FCALL <fn>" packed, by function


def share_prefix(keys: list[str], args: list[Any]) -> None:
    """`keys` and `args` begin every call of one namespace (jobs.calls.ScriptCalls): they are
    packed once, and a call that begins with them packs only the rest. Packing is most of a
    call's client work in C: hiredis formats every argument's length."""
    if pack_command is not None and keys and args:
        _prefixes[keys[0]] = _Prefix(list(keys), list(args), _items(keys), _items(args))


def _items(items: Any) -> bytes:
    """`items` packed as RESP bulk strings, without the array header."""
    packed: bytes = pack_command(tuple(items))
    return packed[packed.index(b"\r\n") + 2 :]


def pack_fcall(fn: str, keys: list[str], args: list[Any]) -> bytes:
    """FCALL fn with keys and args, as one RESP request (hiredis)."""
    nk, na = len(keys), len(args)
    p = _prefixes.get(keys[0]) if nk else None
    if p is not None:
        ck, ca = len(p.keys), len(p.args)
        # a list compares its items by identity first: the shared keys are the same strings
        if nk >= ck and na >= ca and keys[:ck] == p.keys and args[:ca] == p.args:
            head = _heads.get(fn)
            if head is None:
                head = _heads[fn] = _items(("FCALL", fn))
            count = str(nk)
            parts = [b"*%d\r\n%s$%d\r\n%s\r\n" % (3 + nk + na, head, len(count), count.encode()),
                     p.packed_keys]
            if nk > ck:
                parts.append(_items(keys[ck:]))
            parts.append(p.packed_args)
            if na > ca:
                parts.append(_items(args[ca:]))
            return b"".join(parts)
    return pack_command(("FCALL", fn, nk, *keys, *args))  # type: ignore[no-any-return]
