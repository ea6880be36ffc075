"""Redis: the Lua scripts are package data (``relay/queue/redis/lua/*.lua``), read with
importlib.resources; tests/deploy/test_image.py checks that the built wheel carries them."""

from __future__ import annotations

from importlib.resources import files

import pytest
import redis

from relay.queue.redis.scripts import NAMES, SCRIPTS, load_scripts
from tests.support.redis import REDIS_URL

LUA = files("relay.queue.redis") / "lua"


def test_every_script_is_a_lua_file_of_the_package() -> None:
    """Each script has its file, and no file is left unused."""
    on_disk = {p.name for p in LUA.iterdir() if p.name.endswith(".lua")}
    assert on_disk == {f"{name}.lua" for name in (*NAMES, "prelude")}


def test_a_script_is_the_prelude_then_its_own_file() -> None:
    prelude = (LUA / "prelude.lua").read_text(encoding="utf-8")
    assert "local function dial_key(q)" in prelude
    loaded = load_scripts()
    assert list(loaded) == list(NAMES)
    for name, source in loaded.items():
        assert source == prelude + (LUA / f"{name}.lua").read_text(encoding="utf-8")
    assert loaded == SCRIPTS


@pytest.mark.redis
def test_every_script_compiles_in_redis() -> None:
    """SCRIPT LOAD compiles each script: a syntax error in a .lua file fails here."""
    with redis.Redis.from_url(REDIS_URL) as r:
        shas = [r.script_load(source) for source in SCRIPTS.values()]
        assert r.script_exists(*shas) == [True] * len(SCRIPTS)
