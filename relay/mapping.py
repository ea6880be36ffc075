"""The mapping plug-in seam: how a vendor's request becomes Dials fields.

A mapping is found by name in the ``outboundiq_relay.mappings`` entry-point group (built-in and
third-party alike) or in the settings' ``mappings_dir``. The entry point is a factory called
with the source's ``options`` dict; it returns an object satisfying ``Mapping`` (a Protocol: a
mapping author needs nothing from us but this shape). A factory raises ``ValueError`` (or a
pydantic ``ValidationError``) for bad options.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from relay.exceptions import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "InboundRequest",
    "Mapping",
    "MappingContext",
    "MappingResult",
    "load_mapping_factory",
]

ENTRY_POINT_GROUP = "outboundiq_relay.mappings"


@dataclass(frozen=True)
class InboundRequest:
    """A webhook as received: what a mapping reads.

    ``data`` is the parsed body (JSON value, or form fields as a dict) with the query
    parameters merged in (the body wins on a clash); ``query`` and ``form`` keep them apart.
    The source's auth secret (a ``query`` auth parameter) is already removed.
    """

    method: str
    content_type: str
    query: dict[str, str]
    body: bytes
    data: Any
    form: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MappingContext:
    """What a mapping knows about the source it serves."""

    source: str
    tz: tzinfo
    timezone_name: str


@dataclass
class MappingResult:
    """Dials fields (raw values; the relay normalizes them) and warnings for the operator."""

    fields: dict[str, object]
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class Mapping(Protocol):
    """What a mapping object must do: turn a request into Dials fields.

    Raise ``relay.exceptions.MappingError`` (with per-field problems) when the request cannot
    be mapped. Normalization (phones, times, zip, direction) is the relay's job, not yours.
    """

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult: ...


MappingFactory = Callable[[dict[str, Any]], Mapping]


def _from_entry_points(name: str) -> MappingFactory | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                loaded: MappingFactory = ep.load()
            except Exception as exc:
                raise ConfigError(
                    f"mapping {name!r} (entry point {ep.value}) failed to load: {exc}"
                ) from exc
            return loaded
    return None


def _from_directory(name: str, directory: Path) -> MappingFactory | None:
    module_file = directory / f"{name}.py"
    if not module_file.is_file():
        return None
    module_name = f"relay_user_mappings.{name}"
    spec = importlib.util.spec_from_file_location(module_name, module_file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"mapping {name!r} ({module_file}) cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"mapping {name!r} ({module_file}) failed to load: {exc}") from exc
    factory = getattr(module, "mapping", None) or getattr(module, "create_mapping", None)
    if not callable(factory):
        raise ConfigError(
            f"mapping {name!r} ({module_file}) defines no `mapping` or `create_mapping` factory"
        )
    loaded: MappingFactory = factory
    return loaded


def load_mapping_factory(name: str, mappings_dir: Path | None = None) -> MappingFactory:
    """The factory for mapping ``name``: from ``mappings_dir`` first, then entry points."""
    factory = _from_directory(name, mappings_dir) if mappings_dir else None
    factory = factory or _from_entry_points(name)
    if factory is None:
        raise ConfigError(f"no mapping named {name!r} is installed")
    return factory


def create_mapping(name: str, options: dict[str, Any], mappings_dir: Path | None = None) -> Mapping:
    """Build mapping ``name`` for one source; a load or option error names the mapping."""
    factory = load_mapping_factory(name, mappings_dir)
    try:
        mapping = factory(options)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"mapping {name!r} rejected its options: {exc}") from exc
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"mapping {name!r} does not provide map(request, context)")
    return mapping
