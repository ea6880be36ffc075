"""``relay dial show`` and ``relay dial list``: a dial's timeline, from the queue's history.

Read-only, like ``relay dlq list``: they open the configured queue (``--queue-url``) and never
create one. Phone numbers are masked (the payload's, as ``relay dlq show`` masks them; a
record keeps only the last four digits outside its payload), and outboundIQ's answers are
shown with every configured secret hidden.

Exit codes of ``show``: 0 the timeline(s) printed; 1 no such dial (or no queue); 2 the
dial_id is in several sources and ``--source`` was not given (they are listed on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from relay.cli.common import known_secrets, load_settings, with_queue
from relay.cli.output import json_option, print_json
from relay.core.timeline import attempts_of, detail, json_time, moment, shown, text_time
from relay.queue.base import DialQueue

__all__ = ["register"]


def _moment(text: str) -> float:
    """``--since``/``--until``: an age (``90s``, ``15m``, ``2h``, ``3d``: that long ago) or a
    date-time (ISO 8601; UTC unless it names its offset)."""
    try:
        return moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _last4(text: str) -> str:
    if len(text) != 4 or not text.isdigit():
        raise argparse.ArgumentTypeError("four digits, the end of the prospect's number")
    return text


def _print_timeline(d: dict[str, Any]) -> None:
    where = f" as dead letter {d['dead_letter_id']}" if d["dead_letter_id"] else ""
    print(
        f"dial {d['dial_id']}  source {d['source']}  queue id {d['id']}  "
        f"number {d['number'] or '-'}  {d['state']}{where}"
    )
    for e in d["events"]:
        print(f"  {e['at']}  {e['event']:<14} {detail(e)}".rstrip())
    if d["payload"] is not None:
        payload = orjson.dumps(d["payload"], option=orjson.OPT_INDENT_2).decode()
        print("  payload " + payload.replace("\n", "\n  "))


def _no_dial(args: argparse.Namespace) -> int:
    where = f" in source {args.source}" if args.source else ""
    off = ""
    if load_settings(args).dial_history_seconds <= 0:
        off = " (dial history is off here: RELAY_DIAL_HISTORY_SECONDS=0)"
    print(f"no dial {args.dial_id}{where}{off}", file=sys.stderr)
    return 1


def show(args: argparse.Namespace) -> int:
    async def run(queue: DialQueue) -> int:
        records = await queue.dial_history(args.dial_id, source=args.source)
        if not records:
            return _no_dial(args)
        sources = sorted({r.source for r in records})
        if len(sources) > 1:
            print(
                f"dial {args.dial_id} is in {len(sources)} sources; name one with --source:",
                file=sys.stderr,
            )
            for r in records:
                received = text_time(r.received_at)
                print(f"  --source {r.source}\t{r.state}\t{received}", file=sys.stderr)
            return 2
        secrets = known_secrets(args)
        if args.json:
            print_json([shown(r, secrets, at=json_time) for r in records])
            return 0
        for i, r in enumerate(records):
            if i:
                print()
            _print_timeline(shown(r, secrets, at=text_time))
        return 0

    return asyncio.run(with_queue(args, run, read_only=True))


def list_dials(args: argparse.Namespace) -> int:
    async def run(queue: DialQueue) -> int:
        records = await queue.list_history(
            source=args.source,
            since=args.since,
            until=args.until,
            phone_last4=args.number,
            limit=args.limit,
        )
        if args.json:
            secrets = known_secrets(args)
            print_json([shown(r, secrets, at=json_time, payload=False) for r in records])
            return 0
        print("received_at\tsource\tdial_id\tnumber\tstate\tattempts\tlast answer")
        for d in (shown(r, [], at=text_time, payload=False) for r in records):
            tries, last = attempts_of(d)
            print(
                f"{d['received_at']}\t{d['source']}\t{d['dial_id']}\t{d['number'] or '-'}\t"
                f"{d['state']}\t{tries}\t{last}"
            )
        return 0

    return asyncio.run(with_queue(args, run, read_only=True))


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``dial show`` and ``dial list`` to the ``relay`` parser; ``options``
    (``--queue-url``, ``--sources-file``) go on each."""
    p_dial = sub.add_parser(
        "dial",
        help="a dial's history: show DIAL_ID | list",
        description="What happened to each dial, from the queue's dial history "
        "(RELAY_DIAL_HISTORY_SECONDS). Times are UTC.",
    )
    dsub = p_dial.add_subparsers(dest="action", required=True)
    as_json = json_option()
    p_show = dsub.add_parser(
        "show",
        parents=[options, as_json],
        help="a dial's timeline: received, attempts with outboundIQ's answers, delivered or "
        "dead-lettered",
        description="Print the timeline of DIAL_ID. Exit 1: no such dial; exit 2: it is in "
        "several sources (listed) and --source is needed.",
    )
    p_show.add_argument("dial_id", help="the dialer's dial_id (as in the webhook)")
    p_show.add_argument("--source", help="only the dial of this source")
    p_show.set_defaults(func=show)
    p_list = dsub.add_parser(
        "list", parents=[options, as_json], help="dials with a history, newest first"
    )
    p_list.add_argument("--source", help="only this source's dials")
    p_list.add_argument(
        "--since", type=_moment, help="received at or after: an age (2h, 3d) or a date-time"
    )
    p_list.add_argument(
        "--until", type=_moment, help="received before: an age (30m) or a date-time"
    )
    p_list.add_argument("--number", type=_last4, help="the last 4 digits of the prospect's number")
    p_list.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    p_list.set_defaults(func=list_dials)
