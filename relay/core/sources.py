"""Configured sources, ready to serve: each source's config, its mapping and its key.

``relay.config.sources`` reads and validates the file; this module builds each source's
mapping, and is the one loader every command uses (``load_configured_sources``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from pydantic import SecretStr

from relay.config.auth import QueryAuth
from relay.config.settings import Settings
from relay.config.sources import SourceConfig, SourcesFile, parse_sources_file
from relay.config.zones import zone
from relay.core.dial import only_dial_fields
from relay.core.mapping import Mapping, MappingContext, create_mapping
from relay.exceptions import ConfigError

__all__ = [
    "Source",
    "SourceConfig",
    "SourcesFile",
    "build_sources",
    "check_keys",
    "load_configured_sources",
    "load_sources",
    "parse_sources",
]


@dataclass
class Source:
    """A configured source, ready to serve: its config, its mapping and its key."""

    name: str
    config: SourceConfig
    mapping: Mapping
    api_key: SecretStr | None
    tz: tzinfo

    @functools.cached_property
    def context(self) -> MappingContext:
        """What the mapping knows of this source (built once: a reload builds new sources)."""
        return MappingContext(
            source=self.name,
            tz=self.tz,
            timezone_name=self.config.timezone,
            directions=self.config.call_directions,
        )

    @property
    def secret_query_param(self) -> str | None:
        """The query parameter carrying this source's secret, stripped before mapping."""
        return self.config.auth.param if isinstance(self.config.auth, QueryAuth) else None

    def without_secret(
        self, query: dict[str, str], content_type: str | None, body: bytes
    ) -> tuple[dict[str, str], bytes]:
        """The request's query and body without this source's secret parameter (URL or form
        body): what the mapping, the log, previews and the rejected store may see."""
        auth = self.config.auth
        if isinstance(auth, QueryAuth):
            return auth.without_secret(query, content_type, body)
        return query, body

    def __repr__(self) -> str:
        return f"Source(name={self.name!r}, mapping={self.config.mapping!r})"


def build_sources(
    parsed: SourcesFile,
    *,
    default_api_key: SecretStr | None = None,
    mappings_dir: Path | None = None,
    origin: str = "sources file",
) -> dict[str, Source]:
    """Build every validated source: its Dials defaults checked, its mapping created."""
    problems = []
    for name, config in parsed.sources.items():
        try:
            only_dial_fields(config.defaults)
        except ValueError as exc:
            problems.append(f"sources.{name}.defaults: Value error, {exc}")
    if problems:
        raise ConfigError(f"{origin}: {'; '.join(problems)}")
    built: dict[str, Source] = {}
    for name, config in parsed.sources.items():
        try:
            mapping = create_mapping(config.mapping, dict(config.options), mappings_dir)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: sources.{name}.mapping: {exc}") from None
        built[name] = Source(
            name=name,
            config=config,
            mapping=mapping,
            api_key=config.api_key or default_api_key,
            tz=zone(config.timezone),
        )
    return built


def parse_sources(
    text: str,
    *,
    env: AbcMapping[str, str] | None = None,
    default_api_key: SecretStr | None = None,
    mappings_dir: Path | None = None,
    origin: str = "sources file",
) -> dict[str, Source]:
    """Validate a sources document and build every source (mapping included)."""
    parsed = parse_sources_file(text, env=env, origin=origin)
    return build_sources(
        parsed, default_api_key=default_api_key, mappings_dir=mappings_dir, origin=origin
    )


def load_sources(
    path: Path,
    *,
    default_api_key: SecretStr | None = None,
    mappings_dir: Path | None = None,
    env: AbcMapping[str, str] | None = None,
) -> dict[str, Source]:
    """Read and validate the sources file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read sources file {path}: {exc.strerror}") from exc
    return parse_sources(
        text,
        env=env,
        default_api_key=default_api_key,
        mappings_dir=mappings_dir,
        origin=str(path),
    )


def load_configured_sources(
    settings: Settings, named: Path | None = None, how: str | None = None
) -> dict[str, Source]:
    """The sources file ``named`` (else ``RELAY_SOURCES_FILE``), validated and built.

    Every command loads its sources here. ``how`` says, in the error for a missing file name,
    how the command takes one.
    """
    path = named or settings.sources_file
    if path is None:
        if how is not None:
            raise ConfigError(f"name a sources file ({how}, or RELAY_SOURCES_FILE)")
        raise ConfigError("RELAY_SOURCES_FILE is not set: point it at your sources YAML file")
    return load_sources(
        path, default_api_key=settings.outboundiq_api_key, mappings_dir=settings.mappings_dir
    )


def check_keys(settings: Settings, sources: dict[str, Source]) -> None:
    """Outside dry-run, every source needs an outboundIQ key."""
    if settings.dry_run:
        return
    keyless = sorted(name for name, src in sources.items() if src.api_key is None)
    if keyless:
        raise ConfigError(
            "RELAY_OUTBOUNDIQ_API_KEY is not set and these sources name no api_key: "
            + ", ".join(keyless)
            + " (set RELAY_DRY_RUN=true to map and queue without sending)"
        )
