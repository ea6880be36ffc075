"""The sources file: each named source is one webhook URL, ``POST /hooks/<name>``.

``${VAR}`` in any string is read from the environment (``${VAR:-fallback}`` gives a fallback);
a missing variable is a ``ConfigError`` naming it and where it was used. The whole file is
validated at start-up; every problem is reported at once, each at its file, line and key
(``sources.yaml:7: sources.acme.auth.secret: ...``, see ``relay.config.problems``).

This module reads and validates the document only; ``relay.core.sources`` builds each source's
mapping from it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)

from relay.config.auth import AuthConfig
from relay.config.limits import RateLimit
from relay.config.network import IPNetwork, parse_networks
from relay.config.problems import Problem, problems_of
from relay.config.strict_yaml import Lines, load_yaml_lines
from relay.config.zones import zone
from relay.exceptions import ConfigError

__all__ = [
    "SOURCE_NAME",
    "VAR_REFERENCE",
    "PartialSource",
    "SourceConfig",
    "SourcesFile",
    "SourcesRead",
    "read_sources_file",
    "sources_schema",
]

#: A ``${VAR}`` (or ``${VAR:-fallback}``) reference in the sources file.
VAR_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SOURCE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"  # a source's name (its URL path part)
_NAME = re.compile(SOURCE_NAME)
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

    @field_validator("allow_ips", mode="before", json_schema_input_type=str | list[str] | None)
    @classmethod
    def _networks(cls, value: Any) -> list[IPNetwork] | None:
        return None if value is None else parse_networks(value)

    @field_validator("rate_limit", mode="before", json_schema_input_type=RateLimit | str | None)
    @classmethod
    def _rate(cls, value: Any) -> Any:
        return value  # ``50/s`` is read by RateLimit; declared here for the JSON Schema

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
    _lines: Lines = PrivateAttr(default_factory=dict)

    def lines(self) -> Lines:
        """The line of every key and list item of the file read (empty for one built)."""
        return self._lines

    @field_validator("sources")
    @classmethod
    def _names(cls, value: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(
                    f"source name {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
                )
        return value


def _interpolate(
    node: Any, env: AbcMapping[str, str], path: tuple[Any, ...], missing: list[Problem]
) -> Any:
    """``node`` with every ``${VAR}`` replaced; each one unset is added to ``missing``."""
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name, fallback = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if fallback is not None:
                return fallback
            missing.append((path, f"environment variable {name} is not set"))
            return ""

        return VAR_REFERENCE.sub(replace, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, env, (*path, k), missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env, (*path, i), missing) for i, v in enumerate(node)]
    return node


@dataclass(frozen=True)
class PartialSource:
    """A source that failed validation: the fields written without a problem of their own
    (valid, ``${VAR}`` replaced), and the names of the fields with one."""

    fields: dict[str, Any]
    bad: frozenset[str]

    def usable(self, *names: str) -> bool:
        """Whether none of the fields ``names`` has a problem (written or left out)."""
        return not self.bad.intersection(names)


@dataclass
class SourcesRead:
    """A sources document read and validated, problems and all.

    ``valid`` holds the sources that validated; ``partial`` the others, so that what can
    still be checked of them (a mapping's options, the call directions) is checked in the
    same run.
    """

    valid: dict[str, SourceConfig]
    partial: dict[str, PartialSource]
    problems: list[Problem]
    lines: Lines


def read_sources_file(
    text: str,
    *,
    env: AbcMapping[str, str] | None = None,
    origin: str = "sources file",
) -> SourcesRead:
    """Parse, interpolate and validate a sources document, keeping every problem (each at
    its line) and whatever is valid. A document that is not YAML, or not a mapping, is a
    ``ConfigError`` at once: nothing in it can be read."""
    raw, lines = load_yaml_lines(text, origin)  # no aliases, no key twice: refused first
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with a `sources` key")
    missing: list[Problem] = []
    raw = _interpolate(raw, os.environ if env is None else env, (), missing)
    try:
        parsed = SourcesFile.model_validate(raw)
    except ValidationError as exc:  # every problem at once, each at its line
        unset = {path for path, _ in missing}  # a value left empty fails again: said once
        found = missing + [p for p in problems_of(exc, lines, SourcesFile) if p[0] not in unset]
        valid, partial = _sorted_out(raw.get("sources"), found)
        return SourcesRead(valid=valid, partial=partial, problems=found, lines=lines)
    valid, partial = _sorted_out(raw.get("sources"), missing, parsed.sources)
    return SourcesRead(valid=valid, partial=partial, problems=missing, lines=lines)


def _sorted_out(
    raw: Any, problems: list[Problem], validated: dict[str, SourceConfig] | None = None
) -> tuple[dict[str, SourceConfig], dict[str, PartialSource]]:
    """The sources without a problem (validated), and what is valid of every other source
    that is a mapping under a valid name."""
    valid: dict[str, SourceConfig] = {}
    partial: dict[str, PartialSource] = {}
    if not isinstance(raw, dict):
        return valid, partial
    for name, fields in raw.items():
        if not isinstance(name, str) or not _NAME.match(name) or not isinstance(fields, dict):
            continue
        own = [path[2:] for path, _ in problems if path[:2] == ("sources", name)]
        if not own:
            try:
                valid[name] = validated[name] if validated else SourceConfig.model_validate(fields)
                continue
            except (KeyError, ValidationError):  # a problem not located in the source
                pass
        if () in own:  # the source as a whole
            continue
        bad = frozenset(str(path[0]) for path in own)
        partial[name] = PartialSource({k: v for k, v in fields.items() if k not in bad}, bad)
    return valid, partial


_NOT_INLINED = ("$defs", "discriminator")  # OpenAPI's discriminator names $defs: left out


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inlined(defs[ref.removeprefix("#/$defs/")], defs), **rest}
        return {k: _inlined(v, defs) for k, v in node.items() if k not in _NOT_INLINED}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def sources_schema() -> dict[str, Any]:
    """The sources file's JSON Schema, every ``$ref`` written out in place (self-contained at
    any depth: the Helm chart nests it under ``sources``)."""
    schema = SourcesFile.model_json_schema()
    inlined: dict[str, Any] = _inlined(schema, schema.get("$defs", {}))
    return inlined
