"""Operator tools over the configured queue: ``dlq``, ``rejected``, ``queue stats``.

They open the same queue the server uses (``RELAY_QUEUE_URL``, or ``--queue-url``); SQLite
allows this while the server runs (WAL), and so does Redis. Only ``backfill`` may create a
queue: the others refuse a SQLite file that does not exist ("no queue at <path>", exit 1).
The ones that only look (``queue stats``, ``dlq``/``rejected`` ``list`` and ``show``) open
a SQLite queue read-only, so they cannot change it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from relay.cli.common import load_settings
from relay.config.zones import zone
from relay.core.backfill import BackfillOptions, readers, run_backfill
from relay.core.normalize import normalize_datetime
from relay.core.pipeline import map_request, parse_request, store_mapped
from relay.core.sources import configured_secrets, load_configured_sources
from relay.exceptions import ConfigError, MappingError, UnsupportedMediaType
from relay.obs.logs import mask_document, redact_answer
from relay.queue import create_queue
from relay.queue.base import DeadDial, DialQueue, RejectedRecord
from relay.queue.sqlite import SqliteQueue

__all__ = ["LOOKING", "register"]

#: The ``dlq`` and ``rejected`` actions that only look: they open a SQLite queue read-only.
LOOKING = frozenset({"list", "show"})


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _age_seconds(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``3d`` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def _masked_payload(payload: bytes) -> dict[str, Any]:
    """A stored payload as shown: phone numbers masked at any depth (a mapping job's payload
    nests the vendor's event)."""
    data: dict[str, Any] = mask_document(orjson.loads(payload))
    return data


async def _with_queue(
    args: argparse.Namespace,
    fn: Callable[[DialQueue], Awaitable[int]],
    *,
    create: bool = False,
    read_only: bool = False,
) -> int:
    """Run ``fn`` on the configured queue. Unless ``create``, a SQLite queue must exist
    already: an operator command never leaves an empty queue file where none was. A command
    that only looks passes ``read_only``: a SQLite file is then opened read-only (SQLite's
    ``mode=ro``), so it cannot change the queue, even by mistake."""
    settings = load_settings(args)
    queue = create_queue(settings.queue_url, settings)
    if isinstance(queue, SqliteQueue):
        if not create and not queue.path.is_file():
            print(f"no queue at {queue.path}", file=sys.stderr)
            return 1
        if read_only:
            queue = SqliteQueue(queue.path, read_only=True)
    await queue.open()
    try:
        return await fn(queue)
    finally:
        await queue.close()


def _dead_line(d: DeadDial) -> str:
    status = d.status if d.status is not None else "-"
    return (
        f"{d.id}\t{d.source}\t{d.dial_id}\t{status}\t{d.reason}\t{_when(d.dead_at)}\t"
        f"attempts={d.attempts}"
    )


async def _select_dead(queue: DialQueue, args: argparse.Namespace) -> list[DeadDial] | None:
    """The dead letters named (None, each unknown id named on stderr, when one is not
    there: nothing is done), else the ones the filter selects."""
    if getattr(args, "ids", None):
        found = [await queue.get_dead(i) for i in args.ids]
        missing = [i for i, d in zip(args.ids, found, strict=True) if d is None]
        for dead_id in missing:
            print(f"no dead letter {dead_id}", file=sys.stderr)
        return None if missing else [d for d in found if d is not None]
    before = time.time() - _age_seconds(args.older_than) if args.older_than else None
    return await queue.list_dead(
        source=args.source, status=args.status, before=before, limit=args.limit
    )


def dlq(args: argparse.Namespace) -> int:
    async def run(queue: DialQueue) -> int:
        if args.action == "show":
            d = await queue.get_dead(args.id)
            if d is None:
                print(f"no dead letter {args.id}", file=sys.stderr)
                return 1
            out = {
                "id": d.id,
                "source": d.source,
                "dial_id": d.dial_id,
                "reason": d.reason,
                "status": d.status,
                "response_body": redact_answer(d.response_body, _known_secrets(args)),
                "attempts": d.attempts,
                "received_at": _when(d.received_at),
                "dead_at": _when(d.dead_at),
                "payload": _masked_payload(d.payload),
            }
            print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
            return 0
        if args.action in ("replay", "purge") and not (
            args.ids or args.source or args.status or args.older_than or args.all
        ):
            print(
                "name ids, or a filter (--source/--status/--older-than), or --all", file=sys.stderr
            )
            return 2
        selected = await _select_dead(queue, args)
        if selected is None:
            return 1
        if args.action == "list":
            print("id\tsource\tdial_id\tstatus\treason\tdead_at\tattempts")
            for d in selected:
                print(_dead_line(d))
            return 0
        ids = [d.id for d in selected]
        if args.action == "replay":
            count = await queue.replay_dead(ids, now=time.time())
            print(f"re-queued {count} dead letter(s)")
        else:
            count = await queue.purge_dead(ids)
            print(f"purged {count} dead letter(s)")
        return 0

    return asyncio.run(_with_queue(args, run, read_only=args.action in LOOKING))


def _known_secrets(args: argparse.Namespace) -> list[str]:
    """The configured secrets (the sources' too when the file loads), to hide in what
    outboundIQ answered: dead letters stored before answers were redacted may hold them."""
    settings = load_settings(args)
    try:
        sources = load_configured_sources(settings)
    except ConfigError:
        sources = {}
    return configured_secrets(settings, sources)


def _load_sources(args: argparse.Namespace) -> dict[str, Any]:
    return load_configured_sources(load_settings(args))


def rejected(args: argparse.Namespace) -> int:
    async def run(queue: DialQueue) -> int:
        if args.action == "list":
            print("id\tsource\treceived_at\tproblems")
            for r in await queue.list_rejected(source=args.source, limit=args.limit):
                fields = ",".join(p["field"] for p in r.problems)
                print(f"{r.id}\t{r.source}\t{_when(r.received_at)}\t{fields}")
            return 0
        if args.action == "show":
            rec = await queue.get_rejected(args.id)
            if rec is None:
                print(f"no rejected request {args.id}", file=sys.stderr)
                return 1
            print(
                orjson.dumps(
                    {
                        "id": rec.id,
                        "source": rec.source,
                        "received_at": _when(rec.received_at),
                        "method": rec.method,
                        "content_type": rec.content_type,
                        "query": rec.query,
                        "body": rec.body.decode("utf-8", "replace"),
                        "problems": rec.problems,
                    },
                    option=orjson.OPT_INDENT_2,
                ).decode()
            )
            return 0
        if args.action == "purge":
            return await _purge_rejected(queue, args)
        return await _replay_rejected(queue, args)

    return asyncio.run(_with_queue(args, run, read_only=args.action in LOOKING))


async def _purge_rejected(queue: DialQueue, args: argparse.Namespace) -> int:
    """Delete rejected requests: named ids (each must exist, or nothing is deleted), or
    every one a filter selects (``--source``, ``--older-than``), or ``--all``."""
    if args.ids:
        missing = [i for i in args.ids if await queue.get_rejected(i) is None]
        for record_id in missing:
            print(f"no rejected request {record_id}", file=sys.stderr)
        if missing:
            return 1
        print(f"purged {await queue.delete_rejected(args.ids)} rejected request(s)")
        return 0
    if not (args.source or args.older_than or args.all):
        print("name ids, or a filter (--source/--older-than), or --all", file=sys.stderr)
        return 2
    before = time.time() - _age_seconds(args.older_than) if args.older_than else None
    purged = 0
    while purged < args.limit:
        page = await queue.list_rejected(
            source=args.source, before=before, limit=min(1000, args.limit - purged)
        )
        if not page:
            break
        deleted = await queue.delete_rejected([r.id for r in page])
        if not deleted:  # gone meanwhile (another purge at work): leave the rest to it
            break
        purged += deleted
    print(f"purged {purged} rejected request(s)")
    return 0


async def _replay_rejected(queue: DialQueue, args: argparse.Namespace) -> int:
    settings = load_settings(args)
    sources = _load_sources(args)
    if args.ids:
        found = [await queue.get_rejected(i) for i in args.ids]
        missing = [i for i, r in zip(args.ids, found, strict=True) if r is None]
        for record_id in missing:
            print(f"no rejected request {record_id}", file=sys.stderr)
        if missing:  # as show does: nothing is replayed
            return 1
        records: list[RejectedRecord] = [r for r in found if r is not None]
    elif args.source or args.all:
        records = await queue.list_rejected(source=args.source, limit=args.limit)
    else:
        print("name ids, or --source, or --all", file=sys.stderr)
        return 2
    queued = duplicates = still = ignored = 0
    for rec in records:
        source = sources.get(rec.source)
        if source is None:
            print(f"{rec.id}: source {rec.source!r} is no longer configured", file=sys.stderr)
            still += 1
            continue
        try:
            request = parse_request(rec.method, rec.content_type, rec.query, rec.body)
            mapped = map_request(source, request)
        except (MappingError, UnsupportedMediaType, ValueError) as exc:
            print(f"{rec.id}: still rejected: {exc}")
            still += 1
            continue
        if mapped.ignored is not None:  # nothing to store: the request needs no dial
            await queue.delete_rejected([rec.id])
            ignored += 1
            continue
        stored, _key = await store_mapped(
            queue, source, mapped, dedupe_seconds=settings.dedupe_window_seconds
        )
        await queue.delete_rejected([rec.id])
        if stored != "duplicate":  # a leg merged into its call's held dial was kept too
            queued += 1
        else:
            duplicates += 1
    extra = f", ignored {ignored}" if ignored else ""
    print(f"queued {queued}, duplicate {duplicates}, still rejected {still}{extra}")
    return 0 if still == 0 else 1


def queue_stats(args: argparse.Namespace) -> int:
    async def run(queue: DialQueue) -> int:
        now = time.time()
        s = await queue.stats(now=now)
        oldest = f"{now - s.oldest_received_at:.0f} s" if s.oldest_received_at else "-"
        print(f"ready     {s.ready}")
        print(f"delayed   {s.delayed}")
        print(f"leased    {s.leased}")
        print(f"dead      {s.dead}")
        print(f"rejected  {s.rejected}")
        print(f"oldest    {oldest}")
        for source, count in sorted(s.by_source.items()):
            print(f"  {source}\t{count}")
        return 0

    return asyncio.run(_with_queue(args, run, read_only=True))


def backfill(args: argparse.Namespace) -> int:
    sources = _load_sources(args)
    source = sources.get(args.source)
    if source is None:
        print(f"unknown source {args.source!r}", file=sys.stderr)
        return 2
    if args.timezone:
        try:
            tz = zone(args.timezone)
        except ValueError as exc:
            print(f"--timezone: {exc}", file=sys.stderr)
            return 2
        config = source.config.model_copy(update={"timezone": args.timezone})
        source = dataclasses.replace(source, tz=tz, config=config)
    formats = readers()
    if args.format and args.format not in formats:
        print(
            f"unknown format {args.format!r}; one of {', '.join(sorted(formats))}", file=sys.stderr
        )
        return 2
    window = {}
    for name in ("since", "until"):
        value = getattr(args, name)
        if value:
            try:
                window[name] = normalize_datetime(value, source.tz)
            except ValueError as exc:
                print(f"--{name}: {exc}", file=sys.stderr)
                return 2
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    options = BackfillOptions(
        fmt=args.format,
        dry_run=args.dry_run,
        since=window.get("since"),
        until=window.get("until"),
        dedupe_seconds=args.dedupe_days * 86400,
        show_rejects=args.show_rejects,
    )

    async def run(queue: DialQueue) -> int:
        report = await run_backfill(queue, source, files, options)
        print(report.summary(args.dry_run))
        return 0

    return asyncio.run(_with_queue(args, run, create=True))


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``dlq``, ``rejected``, ``backfill`` and ``queue`` to the ``relay`` parser;
    ``options`` (``--queue-url``, ``--sources-file``) go on every command."""
    p_dlq = sub.add_parser("dlq", help="dead letters: list | show | replay | purge")
    dsub = p_dlq.add_subparsers(dest="action", required=True)
    for action in ("list", "replay", "purge"):
        a = dsub.add_parser(action, parents=[options])
        if action != "list":
            a.add_argument("ids", nargs="*", help="dead-letter ids (default: the filter)")
            a.add_argument("--all", action="store_true", help="every dead letter")
        a.add_argument("--source")
        a.add_argument("--status", type=int, help="outboundIQ's HTTP status")
        a.add_argument("--older-than", help="age, e.g. 30m, 2h, 3d")
        a.add_argument("--limit", type=int, default=1000)
    show = dsub.add_parser("show", parents=[options])
    show.add_argument("id")
    p_dlq.set_defaults(func=dlq)

    p_rej = sub.add_parser("rejected", help="rejected requests: list | show | replay | purge")
    rsub = p_rej.add_subparsers(dest="action", required=True)
    rl = rsub.add_parser("list", parents=[options])
    rl.add_argument("--source")
    rl.add_argument("--limit", type=int, default=1000)
    rs = rsub.add_parser("show", parents=[options])
    rs.add_argument("id")
    rr = rsub.add_parser(
        "replay", help="re-map stored requests with the current config", parents=[options]
    )
    rr.add_argument("ids", nargs="*")
    rr.add_argument("--source")
    rr.add_argument("--all", action="store_true")
    rr.add_argument("--limit", type=int, default=100000)
    rp = rsub.add_parser("purge", help="delete stored requests for good", parents=[options])
    rp.add_argument("ids", nargs="*", help="rejected ids (default: the filter)")
    rp.add_argument("--source")
    rp.add_argument("--older-than", help="age, e.g. 30m, 2h, 3d")
    rp.add_argument("--all", action="store_true", help="every rejected request")
    rp.add_argument("--limit", type=int, default=1_000_000)
    p_rej.set_defaults(func=rejected)

    p_bf = sub.add_parser(
        "backfill",
        help="queue a dialer's exported call history through a source's mapping",
        parents=[options],
    )
    p_bf.add_argument("source")
    p_bf.add_argument("files", nargs="+")
    p_bf.add_argument("--format", help="jsonl, csv, or a vendor format (default: by file name)")
    p_bf.add_argument("--dry-run", action="store_true", help="map and count; queue nothing")
    p_bf.add_argument("--since", help="only calls at or after (source time zone unless given)")
    p_bf.add_argument("--until", help="only calls before")
    p_bf.add_argument(
        "--dedupe-days",
        type=float,
        default=400.0,
        help="how long backfilled dial_ids are remembered (default 400)",
    )
    p_bf.add_argument("--show-rejects", type=int, default=10)
    p_bf.add_argument(
        "--timezone", help="IANA zone of the export's times (default: the source's timezone)"
    )
    p_bf.set_defaults(func=backfill)

    p_q = sub.add_parser("queue", help="queue statistics")
    qsub = p_q.add_subparsers(dest="action", required=True)
    qsub.add_parser("stats", parents=[options])
    p_q.set_defaults(func=queue_stats)
