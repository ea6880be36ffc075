"""Kinesis Data Firehose's HTTP endpoint delivery: the request envelope and its records.

AWS's specification: "HTTP endpoint delivery request and response specifications"
(https://docs.aws.amazon.com/firehose/latest/dev/httpdeliveryrequestresponse.html). A request
is ``{"requestId": ..., "timestamp": <ms>, "records": [{"data": <base64>}, ...]}``, optionally
gzip-compressed (``Content-Encoding: gzip``). Each record's data is what the producer put in
the stream: for Amazon Connect, one contact record (JSON). The HTTP side (the access key, the
answers Firehose needs) is ``relay.intake.firehose``.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from relay.exceptions import BodyTooLarge, MappingError, Problem, UnsupportedMediaType

__all__ = [
    "Delivery",
    "Item",
    "Record",
    "gunzip",
    "items_of",
    "json_objects",
    "keep_latest",
    "parse_delivery",
]

_DECODER = json.JSONDecoder()
_CHUNK = 64 * 1024


def gunzip(body: bytes, limit: int) -> bytes:
    """A gzip body decompressed, never more than ``limit`` bytes of it (``BodyTooLarge``: a
    gzip bomb is refused before it is inflated); ``UnsupportedMediaType`` if it is not gzip."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    size = 0
    try:
        data = body
        while data:
            chunk = inflater.decompress(data, _CHUNK)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            out.append(chunk)
            data = inflater.unconsumed_tail
        while not inflater.eof:
            chunk = inflater.decompress(b"", _CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            out.append(chunk)
    except zlib.error:
        raise UnsupportedMediaType("(Content-Encoding 'gzip': not a gzip stream)") from None
    if not inflater.eof:
        raise UnsupportedMediaType("(Content-Encoding 'gzip': the stream is cut short)")
    return b"".join(out)


@dataclass(frozen=True)
class Record:
    """One record of a delivery: its raw bytes, and the JSON objects in them (``problem``:
    why they could not be read)."""

    raw: bytes
    objects: tuple[Any, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class Delivery:
    request_id: str
    timestamp: int | None
    records: list[Record]


def json_objects(text: str) -> Iterator[Any]:
    """The JSON values in ``text``: one, or several back to back (``{..}{..}`` or one a line,
    as Firehose writes records to S3 without a separator). ``ValueError`` past the first bad
    one."""
    end = len(text)
    i = 0
    while True:
        while i < end and text[i] in " \t\r\n":
            i += 1
        if i >= end:
            return
        value, i = _DECODER.raw_decode(text, i)
        yield value


def _record(entry: object) -> Record:
    data = entry.get("data") if isinstance(entry, dict) else None
    if not isinstance(data, str):
        return Record(orjson.dumps(entry), problem="a record without base64 `data`")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return Record(data.encode(), problem="the record's data is not base64")
    try:
        objects = tuple(json_objects(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError) as exc:
        return Record(raw, problem=f"the record is not JSON: {str(exc)[:200]}")
    if not objects:
        return Record(raw, problem="the record is empty")
    return Record(raw, objects)


def parse_delivery(body: bytes) -> Delivery:
    """The envelope of a Firehose request; ``MappingError`` when it is not one (a record that
    cannot be read is not an error here: its ``Record.problem`` says why)."""
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MappingError([Problem("body", f"not a Firehose request: {exc.msg}")]) from None
    if not isinstance(envelope, dict):
        raise MappingError([Problem("body", "not a Firehose request: expected an object")])
    request_id = envelope.get("requestId")
    records = envelope.get("records")
    if not isinstance(request_id, str) or not request_id:
        raise MappingError([Problem("requestId", "missing")])
    if not isinstance(records, list):
        raise MappingError([Problem("records", "missing or not a list")])
    timestamp = envelope.get("timestamp")
    stamp = timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None
    return Delivery(request_id, stamp, [_record(entry) for entry in records])


#: A record's object and the bytes kept for it (in the rejected store, if it cannot be mapped).
Item = tuple[Any, bytes]


def items_of(records: list[Record]) -> list[Item]:
    """Every object of every readable record, with its bytes: the record's own when it holds
    one object, the object's JSON when it holds several."""
    items: list[Item] = []
    for record in records:
        if len(record.objects) == 1:
            items.append((record.objects[0], record.raw))
        else:
            items.extend((obj, orjson.dumps(obj)) for obj in record.objects)
    return items


def keep_latest(items: list[Item], key: str, version: str) -> list[Item]:
    """``items`` with one per ``key`` value: the greatest ``version`` (ISO 8601 UTC times
    compare as text; a missing one is the oldest), the first of equals. Items without the
    key stay, in their order."""
    best: dict[str, int] = {}
    for i, (obj, _raw) in enumerate(items):
        ident = _ident(obj, key)
        if ident is None:
            continue
        held = best.get(ident)
        if held is None or _version(obj, version) > _version(items[held][0], version):
            best[ident] = i
    kept = set(best.values())
    return [item for i, item in enumerate(items) if i in kept or _ident(item[0], key) is None]


def _ident(obj: Any, key: str) -> str | None:
    ident = obj.get(key) if isinstance(obj, dict) else None
    return ident if isinstance(ident, str) else None


def _version(obj: Any, version: str) -> str:
    value = obj.get(version) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""
