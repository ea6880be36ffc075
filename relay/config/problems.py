"""Every problem of a sources file at once, each as ``FILE:LINE: field.path: what (hint)``.

pydantic reports every invalid field; this module points each one at the line that wrote it
(the positions ``relay.config.strict_yaml`` recorded), drops the union branch names pydantic
puts in a location (``auth.hmac.secret`` is written ``auth.secret``), and adds a hint where a
slip is likely: a misspelt key (``did you mean``), or a value YAML 1.1 read as a number or a
boolean (``zip: 07030``, ``lead_source: no``) where text was meant (``quote it``). Input values
are never quoted: they may be secrets.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from relay.config.strict_yaml import Lines

__all__ = ["Problem", "field_names", "problems_of", "render"]

Problem = tuple[tuple[Hashable, ...], str]  # (path as written in the file, message)


def _names_in(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            yield from properties
        for value in schema.values():
            yield from _names_in(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _names_in(item)


def field_names(model: type[BaseModel]) -> frozenset[str]:
    """Every key ``model`` (and the models it holds, union branches included) knows."""
    return frozenset(_names_in(model.model_json_schema()))


def written_path(
    loc: Sequence[int | str], lines: Lines, unions: frozenset[str] = frozenset()
) -> tuple[Hashable, ...]:
    """``loc`` as the file writes it: without the branch name pydantic puts after a
    discriminated union field (``auth.hmac.secret`` is written ``auth.secret``)."""
    path: tuple[Hashable, ...] = ()
    after_union = False
    for part in loc:
        if after_union:
            after_union = False
            continue
        after_union = part in unions
        key: Hashable = part
        if isinstance(part, str) and part.isdigit() and (*path, int(part)) in lines:
            key = int(part)
        path = (*path, key)
    return path


def _hint(error: Any, known: frozenset[str]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden" and error["loc"]:
        close = difflib.get_close_matches(str(error["loc"][-1]), sorted(known), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""
    if kind == "string_type" and isinstance(value, bool):
        return " (YAML reads an unquoted yes/no/on/off as true/false: quote it)"
    if kind == "string_type" and isinstance(value, int | float):
        return " (YAML reads it as a number, dropping leading zeros: quote it)"
    return ""


def problems_of(exc: ValidationError, lines: Lines, model: type[BaseModel]) -> list[Problem]:
    """Every error of ``exc`` as (path written in the file, message with its hint)."""
    known, unions = field_names(model), _union_fields(model)
    found: list[Problem] = []
    for error in exc.errors(include_url=False):
        message = error["msg"] + _hint(error, known)
        found.append((written_path(error["loc"], lines, unions), message))
    return found


def _union_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields (at any depth) that hold a discriminated union (``auth``)."""
    fields: set[str] = set()

    def walk(schema: Any) -> None:
        if isinstance(schema, dict):
            for name, value in (schema.get("properties") or {}).items():
                if isinstance(value, dict) and "discriminator" in value:
                    fields.add(name)
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for item in schema:
                walk(item)

    walk(model.model_json_schema())
    return frozenset(fields)


def _dotted(path: tuple[Hashable, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _line_of(path: tuple[Hashable, ...], lines: Lines) -> int | None:
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def render(origin: str, problems: Sequence[Problem], lines: Lines) -> str:
    """``FILE:LINE: field: message``, one problem a line, in the order of the file."""

    def key(problem: Problem) -> int:
        return _line_of(problem[0], lines) or 0

    rendered = []
    for path, message in sorted(problems, key=key):
        line = _line_of(path, lines)
        where = f"{origin}:{line}" if line else origin
        rendered.append(f"{where}: {_dotted(path)}: {message}")
    return "\n".join(rendered)
