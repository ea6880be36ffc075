"""Server-sent events, the wire format of ``/admin/events``: framing (the relay) and parsing
(``relay tail``).

A frame is ``event: NAME`` (left out for the default, ``message``), one ``data:`` line per
line of data, and a blank line; a line starting with ``:`` is a comment (the keep-alive).
The parser follows the HTML standard's rules for what a client reads: fields ``event`` and
``data`` (other fields are ignored), one optional space after the colon, ``data`` lines joined
with newlines, nothing dispatched for a frame without data.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["KEEPALIVE", "SseParser", "frame"]

_NEWLINE = re.compile(r"\r\n|\r|\n")

#: A comment line: keeps proxies from closing an idle stream, and finds a gone client.
KEEPALIVE = b": keepalive\n\n"


def frame(data: bytes, event: str | None = None) -> bytes:
    """One event, ready to write: ``data`` under the name ``event`` (None: ``message``)."""
    head = b"event: " + event.encode() + b"\n" if event else b""
    # one line: every JSON event the relay writes (an int operand: bytes' ``in`` tries one
    # first, and a bytes operand costs it a raised and cleared TypeError)
    if 10 not in data and 13 not in data:
        return head + b"data: " + data + b"\n\n"
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return head + b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"


class SseParser:
    """Reads a stream: ``feed(chunk)`` takes its bytes as they come, cut anywhere, and
    returns the ``(event, data)`` pairs they complete. Lines end at CR, LF or CRLF only (an
    event's data may hold U+2028 or a form feed: not line ends here, unlike
    ``str.splitlines``). ``line()`` takes one line without its ending."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._rest = ""
        self._after_cr = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        text = self._decoder.decode(chunk)
        if self._after_cr and text:
            self._after_cr = False
            if text.startswith("\n"):  # the LF of a CRLF cut in two
                text = text[1:]
        if text:
            self._after_cr = text.endswith("\r")
        text = self._rest + text
        found: list[tuple[str, str]] = []
        start = 0
        for end in _NEWLINE.finditer(text):
            event = self.line(text[start : end.start()])
            if event is not None:
                found.append(event)
            start = end.end()
        self._rest = text[start:]
        return found

    def line(self, text: str) -> tuple[str, str] | None:
        if not text:
            data, event = self._data, self._event or "message"
            self._data, self._event = [], ""
            return (event, "\n".join(data)) if data else None
        if text.startswith(":"):
            return None
        name, colon, value = text.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None
