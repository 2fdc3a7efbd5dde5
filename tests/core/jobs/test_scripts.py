"""The Lua loader (jobs/scripts.py): every script expands its declared includes depth first,
each once, carries a KEYS/ARGV header, and compiles on the real server."""

from __future__ import annotations

import re

import pytest

from boltq_core import Queue
from boltq_core.jobs.scripts import LUA_DIR, Scripts, source

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
