"""The operator commands that only look open a SQLite queue read-only: they never change it.

The queue here is "hot": copied (the file and its WAL) while the queue that wrote it was
still open, so its last commits are only in the WAL. A read-write connection closing last
checkpoints the WAL into the file and deletes the WAL (even as root, whom `chmod` does not
stop); a read-only one cannot. So the file's and the WAL's bytes and times staying the same
prove nothing was opened for writing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relay.queue.base import NewDial, RejectedRecord
from relay.queue.sqlite import SqliteQueue

RELAY = Path(sys.executable).with_name("relay")


async def _hot_copy(source: Path, into: Path) -> None:
    """A queue with a ready dial, a dead letter and a rejected request, copied (file and WAL)
    into ``into`` before the queue that wrote them closes."""
    queue = SqliteQueue(source)
    await queue.open()
    try:
        now = time.time()
        await queue.enqueue(NewDial("crm", "dead-1", b'{"dial_id":"dead-1"}', now), 60)
        (leased,) = await queue.lease(1, 60, now=now + 1)
        await queue.dead_letter(
            leased.id, reason="http_400", status=400, response_body="no such campaign", now=now
        )
        await queue.enqueue(NewDial("crm", "ready-1", b'{"dial_id":"ready-1"}', now), 60)
        record = RejectedRecord("", "crm", now, "POST", "application/json", {}, b'{"x":1}')
        await queue.add_rejected(record)
        into.mkdir()
        for suffix in ("", "-wal"):
            shutil.copy2(f"{source}{suffix}", into / f"{source.name}{suffix}")
    finally:
        await queue.close()


def _state(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _relay(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    return subprocess.run(
        [str(RELAY), *args, "--queue-url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_looking_commands_never_write_the_queue(tmp_path: Path) -> None:
    """`queue stats`, `dlq list/show` and `rejected list/show` on a read-only copy of a hot
    queue: they see what only the WAL holds, and leave the file and its WAL as they were."""
    asyncio.run(_hot_copy(tmp_path / "queue.db", tmp_path / "ro"))
    folder = tmp_path / "ro"
    url = f"sqlite:///{folder / 'queue.db'}"
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    before = _state(folder)
    assert set(before) == {"queue.db", "queue.db-wal"} and before["queue.db-wal"][0]
    try:
        stats = _relay("queue", "stats", url=url)
        assert stats.returncode == 0, stats.stderr
        assert "ready     1" in stats.stdout and "dead      1" in stats.stdout
        assert "rejected  1" in stats.stdout

        dlq = _relay("dlq", "list", url=url)
        assert dlq.returncode == 0, dlq.stderr
        (row,) = [line for line in dlq.stdout.splitlines() if "\tdead-1\t" in line]
        shown = _relay("dlq", "show", row.split("\t")[0], url=url)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["response_body"] == "no such campaign"

        rejected = _relay("rejected", "list", url=url)
        assert rejected.returncode == 0, rejected.stderr
        (rej,) = rejected.stdout.splitlines()[1:]
        shown = _relay("rejected", "show", rej.split("\t")[0], url=url)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["body"] == '{"x":1}'

        after = _state(folder)
        for name in ("queue.db", "queue.db-wal"):
            assert after[name] == before[name], f"{name} changed"
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod: nothing read-only")
def test_a_queue_in_a_read_only_folder_is_still_read(tmp_path: Path) -> None:
    """A closed queue (no WAL) in a folder the operator may not write: SQLite cannot create
    the WAL's companions there, and the command still reads it, changing nothing."""
    queue = SqliteQueue(tmp_path / "q" / "queue.db")

    async def fill() -> None:
        await queue.open()
        await queue.enqueue(NewDial("crm", "d1", b"{}", time.time()), 60)
        await queue.close()

    asyncio.run(fill())
    folder = tmp_path / "q"
    (folder / "queue.db").chmod(0o444)
    folder.chmod(0o555)
    before = _state(folder)
    try:
        stats = _relay("queue", "stats", url=f"sqlite:///{folder / 'queue.db'}")
        assert stats.returncode == 0, stats.stderr
        assert "ready     1" in stats.stdout
        assert _state(folder) == before
    finally:
        folder.chmod(0o755)
