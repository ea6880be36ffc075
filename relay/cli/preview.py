"""``relay preview <source> [FILE]``: map a request through a source (nothing is queued).

FILE is a raw body, or a request file (the golden-fixture format)::

    {"request": {"method": "POST", "content_type": "application/x-www-form-urlencoded",
                 "query": "token=...&campaign_name=Spring", "body": "call_id=300000010270763&..."}}

Without FILE the request has no body: a GET whose parameters are all in ``--query`` (a Five9
connector URL). The text output is for people (phones masked); ``--json`` prints the same
document ``POST /preview/<source>`` answers. Exit 0 when the request would be accepted, 1
when it would be rejected (422), 2 for a usage or config error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from relay.cli.common import load_settings, sources_from
from relay.cli.completion import source_names
from relay.cli.output import print_json
from relay.core.pipeline import parse_request
from relay.core.preview import Preview, preview_request, read_request
from relay.exceptions import ConfigError, MappingError, UnsupportedMediaType
from relay.obs.logs import mask_phone

__all__ = ["register", "render"]

_PHONES = ("ani", "prospect_phone")


def _read(args: argparse.Namespace) -> bytes:
    if args.file is None:
        return b""
    if args.file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(args.file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: {exc.strerror or exc}") from None


def cmd_preview(args: argparse.Namespace) -> int:
    path, sources = sources_from(load_settings(args), None, "--sources-file")
    source = sources.get(args.source)
    if source is None:
        known = ", ".join(sorted(sources)) or "none"
        raise ConfigError(f"no source named {args.source!r} in {path} (sources: {known})")
    method = args.method or ("POST" if args.file is not None else "GET")
    try:
        raw = read_request(
            _read(args), content_type=args.content_type, method=method, query=args.query
        )
    except ValueError as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    query, body = source.without_secret(raw.query, raw.content_type, raw.body)
    if not source.config.auth.query_is_mapped:  # as the hook does: the query is not signed
        query = {}
    try:
        parsed = parse_request(
            raw.method, raw.content_type, query, body, decode=source.body_decoder
        )
        outcome = preview_request(source, parsed)
    except UnsupportedMediaType as exc:
        raise ConfigError(f"unsupported content type {exc}; use --content-type") from None
    except MappingError as exc:
        outcome = Preview(dial=None, errors=[p.as_dict() for p in exc.problems])
    if args.json:
        print_json(outcome.as_dict(), indent=True)
    else:
        sys.stdout.write(render(source.name, outcome))
    return 0 if outcome.ok else 1


def render(source: str, outcome: Preview) -> str:
    """The text output: the verdict, the dial (phones masked) or the errors, the warnings
    and the input keys no field used."""
    verdict = {
        "ok": "ok: the hook would queue this dial",
        "rejected": "rejected: the hook would answer 422",
        "deferred": "deferred: the hook would queue a job",
        "ignored": "ignored: the hook would answer 200 and store nothing",
    }[outcome.status]
    lines = [f"{source}: {verdict} (nothing was queued)"]
    if outcome.later is not None:
        lines.append(f"  {outcome.later}")
    if outcome.dial is not None:
        lines.append("dial:")
        width = max(len(k) for k in outcome.dial)
        for key, value in outcome.dial.items():
            shown = mask_phone(str(value)) if key in _PHONES and value else value
            lines.append(f"  {key:<{width}}  {shown}")
    if outcome.errors:
        lines.append("errors:")
        lines += [f"  {e['field']}: {e['problem']}" for e in outcome.errors]
    if outcome.warnings:
        lines.append("warnings:")
        lines += [f"  {w}" for w in outcome.warnings]
    unused = ", ".join(outcome.unused) if outcome.unused else "none"
    lines.append(f"unused input keys: {unused}")
    return "\n".join(lines) + "\n"


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``relay preview`` to the CLI (``options``: what every command takes)."""
    p = sub.add_parser(
        "preview",
        help="map a request through a source's mapping (nothing is queued)",
        description=(
            "Show what a request becomes: the Dials payload and warnings, or the problems "
            "that would make the hook answer 422, and the input keys no field used. "
            "Exit 0 (accepted), 1 (rejected), 2 (usage or config error)."
        ),
        parents=[options],
    )
    source_names(p.add_argument("source", help="the source name, as in /hooks/<source>"))
    p.add_argument(
        "file",
        nargs="?",
        help="a raw body or a request file ({'request': {...}}); - for stdin; "
        "none: no body (a GET with --query)",
    )
    p.add_argument(
        "--content-type", help="for a raw body: default JSON if it looks like JSON, else form"
    )
    p.add_argument("--method", help="for a raw body (default POST; GET when there is no FILE)")
    p.add_argument("--query", default="", help="query string sent with the request: 'a=1&b=2'")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the document POST /preview/<source> answers, instead of text",
    )
    p.set_defaults(func=cmd_preview)
