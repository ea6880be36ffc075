"""Logging: one structlog configuration, JSON off a terminal, phones masked, secrets never.

Event names are snake_case facts (``webhook_received``, ``dial_forwarded``). Every event goes
through ``_redact``, which masks any value under a phone-ish key to its last 4 digits, and
phone numbers inside free text (errors, outboundIQ's answers, tracebacks). Tracebacks are
plain: never rendered with local variables, which may hold secrets. The chain is kept short:
it runs once per webhook (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, TextIO
from urllib.parse import unquote

import orjson
import structlog

from relay.obs.masking import PHONE_KEYS as _PHONE_KEYS
from relay.obs.masking import mask_document, mask_phone, mask_phones_in_text

__all__ = [
    "configure_logging",
    "flush_logs",
    "info_line",
    "mask_document",
    "mask_phone",
    "mask_phones_in_text",
    "redact_answer",
    "redact_secrets",
    "redact_url",
    "url_secrets",
]

_TEXT_KEYS = frozenset(
    {
        "event",
        "error",
        "errors",
        "exception",
        "response",
        "response_body",
        "body",
        "detail",
        "reason",
        "warnings",
    }
)
#: The keys ``_redact`` may change (besides ``event``): a line with none of them is left as is.
_MASKED_KEYS = (_PHONE_KEYS | _TEXT_KEYS) - {"event"}


def _redact(
    _logger: object, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask values under phone-ish keys to their last 4 digits, and phone numbers inside
    free text (errors, outboundIQ's answers, tracebacks). One pass: it runs on every line."""
    for key, value in event.items():  # values are replaced in place: the keys do not change
        if not isinstance(value, str):
            if isinstance(value, list | tuple | dict | int) and key in _MASKED_KEYS:
                event[key] = _masked(value, mask_phone if key in _PHONE_KEYS else None)
            continue
        if not value:
            continue
        if key in _PHONE_KEYS:
            event[key] = mask_phone(value)
        elif key == "event":
            event[key] = _event_name(value)
        elif key in _TEXT_KEYS:
            event[key] = mask_phones_in_text(value)
    return event


def _masked(value: object, whole: Callable[[str], str] | None) -> object:
    """Every text inside a list, tuple or dict masked: as a phone number (``whole``), or
    the phone numbers inside it. Lists of lists and dicts too (a copy, never in place)."""
    if isinstance(value, str):
        return value if not value else (whole or mask_phones_in_text)(value)
    if isinstance(value, list | tuple):
        return [_masked(item, whole) for item in value]
    if isinstance(value, dict):
        return {k: _masked(v, whole) for k, v in value.items()}
    if whole is not None and type(value) is int:  # a number under a phone key
        return whole(str(value))
    return value


_EVENT_NAMES: dict[str, str] = {}


def _event_name(text: str) -> str:
    """An event name scrubbed like any text, remembered: the relay's own are a few constants."""
    masked = _EVENT_NAMES.get(text)
    if masked is None:
        masked = mask_phones_in_text(text)
        if len(_EVENT_NAMES) < 1024:  # free-text events (stdlib messages) vary: keep a few
            _EVENT_NAMES[text] = masked
    return masked


class _UtcStamp:
    """``timestamp``: ISO 8601 UTC with microseconds and ``Z``, as structlog's TimeStamper
    writes it, with the date and time formatted once per second, not once per line."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: object, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        now = self._clock()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        micros = min(int((now - second) * 1_000_000), 999_999)
        event["timestamp"] = f"{self._prefix}.{micros:06d}Z"
        return event


def _orjson_dumps(event: Any, **kw: Any) -> bytes:
    return orjson.dumps(event, default=kw.get("default"))


def _orjson_text(event: Any, **kw: Any) -> str:
    return _orjson_dumps(event, **kw).decode()


class _LineWriter:
    """Lines to a binary stream, written once per turn of the event loop.

    On the event loop's thread, a line waits for the end of the loop's current turn and is
    written together with the others of that turn: one ``write`` for a batch of webhooks,
    not one per line (docs/benchmarks.md). Anywhere else (no running loop, another thread)
    what waits is written first and the line at once, so lines keep their order. What waits
    is also written at exit; only a process killed outright can lose a turn's lines.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop that will flush
        self._lock = threading.Lock()

    def write_line(self, line: bytes) -> None:
        loop = asyncio._get_running_loop()
        with self._lock:
            if loop is not None and (self._loop is None or self._loop is loop):
                self._pending.append(line)
                if self._loop is None:
                    self._loop = loop
                    try:
                        loop.call_soon(self.flush)
                    except RuntimeError:  # the loop is closing: nothing will call us
                        self._write_pending()
                return
            self._pending.append(line)
            self._write_pending()

    def flush(self) -> None:
        with self._lock:
            self._write_pending()

    def _write_pending(self) -> None:
        self._loop = None
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        lines.append(b"")
        try:
            self._stream.write(b"\n".join(lines))
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not break the caller
            pass


class _BufferedBytesLogger:
    """structlog's ``BytesLogger``, through a ``_LineWriter``."""

    def __init__(self, writer: _LineWriter) -> None:
        self._writer = writer

    def msg(self, message: bytes) -> None:
        self._writer.write_line(message)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _BufferedHandler(logging.Handler):
    """The stdlib (uvicorn) lines, in order with structlog's, through the same writer."""

    def __init__(self, writer: _LineWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record).encode("utf-8", "replace")
        except Exception:
            self.handleError(record)
            return
        self._writer.write_line(line)


_writer: _LineWriter | None = None


def flush_logs() -> None:
    """Write the lines that wait for the end of the event loop's turn (at exit, say)."""
    if _writer is not None:
        _writer.flush()


atexit.register(flush_logs)


class _DirectLine:
    """The production chain (JSON rendered by orjson to a binary stream) as one call, for the
    lines logged on every webhook and every delivery: the same processors, without
    structlog's per-call machinery. ``active()`` is false once the chain is no longer the one
    configured here (``structlog.testing.capture_logs`` swaps the processors in place)."""

    def __init__(
        self,
        processors: list[Any],
        renderer: Any,
        stamp: _UtcStamp,
        logger: _BufferedBytesLogger,
    ) -> None:
        self._processors = processors
        self._renderer = renderer
        self._stamp = stamp
        self._logger = logger

    def active(self) -> bool:
        chain = self._processors
        return (
            bool(chain)
            and chain[-1] is self._renderer
            and structlog.get_config()["processors"] is chain
        )

    def emit(self, event: str, fields: dict[str, Any]) -> None:
        fields["event"] = event
        fields["level"] = "info"
        self._stamp(None, "info", fields)
        if _MASKED_KEYS.isdisjoint(fields):  # nothing to mask but the event name
            fields["event"] = _event_name(event)
        else:
            _redact(None, "info", fields)
        self._logger.msg(orjson.dumps(fields))


_direct: _DirectLine | None = None


def info_line(fallback: Any, event: str, fields: dict[str, Any]) -> None:
    """Log ``event`` at INFO with ``fields`` (which it takes over), exactly as
    ``fallback.info(event, **fields)`` would, but cheaper under the production JSON chain."""
    direct = _direct
    if direct is not None and direct.active():
        direct.emit(event, fields)
    else:
        fallback.info(event, **fields)


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog and the stdlib (uvicorn) loggers with one processor chain.

    Lines go to ``stream`` (default: standard error).
    """
    out = sys.stderr if stream is None else stream
    if json is None:
        json = not out.isatty()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    global _direct, _writer
    flush_logs()  # what the previous configuration still holds goes first
    _writer = None
    stamp = _UtcStamp()
    shared: list[structlog.types.Processor] = [
        structlog.processors.add_log_level,
        stamp,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    # The relay's own events (one per webhook and per delivery) are the hot path: off a
    # terminal they are rendered by orjson straight to bytes (docs/benchmarks.md).
    factory: Any = structlog.PrintLoggerFactory(file=out)
    binary = getattr(out, "buffer", None)  # absent when the stream is a plain StringIO
    if json and binary is not None:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        _writer = _LineWriter(binary)
        writer = _writer
        factory = lambda *_args: _BufferedBytesLogger(writer)  # noqa: E731
    elif json:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_text)
    chain: list[structlog.types.Processor] = [
        *shared,
        structlog.processors.format_exc_info,
        _redact,
        renderer,
    ]
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    _direct = None
    if json and binary is not None and numeric <= logging.INFO:
        configured = structlog.get_config()["processors"]  # the list capture_logs mutates
        _direct = _DirectLine(configured, renderer, stamp, factory())
    if json:  # the stdlib handler below writes text
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_text)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )
    handler: logging.Handler = (
        _BufferedHandler(_writer) if _writer is not None else logging.StreamHandler(out)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Access logs would repeat our own canonical webhook line and print query strings,
    # which may carry a source's secret (auth type `query`).
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)


#: A query parameter that carries a secret (redis-py passes ``?password=`` on to the client).
_SECRET_PARAM = re.compile(r"(?i)[?&;](?:password|passwd|pass|pwd|secret|token|auth)=")
#: What comes before the credentials: a scheme and its slashes, however mistyped.
_URL_HEAD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[/\\]*|[/\\]*")
_REDACTED = "***"


def _credentials(url: str) -> tuple[int, int] | None:
    """Where the password of ``url`` is, ``(start, end)``: from the first ``:`` after the
    user name to the last ``@`` (the whole of what precedes ``@`` when a mistyped scheme
    leaves it unclear); None when there is no password."""
    at = url.rfind("@")
    if at < 0:
        return None
    head = _URL_HEAD.match(url)
    start = head.end() if head else 0
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*://", url[:start]):
        return start, at  # ``redis:u:pw@host``: which part is the password? Hide them all.
    colon = url.find(":", start, at)
    return None if colon < 0 else (colon + 1, at)


def redact_url(url: str) -> str:
    """``redis://user:secret@host`` → ``redis://user:***@host`` (for logs, reprs and errors).

    It does not rely on the URL being well formed (``rediss:/user:pw@host/0``, a password
    holding ``/``, ``?`` or ``@``): everything from the first ``:`` after the user name to the
    last ``@`` is hidden, and so is everything after a ``password=`` (or ``secret=``,
    ``token=``…) query parameter. What it hides may be more than the password, never less.
    """
    param = _SECRET_PARAM.search(url)
    text = url if param is None else url[: param.end()] + _REDACTED
    where = _credentials(text)
    if where is None:
        return text
    return text[: where[0]] + _REDACTED + text[where[1] :]


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that may be secret, and their pieces between URL delimiters (a
    parser's complaint may quote a piece: "Port could not be cast to integer value as 'pw'")."""
    found: list[str] = []
    param = _SECRET_PARAM.search(url)
    if param is not None:
        found.append(url[param.end() :])
        url = url[: param.start()]
    where = _credentials(url)
    if where is not None:
        found.append(url[where[0] : where[1]])
    pieces = [p for text in found for p in re.split(r"[/?#@:&;=\[\]]", text) if p]
    return [*found, *pieces, *(unquote(p) for p in [*found, *pieces])]


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``**********`` (as a
    ``SecretStr`` shows), longest first, so a secret inside another goes with it."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "**********")
    return text


def redact_answer(text: str, secrets: Iterable[str]) -> str:
    """A remote party's answer made safe to store and log: ``secrets`` it echoes hidden
    (first, so a secret of digits is not half-masked as a phone), phone numbers masked."""
    return mask_phones_in_text(redact_secrets(text, secrets))
