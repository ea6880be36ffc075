"""Configured sources, ready to serve: each source's config, its mapping and its key.

``relay.config.sources`` reads and validates the file; this module builds each source's
mapping, and is the one loader every command uses (``load_configured_sources``).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from pydantic import BaseModel, SecretStr

from relay.config.auth import QueryAuth
from relay.config.problems import Problem
from relay.config.settings import Settings
from relay.config.sources import SourceConfig, SourcesFile, parse_sources_file
from relay.config.zones import zone
from relay.core.dial import only_dial_fields
from relay.core.mapping import Mapping, MappingContext, create_mapping
from relay.core.normalize import DIRECTIONS
from relay.exceptions import ConfigError
from relay.obs.logs import url_secrets

__all__ = [
    "Source",
    "SourceConfig",
    "SourcesFile",
    "build_sources",
    "check_keys",
    "config_warnings",
    "configured_secrets",
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
    def coalesce_seconds(self) -> float:
        """How long a dial waits after its first webhook for later legs of its call (0: no
        wait, a later leg is a duplicate): the source's ``coalesce_seconds``, else its
        mapping's default (a ``coalesce_seconds`` attribute; Five9's is 900), else 0."""
        configured = self.config.coalesce_seconds
        if configured is not None:
            return configured
        default = getattr(self.mapping, "coalesce_seconds", 0.0)
        return float(default) if isinstance(default, int | float) else 0.0

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
    """Build every validated source: its Dials defaults checked, its mapping created.

    Every problem of every source is reported at once, each at its line in the file.
    """
    problems: list[Problem] = []
    mappings: dict[str, Mapping] = {}
    for name, config in parsed.sources.items():
        problems += _problems_of(name, config)
        try:
            mappings[name] = create_mapping(config.mapping, dict(config.options), mappings_dir)
        except ConfigError as exc:
            problems.append((("sources", name, "mapping"), str(exc)))
    if problems:
        raise parsed.problems(origin, problems)
    built: dict[str, Source] = {}
    for name, config in parsed.sources.items():
        built[name] = Source(
            name=name,
            config=config,
            mapping=mappings[name],
            api_key=config.api_key or default_api_key,
            tz=zone(config.timezone),
        )
    return built


def _problems_of(name: str, config: SourceConfig) -> list[Problem]:
    """What validation alone cannot see in one source: Dials field names, direction names."""
    problems: list[Problem] = []
    try:
        only_dial_fields(config.defaults)
    except ValueError as exc:
        problems.append((("sources", name, "defaults"), f"Value error, {exc}"))
    for code, direction in config.call_directions.items():
        if direction not in DIRECTIONS:
            close = difflib.get_close_matches(direction, DIRECTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                (
                    ("sources", name, "call_directions", code),
                    f"{direction!r} is not an outboundIQ call direction "
                    f"({', '.join(DIRECTIONS)}){hint}",
                )
            )
    return problems


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


def config_warnings(settings: Settings, sources: dict[str, Source]) -> list[str]:
    """What is allowed but probably a mistake: ``relay check`` prints each, start logs each."""
    found = settings.warnings()
    for name in sorted(sources):
        if sources[name].config.auth.type == "none":
            found.append(
                f"sources.{name}: auth: none: anyone who can reach /hooks/{name} can queue dials "
                "with this source's outboundIQ key (set a secret; docs/security.md)"
            )
    return found


#: A mapping option under such a key is a secret (``client_secret``, ``password``, ``token``).
_SECRET_OPTION = re.compile(r"secret|password|passwd|token", re.IGNORECASE)


def _secrets_in(node: object) -> Iterator[str]:
    """Every ``SecretStr`` in ``node`` (models, lists, dicts), and the plain strings of
    mapping options whose key says they are secret."""
    if isinstance(node, SecretStr):
        yield node.get_secret_value()
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _secrets_in(getattr(node, name))
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and _SECRET_OPTION.search(str(key)):
                yield value
            else:
                yield from _secrets_in(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _secrets_in(value)


def configured_secrets(settings: Settings, sources: AbcMapping[str, Source]) -> list[str]:
    """Every secret the relay is configured with: outboundIQ keys, source secrets, mapping
    credentials, the queue's password. What a remote party echoes of them is hidden
    (``relay.obs.logs.redact_answer``) before it is stored or logged."""
    found = [*_secrets_in(settings), *url_secrets(settings.queue_url)]
    for source in sources.values():
        found.extend(_secrets_in(source.config))
        if source.api_key is not None:
            found.append(source.api_key.get_secret_value())
    return [s for s in dict.fromkeys(found) if s]
