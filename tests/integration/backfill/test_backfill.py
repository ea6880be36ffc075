"""`relay backfill`: exports in, deduped dials on the backfill lane, rejects kept with rows."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from relay.cli import main
from relay.config.settings import Settings
from relay.core.backfill import BackfillOptions, run_backfill
from relay.core.sources import Source
from relay.queue import create_queue
from tests.conftest import dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = """
sources:
  crm:
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
    timezone: America/Chicago
"""


@pytest.fixture
def cli(backend_cli: Callable[..., Settings]) -> Settings:
    return backend_cli(SOURCES)


def _rows(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] in {"queued", "would", "duplicate", "outside", "rejected"}:
            rows[parts[0]] = parts[1].split()[-1] if parts[0] == "would" else parts[1].split()[0]
    return rows


def test_jsonl_backfill_counts_rejects_and_rerun(
    cli: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSONL rows are queued; bad rows are rejected with their row; a re-run queues nothing."""
    file = str(FIXTURES / "generic.jsonl")
    assert main(["backfill", "crm", file, "--since", "2026-08-01"]) == 0
    out = capsys.readouterr().out
    assert _rows(out) == {"queued": "2", "duplicate": "0", "outside": "1", "rejected": "2"}
    assert "generic.jsonl:4: prospect_phone" in out
    assert "generic.jsonl:6:" in out
    assert main(["rejected", "list", "--source", "crm"]) == 0
    assert len([x for x in capsys.readouterr().out.splitlines() if "\tcrm\t" in x]) == 2
    assert main(["rejected", "show", "1"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["query"] == {"backfill_file": "generic.jsonl", "backfill_row": "4"}
    assert main(["backfill", "crm", file, "--since", "2026-08-01"]) == 0
    assert _rows(capsys.readouterr().out)["queued"] == "0"


def test_dry_run_sends_and_stores_nothing(
    cli: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints the summary and leaves the queue untouched (on SQLite, not even
    created: test_backfill_cli.py has the byte-for-byte checks)."""
    assert main(["backfill", "crm", str(FIXTURES / "generic.csv"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would queue 2" in out
    assert _rows(out)["rejected"] == "1"
    assert "generic.csv:4: prospect_phone" in out
    code = main(["queue", "stats"])
    stats = capsys.readouterr()
    if cli.queue_url.startswith("sqlite"):
        assert code == 1 and "no queue at" in stats.err
    else:
        assert code == 0 and "ready     0" in stats.out and "rejected  0" in stats.out


def test_until_window_and_time_zone(cli: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """--until is exclusive and read in the source's time zone (Chicago)."""
    file = str(FIXTURES / "generic.csv")
    # csv-1 is 09:00:06 Chicago = 14:00:06 UTC; an --until of 09:30 Chicago keeps only it
    assert main(["backfill", "crm", file, "--until", "2026-08-03 09:30:00"]) == 0
    assert _rows(capsys.readouterr().out)["queued"] == "1"


def test_bad_arguments(cli: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Unknown sources, formats, files and dates are clear errors (exit 2)."""
    file = str(FIXTURES / "generic.csv")
    assert main(["backfill", "nope", file]) == 2
    assert main(["backfill", "crm", file, "--format", "xml"]) == 2
    assert main(["backfill", "crm", str(tmp_path / "missing.csv")]) == 2
    assert main(["backfill", "crm", file, "--since", "last tuesday"]) == 2
    (tmp_path / "x.txt").write_text("a")
    assert main(["backfill", "crm", str(tmp_path / "x.txt")]) == 2
    assert "unknown source" in capsys.readouterr().err


def _backfill_peak_rss(cli: Settings, path: Path) -> tuple[int, str]:
    """Run `relay backfill` in a fresh process; its peak RSS in KiB and its output."""
    code = (
        "import resource, sys; from relay.cli import main; rc = main(sys.argv[1:]); "
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "backfill", "crm", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("MAXRSS")]
    return int(line.split()[1]), done.stdout


def _export(path: Path, rows: int) -> Path:
    with path.open("wb") as f:
        for i in range(rows):
            f.write(
                orjson.dumps(dial_body(dial_id=f"{path.stem}-{i}", prospect_phone=f"51255{i:05d}"))
            )
            f.write(b"\n")
    return path


def test_10k_rows_all_queued_then_all_duplicate(
    cli: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """10,000 rows in one run are all queued (a busy queue waits, it never refuses); the
    queue holds each once, and a re-run finds every row a duplicate."""
    path = _export(tmp_path / "many.jsonl", 10_000)
    assert main(["backfill", "crm", str(path)]) == 0, capsys.readouterr().err[-2000:]
    assert _rows(capsys.readouterr().out) == {
        "queued": "10000",
        "duplicate": "0",
        "outside": "0",
        "rejected": "0",
    }
    assert main(["queue", "stats"]) == 0
    assert "ready     10000" in capsys.readouterr().out
    assert main(["backfill", "crm", str(path)]) == 0
    assert _rows(capsys.readouterr().out)["duplicate"] == "10000"


def test_100k_rows_in_bounded_memory(cli: Settings, tmp_path: Path) -> None:
    """100,000 rows stream through with about the same peak memory as 1,000 rows."""
    small_rss, _ = _backfill_peak_rss(cli, _export(tmp_path / "small.jsonl", 1_000))
    big = _export(tmp_path / "big.jsonl", 100_000)
    big_rss, out = _backfill_peak_rss(cli, big)
    assert "queued    100000" in out
    assert big.stat().st_size > 20 * 1024 * 1024
    grew_mib = (big_rss - small_rss) / 1024
    print(
        f"backfill peak RSS: 1k rows {small_rss / 1024:.0f} MiB, 100k rows {big_rss / 1024:.0f} MiB"
    )
    assert grew_mib < 16, f"peak RSS grew {grew_mib:.0f} MiB for 99x the rows"


@pytest.mark.anyio
async def test_progress_lines_when_not_a_terminal(
    make_settings: Callable[..., Settings],
    make_sources: Callable[..., dict[str, Source]],
    backend: dict[str, Any],
) -> None:
    """Off a terminal, progress is plain lines with records/s and an ETA."""
    out = io.StringIO()
    settings = make_settings(**backend)
    queue = create_queue(settings.queue_url, settings)
    await queue.open()
    try:
        await run_backfill(
            queue,
            make_sources(SOURCES)["crm"],
            [FIXTURES / "generic.jsonl"],
            BackfillOptions(progress=out, progress_every=0.0),
        )
    finally:
        await queue.close()
    last = out.getvalue().splitlines()[-1]
    assert "records" in last and "/s" in last and "ETA" in last and "\r" not in out.getvalue()


def test_live_dials_overtake_backfill(
    cli: Settings, fake: FakeOutboundIQ, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Live webhooks are delivered before a backfill backlog queued ahead of them."""
    path = tmp_path / "backlog.jsonl"
    path.write_bytes(
        b"\n".join(
            orjson.dumps(dial_body(dial_id=f"old-{i}", datetime="2026-08-01 10:00:00"))
            for i in range(150)
        )
    )
    assert main(["backfill", "crm", str(path)]) == 0
    fake.default = Reply(200, delay=0.01)
    relay = RelayThread(cli.model_copy(update={"forward_concurrency": 2})).start()
    try:
        assert fake.wait_for(lambda: len(fake.accepted()) >= 10)
        with httpx.Client() as client:
            for i in range(5):
                r = client.post(
                    f"{relay.url}/hooks/crm",
                    json=dial_body(dial_id=f"live-{i}"),
                    headers={"X-Relay-Token": "crm-hook-secret"},
                )
                assert r.status_code == 202
        assert fake.wait_for(lambda: len(fake.accepted()) >= 155, timeout=30)
        order = fake.accepted_ids()
        last_live = max(order.index(f"live-{i}") for i in range(5))
        assert last_live < 60  # live went ahead of the ~140 backfilled dials still waiting
    finally:
        relay.stop()
