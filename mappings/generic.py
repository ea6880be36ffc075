"""Generic JSON mapping: any system that can POST JSON (or a form) becomes a source.

Per source, ``options.fields`` maps each Dials field to a JMESPath expression over the body,
or to a spec::

    options:
      fields:
        prospect_phone: contact.phone            # JMESPath
        ani: {path: call.from, default: "5125550100"}
        disposition_name: {path: result, transform: title}
        lead_source: {const: crm}

A Dials field not named in ``fields`` is taken from the body's key of the same name, so a body
that already is a Dials payload needs no ``fields`` at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import jmespath
import jmespath.exceptions
from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay.dial import DIAL_FIELDS
from relay.exceptions import MappingError, Problem
from relay.mapping import InboundRequest, MappingContext, MappingResult

__all__ = ["FieldSpec", "GenericMapping", "GenericOptions"]

Transform = Literal["strip", "lower", "upper", "title", "digits", "str"]

_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "digits": lambda s: re.sub(r"\D", "", s),
    "str": str,
}


class FieldSpec(BaseModel):
    """Where one Dials field comes from: a JMESPath ``path`` or a ``const``, then transforms."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = None
    const: str | int | None = None
    default: str | int | None = None
    transform: Transform | list[Transform] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                jmespath.compile(value)
            except jmespath.exceptions.JMESPathError as exc:
                raise ValueError(f"invalid JMESPath {value!r}: {exc}") from exc
        return value

    def transforms(self) -> list[Transform]:
        return [self.transform] if isinstance(self.transform, str) else list(self.transform)


class GenericOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str | FieldSpec] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str | FieldSpec]) -> dict[str, str | FieldSpec]:
        unknown = sorted(set(value) - set(DIAL_FIELDS))
        if unknown:
            raise ValueError(f"not Dials fields: {', '.join(unknown)}")
        return {k: FieldSpec(path=v) if isinstance(v, str) else v for k, v in value.items()}


class GenericMapping:
    """Maps a JSON or form body onto Dials fields with JMESPath expressions."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = GenericOptions.model_validate(options or {})
        self._compiled: dict[str, tuple[FieldSpec, Any]] = {}
        for name, spec in self.options.fields.items():
            assert isinstance(spec, FieldSpec)
            self._compiled[name] = (spec, jmespath.compile(spec.path) if spec.path else None)

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        data = request.data
        if not isinstance(data, dict):
            raise MappingError([Problem("body", "expected a JSON object or form fields")])
        fields: dict[str, object] = {}
        for name in DIAL_FIELDS:
            compiled = self._compiled.get(name)
            if compiled is None:
                if name in data:
                    fields[name] = data[name]
                continue
            spec, expression = compiled
            value: object = spec.const if spec.const is not None else None
            if expression is not None:
                value = expression.search(data)
            if value is None or value == "":
                value = spec.default
            if value is not None and spec.transforms():
                text = value if isinstance(value, str) else str(value)
                for transform in spec.transforms():
                    text = _TRANSFORMS[transform](text)
                value = text
            if value is not None:
                fields[name] = value
        return MappingResult(fields=fields)
