"""Log lines: JSON off a terminal (rendered by orjson), phone numbers masked."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
import structlog.testing
from hypothesis import given
from hypothesis import strategies as st

from relay.logs import _UtcStamp, configure_logging, info_line


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
    with structlog.testing.capture_logs() as captured:
        info_line(logger, "dial_forwarded", {"source": "crm"})
    assert captured == [{"event": "dial_forwarded", "source": "crm", "log_level": "info"}]
    assert len(json_lines()) == 2  # nothing written while captured
