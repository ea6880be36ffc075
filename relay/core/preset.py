"""Declarative presets: a YAML file that names a base mapping and fixes its options.

A preset is how a dialer is added without code::

    # vicidial.yaml
    description: VICIdial Dispo Call URL
    mapping: generic                 # the base mapping (any installed mapping)
    options:                         # the base mapping's options
      unsubstituted: ['--A--\\w+--B--']
      fields:
        prospect_phone: dialed_number || phone_number

A source using the preset may give ``options`` of its own; they are merged over the preset's
with ``merge_options``: mappings merge key by key, anything else (a string, a list) replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relay.config.validation import one_line
from relay.exceptions import ConfigError

__all__ = ["Preset", "merge_options", "read_preset"]


class Preset(BaseModel):
    """A preset file's content."""

    model_config = ConfigDict(extra="forbid")

    mapping: str = "generic"
    description: str = ""
    options: dict[str, Any] = Field(default_factory=dict)

    def factory(
        self, name: str, base: Callable[[dict[str, Any]], Any]
    ) -> Callable[[dict[str, Any]], Any]:
        """A mapping factory: ``base`` built with the preset's options, the source's on top."""

        def build(options: dict[str, Any] | None = None) -> Any:
            return base(merge_options(self.options, options or {}))

        build.__name__ = f"preset_{name}"
        build.__doc__ = self.description or f"preset {name!r} over mapping {self.mapping!r}"
        return build


def merge_options(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: nested mappings merge key by key, other values replace."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_options(current, value)
        else:
            merged[key] = value
    return merged


def read_preset(path: Path, name: str) -> Preset:
    """Read and validate a preset file; a ``ConfigError`` names the preset, file and reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"mapping {name!r} ({path}) cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"mapping {name!r} ({path}) is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"mapping {name!r} ({path}) must be a YAML mapping with `options`")
    try:
        preset = Preset.model_validate(raw)
    except ValidationError as exc:
        reasons = one_line(exc, root="preset")
        raise ConfigError(f"mapping {name!r} ({path}) is not a valid preset: {reasons}") from None
    if preset.mapping == name:
        raise ConfigError(f"mapping {name!r} ({path}) names itself as its base mapping")
    return preset
