"""Generic JSON mapping: any system that can POST JSON (or a form) becomes a source.

Per source, ``options.fields`` maps each Dials field to a JMESPath expression over the body,
or to a spec::

    options:
      fields:
        prospect_phone: contact.phone            # JMESPath
        ani: {path: call.from, default: "5125550100"}
        disposition_name: {path: result, transform: title}
        lead_source: {const: crm}
        ani: {path: campaign, lookup: {SALES1: "5125550100"}}   # a value table
      names: {phone_number: PhoneNumber}     # read the key PhoneNumber as phone_number
      unsubstituted: ['%%\\w+%%']            # placeholders of the sender's own kind

A Dials field not named in ``fields`` is taken from the body's key of the same name, so a body
that already is a Dials payload needs no ``fields`` at all.

``lookup`` replaces the value by the table's entry (keys compared case-insensitively); a value
not in the table counts as empty, so ``default`` (then the source's ``defaults``) applies.
``names`` renames top-level keys of the body before anything else, so a preset written for one
set of names serves a sender whose names differ.

A placeholder the sender did not fill (``is_placeholder``: ``--A--x--B--``, ``@Call.x@``,
``${input.x}``, ``{{x}}``, ``null``…), or a value matching an ``unsubstituted`` pattern in
full, counts as empty *before* the expressions run, so ``a || b`` falls through to ``b`` and a
``default`` applies; the relay reports it under the Dials field it was read for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import jmespath
import jmespath.exceptions
from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay.sdk import (
    DIAL_FIELDS,
    InboundRequest,
    MappingContext,
    MappingError,
    MappingResult,
    Problem,
    any_placeholder_in_text,
    is_placeholder,
    only_dial_fields,
)

__all__ = ["FieldSpec", "GenericMapping", "GenericOptions", "blank_placeholders"]

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
    lookup: dict[str, str | int] | None = None
    transform: Transform | list[Transform] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                jmespath.compile(value)
            except jmespath.exceptions.JMESPathError as exc:
                reason = (
                    str(exc).splitlines()[0].rstrip(": ")
                )  # the rest repeats the path with a caret
                column = getattr(exc, "lex_position", None)
                at = f" at column {column + 1}" if isinstance(column, int) else ""
                raise ValueError(f"invalid JMESPath {value!r}{at}: {reason}") from exc
        return value

    def transforms(self) -> list[Transform]:
        return [self.transform] if isinstance(self.transform, str) else list(self.transform)


class GenericOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str | FieldSpec] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    unsubstituted: list[str] = Field(default_factory=list)

    @field_validator("unsubstituted")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return value

    @field_validator("fields", mode="before")
    @classmethod
    def _paths_as_specs(cls, value: Any) -> Any:
        """``field: path`` is ``field: {path: path}``: validated, and errors named, as one."""
        if not isinstance(value, dict):
            return value
        return {k: {"path": v} if isinstance(v, str) else v for k, v in value.items()}

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str | FieldSpec]) -> dict[str, str | FieldSpec]:
        only_dial_fields(value)
        return {k: FieldSpec(path=v) if isinstance(v, str) else v for k, v in value.items()}


def blank_placeholders(data: object, is_blank: Callable[[str], bool]) -> tuple[object, bool]:
    """``data`` with every string ``is_blank`` says is a placeholder replaced by ``""``
    (nested objects and lists too), and whether any was."""
    found = False

    def walk(node: object) -> object:
        nonlocal found
        if isinstance(node, str):
            if is_blank(node):
                found = True
                return ""
            return node
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    blanked = walk(data)
    return (blanked, True) if found else (data, False)


class GenericMapping:
    """Maps a JSON or form body onto Dials fields with JMESPath expressions."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = GenericOptions.model_validate(options or {})
        self._compiled: dict[str, tuple[FieldSpec, Any]] = {}
        self._lookups: dict[str, dict[str, str | int]] = {}
        for name, spec in self.options.fields.items():
            assert isinstance(spec, FieldSpec)
            self._compiled[name] = (spec, jmespath.compile(spec.path) if spec.path else None)
            if spec.lookup is not None:
                self._lookups[name] = {str(k).casefold(): v for k, v in spec.lookup.items()}
        self._patterns = [re.compile(p) for p in self.options.unsubstituted]
        self._is_blank = self._is_any_blank if self._patterns else is_placeholder
        # Per Dials field in order: its expression, or None (the body's key of that name).
        self._plan = tuple((name, self._compiled.get(name)) for name in DIAL_FIELDS)

    def field_sources(self) -> dict[str, str]:
        """Per Dials field, the expression that produces it (``relay.sdk.ExplainsFields``):
        its JMESPath or const, then its lookup, default and transforms; a field without an
        expression is the body's key of its name (renamed by ``names``)."""
        out: dict[str, str] = {}
        for name in DIAL_FIELDS:
            compiled = self._compiled.get(name)
            if compiled is None:
                out[name] = f"body key {self.options.names.get(name, name)!r}"
                continue
            spec = compiled[0]
            parts = [spec.path] if spec.path is not None else []
            if spec.path is None and spec.const is not None:
                parts.append(f"const {spec.const!r}")
            if spec.lookup is not None:
                parts.append(f"lookup ({len(spec.lookup)} values)")
            if spec.default is not None:
                parts.append(f"default {spec.default!r}")
            parts.extend(f"transform {t}" for t in spec.transforms())
            out[name] = " | ".join(parts) or "nothing (empty)"
        return out

    def _is_any_blank(self, value: str) -> bool:
        """A placeholder: the relay's kinds, or one of the source's ``unsubstituted``."""
        if is_placeholder(value):
            return True
        text = value.strip()
        return bool(text) and any(p.fullmatch(text) for p in self._patterns)

    def _prepare(self, data: dict[str, Any]) -> dict[str, Any]:
        if not self.options.names:
            return data
        prepared = dict(data)
        for wanted, sent in self.options.names.items():
            if sent in data:
                prepared[wanted] = data[sent]
        return prepared

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        if not isinstance(request.data, dict):
            raise MappingError([Problem("body", "expected a JSON object or form fields")])
        sent = self._prepare(request.data)
        texts = [value for value in sent.values() if type(value) is str]
        if (
            self._patterns
            or any_placeholder_in_text(texts)
            or (len(texts) != len(sent) and _nested(sent))
        ):
            blanked, found = blank_placeholders(sent, self._is_blank)
        else:  # a flat body without a placeholder, the usual webhook: nothing to blank
            blanked, found = sent, False
        data: dict[str, Any] = blanked if isinstance(blanked, dict) else sent
        fields: dict[str, object]
        if not self._compiled:  # no expression: the Dials fields the body has, in order
            fields = {name: data[name] for name in DIAL_FIELDS if name in data}
        else:
            fields = {}
            for name, compiled in self._plan:
                if compiled is None:
                    if name in data:
                        fields[name] = data[name]
                    continue
                value = self._value(name, *compiled, data)
                if value is not None:
                    fields[name] = value
        unrendered = self._unrendered(sent, data) if found else {}
        return MappingResult(fields=fields, unrendered=unrendered)

    def _unrendered(self, sent: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
        """Per Dials field, the placeholder its expression would have read from what was sent,
        when nothing real took its place once placeholders were blanked (then reported)."""
        out: dict[str, str] = {}
        for name in DIAL_FIELDS:
            compiled = self._compiled.get(name)
            if compiled is None:
                before, after = sent.get(name), data.get(name)
            elif compiled[1] is not None:
                before, after = compiled[1].search(sent), compiled[1].search(data)
            else:
                continue
            if isinstance(before, str) and self._is_blank(before) and _empty(after):
                out[name] = before.strip()
        return out

    def _value(self, name: str, spec: FieldSpec, expression: Any, data: object) -> object:
        value: object = spec.const if spec.const is not None else None
        if expression is not None:
            value = expression.search(data)
        table = self._lookups.get(name)
        if table is not None and not _empty(value):
            value = table.get(str(value).strip().casefold())
        if _empty(value):
            value = spec.default
        if value is not None and spec.transforms():
            text = value if isinstance(value, str) else str(value)
            for transform in spec.transforms():
                text = _TRANSFORMS[transform](text)
            value = text
        return value


def _nested(data: dict[str, Any]) -> bool:
    return any(isinstance(value, dict | list) for value in data.values())


def _empty(value: object) -> bool:
    return value is None or value == ""
