"""What every ``relay`` command shares: the settings, the sources file, the queue."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from relay.config.settings import Settings
from relay.config.validation import one_line
from relay.core.sources import Source, load_configured_sources
from relay.exceptions import ConfigError

__all__ = ["common_options", "load_settings", "sources_from"]


def _variable(loc: Sequence[int | str]) -> str:
    return f"RELAY_{'_'.join(str(p) for p in loc).upper()}"


def common_options() -> argparse.ArgumentParser:
    """``--queue-url`` and ``--sources-file``, given after any command's name (a parent
    parser: every command adds them); the ``RELAY_*`` variables are their defaults."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--queue-url", help="overrides RELAY_QUEUE_URL")
    options.add_argument("--sources-file", help="overrides RELAY_SOURCES_FILE")
    return options


def load_settings(args: argparse.Namespace | None = None) -> Settings:
    """``RELAY_*`` settings, with the command line's ``--queue-url``/``--sources-file`` over
    them; an invalid one is a ``ConfigError`` naming the variable."""
    overrides: dict[str, Any] = {}
    if args is not None and getattr(args, "queue_url", None):
        overrides["queue_url"] = args.queue_url
    if args is not None and getattr(args, "sources_file", None):
        overrides["sources_file"] = Path(args.sources_file)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(one_line(exc, where=_variable)) from None


def sources_from(settings: Settings, named: str | None, how: str) -> tuple[Path, dict[str, Source]]:
    """The sources file named on the command line, else RELAY_SOURCES_FILE, loaded."""
    path = Path(named) if named else settings.sources_file
    return path or Path(), load_configured_sources(settings, path, how)
