"""``relay preview <source> FILE``: map a request file through a source (nothing is queued).

The file is a raw body, or a request file (the golden-fixture format)::

    {"request": {"method": "POST", "content_type": "application/x-www-form-urlencoded",
                 "query": "token=...&campaign_name=Spring", "body": "call_id=300000010270763&..."}}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from relay.cli.common import load_settings, sources_from
from relay.core.pipeline import parse_request
from relay.core.preview import Preview, preview_request, read_request
from relay.exceptions import ConfigError, MappingError, UnsupportedMediaType

__all__ = ["register"]


def cmd_preview(args: argparse.Namespace) -> int:
    path, sources = sources_from(load_settings(args), None, "--sources-file")
    source = sources.get(args.source)
    if source is None:
        known = ", ".join(sorted(sources)) or "none"
        raise ConfigError(f"no source named {args.source!r} in {path} (sources: {known})")
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    try:
        raw = read_request(
            data, content_type=args.content_type, method=args.method, query=args.query
        )
    except ValueError as exc:
        raise ConfigError(f"{args.file}: {exc}") from None
    query, body = source.without_secret(raw.query, raw.content_type, raw.body)
    if not source.config.auth.query_is_mapped:  # as the hook does: the query is not signed
        query = {}
    try:
        outcome = preview_request(source, parse_request(raw.method, raw.content_type, query, body))
    except UnsupportedMediaType as exc:
        raise ConfigError(f"unsupported content type {exc}; use --content-type") from None
    except MappingError as exc:
        outcome = Preview(dial=None, errors=[p.as_dict() for p in exc.problems])
    sys.stdout.write(orjson.dumps(outcome.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if outcome.ok else 1


def register(sub: Any, options: argparse.ArgumentParser) -> None:
    """Add ``relay preview`` to the CLI (``options``: what every command takes)."""
    p = sub.add_parser(
        "preview",
        help="map a request file through a source's mapping (nothing is queued)",
        parents=[options],
    )
    p.add_argument("source", help="the source name, as in /hooks/<source>")
    p.add_argument("file", help="a raw body or a request file ({'request': {...}}); - for stdin")
    p.add_argument("--content-type", help="for a raw body: default JSON if it parses, else form")
    p.add_argument("--method", default="POST", help="for a raw body (default POST)")
    p.add_argument("--query", default="", help="query string sent with a raw body: 'a=1&b=2'")
    p.set_defaults(func=cmd_preview)
