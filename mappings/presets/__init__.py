"""Built-in declarative presets: YAML files over the generic mapping, one per dialer.

Each preset is registered as an entry point (``vicidial = "mappings.presets:vicidial"``), so
built-in presets load exactly like any other mapping. The YAML is read when a source is built,
not at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relay.sdk import Mapping, preset_factory

__all__ = ["PRESETS_DIR", "convoso", "vicidial"]

PRESETS_DIR = Path(__file__).parent


def _build(name: str, options: dict[str, Any] | None) -> Mapping:
    return preset_factory(name, PRESETS_DIR / f"{name}.yaml")(options or {})


def vicidial(options: dict[str, Any] | None = None) -> Mapping:
    """VICIdial "Dispo Call URL" (docs/vendors/vicidial.md)."""
    return _build("vicidial", options)


def convoso(options: dict[str, Any] | None = None) -> Mapping:
    """Convoso Connect (docs/vendors/convoso.md)."""
    return _build("convoso", options)
