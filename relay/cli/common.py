"""What every ``relay`` command shares: the settings, the sources file, the queue."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from relay.config.settings import Settings
from relay.config.validation import union_collapsed
from relay.core.sources import (
    Source,
    collect_configured_sources,
    configured_secrets,
    keyless_problem,
    load_configured_sources,
)
from relay.exceptions import ConfigError
from relay.queue.protocols import DialQueue
from relay.queue.registry import create_queue
from relay.queue.sqlite import SqliteQueue

__all__ = [
    "CheckedConfig",
    "check_config",
    "common_options",
    "known_secrets",
    "load_settings",
    "sources_from",
    "with_queue",
]


def _variable(loc: Sequence[int | str]) -> str:
    return f"RELAY_{'_'.join(str(p) for p in loc).upper()}"


def common_options() -> argparse.ArgumentParser:
    """``--queue-url`` and ``--sources-file``, given after any command's name (a parent
    parser: every command adds them); the ``RELAY_*`` variables are their defaults."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--queue-url", help="overrides RELAY_QUEUE_URL")
    options.add_argument("--sources-file", help="overrides RELAY_SOURCES_FILE")
    return options


def _overrides(args: argparse.Namespace | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args is not None and getattr(args, "queue_url", None):
        overrides["queue_url"] = args.queue_url
    if args is not None and getattr(args, "sources_file", None):
        overrides["sources_file"] = Path(args.sources_file)
    return overrides


def _settings_and_problems(args: argparse.Namespace | None) -> tuple[Settings, list[str], set[str]]:
    """``RELAY_*`` settings, with the command line's ``--queue-url``/``--sources-file`` over
    them; each invalid one is a problem naming its variable (one a line; values are never
    quoted), and its default is used instead so the rest of the run can go on. Also the
    names of the settings that were invalid."""
    overrides = _overrides(args)
    try:
        return Settings(**overrides), [], set()
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        raise ConfigError(f"settings: {exc}") from None
    except ValidationError as exc:
        errors = union_collapsed(exc.errors(include_input=False, include_url=False))
    problems = [f"{_variable(e['loc']) or 'settings'}: {e['msg']}" for e in errors]
    invalid = {str(e["loc"][0]) for e in errors if e["loc"]}
    defaults = {
        name: Settings.model_fields[name].get_default(call_default_factory=True)
        for name in invalid
        if name in Settings.model_fields
    }
    try:
        return Settings(**{**overrides, **defaults}), problems, invalid
    except (ValidationError, SettingsError):  # not a field's own problem: nothing to go on
        raise ConfigError("\n".join(problems)) from None


def load_settings(args: argparse.Namespace | None = None) -> Settings:
    """``RELAY_*`` settings, with the command line's ``--queue-url``/``--sources-file`` over
    them; invalid ones are one ``ConfigError`` naming each variable."""
    settings, problems, _invalid = _settings_and_problems(args)
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


def sources_from(settings: Settings, named: str | None, how: str) -> tuple[Path, dict[str, Source]]:
    """The sources file named on the command line, else RELAY_SOURCES_FILE, loaded."""
    path = Path(named) if named else settings.sources_file
    return path or Path(), load_configured_sources(settings, path, how)


@dataclass
class CheckedConfig:
    """Everything ``relay serve`` runs with, checked: the settings, the sources file and its
    sources (every mapping built), and the queue (not opened)."""

    settings: Settings
    path: Path
    sources: dict[str, Source]
    queue: DialQueue


def check_config(
    args: argparse.Namespace,
    named: str | None,
    how: str,
    *,
    on_settings: Callable[[Settings], None] | None = None,
) -> CheckedConfig:
    """The settings, the queue URL and the sources file (``named``, else the settings'),
    checked together: one ``ConfigError`` with every problem of the run, one a line, in this
    order: settings (``RELAY_*``), queue URL, the sources file's (in the order of the file,
    what building the sources shows included), the outboundIQ keys. ``on_settings`` gets
    the settings when they are all valid, before the sources are built (``serve`` sets up
    its logging there, for what a mapping may log while it is built)."""
    settings, problems, invalid = _settings_and_problems(args)
    if on_settings is not None and not problems:
        on_settings(settings)
    queue: DialQueue | None = None
    if "queue_url" not in invalid:
        try:  # the queue URL as ``serve`` reads it (not opened: nothing is created or dialled)
            queue = create_queue(settings.queue_url, settings)
        except ConfigError as exc:
            problems.append(str(exc))
    path = Path(named) if named else settings.sources_file
    sources: dict[str, Source] = {}
    try:
        path, collected, file_problems = collect_configured_sources(settings, path, how)
    except ConfigError as exc:  # no file named, unreadable, not YAML: nothing more to see
        problems.append(str(exc))
    else:
        sources = collected.sources
        if file_problems:
            problems.append(file_problems)
        keys = None if invalid & {"dry_run"} else keyless_problem(settings, collected.keyless)
        if keys is not None:
            problems.append(keys)
    if problems:  # every problem of this run, not only the first
        raise ConfigError("\n".join(problems))
    assert queue is not None and path is not None
    return CheckedConfig(settings=settings, path=path, sources=sources, queue=queue)


async def with_queue(
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


def known_secrets(args: argparse.Namespace) -> list[str]:
    """The configured secrets (the sources' too when the file loads), to hide in what
    outboundIQ answered: dead letters stored before answers were redacted may hold them."""
    settings = load_settings(args)
    try:
        sources = load_configured_sources(settings)
    except ConfigError:
        sources = {}
    return configured_secrets(settings, sources)
