"""The sources file: each named source is one webhook URL, ``POST /hooks/<name>``.

``${VAR}`` in any string is read from the environment (``${VAR:-fallback}`` gives a fallback);
a missing variable is a ``ConfigError`` naming it and where it was used. The whole file is
validated at start-up; errors point at the source and key (``sources.acme.auth.secret``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from relay.auth import AuthConfig, QueryAuth
from relay.dial import only_dial_fields
from relay.exceptions import ConfigError
from relay.limits import RateLimit
from relay.mapping import Mapping, MappingContext, create_mapping
from relay.network import IPNetwork, parse_networks
from relay.normalize import zone

__all__ = ["Source", "SourceConfig", "SourcesFile", "load_sources", "parse_sources"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class SourceConfig(BaseModel):
    """One source as written in the sources file."""

    model_config = ConfigDict(extra="forbid")

    mapping: str = "generic"
    auth: AuthConfig
    api_key: SecretStr | None = None
    timezone: str = "UTC"
    defaults: dict[str, str] = Field(default_factory=dict)
    call_directions: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    allow_ips: list[IPNetwork] | None = None  # CIDRs; None: any address may call
    rate_limit: RateLimit | None = None

    @field_validator("allow_ips", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> list[IPNetwork] | None:
        return None if value is None else parse_networks(value)

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("defaults")
    @classmethod
    def _dials_fields(cls, value: dict[str, str]) -> dict[str, str]:
        only_dial_fields(value)
        return value


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: dict[str, SourceConfig]

    @field_validator("sources")
    @classmethod
    def _names(cls, value: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(
                    f"source name {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
                )
        return value


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

    def __repr__(self) -> str:
        return f"Source(name={self.name!r}, mapping={self.config.mapping!r})"


def _interpolate(node: Any, env: AbcMapping[str, str], where: str) -> Any:
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name, fallback = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if fallback is not None:
                return fallback
            raise ConfigError(f"{where}: environment variable {name} is not set")

        return _VAR.sub(replace, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, env, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(node)]
    return node


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot parse"
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        lines.append(f"{loc}: {error['msg']}")
    return "; ".join(lines)


def parse_sources(
    text: str,
    *,
    env: AbcMapping[str, str] | None = None,
    default_api_key: SecretStr | None = None,
    mappings_dir: Path | None = None,
    origin: str = "sources file",
) -> dict[str, Source]:
    """Validate a sources document and build every source (mapping included)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # its str() quotes the line, which may hold a secret
        raise ConfigError(f"{origin}: not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with a `sources` key")
    raw = _interpolate(raw, os.environ if env is None else env, "")
    try:
        parsed = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_format_errors(exc)}") from None
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
