"""``relay backfill SOURCE FILE...``: a dialer's exported call history, through the source's
mapping, onto the queue's backfill lane (``relay.core.backfill``; docs/backfill.md).

The summary counts records by outcome and rejects by reason. Exit codes: 0 done; 2 a usage
or config error (nothing read); 3 more records were rejected than ``--max-reject-ratio``
allows (what could be queued was queued: the ratio is known only at the end). ``--dry-run``
leaves no trace: the queue is only read (opened read-only; a SQLite file that does not exist
is not created, and nothing counts as seen), so no dial, rejected record or dedupe entry is
written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from relay.cli.common import load_settings
from relay.cli.completion import source_names
from relay.cli.output import print_json
from relay.config.zones import zone
from relay.core.backfill import (
    BackfillOptions,
    BackfillReport,
    SeenLookup,
    dry_run_backfill,
    readers,
    run_backfill,
)
from relay.core.normalize import normalize_datetime
from relay.core.sources import Source, load_configured_sources
from relay.queue import create_queue
from relay.queue.base import DialQueue, ReadOnlyOpen
from relay.queue.sqlite import SqliteQueue

__all__ = ["OVER_REJECT_RATIO", "register"]

#: The exit code when rejected / records is above ``--max-reject-ratio``.
OVER_REJECT_RATIO = 3


class _NothingSeen:
    """A dry run's lookup when there is no queue to read: nothing was accepted before."""

    async def seen(self, source: str, dial_id: str, *, now: float) -> bool:
        return False


@contextlib.asynccontextmanager
async def _lookup(args: argparse.Namespace) -> AsyncIterator[SeenLookup]:
    """What a dry run asks whether a dial_id was seen: the queue opened read-only."""
    settings = load_settings(args)
    queue = create_queue(settings.queue_url, settings)
    if isinstance(queue, SqliteQueue) and not queue.path.is_file():
        yield _NothingSeen()  # no queue yet, and a dry run does not create one
        return
    if not isinstance(queue, ReadOnlyOpen):
        print(
            "dry run: this queue cannot be opened read-only; nothing counts as seen",
            file=sys.stderr,
        )
        yield _NothingSeen()
        return
    await queue.open_read_only()
    try:
        yield queue
    finally:
        await queue.close()


@contextlib.asynccontextmanager
async def _queue(args: argparse.Namespace) -> AsyncIterator[DialQueue]:
    """The configured queue, opened (created when it is not there yet)."""
    settings = load_settings(args)
    queue = create_queue(settings.queue_url, settings)
    await queue.open()
    try:
        yield queue
    finally:
        await queue.close()


def _source(args: argparse.Namespace) -> Source | None:
    """The source named, with ``--timezone`` applied; None (said on stderr) when unusable."""
    source = load_configured_sources(load_settings(args)).get(args.source)
    if source is None:
        print(f"unknown source {args.source!r}", file=sys.stderr)
        return None
    if args.timezone:
        try:
            tz = zone(args.timezone)
        except ValueError as exc:
            print(f"--timezone: {exc}", file=sys.stderr)
            return None
        config = source.config.model_copy(update={"timezone": args.timezone})
        source = dataclasses.replace(source, tz=tz, config=config)
    return source


def _options(args: argparse.Namespace, source: Source) -> BackfillOptions | None:
    formats = readers()
    if args.format and args.format not in formats:
        known = ", ".join(sorted(formats))
        print(f"unknown format {args.format!r}; one of {known}", file=sys.stderr)
        return None
    window = {}
    for name in ("since", "until"):
        value = getattr(args, name)
        if value:
            try:
                window[name] = normalize_datetime(value, source.tz)
            except ValueError as exc:
                print(f"--{name}: {exc}", file=sys.stderr)
                return None
    return BackfillOptions(
        fmt=args.format,
        dry_run=args.dry_run,
        since=window.get("since"),
        until=window.get("until"),
        dedupe_seconds=args.dedupe_days * 86400,
        show_rejects=args.show_rejects,
    )


def _report(args: argparse.Namespace, source: Source, report: BackfillReport) -> int:
    """Print the summary (text or ``--json``); the exit code the reject ratio gives."""
    limit = args.max_reject_ratio
    over = limit is not None and report.reject_ratio > limit
    if args.json:
        doc = {"source": source.name, **report.as_dict(args.dry_run)}
        print_json({**doc, "max_reject_ratio": limit, "over_max_reject_ratio": over})
    else:
        print(report.summary(args.dry_run))
    if over:
        print(
            f"relay: {report.counts['rejected']} of {report.records} records rejected "
            f"({report.reject_ratio:.2%}), above --max-reject-ratio {limit:g}",
            file=sys.stderr,
        )
        return OVER_REJECT_RATIO
    return 0


def backfill(args: argparse.Namespace) -> int:
    source = _source(args)
    options = _options(args, source) if source is not None else None
    if source is None or options is None:
        return 2
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2

    async def run() -> BackfillReport:
        if args.dry_run:
            async with _lookup(args) as lookup:
                return await dry_run_backfill(lookup, source, files, options)
        async with _queue(args) as queue:
            return await run_backfill(queue, source, files, options)

    return _report(args, source, asyncio.run(run()))


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a ratio from 0 to 1, got {text!r}")
    return value


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``relay backfill`` (``options``: what every command takes)."""
    p = sub.add_parser(
        "backfill",
        help="queue a dialer's exported call history through a source's mapping",
        description=(
            "Queue exported call records through a source's mapping, on the backfill lane. "
            f"Exit 0, 2 (usage or config), or {OVER_REJECT_RATIO} (over --max-reject-ratio)."
        ),
        parents=[options],
    )
    source_names(p.add_argument("source", help="the source whose mapping reads the export"))
    p.add_argument("files", nargs="+", help="export files, read in order")
    p.add_argument("--format", help="jsonl, csv, or a vendor format (default: by file name)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="map and count only: no dial, rejected record or dedupe entry is written",
    )
    p.add_argument("--since", help="only calls at or after (source time zone unless given)")
    p.add_argument("--until", help="only calls before (exclusive)")
    p.add_argument(
        "--dedupe-days",
        type=float,
        default=400.0,
        help="how long backfilled dial_ids are remembered (default %(default)g)",
    )
    p.add_argument(
        "--show-rejects",
        type=int,
        default=10,
        help="how many rejected records to list with file and row (default %(default)s)",
    )
    p.add_argument(
        "--max-reject-ratio",
        type=_ratio,
        metavar="R",
        help=f"exit {OVER_REJECT_RATIO} when rejected / records is above R (0 to 1)",
    )
    p.add_argument(
        "--timezone", help="IANA zone of the export's times (default: the source's timezone)"
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary as one JSON document on stdout"
    )
    p.set_defaults(func=backfill)
