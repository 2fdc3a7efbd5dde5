"""Loads the Lua scripts in lua/, expanding `--@include name` lines from lua/includes/."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

LUA_DIR = Path(__file__).with_name("lua")
_INCLUDE = re.compile(r"^--@include (\w+)\s*$", re.M)

SCRIPT_NAMES = (
    "submit",
    "claim",
    "extend",
    "finish",
    "cancel",
    "progress",
    "promote",
    "dlq",
    "workflow_submit",
    "workflow_cancel",
    "list_jobs",
    "ws_subscribe",
    "push_advance",
    "lock_renew",
    "lock_release",
    "fleet_reserve",
)


@cache
def source(name: str) -> str:
    """The full source of script `name`, includes expanded (each at most once)."""
    seen: set[str] = set()

    def expand(match: re.Match[str]) -> str:
        inc = match.group(1)
        if inc in seen:
            return ""
        seen.add(inc)
        return (LUA_DIR / "includes" / f"{inc}.lua").read_text()

    return _INCLUDE.sub(expand, (LUA_DIR / f"{name}.lua").read_text())
