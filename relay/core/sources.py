"""Configured sources, ready to serve: each source's config, its mapping and its key.

``relay.config.sources`` reads and validates the file; this module builds each source's
mapping, and is the one loader every command uses (``load_configured_sources``).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterator
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from relay.config.auth import JwtAuth, QueryAuth
from relay.config.problems import Problem, render
from relay.config.settings import Settings
from relay.config.sources import (
    SourceConfig,
    SourcesFile,
    SourcesRead,
    read_sources_file,
)
from relay.config.zones import zone
from relay.core.dial import only_dial_fields
from relay.core.mapping import Mapping, MappingContext, create_mapping
from relay.core.normalize import DIRECTIONS
from relay.exceptions import ConfigError
from relay.obs.logs import url_secrets

__all__ = [
    "Collected",
    "Source",
    "SourceConfig",
    "SourcesFile",
    "check_keys",
    "collect_configured_sources",
    "collect_sources",
    "config_warnings",
    "configured_secrets",
    "keyless_problem",
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

    @functools.cached_property  # read per webhook; a reload builds new sources
    def coalesce_seconds(self) -> float:
        """How long a dial waits after its first webhook for later legs of its call (0: no
        wait, a later leg is a duplicate): the source's ``coalesce_seconds``, else its
        mapping's default (a ``coalesce_seconds`` attribute; Five9's is 900), else 0."""
        configured = self.config.coalesce_seconds
        if configured is not None:
            return configured
        default = getattr(self.mapping, "coalesce_seconds", 0.0)
        return float(default) if isinstance(default, int | float) else 0.0

    @functools.cached_property  # read per webhook; a reload builds new sources
    def secret_query_param(self) -> str | None:
        """The query parameter carrying this source's secret, stripped before mapping."""
        return self.config.auth.param if isinstance(self.config.auth, QueryAuth) else None

    @functools.cached_property  # read per webhook; a reload builds new sources
    def body_decoder(self) -> Callable[[bytes], Any] | None:
        """This source's own body format, whatever the Content-Type (``auth: jwt``: the
        body is a JWT and its claims are the data), or None: JSON or a form."""
        auth = self.config.auth
        return auth.body_data if isinstance(auth, JwtAuth) else None

    def without_secret(
        self, query: dict[str, str], content_type: str | None, body: bytes
    ) -> tuple[dict[str, str], bytes]:
        """The request's query and body without this source's secret (a query parameter in
        the URL or form body, a JSON body's token field): what the mapping, the log,
        previews and the rejected store may see."""
        return self.config.auth.without_secret(query, content_type, body)

    def __repr__(self) -> str:
        return f"Source(name={self.name!r}, mapping={self.config.mapping!r})"


@dataclass
class Collected:
    """What ``collect_sources`` built: the sources ready to serve (every one when
    ``problems`` is empty), every problem found, and the sources that have no outboundIQ
    key (neither their own ``api_key`` nor the default)."""

    sources: dict[str, Source]
    problems: list[Problem]
    keyless: list[str]


def collect_sources(
    read: SourcesRead, *, default_api_key: SecretStr | None = None, mappings_dir: Path | None = None
) -> Collected:
    """Build what can be built of a sources file read, and find every problem: the file's,
    then what only building shows (mapping load and options, Dials field names, call
    directions), also for the fields of a source that failed validation elsewhere."""
    problems = list(read.problems)
    built: dict[str, Source] = {}
    for name, config in read.valid.items():
        problems += _problems_of(name, config.defaults, config.call_directions)
        mapping = _mapping(name, config.mapping, config.options, mappings_dir, problems)
        if mapping is not None:
            built[name] = Source(
                name=name,
                config=config,
                mapping=mapping,
                api_key=config.api_key or default_api_key,
                tz=zone(config.timezone),
            )
    for name, partial in read.partial.items():
        fields = partial.fields
        problems += _problems_of(
            name,
            fields.get("defaults", {}) if partial.usable("defaults") else {},
            fields.get("call_directions", {}) if partial.usable("call_directions") else {},
        )
        if partial.usable("mapping", "options"):
            mapping_name = fields.get("mapping", "generic")
            _mapping(name, mapping_name, fields.get("options", {}), mappings_dir, problems)
    keyless = [n for n, c in read.valid.items() if not c.api_key]
    keyless += [
        n for n, p in read.partial.items() if p.usable("api_key") and not p.fields.get("api_key")
    ]
    return Collected(
        sources=built,
        problems=problems,
        keyless=sorted(keyless) if default_api_key is None else [],
    )


def _mapping(
    name: str,
    mapping: str,
    options: AbcMapping[str, Any],
    mappings_dir: Path | None,
    problems: list[Problem],
) -> Mapping | None:
    """Source ``name``'s mapping, or None with the problem added."""
    try:
        return create_mapping(mapping, dict(options), mappings_dir)
    except ConfigError as exc:
        problems.append((("sources", name, "mapping"), str(exc)))
        return None


def _problems_of(
    name: str, defaults: AbcMapping[str, str], directions: AbcMapping[str, str]
) -> list[Problem]:
    """What validation alone cannot see in one source: Dials field names, direction names."""
    problems: list[Problem] = []
    try:
        only_dial_fields(dict(defaults))
    except ValueError as exc:
        problems.append((("sources", name, "defaults"), f"Value error, {exc}"))
    for code, direction in directions.items():
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
    """Validate a sources document and build every source (mapping included): every
    problem, the file's and what building shows, in one ``ConfigError``."""
    collected, problems = _collected(
        text, env=env, default_api_key=default_api_key, mappings_dir=mappings_dir, origin=origin
    )
    if problems:
        raise ConfigError(problems)
    return collected.sources


def _collected(
    text: str,
    *,
    env: AbcMapping[str, str] | None,
    default_api_key: SecretStr | None,
    mappings_dir: Path | None,
    origin: str,
) -> tuple[Collected, str]:
    """What can be built of a sources document, and its problems rendered one a line."""
    read = read_sources_file(text, env=env, origin=origin)
    collected = collect_sources(read, default_api_key=default_api_key, mappings_dir=mappings_dir)
    rendered = render(origin, collected.problems, read.lines) if collected.problems else ""
    return collected, rendered


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read sources file {path}: {exc.strerror}") from exc


def load_sources(
    path: Path,
    *,
    default_api_key: SecretStr | None = None,
    mappings_dir: Path | None = None,
    env: AbcMapping[str, str] | None = None,
) -> dict[str, Source]:
    """Read and validate the sources file at ``path``."""
    return parse_sources(
        _read(path),
        env=env,
        default_api_key=default_api_key,
        mappings_dir=mappings_dir,
        origin=str(path),
    )


def _configured_path(settings: Settings, named: Path | None, how: str | None) -> Path:
    path = named or settings.sources_file
    if path is None:
        if how is not None:
            raise ConfigError(f"name a sources file ({how}, or RELAY_SOURCES_FILE)")
        raise ConfigError("RELAY_SOURCES_FILE is not set: point it at your sources YAML file")
    return path


def load_configured_sources(
    settings: Settings, named: Path | None = None, how: str | None = None
) -> dict[str, Source]:
    """The sources file ``named`` (else ``RELAY_SOURCES_FILE``), validated and built.

    Every command loads its sources here. ``how`` says, in the error for a missing file name,
    how the command takes one.
    """
    return load_sources(
        _configured_path(settings, named, how),
        default_api_key=settings.outboundiq_api_key,
        mappings_dir=settings.mappings_dir,
    )


def collect_configured_sources(
    settings: Settings, named: Path | None = None, how: str | None = None
) -> tuple[Path, Collected, str]:
    """``load_configured_sources`` for a run that reports every configuration problem at
    once (``relay check``, ``relay serve``): the file, what could be built of it, and its
    problems rendered one a line (empty when there are none). A file that cannot be read
    at all (no name, unreadable, not YAML) is still a ``ConfigError``."""
    path = _configured_path(settings, named, how)
    collected, problems = _collected(
        _read(path),
        env=None,
        default_api_key=settings.outboundiq_api_key,
        mappings_dir=settings.mappings_dir,
        origin=str(path),
    )
    return path, collected, problems


def keyless_problem(settings: Settings, keyless: list[str]) -> str | None:
    """Outside dry-run, every source needs an outboundIQ key: what to say when some have none."""
    if settings.dry_run or not keyless:
        return None
    return (
        "RELAY_OUTBOUNDIQ_API_KEY is not set and these sources name no api_key: "
        + ", ".join(sorted(keyless))
        + " (set RELAY_DRY_RUN=true to map and queue without sending)"
    )


def check_keys(settings: Settings, sources: dict[str, Source]) -> None:
    """Outside dry-run, every source needs an outboundIQ key."""
    problem = keyless_problem(
        settings, [name for name, src in sources.items() if src.api_key is None]
    )
    if problem is not None:
        raise ConfigError(problem)


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
