"""The mapping plug-in seam: how a vendor's request becomes Dials fields.

A mapping is found by name in the settings' ``mappings_dir`` (``RELAY_MAPPINGS_DIR``: a
module ``<name>.py`` or a preset ``<name>.yaml``), then in the ``outboundiq_relay.mappings``
entry-point group (built-in and third-party alike). The entry point is a factory called with
the source's ``options`` dict; it returns an object satisfying ``Mapping`` (a Protocol: a
mapping author needs nothing from us but this shape). A factory raises ``ValueError`` (or a
pydantic ``ValidationError``) for bad options. Every load error is a ``ConfigError`` naming the
mapping and the reason; docs/mappings.md is the author's guide.

A mapping that cannot build the dial within the webhook's answer (Genesys: the call's facts
live behind the vendor's API) returns a ``DeferredJob`` instead of fields. Intake stores the
job as a queue item of the job's ``kind``; when the forwarder leases it, it calls the mapping's
``resolve`` (``ResolvingMapping``), then builds and sends the dial as usual.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import tzinfo
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from relay.config.validation import one_line
from relay.core.preset import read_preset
from relay.exceptions import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "DeferredJob",
    "ExplainsFields",
    "InboundRequest",
    "Mapping",
    "MappingContext",
    "MappingResult",
    "PendingJob",
    "ResolvingMapping",
    "available_mappings",
    "create_mapping",
    "load_mapping_factory",
    "preset_factory",
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

    @classmethod
    def parsed(
        cls,
        method: str,
        content_type: str,
        query: dict[str, str],
        body: bytes,
        data: Any,
        form: dict[str, str],
    ) -> InboundRequest:
        """The same request as the constructor's, built in a third of its time (intake
        builds one per webhook): a frozen dataclass's ``__init__`` sets each field through
        ``object.__setattr__``; this fills the new instance's ``__dict__`` in one call. It is
        as frozen as any other."""
        request = object.__new__(cls)
        request.__dict__.update(
            method=method, content_type=content_type, query=query, body=body, data=data, form=form
        )
        return request


@dataclass(frozen=True)
class MappingContext:
    """What a mapping knows about the source it serves."""

    source: str
    tz: tzinfo
    timezone_name: str
    #: The source's ``call_directions`` overrides (vendor value → outboundIQ direction).
    directions: AbcMapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeferredJob:
    """Work to finish after answering the webhook: stored durably, resolved by the forwarder.

    ``key`` is the dedupe key (it becomes the queue item's ``dial_id``, so a second job with
    the same key is a duplicate); ``payload`` is what ``resolve`` reads back; the first
    attempt waits ``delay`` seconds. ``kind`` names the job (never ``"dial"``).
    """

    kind: str
    key: str
    payload: bytes
    delay: float = 0.0


@dataclass(frozen=True)
class PendingJob:
    """A stored job handed back to its mapping's ``resolve``."""

    kind: str
    key: str
    payload: bytes
    received_at: float
    attempts: int


@dataclass
class MappingResult:
    """Dials fields (raw values; the relay normalizes them) and warnings for the operator.

    Instead of fields, a mapping may return a ``job`` to resolve later, or ``ignored`` (why
    the request is acknowledged but not stored: an event that does not end a call).

    A placeholder the sender left unrendered (``is_placeholder``) may stay in ``fields``: the
    relay empties it and reports it. A mapping that skipped one itself (to use a fallback or
    a default) names it in ``unrendered`` (Dials field → the placeholder text), so it is
    reported the same way.
    """

    fields: dict[str, object]
    warnings: list[str] = field(default_factory=list)
    job: DeferredJob | None = None
    ignored: str | None = None
    unrendered: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Mapping(Protocol):
    """What a mapping object must do: turn a request into Dials fields.

    Raise ``relay.exceptions.MappingError`` (with per-field problems) when the request cannot
    be mapped. Normalization (phones, times, zip, direction) is the relay's job, not yours.
    """

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult: ...


@runtime_checkable
class ResolvingMapping(Mapping, Protocol):
    """A mapping whose jobs are resolved later, off the request path (e.g. through an API).

    ``resolve`` returns the Dials fields of one job. It raises ``ResolveError`` to try again
    later (``retry_after`` honoured), ``ResolveAuthError`` when the vendor refuses the relay's
    credentials (the source is held and probed), and ``MappingError`` when the job can never
    become a dial (dead-lettered). A job still failing ``resolve_timeout`` seconds after it
    was received is dead-lettered with the last error. ``aclose`` releases clients.
    """

    resolve_timeout: float

    async def resolve(self, job: PendingJob, context: MappingContext) -> MappingResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ExplainsFields(Protocol):
    """Optional: a mapping that can say where each Dials field comes from (the mapping
    playground shows it beside the field, ``relay.core.provenance``).

    ``field_sources`` returns Dials field → a short description of the expression or option
    that produces it (``call.from || caller``, ``const 'crm'``, ``body key 'zip'``); a field
    left out is not described. Pure and cheap: called once per explanation.
    """

    def field_sources(self) -> dict[str, str]: ...


MappingFactory = Callable[[dict[str, Any]], Mapping]

_PRESET_SUFFIXES = (".yaml", ".yml")
_MAX_PRESET_DEPTH = 8


def _from_entry_points(name: str) -> MappingFactory | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        try:
            loaded: MappingFactory = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"mapping {name!r} (entry point {ep.value}) failed to load: {exc!r}"
            ) from exc
        if not callable(loaded):
            raise ConfigError(f"mapping {name!r} (entry point {ep.value}) is not callable")
        return loaded
    return None


def _load_module(name: str, module_file: Path) -> MappingFactory:
    module_name = f"relay_user_mappings.{name}"
    spec = importlib.util.spec_from_file_location(module_name, module_file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"mapping {name!r} ({module_file}) cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ConfigError(f"mapping {name!r} ({module_file}) failed to load: {exc!r}") from exc
    factory = getattr(module, "mapping", None) or getattr(module, "create_mapping", None)
    if not callable(factory):
        raise ConfigError(
            f"mapping {name!r} ({module_file}) defines no `mapping` or `create_mapping` factory"
        )
    loaded: MappingFactory = factory
    return loaded


def _from_directory(name: str, directory: Path, depth: int) -> MappingFactory | None:
    module_file = directory / f"{name}.py"
    presets = [directory / f"{name}{suffix}" for suffix in _PRESET_SUFFIXES]
    found = [p for p in [module_file, *presets] if p.is_file()]
    if len(found) > 1:
        files = ", ".join(p.name for p in found)
        raise ConfigError(f"mapping {name!r} is defined twice in {directory} ({files})")
    if not found:
        return None
    if found[0] == module_file:
        return _load_module(name, module_file)
    return preset_factory(name, found[0], directory, depth)


def preset_factory(
    name: str, path: Path, mappings_dir: Path | None = None, depth: int = 0
) -> MappingFactory:
    """The factory of the preset file ``path``: its base mapping with the preset's options."""
    preset = read_preset(path, name)
    if depth >= _MAX_PRESET_DEPTH:
        raise ConfigError(f"mapping {name!r} ({path}): presets nest too deep (a cycle?)")
    try:
        base = load_mapping_factory(preset.mapping, mappings_dir, _depth=depth + 1)
    except ConfigError as exc:
        raise ConfigError(f"mapping {name!r} ({path}): base mapping: {exc}") from None
    factory: MappingFactory = preset.factory(name, base)
    return factory


def available_mappings(mappings_dir: Path | None = None) -> list[str]:
    """Names of every installed mapping: entry points and the mappings directory."""
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if mappings_dir is not None and mappings_dir.is_dir():
        for path in mappings_dir.iterdir():
            if path.suffix in (".py", *_PRESET_SUFFIXES) and not path.name.startswith(("_", ".")):
                names.add(path.stem)
    return sorted(names)


def load_mapping_factory(
    name: str, mappings_dir: Path | None = None, *, _depth: int = 0
) -> MappingFactory:
    """The factory for mapping ``name``: from ``mappings_dir`` first, then entry points.

    A module ``<name>.py`` in the directory provides a ``mapping`` (or ``create_mapping``)
    factory; a ``<name>.yaml`` file is a preset (see ``relay.core.preset``).
    """
    factory = _from_directory(name, mappings_dir, _depth) if mappings_dir else None
    factory = factory or _from_entry_points(name)
    if factory is None:
        known = ", ".join(available_mappings(mappings_dir)) or "none"
        raise ConfigError(f"no mapping named {name!r} is installed (installed: {known})")
    return factory


def create_mapping(name: str, options: dict[str, Any], mappings_dir: Path | None = None) -> Mapping:
    """Build mapping ``name`` for one source; a load or option error names the mapping."""
    factory = load_mapping_factory(name, mappings_dir)
    try:
        mapping = factory(options)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"mapping {name!r} rejected its options: {_reason(exc)}") from exc
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"mapping {name!r} does not provide map(request, context)")
    return mapping


def _reason(exc: Exception) -> str:
    """A one-line reason; pydantic errors become ``loc: message`` pairs."""
    if isinstance(exc, ValidationError):
        return one_line(exc, root="options")
    return str(exc) or repr(exc)
