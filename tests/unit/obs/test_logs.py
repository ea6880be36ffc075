"""Log lines: JSON off a terminal (rendered by orjson), phone numbers masked."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
import structlog.testing
from hypothesis import given
from hypothesis import strategies as st

from relay.obs.logs import (
    _LineWriter,
    _UtcStamp,
    configure_logging,
    info_line,
    mask_phones_in_text,
    redact_url,
)
from tests.support.urls import leaked, malformed_urls


@pytest.fixture
def json_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[Any]]]:
    """JSON logging configured onto a stderr of our own; returns the parsed lines."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", json=True)

    def lines() -> list[Any]:
        stream.flush()
        raw = stream.buffer.getvalue().decode()  # type: ignore[attr-defined]
        return [json.loads(line) for line in raw.splitlines() if line]

    yield lines
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def test_event_is_one_json_line_with_the_phone_masked(json_lines: Callable[[], list[Any]]) -> None:
    """A structlog event is one JSON object per line; a prospect phone keeps its last 4 digits."""
    structlog.get_logger("relay.test").info(
        "webhook_received", source="crm", prospect_phone="5125550187", status=202
    )
    [event] = json_lines()
    assert event["event"] == "webhook_received" and event["status"] == 202
    assert event["prospect_phone"] == "******0187"
    assert event["level"] == "info" and event["timestamp"].endswith("Z")


def test_list_valued_fields_are_masked_too(json_lines: Callable[[], list[Any]]) -> None:
    """Lists (and tuples, and what they hold) under phone or text keys are masked like a
    single value: a mapping's warnings, several numbers; other keys' lists are left alone."""
    structlog.get_logger("relay.test").warning(
        "mapping_warnings",
        source="crm",
        warnings=["ani 512-555-0100 looks odd", ("also +1 512 555 0187",), {"x": "5125550187"}],
        ani=["5125550100", "(512) 555-0187", 5125550199],
        phone=5125550142,
        fields=["ani", "dial_id"],
    )
    info_line(structlog.get_logger("relay.test"), "webhook_received", {"errors": ["5125550187"]})
    event, direct = json_lines()
    assert event["warnings"] == [
        "ani ******0100 looks odd",
        ["also *******0187"],
        {"x": "******0187"},
    ]
    assert event["ani"] == ["******0100", "******0187", "******0199"]
    assert event["phone"] == "******0142"
    assert event["fields"] == ["ani", "dial_id"]
    assert direct["errors"] == ["******0187"]


nested = st.recursive(
    st.text(max_size=20) | st.just("5125550187") | st.integers(-(2**63), 2**63 - 1),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


def test_no_phone_survives_in_a_nested_text_field() -> None:
    """Whatever a text key holds, nested how deep, no test phone number is left written out."""
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)  # restored after the test (log guard)
    logger = structlog.get_logger("relay.test")

    @given(nested)
    def check(value: Any) -> None:
        stream.seek(0)
        stream.truncate()
        logger.warning("mapping_warnings", warnings=value, reason=[value])
        line = stream.getvalue()
        assert "5125550187" not in line and json.loads(line)["event"] == "mapping_warnings"

    check()


def test_stdlib_lines_are_json_too(json_lines: Callable[[], list[Any]]) -> None:
    """uvicorn's stdlib log records come out as the same JSON shape."""
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    [event] = json_lines()
    assert event["event"] == "Application startup complete." and event["level"] == "info"


@given(
    st.lists(
        st.floats(min_value=0, max_value=253_402_300_799, allow_nan=False), min_size=1, max_size=5
    )
)
def test_timestamp_is_utc_iso_with_microseconds(moments: list[float]) -> None:
    """The cached-per-second stamp says what datetime says of the same instant (to the
    microsecond, which float rounding may move by one), in structlog's ISO shape."""
    clock = iter(moments)
    stamp = _UtcStamp(clock=lambda: next(clock))
    for moment in moments:
        text = stamp(None, "info", {})["timestamp"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text), text
        shown = datetime.fromisoformat(text.replace("Z", "+00:00"))
        exact = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=moment)
        assert abs(shown - exact) <= timedelta(microseconds=1)


def test_info_line_writes_what_structlog_would(json_lines: Callable[[], list[Any]]) -> None:
    """The hot path's direct line is the same JSON as the structlog call it stands for, masking
    included, and ``capture_logs`` still sees it."""
    fields = {"source": "crm", "prospect_phone": "5125550187", "error": "call 512 555 0187"}
    logger = structlog.get_logger("relay.test")
    info_line(logger, "webhook_received", dict(fields))
    logger.info("webhook_received", **fields)
    direct, chained = json_lines()
    assert direct.pop("timestamp")[:10] == chained.pop("timestamp")[:10]
    assert direct == chained
    assert list(direct) == list(chained)  # the same key order too
    assert direct["prospect_phone"] == "******0187" and "0187" in direct["error"]
    assert "512 555" not in direct["error"]
    plain = {"source": "crm", "status": 202, "dial_id": "d-1", "duration_ms": 1.5}
    info_line(logger, "webhook_received", dict(plain))  # nothing to mask: the short way
    logger.info("webhook_received", **plain)
    direct, chained = json_lines()[2:]
    assert direct.pop("timestamp")[:10] == chained.pop("timestamp")[:10]
    assert list(direct.items()) == list(chained.items())
    with structlog.testing.capture_logs() as captured:
        info_line(logger, "dial_forwarded", {"source": "crm"})
    assert captured == [{"event": "dial_forwarded", "source": "crm", "log_level": "info"}]
    assert len(json_lines()) == 4  # nothing written while captured


class CountingStream(io.BytesIO):
    """A binary stream that counts its writes."""

    writes = 0

    def write(self, data: Any) -> int:
        self.writes += 1
        return super().write(data)


def test_lines_of_one_loop_turn_are_written_together() -> None:
    """On the event loop, the lines of one turn wait for its end and go out in one write;
    lines from elsewhere (no loop, another thread) flush what waits first, so the order holds."""
    stream = CountingStream()
    writer = _LineWriter(stream)

    async def main() -> None:
        for n in range(5):
            writer.write_line(b"turn-%d" % n)
        assert stream.getvalue() == b""  # still this turn
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert stream.getvalue() == b"".join(b"turn-%d\n" % n for n in range(5))
        assert stream.writes == 1
        writer.write_line(b"waiting")
        other = threading.Thread(target=writer.write_line, args=(b"from-a-thread",))
        other.start()
        other.join()
        # the thread's line went out at once, after the line that was waiting for the turn
        assert stream.getvalue().endswith(b"waiting\nfrom-a-thread\n")

    asyncio.run(main())
    writes = stream.writes
    writer.write_line(b"no-loop")  # outside a loop: at once
    assert stream.getvalue().endswith(b"from-a-thread\nno-loop\n")
    assert stream.writes == writes + 1


def test_lines_waiting_at_exit_are_written(tmp_path: Any) -> None:
    """A line logged in the event loop's last turn is not lost when the process exits."""
    script = (
        "import asyncio, structlog, sys\n"
        "from relay.obs.logs import configure_logging, info_line\n"
        "configure_logging('INFO', json=True)\n"
        "loop = asyncio.new_event_loop()\n"
        "def last():\n"
        "    info_line(structlog.get_logger(), 'last_words', {'n': 1})\n"
        "    loop.stop()  # the loop ends with this turn: its flush never runs\n"
        "loop.call_soon(last)\n"
        "loop.run_forever()\n"
        "sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 3
    [line] = done.stderr.decode().splitlines()
    assert json.loads(line)["event"] == "last_words"


def test_stdlib_and_structlog_lines_keep_their_order(
    json_lines: Callable[[], list[Any]],
) -> None:
    """uvicorn's stdlib lines and the relay's own go through one writer, in the order logged."""

    async def main() -> None:
        structlog.get_logger("relay.test").info("first")
        logging.getLogger("uvicorn.error").info("second")
        info_line(structlog.get_logger("relay.test"), "third", {})
        structlog.get_logger("relay.test").warning("fourth")

    asyncio.run(main())
    assert [line["event"] for line in json_lines()] == ["first", "second", "third", "fourth"]


# --- redact_url: a password never shows, however broken the URL around it ------------------


@given(malformed_urls)
def test_redact_url_hides_the_password_of_any_url(url: str) -> None:
    """Well-formed or not (`rediss:/user:PW@host/0`, a password holding `/`, `@` or `?`, a
    password in the query), no piece of the password survives redact_url."""
    redacted = redact_url(url)
    assert not leaked(redacted), redacted
    assert "***" in redacted


def test_redact_url_keeps_what_is_not_secret() -> None:
    """The user, host, port and database stay readable; a URL without a password is as is."""
    assert redact_url("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_url("rediss://:pw@host/1") == "rediss://:***@host/1"
    assert redact_url("redis://user@host/0") == "redis://user@host/0"
    assert redact_url("rediss:/user:pw@host/0") == "rediss:/***@host/0"  # which part is which?
    assert redact_url("redis://host:6379/0?db=1&password=pw&x=y") == (
        "redis://host:6379/0?db=1&password=***"
    )
    assert redact_url("sqlite:///var/lib/relay/q.db") == "sqlite:///var/lib/relay/q.db"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"


@given(
    phones=st.lists(st.from_regex(r"[2-9][0-9]{9}", fullmatch=True), min_size=1, max_size=5),
    sep=st.sampled_from([" ", "  ", ", ", "; ", " / ", "-", "\n"]),
)
def test_numbers_side_by_side_never_show_more_than_4_digits_in_a_row(
    phones: list[str], sep: str
) -> None:
    masked = mask_phones_in_text("called " + sep.join(phones) + " today")
    assert all(len(run) <= 4 for run in re.findall(r"\d+", masked)), masked
