"""The ``relay`` command: ``serve``, ``check``, and operator tools over the configured queue."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from relay import __version__
from relay.exceptions import ConfigError, RelayError
from relay.logs import configure_logging
from relay.settings import Settings

if TYPE_CHECKING:
    from relay.sources import Source

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"RELAY_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(problems) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from relay.app import create_app
    from relay.server import build_server

    settings = _settings()
    if args.sources_file:
        settings.sources_file = Path(args.sources_file)
    configure_logging(settings.log_level)
    app = create_app(settings)
    # uvicorn re-raises the signal it stopped on once it is done; a finished graceful
    # shutdown on SIGTERM is a success (exit 0), so let that re-raise land on a no-op.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    build_server(app, settings).run()
    return 0


def sources_from(settings: Settings, named: str | None, how: str) -> tuple[Path, dict[str, Source]]:
    """The sources file named on the command line, else RELAY_SOURCES_FILE, loaded."""
    from relay.sources import load_sources

    path = Path(named) if named else settings.sources_file
    if path is None:
        raise ConfigError(f"name a sources file ({how}, or RELAY_SOURCES_FILE)")
    sources = load_sources(
        path, default_api_key=settings.outboundiq_api_key, mappings_dir=settings.mappings_dir
    )
    return path, sources


def cmd_check(args: argparse.Namespace) -> int:
    from relay.app import check_keys

    settings = _settings()
    path, sources = sources_from(settings, args.sources_file, "relay check FILE")
    check_keys(settings, sources)
    for name, source in sorted(sources.items()):
        cfg = source.config
        key = "own key" if cfg.api_key else ("default key" if source.api_key else "NO KEY")
        print(
            f"ok  {name}: POST /hooks/{name}  mapping={cfg.mapping} auth={cfg.auth.type} "
            f"timezone={cfg.timezone} ({key})"
        )
    print(f"{path}: {len(sources)} source(s) valid")
    return 0


def _run(coro_fn: Callable[[], Coroutine[Any, Any, int]]) -> int:
    return asyncio.run(coro_fn())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relay", description="outboundIQ Relay")
    parser.add_argument("--version", action="version", version=f"relay {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the relay (intake + forwarder)")
    serve.add_argument("--sources-file", help="overrides RELAY_SOURCES_FILE")
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", help="validate a sources file without starting")
    check.add_argument("sources_file", nargs="?", help="default: RELAY_SOURCES_FILE")
    check.set_defaults(func=cmd_check)

    from relay import operator_cli

    operator_cli.register(sub)
    from relay import preview

    preview.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
