"""SQLite: ``SqliteQueue`` as a whole (its roles are tested through the contract and the
writer and reader tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.exceptions import ConfigError, QueueUnavailable
from relay.queue.sqlite import SqliteQueue
from tests.unit.queue.sqlite.support import T0, new, stored

pytestmark = pytest.mark.anyio


async def test_the_same_queue_can_be_closed_and_opened_again(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db")
    for dial_id in ("a", "b"):
        await queue.open()
        assert await queue.enqueue(new(dial_id), 60)
        await queue.close()
        await queue.close()  # a second close is a no-op
    assert await stored(tmp_path / "q.db") == {"a", "b"}


async def test_writes_and_reads_are_refused_unless_open(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db")
    for _ in ("before open", "after close"):
        with pytest.raises(QueueUnavailable, match="queue is not open"):
            await queue.enqueue(new("a"), 60)
        with pytest.raises(QueueUnavailable, match="queue is not open"):
            await queue.stats(now=T0)
        assert not await queue.ping()
        await queue.open()
        assert await queue.ping()
        await queue.close()


async def test_a_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "q.db").mkdir()  # a directory where the file should be
    with pytest.raises(QueueUnavailable, match=r"cannot open queue .*q\.db"):
        await SqliteQueue(tmp_path / "q.db").open()


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///rel/q.db", "rel/q.db"), ("sqlite:////abs/q%20x.db", "/abs/q x.db")],
)
def test_from_url(url: str, path: str) -> None:
    assert SqliteQueue.from_url(url).path == Path(path)


@pytest.mark.parametrize("url", ["sqlite://host/q.db", "sqlite://", "sqlite:///"])
def test_from_url_refuses_a_url_without_a_path(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        SqliteQueue.from_url(url)
    assert str(refused.value) == f"RELAY_QUEUE_URL: expected sqlite:///path/queue.db, got {url!r}"
