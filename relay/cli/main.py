"""The ``relay`` command's parser, ``serve`` and ``check``; the other commands register here."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import argcomplete

from relay import __version__
from relay.cli.backfill import register as register_backfill
from relay.cli.common import check_config, common_options
from relay.cli.completion import register as register_completion
from relay.cli.dial import register as register_dial
from relay.cli.operator import register as register_operator
from relay.cli.preview import register as register_preview
from relay.cli.tail import register as register_tail
from relay.config.sources import sources_schema
from relay.core.sources import config_warnings
from relay.exceptions import RelayError
from relay.obs.logs import configure_logging

__all__ = ["main"]


def cmd_serve(args: argparse.Namespace) -> int:
    # the server's modules (Starlette, the console, uvicorn) only for the command that runs
    # it: the operator commands and the shell's completion start in a fraction of the time
    from relay.app import create_app
    from relay.intake.server import build_server

    # every problem of the settings, the queue URL and the sources file at once, as `check`
    checked = check_config(
        args, None, "--sources-file", on_settings=lambda s: configure_logging(s.log_level)
    )
    settings = checked.settings
    app = create_app(settings, sources=checked.sources, queue=checked.queue)
    # uvicorn re-raises the signal it stopped on once it is done; a finished graceful
    # shutdown on SIGTERM is a success (exit 0), so let that re-raise land on a no-op.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    build_server(app, settings).run()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    checked = check_config(args, args.file, "relay check FILE")
    settings, sources = checked.settings, checked.sources
    for name, source in sorted(sources.items()):
        cfg = source.config
        key = "own key" if cfg.api_key else ("default key" if source.api_key else "NO KEY")
        print(
            f"ok  {name}: POST /hooks/{name}  mapping={cfg.mapping} auth={cfg.auth.type} "
            f"timezone={cfg.timezone} ({key})"
        )
    print(f"{checked.path}: {len(sources)} source(s) valid")
    for warning in config_warnings(settings, sources):  # allowed, so still exit 0
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    """The sources file's JSON Schema, for editors and the Helm chart's ``sources`` value."""
    print(json.dumps(sources_schema(), indent=2))
    return 0


def _run(coro_fn: Callable[[], Coroutine[Any, Any, int]]) -> int:
    return asyncio.run(coro_fn())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relay", description="outboundIQ Relay")
    parser.add_argument("--version", action="version", version=f"relay {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    options = common_options()  # --queue-url, --sources-file: after any command's name

    serve = sub.add_parser("serve", help="run the relay (intake + forwarder)", parents=[options])
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser(
        "check", help="validate a sources file without starting", parents=[options]
    )
    check.add_argument(
        "file",
        nargs="?",
        metavar="sources_file",
        help="default: --sources-file, RELAY_SOURCES_FILE",
    )
    check.set_defaults(func=cmd_check)

    schema = sub.add_parser(
        "schema", help="print the sources file's JSON Schema", parents=[options]
    )
    schema.set_defaults(func=cmd_schema)

    register_operator(sub, options)
    register_backfill(sub, options)
    register_dial(sub, options)
    register_preview(sub, options)
    register_tail(sub, options)
    register_completion(sub, options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)  # answers a shell's completion request, then exits
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except RelayError as exc:
        print(f"relay: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
