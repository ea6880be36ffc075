"""`relay backfill` as an operator runs it: rejects by reason, --max-reject-ratio's exit
code, --json, and a dry run that leaves no trace on SQLite or Redis."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from relay.config.settings import Settings
from tests.support.cli import run_relay
from tests.support.redis import REDIS_URL, unique_prefix

SOURCES = """
sources:
  crm:
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
    timezone: America/Chicago
"""


def _export(path: Path) -> Path:
    """Ten calls: 2, 5 and 7 have a phone without digits, 9 no time, 10 both a short phone
    and a time that does not read."""
    rows = []
    for i in range(1, 11):
        row = {"dial_id": f"bf-{i}", "ani": "5125550100", "prospect_phone": f"51255501{i:02d}",
               "datetime": "2026-08-03 09:00:06", "disposition_name": "Sale"}  # fmt: skip
        if i in (2, 5, 7):
            row["prospect_phone"] = f"unknown-{i}"
        if i == 9:
            row["datetime"] = ""
        if i == 10:
            row.update(prospect_phone="12", datetime="garbage")
        rows.append(json.dumps(row))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return _export(tmp_path / "calls.jsonl")


def test_rejects_are_grouped_by_reason(
    configure_cli: Callable[..., Settings], export: Path
) -> None:
    """The same problem on different rows (different values) is one reason with its count
    and first row; a record with two problems counts under both."""
    configure_cli(SOURCES)
    done = run_relay("backfill", "crm", str(export), "--show-rejects", "1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "rejected  5  (50.00% of records)" in out
    assert (
        "rejects by reason:\n"
        "  3  prospect_phone: not a phone number  (first: calls.jsonl:2)\n"
        "  1  datetime: required, but missing or empty  (first: calls.jsonl:9)\n"
        "  1  prospect_phone: not a valid phone number  (first: calls.jsonl:10)\n"
        "  1  datetime: unrecognized timestamp format  (first: calls.jsonl:10)\n"
        "first 1 rejects:\n"
        "  calls.jsonl:2: prospect_phone: not a phone number (got *)\n"
    ) in out
    again = json.loads(run_relay("backfill", "crm", str(export), "--json").stdout)
    assert again["queued"] == 0 and again["duplicate"] == 5  # the first run queued them
    assert [(r["reason"], r["count"]) for r in again["reject_reasons"]] == [
        ("prospect_phone: not a phone number", 3),
        ("datetime: required, but missing or empty", 1),
        ("prospect_phone: not a valid phone number", 1),
        ("datetime: unrecognized timestamp format", 1),
    ]


def test_max_reject_ratio_sets_the_exit_code(
    configure_cli: Callable[..., Settings], export: Path
) -> None:
    """Above the ratio: exit 3, said on stderr and in --json; at or under it: exit 0; a
    ratio outside 0..1 is a usage error (exit 2)."""
    configure_cli(SOURCES)
    over = run_relay("backfill", "crm", str(export), "--dry-run", "--max-reject-ratio", "0.49")
    assert over.returncode == 3
    assert "5 of 10 records rejected (50.00%), above --max-reject-ratio 0.49" in over.stderr
    at = run_relay("backfill", "crm", str(export), "--dry-run", "--max-reject-ratio", "0.5")
    assert at.returncode == 0
    doc = run_relay("backfill", "crm", str(export), "--dry-run", "--json",
                    "--max-reject-ratio", "0.1")  # fmt: skip
    assert doc.returncode == 3
    summary = json.loads(doc.stdout)
    assert summary["dry_run"] is True and summary["source"] == "crm"
    assert (summary["records"], summary["queued"], summary["rejected"]) == (10, 5, 5)
    assert summary["reject_ratio"] == 0.5
    assert (summary["max_reject_ratio"], summary["over_max_reject_ratio"]) == (0.1, True)
    assert [r["row"] for r in summary["rejects"]] == [2, 5, 7, 9, 10]
    bad = run_relay("backfill", "crm", str(export), "--max-reject-ratio", "1.5")
    assert bad.returncode == 2 and "expected a ratio from 0 to 1" in bad.stderr


def test_dry_run_creates_no_sqlite_file(
    configure_cli: Callable[..., Settings], export: Path, tmp_path: Path
) -> None:
    """With no queue file, a dry run counts everything as new and leaves no file (nor WAL)
    behind."""
    settings = configure_cli(SOURCES, queue_url=f"sqlite:///{tmp_path}/fresh/queue.db")
    done = run_relay("backfill", "crm", str(export), "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queued"] == 5
    assert not (tmp_path / "fresh").exists()
    assert settings.queue_url.endswith("fresh/queue.db")


def _digest(folder: Path) -> dict[str, str]:
    """Each file's digest, but for the companions SQLite's read-only mode may create
    (relay.queue.sqlite.reader): the -shm index (never queue data) and an empty -wal."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.iterdir()
        if not (p.name.endswith("-shm") or (p.name.endswith("-wal") and not p.stat().st_size))
    }


def test_dry_run_leaves_an_existing_sqlite_queue_unchanged(
    configure_cli: Callable[..., Settings], export: Path, tmp_path: Path
) -> None:
    """On an existing queue a dry run reads what was seen (a re-run is all duplicates) and
    writes nothing: the queue file is byte for byte the same, no rejected record."""
    configure_cli(SOURCES, queue_url=f"sqlite:///{tmp_path}/q/queue.db")
    first = run_relay("backfill", "crm", str(_export(tmp_path / "first.jsonl")))
    assert first.returncode == 0, first.stderr
    rejected = run_relay("rejected", "list", "--json")
    before = _digest(tmp_path / "q")
    dry = json.loads(run_relay("backfill", "crm", str(export), "--dry-run", "--json").stdout)
    assert (dry["queued"], dry["duplicate"], dry["rejected"]) == (0, 5, 5)
    assert _digest(tmp_path / "q") == before
    assert run_relay("rejected", "list", "--json").stdout == rejected.stdout


@pytest.mark.redis
def test_dry_run_writes_no_redis_key(
    configure_cli: Callable[..., Settings],
    export: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Redis a dry run writes no key under the prefix: none on a fresh prefix, and the
    same keys with the same values on one holding a queue (whose ids it reads as seen)."""
    with unique_prefix(tmp_path) as prefix, redis.Redis.from_url(REDIS_URL) as client:
        configure_cli(SOURCES, queue_url=REDIS_URL, redis_key_prefix=prefix)
        monkeypatch.setenv("RELAY_REDIS_KEY_PREFIX", prefix)
        pattern = "{" + prefix + "}*"

        def snapshot() -> dict[bytes, bytes | None]:
            return {k: client.dump(k) for k in sorted(client.scan_iter(match=pattern))}

        fresh = run_relay("backfill", "crm", str(export), "--dry-run", "--json")
        assert fresh.returncode == 0, fresh.stderr
        assert json.loads(fresh.stdout)["queued"] == 5
        assert snapshot() == {}
        assert run_relay("backfill", "crm", str(export)).returncode == 0
        before = snapshot()
        assert before
        dry = json.loads(run_relay("backfill", "crm", str(export), "--dry-run", "--json").stdout)
        assert (dry["queued"], dry["duplicate"]) == (0, 5)
        assert snapshot() == before
