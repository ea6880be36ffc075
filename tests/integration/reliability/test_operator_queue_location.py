"""The operator commands find the relay's queue, and never invent one (issue 18)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.cli import main
from relay.config.settings import Settings
from relay.queue import create_queue
from relay.queue.base import NewDial, RejectedRecord
from tests.conftest import DEFAULT_KEY
from tests.support.redis import REDIS_URL, drop_prefix, prefix_for

READ_ONLY = [
    ["queue", "stats"],
    ["dlq", "list"],
    ["dlq", "show", "1"],
    ["rejected", "list"],
    ["rejected", "show", "1"],
    ["dial", "show", "call-0001"],
    ["dial", "list"],
]


def _seed(url: str) -> tuple[str, str]:
    """A queue at ``url`` with one dead letter and one rejected request: their ids."""

    async def run() -> tuple[str, str]:
        queue = create_queue(url)
        await queue.open()
        try:
            now = time.time()
            dial = NewDial("crm", "d-1", b'{"dial_id":"d-1"}', received_at=now)
            assert await queue.enqueue(dial, dedupe_seconds=60)
            (leased,) = await queue.lease(1, 60, now=now)
            await queue.dead_letter(
                leased.id, reason="http_400", status=400, response_body="", now=now
            )
            (dead,) = await queue.list_dead()
            rej = RejectedRecord(
                id="",
                source="crm",
                received_at=now,
                method="POST",
                content_type="application/json",
                query={},
                body=b"{}",
                problems=[{"field": "dial_id", "reason": "missing"}],
            )
            rej_id = await queue.add_rejected(rej)
            return dead.id, rej_id
        finally:
            await queue.close()

    return asyncio.run(run())


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_a_read_only_command_on_a_missing_sqlite_queue_fails_and_creates_nothing(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`relay queue stats` in a folder without the queue: "no queue at <path>", exit 1."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RELAY_QUEUE_URL", raising=False)
    assert main(argv) == 1
    assert "no queue at relay-queue.db" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv", [["dlq", "replay", "1"], ["dlq", "purge", "--all"], ["rejected", "replay", "--all"]]
)
def test_a_changing_command_on_a_missing_sqlite_queue_fails_too(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/nowhere/q.db"
    assert main([*argv, "--queue-url", url]) == 1
    assert f"no queue at {tmp_path}/nowhere/q.db" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_queue_url_option_overrides_the_environment(
    configure_cli: Callable[..., Settings],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--queue-url` after the command's name wins over RELAY_QUEUE_URL."""
    configure_cli()  # RELAY_QUEUE_URL: this test's queue.db (which does not exist yet)
    other = tmp_path / "other.db"
    _seed(f"sqlite:///{other}")
    assert main(["queue", "stats"]) == 1  # the environment's queue is not there
    assert "no queue at" in capsys.readouterr().err
    assert main(["queue", "stats", "--queue-url", f"sqlite:///{other}"]) == 0
    out = capsys.readouterr().out
    assert "dead      1" in out and "rejected  1" in out
    assert main(["dlq", "list", "--queue-url", f"sqlite:///{other}"]) == 0
    assert "d-1" in capsys.readouterr().out


def test_sources_file_option_on_every_command(
    configure_cli: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--sources-file` works where RELAY_SOURCES_FILE is unset (here: rejected replay)."""
    settings = configure_cli()
    sources = settings.sources_file
    assert sources is not None
    monkeypatch.delenv("RELAY_SOURCES_FILE")
    _dead, rej_id = _seed(settings.queue_url)
    assert main(["rejected", "replay", rej_id]) == 2  # no sources file: a config error
    capsys.readouterr()
    code = main(["rejected", "replay", rej_id, "--sources-file", str(sources)])
    assert "still rejected 1" in capsys.readouterr().out  # mapped with the file's crm source
    assert code == 1
    assert main(["check", "--sources-file", str(sources)]) == 0
    assert "source(s) valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dlq", "replay", "{dead}", "999999"], "no dead letter 999999"),
        (["dlq", "purge", "{dead}", "999999"], "no dead letter 999999"),
        (["rejected", "replay", "{rej}", "999999"], "no rejected request 999999"),
    ],
)
def test_an_unknown_id_fails_like_show_and_nothing_is_done(
    argv: list[str],
    message: str,
    configure_cli: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = configure_cli()
    dead, rej = _seed(settings.queue_url)
    assert main([a.format(dead=dead, rej=rej) for a in argv]) == 1
    assert message in capsys.readouterr().err
    assert main(["queue", "stats"]) == 0
    out = capsys.readouterr().out
    assert "ready     0" in out and "dead      1" in out and "rejected  1" in out


def test_a_redis_queue_never_written_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Redis has no file to miss: a queue never written to reads as empty (documented)."""
    prefix = prefix_for(tmp_path)
    monkeypatch.setenv("RELAY_REDIS_KEY_PREFIX", prefix)
    try:
        assert main(["queue", "stats", "--queue-url", REDIS_URL]) == 0
        assert "ready     0" in capsys.readouterr().out
        assert main(["dlq", "replay", "1", "--queue-url", REDIS_URL]) == 1
        assert "no dead letter 1" in capsys.readouterr().err
    finally:
        drop_prefix(prefix)


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_api_key_is_no_key(
    blank: str,
    configure_cli: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`relay check` refuses an empty RELAY_OUTBOUNDIQ_API_KEY as it refuses a missing one."""
    configure_cli()
    monkeypatch.setenv("RELAY_OUTBOUNDIQ_API_KEY", blank)
    assert Settings().outboundiq_api_key is None
    assert main(["check"]) == 2
    assert "RELAY_OUTBOUNDIQ_API_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("RELAY_OUTBOUNDIQ_API_KEY", DEFAULT_KEY)
    assert main(["check"]) == 0
