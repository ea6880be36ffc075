"""How a dial's timeline is written and read back (``relay.queue.history``), for any values."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from relay.queue import history
from relay.queue.base import Attempt, DialEvent, NewDial

times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
statuses = st.none() | st.integers(min_value=100, max_value=599)
texts = st.text(max_size=400)
durations = st.none() | st.floats(min_value=0, max_value=600, allow_nan=False)


@given(times, st.integers(min_value=1, max_value=10**6), statuses, texts, durations, times)
def test_an_attempt_and_its_outcome_read_back(
    at: float, number: int, status: int | None, answer: str, seconds: float | None, due: float
) -> None:
    """Each settle call's events read back as written: times to the millisecond, the answer
    cut to ANSWER_MAX characters, whatever the answer holds (quotes, newlines, any Unicode)."""
    attempt = Attempt(at, number, status, answer, seconds)
    timeline = history.decode(
        history.acked(attempt, at)
        + history.retried(attempt, due, "ignored: there was a POST", at)
        + history.dead_lettered(None, "http_400", status, at)
    )
    posted = DialEvent(
        "attempt",
        round(at, 3),
        attempt=number,
        status=status,
        answer=answer[: history.ANSWER_MAX],
        seconds=None if seconds is None else round(seconds, 3),
    )
    assert timeline == (
        posted,
        DialEvent("delivered", round(at, 3)),
        posted,
        DialEvent("waiting", round(at, 3), due_at=round(due, 3)),
        DialEvent("dead_lettered", round(at, 3), reason="http_400", status=status),
    )


@given(times, texts, times)
def test_a_wait_without_a_post_keeps_its_reason(at: float, error: str, due: float) -> None:
    (event,) = history.decode(history.retried(None, due, error, at))
    assert event == DialEvent(
        "waiting", round(at, 3), due_at=round(due, 3), reason=error[: history.ANSWER_MAX]
    )


@given(st.binary(max_size=300))
def test_anything_stored_reads_without_failing(stored: bytes) -> None:
    """A damaged or foreign record never breaks a read: unreadable lines are left out."""
    assert all(isinstance(e, DialEvent) for e in history.decode(stored))


@given(st.text(alphabet="0123456789", max_size=20), st.sampled_from(["dial", "genesys_job"]))
def test_the_last_four_digits_of_the_prospects_number(digits: str, kind: str) -> None:
    """From the wire JSON of a dial, the last four digits of ``prospect_phone``; nothing from
    a mapping job (its payload is the vendor's)."""
    payload = orjson.dumps({"ani": "5125550100", "prospect_phone": digits, "zip": "78701"})
    assert history.phone_last4(payload, kind) == (digits[-4:] if kind == "dial" else "")


@given(st.binary(max_size=300) | st.builds(lambda t: orjson.dumps({"prospect_phone": t}), texts))
def test_the_last_four_digits_of_anything(payload: bytes) -> None:
    """Whatever the payload, at most four digits and never an error."""
    last4 = history.phone_last4(payload)
    assert len(last4) <= 4 and (last4 == "" or last4.isdigit())


@given(times, st.sampled_from([0, 1]), st.sampled_from(["dial", "genesys_conversation"]))
def test_received_reads_back(at: float, lane: int, kind: str) -> None:
    dial = NewDial("crm", "d", b"{}", at, lane=lane, kind=kind)
    assert history.decode(history.received(dial)) == (
        DialEvent("received", round(at, 3), lane=lane, reason=kind),
    )
