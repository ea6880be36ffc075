"""Backfill reader for Amazon Connect contact records as Firehose writes them to S3, format
``amazon-connect-ctr``.

A Firehose delivery stream with an S3 destination (or the S3 backup of an HTTP endpoint
destination) writes the records it received back to back, with no separator (``{...}{...}``),
or one a line when the stream adds a new-line delimiter; a file may also hold one record, or
a JSON array of them, and is gzip-compressed when the stream's S3 compression is GZIP (read
as is, by its magic bytes). Each contact record is mapped exactly like a live one (the
source's ``amazon-connect`` mapping), so backfilled and live contacts deduplicate against
each other by ``ContactId``. Records stream in constant memory (one record at a time); a
contact found twice keeps the first copy read (live, a batch keeps its latest copy).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from relay.sdk import BackfillRecord, Source

__all__ = ["MAX_RECORD_CHARS", "read_ctr_files", "records_in"]

#: A record longer than this (Connect's are a few KB) means the file is not contact records.
MAX_RECORD_CHARS = 4 * 1024 * 1024
_CHUNK = 256 * 1024
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n,"


def _text(stream: Any) -> io.TextIOWrapper:
    """The file as text, gunzipped when it is gzip (its first two bytes)."""
    buffered = io.BufferedReader(stream)
    raw: Any = buffered
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=buffered)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace")


def records_in(text: IO[str]) -> Iterator[Any]:
    """Every JSON value of a stream of back-to-back values (a top-level array: its items),
    reading ``_CHUNK`` characters at a time. A value that cannot be read is yielded as
    ``{"__invalid_json__": <its first 200 characters>}``, and reading stops there."""
    buffer = ""
    eof = False
    at_start = True
    while True:
        buffer = buffer.lstrip(_SPACE)
        if at_start and buffer.startswith("["):
            buffer = buffer[1:]  # a JSON array of records: its items, one by one
            at_start = False
            continue
        if buffer.startswith("]"):
            buffer = buffer[1:]
            continue
        if buffer:
            at_start = False
            try:
                value, end = _DECODER.raw_decode(buffer)
            except json.JSONDecodeError:
                if not eof and len(buffer) <= MAX_RECORD_CHARS:
                    chunk = text.read(_CHUNK)
                    eof = not chunk
                    buffer += chunk
                    continue
                yield {"__invalid_json__": buffer[:200]}
                return
            yield value
            buffer = buffer[end:]
            continue
        if eof:
            return
        chunk = text.read(_CHUNK)
        eof = not chunk
        buffer += chunk


def read_ctr_files(path: Path, stream: Any, source: Source) -> Iterator[BackfillRecord]:
    """One record per contact record in the file, numbered from 1 in file order."""
    for number, value in enumerate(records_in(_text(stream)), start=1):
        data = value if isinstance(value, dict) else {"__not_an_object__": value}
        yield BackfillRecord(path.name, number, data, orjson.dumps(data))
