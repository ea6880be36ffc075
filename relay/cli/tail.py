"""``relay tail``: follow the running relay's events as they happen.

Where the events come from: with a Redis queue (``RELAY_QUEUE_URL`` ``redis://``,
``rediss://``, ``unix://``) and no ``--url``, the Redis channel every replica publishes on
(``relay.queue.redis.events``), so one tail sees them all; otherwise one relay's
``/admin/events`` stream (``relay.intake.admin``) at ``--url`` (default
``http://127.0.0.1:$RELAY_PORT``), with the admin token (``RELAY_ADMIN_TOKEN``, or
``--token-file``). Filters (``--source``, ``--outcome``) are applied by the relay over HTTP,
here for Redis. Output: one line per event (``--json``: the event's JSON as the relay sent
it), phone numbers masked (again: whatever sent the event). Ctrl-C stops it (exit 0); a relay
that cannot be reached, refuses the token or ends the stream is exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from relay.cli.common import load_settings
from relay.config.settings import Settings
from relay.exceptions import ConfigError, QueueUnavailable
from relay.obs.events import FILTER_OUTCOMES, selected_kinds
from relay.obs.logs import mask_document, mask_phones_in_text, redact_url
from relay.obs.sse import SseParser

__all__ = ["TailOutput", "register"]

_REDIS_SCHEMES = ("redis", "rediss", "unix")
_EVENTS_PATH = "/admin/events"


class TailFailed(Exception):
    """The relay could not be followed (the message says why): exit 1."""


class TailOutput:
    """Prints the events ``sources`` and ``outcomes`` select (empty: all), one a line."""

    def __init__(self, *, json: bool, sources: Iterable[str] = (), outcomes: Iterable[str] = ()):
        self.json = json
        self.sources = frozenset(sources)
        self.kinds = selected_kinds(outcomes)

    def wants(self, event: dict[str, Any]) -> bool:
        if event.get("kind") == "missed":
            return True
        return (not self.sources or event.get("source") in self.sources) and (
            not self.kinds or event.get("kind") in self.kinds
        )

    def show(self, data: str | bytes) -> None:
        """One event's JSON (as the relay sent it): printed if the filters select it."""
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict) or not self.wants(event):
            return
        event = _masked(event)
        line = orjson.dumps(event).decode() if self.json else human_line(event)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _masked(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its phone numbers masked, whatever relay (or version) sent it."""
    out = dict(event)
    for key in ("reason", "detail"):
        if isinstance(out.get(key), str):
            out[key] = mask_phones_in_text(out[key])
    if "payload" in out:
        out["payload"] = mask_document(out["payload"])
    return out


def human_line(event: dict[str, Any]) -> str:
    """``time replica source kind dial_id status reason (detail) payload``, '-' for what an
    event does not have; the payload as compact JSON without its empty fields."""
    at = event.get("at")
    when = datetime.fromtimestamp(at if isinstance(at, int | float) else 0, UTC)
    stamp = when.strftime("%H:%M:%S.%f")[:-3] + "Z"
    replica = str(event.get("replica") or "-")
    if event.get("kind") == "missed":
        now = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3] + "Z"
        return f"{now}  {replica}  missed {event.get('missed')} events (the feed fell behind)"
    parts = [
        stamp,
        replica,
        str(event.get("source") or "-"),
        str(event.get("kind") or "-"),
        str(event.get("dial_id") or "-"),
        str(event.get("status") or "-"),
    ]
    if event.get("reason"):
        parts.append(str(event["reason"]))
    if event.get("detail"):
        parts.append(f"({event['detail']})")
    payload = event.get("payload")
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if v not in ("", None)}
    if payload is not None:
        parts.append(orjson.dumps(payload).decode())
    return "  ".join(parts)


def _say(text: str) -> None:
    print(f"relay tail: {text}", file=sys.stderr, flush=True)


def _token(args: argparse.Namespace, settings: Settings) -> str:
    if args.token_file:
        try:
            token = Path(args.token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"--token-file: cannot read {args.token_file}: {exc.strerror}"
            ) from None
        if not token:
            raise ConfigError(f"--token-file: {args.token_file} is empty")
        return token
    if settings.admin_token is None:
        raise ConfigError("no admin token: set RELAY_ADMIN_TOKEN (the relay's) or --token-file")
    return settings.admin_token.get_secret_value()


async def follow_http(url: str, token: str, args: argparse.Namespace, out: TailOutput) -> None:
    """One relay's ``/admin/events``, filtered by the relay, until it ends."""
    params = [("source", s) for s in args.source] + [("outcome", o) for o in args.outcome]
    target = url.rstrip("/") + _EVENTS_PATH
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
    timeout = httpx.Timeout(10.0, read=60.0)  # keep-alives come every 15 s
    parser = SseParser()
    try:
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("GET", target, params=params, headers=headers) as response,
        ):
            if response.status_code == 401:
                raise TailFailed(f"{url} refused the admin token (401): use the relay's")
            if response.status_code == 404:
                raise TailFailed(f"{url} has no event feed (404): is RELAY_ADMIN_TOKEN set there?")
            if response.status_code != 200:
                body = (await response.aread()).decode("utf-8", "replace")[:200]
                raise TailFailed(f"{url} answered {response.status_code}: {body}")
            async for chunk in response.aiter_bytes():
                for name, data in parser.feed(chunk):
                    if name == "ready":
                        replica = orjson.loads(data).get("replica") or "?"
                        _say(f"following {url} (replica {replica}); Ctrl-C to stop")
                    elif name in ("message", "missed"):
                        out.show(data)
    except httpx.HTTPError as exc:
        raise TailFailed(f"cannot follow {url}: {type(exc).__name__}: {exc}") from None
    raise TailFailed(f"{url} ended the stream (the relay is stopping?)")


async def follow_redis(settings: Settings, out: TailOutput) -> None:
    """Every replica's events on the shared queue's Redis channel, until Ctrl-C."""
    # redis-py only when asked for: every other command starts without it
    from relay.queue.redis.events import events_channel, follow_events

    url = settings.queue_url
    channel = events_channel(settings.redis_key_prefix)
    password = settings.redis_password
    where = f"every replica on {redact_url(url)} ({channel}); Ctrl-C to stop"
    messages = follow_events(
        url,
        password=password.get_secret_value() if password is not None else None,
        prefix=settings.redis_key_prefix,
        ready=lambda: _say(f"following {where}"),
    )
    try:
        async for message in messages:
            for line in message.split(b"\n"):
                out.show(line)
    except QueueUnavailable as exc:
        raise TailFailed(str(exc)) from None


def cmd_tail(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    out = TailOutput(json=args.json, sources=args.source, outcomes=args.outcome)
    redis = args.url is None and urlsplit(settings.queue_url).scheme in _REDIS_SCHEMES
    # Ctrl-C stops it, even when started from a shell (or CI) that ignores SIGINT for the
    # commands it runs in the background: Python then installs no handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if redis:
            asyncio.run(follow_redis(settings, out))
        else:
            url = args.url or f"http://127.0.0.1:{settings.port}"
            asyncio.run(follow_http(url, _token(args, settings), args, out))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `relay tail | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except TailFailed as exc:
        _say(str(exc))
        return 1
    return 0


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``relay tail`` to the CLI (``options``: what every command takes)."""
    p = sub.add_parser(
        "tail",
        help="follow the running relay's events live (phones masked)",
        description="Follow the running relay's events as they happen: every webhook answer "
        "(queued, duplicate, rejected, unauthorized...) and every delivery outcome "
        "(delivered, retried, dead_lettered), with the mapped payload, phone numbers masked. "
        "With a Redis queue it listens on the Redis channel every replica publishes on; "
        "otherwise it reads one relay's /admin/events with the admin token.",
        parents=[options],
    )
    p.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="S",
        help="only the events of source S (repeat for several)",
    )
    p.add_argument(
        "--outcome",
        action="append",
        default=[],
        choices=FILTER_OUTCOMES,
        metavar="O",
        help="only events of kind O (repeat for several): received (every webhook), "
        + ", ".join(FILTER_OUTCOMES[1:]),
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object per line, as the relay sends it"
    )
    p.add_argument(
        "--url",
        help="read this relay's /admin/events over HTTP (default: the Redis channel with a "
        "Redis queue, else http://127.0.0.1:$RELAY_PORT)",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="a file holding the admin token (default: RELAY_ADMIN_TOKEN)",
    )
    p.set_defaults(func=cmd_tail)
