"""The queue registry: a backend per URL scheme, from the ``outboundiq_relay.queues`` entry
points, built-in and third-party alike."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings

from relay.config.settings import Settings
from relay.exceptions import ConfigError
from relay.queue import create_queue
from relay.queue.redis import RedisStreamQueue
from relay.queue.registry import ENTRY_POINT_GROUP, available_schemes, factory_for
from relay.queue.sqlite import SqliteQueue
from tests.support.urls import leaked, malformed_urls
from tests.unit.queue.sqlite.support import new

pytestmark = pytest.mark.anyio

ACME_MODULE = '''
"""A third-party backend: acme:///path.db is a SQLite queue under another name."""
from relay.queue.sqlite import SqliteQueue


def open_acme(url, settings=None):
    return SqliteQueue(url.removeprefix("acme://"))
'''


def install(site: Path, dist: str, entries: str, modules: dict[str, str] | None = None) -> None:
    """An installed distribution in ``site``: its modules, and entry points in the group."""
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entries}\n")


def test_builtin_backends_are_entry_points() -> None:
    """The built-in schemes are registered in the group like any other backend."""
    assert {"sqlite", "redis", "rediss", "unix"} <= set(available_schemes())
    assert factory_for("sqlite") == SqliteQueue.from_url
    for scheme in ("redis", "rediss", "unix"):
        assert factory_for(scheme) == RedisStreamQueue.from_url


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:///var/q.db", SqliteQueue),
        ("redis://127.0.0.1:6379/0", RedisStreamQueue),
        ("rediss://redis.example.com:6380/0", RedisStreamQueue),
        ("unix:///run/redis/redis.sock?db=0", RedisStreamQueue),
    ],
)
def test_the_scheme_picks_the_backend(url: str, backend: type) -> None:
    assert type(create_queue(url)) is backend


def test_settings_reach_the_backend() -> None:
    url = "redis://127.0.0.1:6379/0"
    settings = Settings(queue_url=url, redis_key_prefix="acme", redis_consumer="pod-1")
    queue = create_queue(settings.queue_url, settings)
    assert isinstance(queue, RedisStreamQueue)
    assert (queue.prefix, queue.consumer) == ("acme", "pod-1")


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("ftp://host/q", "ftp"), ("/var/q.db", ""), ("SQLITE3:///q.db", "sqlite3"), ("q.db", "")],
)
def test_an_unknown_scheme_is_refused(url: str, scheme: str) -> None:
    with pytest.raises(ConfigError) as refused:
        create_queue(url)
    expected = f"RELAY_QUEUE_URL: unsupported scheme {scheme!r} (use sqlite:// or redis://)"
    assert str(refused.value) == expected


def test_a_malformed_url_is_refused_by_its_backend() -> None:
    with pytest.raises(ConfigError) as refused:
        create_queue("sqlite://host/q.db")
    expected = "RELAY_QUEUE_URL: expected sqlite:///path/queue.db, got 'sqlite://host/q.db'"
    assert str(refused.value) == expected


async def test_a_third_party_backend_is_a_package_with_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A separately installed package serves its own scheme, with nothing else to change."""
    site = tmp_path / "site"
    site.mkdir()
    install(
        site,
        "acme_relay_queue",
        "acme = acme_relay_queue:open_acme",
        {"acme_relay_queue": ACME_MODULE},
    )
    monkeypatch.syspath_prepend(str(site))
    assert "acme" in available_schemes()
    queue = create_queue(f"acme://{tmp_path / 'acme.db'}")
    assert isinstance(queue, SqliteQueue) and queue.path == tmp_path / "acme.db"
    await queue.open()
    try:
        assert await queue.enqueue(new("a"), 60)
        assert [d.dial_id for d in await queue.lease(5, 30, now=new("a").received_at)] == ["a"]
    finally:
        await queue.close()


def test_a_scheme_claimed_by_two_packages_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, "one_queue", "twice = one_queue:create")
    install(tmp_path, "other_queue", "twice = other_queue:create")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as refused:
        create_queue("twice://x")
    assert str(refused.value) == (
        "queue scheme 'twice' is registered more than once (one_queue:create, other_queue:create)"
    )


def test_an_entry_point_that_cannot_load_names_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        tmp_path,
        "broken_queue",
        "gone = no_such_module_here:create\nflat = broken_queue_data:NOT_A_FACTORY",
        {"broken_queue_data": "NOT_A_FACTORY = 42\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ConfigError,
        match=r"^queue scheme 'gone' \(entry point "
        r"no_such_module_here:create\) failed to load: ModuleNotFoundError",
    ):
        create_queue("gone://x")
    with pytest.raises(ConfigError) as refused:
        create_queue("flat://x")
    assert str(refused.value) == (
        "queue scheme 'flat' (entry point broken_queue_data:NOT_A_FACTORY) is not callable"
    )


@settings(max_examples=100)
@given(malformed_urls)
def test_a_queue_url_password_never_shows_in_errors_or_reprs(url: str) -> None:
    """RELAY_QUEUE_URL malformed around its password: the error, or the queue's repr (logged
    at start), holds no piece of the password."""
    try:
        shown = repr(create_queue(url))
    except ConfigError as exc:
        shown = str(exc)
    assert not leaked(shown), shown


@pytest.mark.parametrize(
    "url",
    ["redis://user:ΩP/W@host/0", "rediss://user:Ω:Ψ@host:port/0", "redis://user:ΩΨ@[::1/0"],
)
async def test_a_redis_url_redis_cannot_parse_is_refused_without_its_password(url: str) -> None:
    """redis-py's own complaint (a port read out of the password) is not repeated verbatim."""
    with pytest.raises(ConfigError, match="RELAY_QUEUE_URL") as caught:
        await create_queue(url).open()
    assert not leaked(str(caught.value)), str(caught.value)
