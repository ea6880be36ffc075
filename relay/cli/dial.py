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
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from relay.cli.common import load_settings
from relay.cli.operator import _age_seconds, _known_secrets, _masked_payload, _with_queue
from relay.cli.output import json_option, print_json
from relay.obs.logs import redact_answer
from relay.queue.base import DialEvent, DialQueue, DialRecord

__all__ = ["register"]

_LANES = {0: "live", 1: "backfill"}
#: How a document shows a time: ``_text_time`` or ``_json_time``.
Clock = Callable[[float | None], str | None]


def _text_time(ts: float | None) -> str | None:
    """UTC, to the millisecond (attempts a fraction of a second apart stay apart)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _json_time(ts: float | None) -> str | None:
    """ISO 8601 like every ``--json`` document, with milliseconds: ``...T16:00:06.042Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _moment(text: str) -> float:
    """``--since``/``--until``: an age (``90s``, ``15m``, ``2h``, ``3d``: that long ago) or a
    date-time (ISO 8601; UTC unless it names its offset)."""
    try:
        return time.time() - _age_seconds(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: an age (90s, 15m, 2h, 3d) or a date-time (2026-12-01T08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _last4(text: str) -> str:
    if len(text) != 4 or not text.isdigit():
        raise argparse.ArgumentTypeError("four digits, the end of the prospect's number")
    return text


def _event(e: DialEvent, secrets: list[str], at: Clock) -> dict[str, Any]:
    out: dict[str, Any] = {"event": e.kind, "at": at(e.at)}
    if e.kind == "received":
        out.update(lane=_LANES.get(e.lane or 0, str(e.lane)), kind=e.reason or "dial")
    elif e.kind == "attempt":
        answer = redact_answer(e.answer, secrets) if e.answer else ""
        out.update(attempt=e.attempt, status=e.status, answer=answer, seconds=e.seconds)
    elif e.kind == "waiting":
        out.update(until=at(e.due_at), reason=redact_answer(e.reason, secrets))
    elif e.kind == "dead_lettered":
        out.update(reason=e.reason, status=e.status)
    return out


def _shown(r: DialRecord, secrets: list[str], *, at: Clock, payload: bool = True) -> dict[str, Any]:
    """``r`` as shown: the ``--json`` document (docs/operations.md), times by ``at``."""
    out: dict[str, Any] = {
        "id": r.id,
        "source": r.source,
        "dial_id": r.dial_id,
        "state": r.state,
        "number": f"******{r.phone_last4}" if r.phone_last4 else None,
        "received_at": at(r.received_at),
        "settled_at": at(r.settled_at),
        "dead_letter_id": r.dead_id,
        "events": [_event(e, secrets, at) for e in r.events],
    }
    if payload:
        out["payload"] = _payload(r.payload)
    return out


def _payload(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return _masked_payload(raw)
    except orjson.JSONDecodeError:
        return "(not JSON: not shown)"


def _detail(e: dict[str, Any]) -> str:
    kind = e["event"]
    if kind == "received":
        return f"{e['lane']} lane" + ("" if e["kind"] == "dial" else f", {e['kind']} job")
    if kind == "attempt":
        status = "no answer" if e["status"] is None else f"HTTP {e['status']}"
        took = "" if e["seconds"] is None else f" in {e['seconds']:.3f} s"
        answer = f": {e['answer']}" if e["answer"] else ""
        return f"#{e['attempt']} {status}{took}{answer}"
    if kind == "waiting":
        return f"until {e['until']}" + (f": {e['reason']}" if e["reason"] else "")
    if kind == "dead_lettered":
        return str(e["reason"]) + ("" if e["status"] is None else f" (HTTP {e['status']})")
    return ""


def _print_timeline(d: dict[str, Any]) -> None:
    where = f" as dead letter {d['dead_letter_id']}" if d["dead_letter_id"] else ""
    print(
        f"dial {d['dial_id']}  source {d['source']}  queue id {d['id']}  "
        f"number {d['number'] or '-'}  {d['state']}{where}"
    )
    for e in d["events"]:
        print(f"  {e['at']}  {e['event']:<14} {_detail(e)}".rstrip())
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
                received = _text_time(r.received_at)
                print(f"  --source {r.source}\t{r.state}\t{received}", file=sys.stderr)
            return 2
        secrets = _known_secrets(args)
        if args.json:
            print_json([_shown(r, secrets, at=_json_time) for r in records])
            return 0
        for i, r in enumerate(records):
            if i:
                print()
            _print_timeline(_shown(r, secrets, at=_text_time))
        return 0

    return asyncio.run(_with_queue(args, run, read_only=True))


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
            secrets = _known_secrets(args)
            print_json([_shown(r, secrets, at=_json_time, payload=False) for r in records])
            return 0
        print("received_at\tsource\tdial_id\tnumber\tstate\tattempts\tlast answer")
        for d in (_shown(r, [], at=_text_time, payload=False) for r in records):
            tries = [e for e in d["events"] if e["event"] == "attempt"]
            last = "-" if not tries else tries[-1]["status"] or "no answer"
            print(
                f"{d['received_at']}\t{d['source']}\t{d['dial_id']}\t{d['number'] or '-'}\t"
                f"{d['state']}\t{len(tries)}\t{last}"
            )
        return 0

    return asyncio.run(_with_queue(args, run, read_only=True))


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
