"""The Lua scripts in lua/ (one per state transition) and the registry of them per client.

A script names the includes it uses with `--@include name` lines (lua/includes/name.lua); an
include names its own the same way. The loader expands them depth first, each once, so every
function is defined before the code that calls it."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

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


class Scripts:
    """The registered scripts of one client, by name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._cache: dict[str, Any] = {}

    def sha(self, name: str) -> str:
        return str(self[name].sha)

    def __getitem__(self, name: str) -> Any:
        script = self._cache.get(name)
        if script is None:
            script = self._cache[name] = self._client.register_script(source(name))
        return script
