"""From a parsed request to a stored dial: the steps intake, preview and replay share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from relay.dial import Dial, build_dial
from relay.exceptions import MappingError, Problem
from relay.limits import json_too_deep
from relay.mapping import InboundRequest
from relay.queue.base import DialQueue, NewDial, RejectedRecord
from relay.sources import Source

__all__ = [
    "Mapped",
    "UnsupportedMediaType",
    "map_request",
    "media_type",
    "parse_request",
    "reject",
    "store_dial",
]

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"


class UnsupportedMediaType(ValueError):
    """The body is neither JSON nor a URL-encoded form."""


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def parse_request(
    method: str,
    content_type: str,
    query: dict[str, str],
    body: bytes,
    *,
    max_depth: int | None = None,
) -> InboundRequest:
    """Parse a raw request the way intake does (also used to replay a rejected one).

    Raises ``UnsupportedMediaType`` for other bodies and ``MappingError`` for a body that
    does not parse, or whose JSON nests deeper than ``max_depth``.
    """
    media = media_type(content_type)
    form: dict[str, str] = {}
    data: Any
    if not body.strip():
        data = dict(query)
    elif _is_json(media):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MappingError([Problem("body", f"invalid JSON: {exc}")]) from None
        if max_depth is not None and json_too_deep(data, max_depth):
            raise MappingError([Problem("body", f"JSON nested deeper than {max_depth} levels")])
        if isinstance(data, dict):
            data = {**query, **data}
    elif media == FORM_TYPE:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MappingError([Problem("body", "form body is not valid UTF-8")]) from None
        form = dict(parse_qsl(text, keep_blank_values=True))
        data = {**query, **form}
    else:
        raise UnsupportedMediaType(media or "(none)")
    return InboundRequest(
        method=method, content_type=media, query=dict(query), body=body, data=data, form=form
    )


@dataclass
class Mapped:
    dial: Dial
    warnings: list[str] = field(default_factory=list)


def map_request(source: Source, request: InboundRequest) -> Mapped:
    """Run the source's mapping and build the Dial; ``MappingError`` lists every problem."""
    try:
        result = source.mapping.map(request, source.context)
    except MappingError:
        raise
    except Exception as exc:  # a mapping bug must not become a 500 or lose the request
        raise MappingError(
            [Problem("mapping", f"mapping {source.config.mapping!r} failed: {exc!r}")]
        ) from exc
    dial = build_dial(
        result.fields,
        source=source.name,
        tz=source.tz,
        defaults=source.config.defaults,
        directions=source.config.call_directions,
    )
    warnings = list(result.warnings)
    for name, value in dial.model_dump().items():
        if value == "" and name not in source.config.defaults:
            warnings.append(f"{name} is empty")
    return Mapped(dial=dial, warnings=warnings)


async def store_dial(
    queue: DialQueue,
    source: Source,
    dial: Dial,
    *,
    dedupe_seconds: float,
    now: float | None = None,
    due_at: float | None = None,
    lane: int = 0,
) -> bool:
    """Enqueue ``dial`` durably; False when its ``dial_id`` was already accepted."""
    received = time.time() if now is None else now
    return await queue.enqueue(
        NewDial(
            source=source.name,
            dial_id=dial.dial_id,
            payload=dial.to_wire(),
            received_at=received,
            lane=lane,
            due_at=due_at,
        ),
        dedupe_seconds,
    )


async def reject(
    queue: DialQueue, source: str, request: InboundRequest, problems: list[Problem]
) -> str:
    """Keep a request that could not be mapped, so it can be replayed after a fix."""
    return await queue.add_rejected(
        RejectedRecord(
            id="",
            source=source,
            received_at=time.time(),
            method=request.method,
            content_type=request.content_type,
            query=request.query,
            body=request.body,
            problems=[p.as_dict() for p in problems],
        )
    )
