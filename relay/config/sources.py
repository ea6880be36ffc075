"""The sources file: each named source is one webhook URL, ``POST /hooks/<name>``.

``${VAR}`` in any string is read from the environment (``${VAR:-fallback}`` gives a fallback);
a missing variable is a ``ConfigError`` naming it and where it was used. The whole file is
validated at start-up; errors point at the source and key (``sources.acme.auth.secret``).

This module reads and validates the document only; ``relay.core.sources`` builds each source's
mapping from it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as AbcMapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from relay.config.auth import AuthConfig
from relay.config.limits import RateLimit
from relay.config.network import IPNetwork, parse_networks
from relay.config.strict_yaml import load_yaml
from relay.config.validation import one_line
from relay.config.zones import zone
from relay.exceptions import ConfigError

__all__ = ["SourceConfig", "SourcesFile", "parse_sources_file"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_COALESCE_SECONDS = 86400.0  # a day: past that, a held dial is news no longer


class SourceConfig(BaseModel):
    """One source as written in the sources file."""

    model_config = ConfigDict(extra="forbid")

    mapping: str = "generic"
    auth: AuthConfig
    api_key: SecretStr | None = None
    timezone: str = "UTC"
    defaults: dict[str, str] = Field(default_factory=dict)
    call_directions: dict[str, str] = Field(default_factory=dict)
    dispositions: dict[str, str] = Field(default_factory=dict)  # vendor code → name, any case
    options: dict[str, Any] = Field(default_factory=dict)
    allow_ips: list[IPNetwork] | None = None  # CIDRs; None: any address may call
    rate_limit: RateLimit | None = None
    #: Seconds a dial is held after its first webhook so that later legs of the same call
    #: (same dial_id) merge into it (relay.core.legs); None: the mapping's default, else 0.
    coalesce_seconds: float | None = Field(default=None, ge=0, le=MAX_COALESCE_SECONDS)

    @field_validator("allow_ips", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> list[IPNetwork] | None:
        return None if value is None else parse_networks(value)

    @field_validator("dispositions")
    @classmethod
    def _one_name_per_code(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for code, name in value.items():
            if not code.strip() or not name.strip():
                raise ValueError(f"{code!r}: codes and names must not be empty")
            other = seen.setdefault(code.casefold(), code)
            if other != code:
                raise ValueError(f"{other!r} and {code!r} differ only in case")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        zone(value)
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


def parse_sources_file(
    text: str,
    *,
    env: AbcMapping[str, str] | None = None,
    origin: str = "sources file",
) -> SourcesFile:
    """Parse, interpolate and validate a sources document (mappings are not built here)."""
    raw = load_yaml(text, origin)  # no aliases, no key twice: refused before anything else
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with a `sources` key")
    raw = _interpolate(raw, os.environ if env is None else env, "")
    try:
        return SourcesFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {one_line(exc)}") from None
