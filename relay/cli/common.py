"""What every ``relay`` command shares: the settings, the sources file, the queue."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from relay.config.settings import Settings
from relay.config.validation import one_line
from relay.core.sources import Source, load_configured_sources
from relay.exceptions import ConfigError

__all__ = ["load_settings", "sources_from"]


def _variable(loc: Sequence[int | str]) -> str:
    return f"RELAY_{'_'.join(str(p) for p in loc).upper()}"


def load_settings() -> Settings:
    """``RELAY_*`` settings; an invalid one is a ``ConfigError`` naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(one_line(exc, where=_variable)) from None


def sources_from(settings: Settings, named: str | None, how: str) -> tuple[Path, dict[str, Source]]:
    """The sources file named on the command line, else RELAY_SOURCES_FILE, loaded."""
    path = Path(named) if named else settings.sources_file
    return path or Path(), load_configured_sources(settings, path, how)
