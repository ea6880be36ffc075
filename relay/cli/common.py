"""What every ``relay`` command shares: the settings, the sources file, the queue."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from relay.config.settings import Settings
from relay.core.sources import Source, load_configured_sources
from relay.exceptions import ConfigError

__all__ = ["load_settings", "sources_from"]


def load_settings() -> Settings:
    """``RELAY_*`` settings; an invalid one is a ``ConfigError`` naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"RELAY_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(problems) from None


def sources_from(settings: Settings, named: str | None, how: str) -> tuple[Path, dict[str, Source]]:
    """The sources file named on the command line, else RELAY_SOURCES_FILE, loaded."""
    path = Path(named) if named else settings.sources_file
    return path or Path(), load_configured_sources(settings, path, how)
