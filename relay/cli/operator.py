"""Operator tools over the configured queue: ``dlq``, ``rejected``, ``queue stats``.

They open the same queue the server uses (``RELAY_QUEUE_URL``, or ``--queue-url``); SQLite
allows this while the server runs (WAL), and so does Redis. Only ``backfill``
(``relay.cli.backfill``) may create a queue: these refuse a SQLite file that does not exist
("no queue at <path>", exit 1). The ones that only look (``queue stats``, ``dlq``/``rejected``
``list`` and ``show``) open a SQLite queue read-only, so they cannot change it. ``list``,
``show`` and ``stats`` take ``--json`` (``relay.cli.output``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from relay.cli.common import known_secrets, load_settings, with_queue
from relay.cli.completion import source_names
from relay.cli.output import iso, json_option, print_json, when
from relay.core.replay import find_rejected, replay_rejected
from relay.core.sources import load_configured_sources
from relay.core.timeline import age_seconds, masked_payload
from relay.obs.logs import redact_answer
from relay.queue.base import DeadDial, DialQueue, RejectedRecord

__all__ = ["LOOKING", "register"]

#: The ``dlq`` and ``rejected`` actions that only look: they open a SQLite queue read-only.
LOOKING = frozenset({"list", "show"})


def _dead_line(d: DeadDial) -> str:
    status = d.status if d.status is not None else "-"
    return (
        f"{d.id}\t{d.source}\t{d.dial_id}\t{status}\t{d.reason}\t{when(d.dead_at)}\t"
        f"attempts={d.attempts}"
    )


def _dead_row(d: DeadDial) -> dict[str, Any]:
    """One dead letter of ``dlq list --json``: the table's columns and when it arrived."""
    return {
        "id": d.id,
        "source": d.source,
        "dial_id": d.dial_id,
        "status": d.status,
        "reason": d.reason,
        "received_at": iso(d.received_at),
        "dead_at": iso(d.dead_at),
        "attempts": d.attempts,
    }


def _dead_doc(d: DeadDial, secrets: list[str]) -> dict[str, Any]:
    """``dlq show``: the row, outboundIQ's answer (secrets hidden) and the payload (phones
    masked)."""
    return {
        **_dead_row(d),
        "response_body": redact_answer(d.response_body, secrets),
        "payload": masked_payload(d.payload),
    }


async def _select_dead(queue: DialQueue, args: argparse.Namespace) -> list[DeadDial] | None:
    """The dead letters named (None, each unknown id named on stderr, when one is not
    there: nothing is done), else the ones the filter selects."""
    if getattr(args, "ids", None):
        found = [await queue.get_dead(i) for i in args.ids]
        missing = [i for i, d in zip(args.ids, found, strict=True) if d is None]
        for dead_id in missing:
            print(f"no dead letter {dead_id}", file=sys.stderr)
        return None if missing else [d for d in found if d is not None]
    before = time.time() - age_seconds(args.older_than) if args.older_than else None
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
            print_json(_dead_doc(d, known_secrets(args)), indent=not args.json)
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
        if args.action == "list" and args.json:
            print_json([_dead_row(d) for d in selected])
            return 0
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

    return asyncio.run(with_queue(args, run, read_only=args.action in LOOKING))


def _load_sources(args: argparse.Namespace) -> dict[str, Any]:
    return load_configured_sources(load_settings(args))


def rejected(args: argparse.Namespace) -> int:
    async def run(queue: DialQueue) -> int:
        if args.action == "list":
            records = await queue.list_rejected(source=args.source, limit=args.limit)
            if args.json:
                print_json([_rejected_row(r) for r in records])
                return 0
            print("id\tsource\treceived_at\tproblems")
            for r in records:
                fields = ",".join(p["field"] for p in r.problems)
                print(f"{r.id}\t{r.source}\t{when(r.received_at)}\t{fields}")
            return 0
        if args.action == "show":
            rec = await queue.get_rejected(args.id)
            if rec is None:
                print(f"no rejected request {args.id}", file=sys.stderr)
                return 1
            doc = {
                **_rejected_row(rec),
                "method": rec.method,
                "content_type": rec.content_type,
                "query": rec.query,
                "body": rec.body.decode("utf-8", "replace"),
            }
            print_json(doc, indent=not args.json)
            return 0
        if args.action == "purge":
            return await _purge_rejected(queue, args)
        return await _replay_rejected(queue, args)

    return asyncio.run(with_queue(args, run, read_only=args.action in LOOKING))


def _rejected_row(r: RejectedRecord) -> dict[str, Any]:
    """One rejected request of ``rejected list --json``: who sent it, when, and why."""
    return {
        "id": r.id,
        "source": r.source,
        "received_at": iso(r.received_at),
        "problems": r.problems,
    }


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
    before = time.time() - age_seconds(args.older_than) if args.older_than else None
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
        records, missing = await find_rejected(queue, args.ids)
        for record_id in missing:
            print(f"no rejected request {record_id}", file=sys.stderr)
        if missing:  # as show does: nothing is replayed
            return 1
    elif args.source or args.all:
        records = await queue.list_rejected(source=args.source, limit=args.limit)
    else:
        print("name ids, or --source, or --all", file=sys.stderr)
        return 2
    outcome = await replay_rejected(
        queue, sources, records, dedupe_seconds=settings.dedupe_window_seconds
    )
    for still in outcome.still:
        if still.unconfigured:
            print(f"{still.id}: {still.reason}", file=sys.stderr)
        else:
            print(f"{still.id}: still rejected: {still.reason}")
    print(outcome.summary())
    return 0 if not outcome.still else 1


def queue_stats(args: argparse.Namespace) -> int:
    async def run(queue: DialQueue) -> int:
        now = time.time()
        s = await queue.stats(now=now)
        age = now - s.oldest_received_at if s.oldest_received_at else None
        if args.json:
            print_json(
                {
                    "ready": s.ready,
                    "delayed": s.delayed,
                    "leased": s.leased,
                    "dead": s.dead,
                    "rejected": s.rejected,
                    "oldest_age_seconds": None if age is None else round(age, 3),
                    "by_source": dict(sorted(s.by_source.items())),
                }
            )
            return 0
        oldest = f"{age:.0f} s" if age is not None else "-"
        print(f"ready     {s.ready}")
        print(f"delayed   {s.delayed}")
        print(f"leased    {s.leased}")
        print(f"dead      {s.dead}")
        print(f"rejected  {s.rejected}")
        print(f"oldest    {oldest}")
        for source, count in sorted(s.by_source.items()):
            print(f"  {source}\t{count}")
        return 0

    return asyncio.run(with_queue(args, run, read_only=True))


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``dlq``, ``rejected`` and ``queue`` to the ``relay`` parser; ``options``
    (``--queue-url``, ``--sources-file``) go on every command."""
    as_json = json_option()
    p_dlq = sub.add_parser(
        "dlq",
        help="dead letters (dials outboundIQ refused for good): list | show | replay | purge",
        description="Dead letters: dials outboundIQ refused for good, kept until replayed.",
    )
    dsub = p_dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    dhelp = {
        "list": "list dead letters (tab-separated, or --json)",
        "replay": "put dead letters back into the queue",
        "purge": "delete dead letters for good",
    }
    for action, about in dhelp.items():
        parents = [options, as_json] if action == "list" else [options]
        a = dsub.add_parser(action, help=about, description=about, parents=parents)
        if action != "list":
            a.add_argument("ids", nargs="*", help="dead-letter ids (default: the filter)")
            a.add_argument("--all", action="store_true", help="every dead letter")
        _source_option(a, "only this source's dead letters")
        a.add_argument("--status", type=int, help="only those outboundIQ answered with this status")
        a.add_argument("--older-than", help="only those dead for longer than this: 30m, 2h, 3d")
        _limit(a, 1000)
    _show(dsub, [options, as_json], "one dead letter: outboundIQ's answer and the payload "
          "(phones masked)", "the dead letter's id (the first column of dlq list)")  # fmt: skip
    p_dlq.set_defaults(func=dlq)

    p_rej = sub.add_parser(
        "rejected",
        help="requests that could not be mapped: list | show | replay | purge",
        description="Rejected requests: kept raw, to replay once the mapping is fixed.",
    )
    rsub = p_rej.add_subparsers(dest="action", required=True, metavar="ACTION")
    rl = rsub.add_parser(
        "list",
        help="list rejected requests with the fields at fault (tab-separated, or --json)",
        parents=[options, as_json],
    )
    _source_option(rl, "only this source's requests")
    _limit(rl, 1000)
    _show(rsub, [options, as_json], "one rejected request as received (secret parameter "
          "removed) and its problems", "the rejected request's id (the first column of "
          "rejected list)")  # fmt: skip
    rr = rsub.add_parser(
        "replay", help="re-map stored requests with the current config", parents=[options]
    )
    rr.add_argument("ids", nargs="*", help="rejected ids (default: --source or --all)")
    _source_option(rr, "every request of this source")
    rr.add_argument("--all", action="store_true", help="every rejected request")
    _limit(rr, 100000)
    rp = rsub.add_parser("purge", help="delete stored requests for good", parents=[options])
    rp.add_argument("ids", nargs="*", help="rejected ids (default: the filter)")
    _source_option(rp, "only this source's requests")
    rp.add_argument("--older-than", help="only those older than this: 30m, 2h, 3d")
    rp.add_argument("--all", action="store_true", help="every rejected request")
    _limit(rp, 1_000_000)
    p_rej.set_defaults(func=rejected)

    p_q = sub.add_parser("queue", help="the queue's state: stats")
    qsub = p_q.add_subparsers(dest="action", required=True, metavar="ACTION")
    qsub.add_parser(
        "stats",
        help="ready / delayed / leased / dead / rejected counts and the oldest dial's age",
        parents=[options, as_json],
    )
    p_q.set_defaults(func=queue_stats)


def _show(sub: Any, parents: list[argparse.ArgumentParser], about: str, id_help: str) -> None:
    """A ``show ID`` action: one record, as one JSON document."""
    sub.add_parser("show", help=about, parents=parents).add_argument("id", help=id_help)


def _limit(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument(
        "--limit", type=int, default=default, help="at most this many (default %(default)s)"
    )


def _source_option(parser: argparse.ArgumentParser, about: str) -> None:
    """``--source NAME``, completed from the sources file."""
    source_names(parser.add_argument("--source", help=about))
