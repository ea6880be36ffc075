"""``OutcomeTally``: per-minute counts handed over by ``take``, given back after a failed write."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from relay.obs.tally import ACTIVITY_KEEP_SECONDS, CountRow, OutcomeTally, minute_of

T0 = 1_800_000_000.0  # a multiple of 60


def totals(rows: list[CountRow]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for r in rows:
        out[r.source, r.outcome] += r.count
    return out


def test_minute_of_is_the_start_of_the_minute() -> None:
    assert minute_of(T0) == T0
    assert minute_of(T0 + 59.999) == T0
    assert minute_of(T0 + 60) == T0 + 60


def test_take_hands_over_the_counts_dated_to_the_minute_of_the_take() -> None:
    tally = OutcomeTally()
    tally.count("crm", "queued")
    tally.count("crm", "queued")
    tally.count("_unknown", "unknown_source")
    rows = tally.take(now=T0 + 75)
    assert sorted(rows, key=lambda r: r.source) == [
        CountRow(int(T0 + 60), "_unknown", "unknown_source", 1),
        CountRow(int(T0 + 60), "crm", "queued", 2),
    ]
    assert tally.take(now=T0 + 80) == []  # nothing twice
    assert tally.pending(now=T0 + 80) == []


def test_pending_shows_what_is_not_taken_without_taking_it() -> None:
    tally = OutcomeTally()
    tally.count("crm", "delivered")
    assert tally.pending(now=T0) == [CountRow(int(T0), "crm", "delivered", 1)]
    assert tally.pending(now=T0) == [CountRow(int(T0), "crm", "delivered", 1)]
    assert tally.take(now=T0) == [CountRow(int(T0), "crm", "delivered", 1)]


def test_put_back_rows_are_pending_and_written_with_the_next_take() -> None:
    tally = OutcomeTally()
    tally.count("crm", "queued")
    rows = tally.take(now=T0)
    assert tally.put_back(rows, {"crm": T0 + 1}, now=T0 + 1) == 0
    tally.count("crm", "queued")
    assert totals(tally.pending(now=T0 + 61)) == {("crm", "queued"): 2}
    assert sorted(tally.take(now=T0 + 61), key=lambda r: r.minute) == [
        CountRow(int(T0), "crm", "queued", 1),  # keeps its own minute
        CountRow(int(T0 + 60), "crm", "queued", 1),
    ]
    assert tally.take_last_webhooks() == {"crm": T0 + 1}


def test_put_back_gives_up_what_is_past_the_retention_or_beyond_max_rows() -> None:
    tally = OutcomeTally(max_rows=2)
    old = CountRow(int(T0 - ACTIVITY_KEEP_SECONDS - 60), "crm", "queued", 5)
    rows = [CountRow(int(T0 + 60 * i), "crm", "queued", 1) for i in range(3)]
    assert tally.put_back([old, *rows], {}, now=T0 + 120) == 6  # the old one, the oldest row
    assert tally.dropped == 6
    assert sorted(r.minute for r in tally.take(now=T0 + 120)) == [T0 + 60, T0 + 120]


def test_last_webhook_times_keep_the_latest_per_source() -> None:
    tally = OutcomeTally()
    tally.webhook("crm", T0 + 5)
    tally.put_back([], {"crm": T0 + 9, "other": T0}, now=T0)
    tally.webhook("crm", T0 + 7)
    assert tally.pending_last_webhooks() == {"crm": T0 + 9, "other": T0}
    assert tally.take_last_webhooks() == {"crm": T0 + 9, "other": T0}
    assert tally.take_last_webhooks() == {}


def test_webhook_without_a_time_uses_the_clock() -> None:
    tally = OutcomeTally()
    tally.webhook("crm")
    assert tally.pending_last_webhooks()["crm"] > T0 - 10 * 365 * 86400


events = st.lists(
    st.tuples(st.sampled_from(["crm", "other", "_unknown"]), st.sampled_from(["queued", "x"])),
    max_size=60,
)


@given(
    events=events,
    flushes=st.sets(st.integers(0, 60)),
    failed=st.sets(st.integers(0, 60)),
)
def test_counts_summed_over_any_flush_points_equal_the_events(
    events: list[tuple[str, str]], flushes: set[int], failed: set[int]
) -> None:
    """Take at arbitrary points, some writes failing (rows given back): what was written
    plus what is still pending is exactly what was counted, every count once."""
    tally = OutcomeTally()
    written: list[CountRow] = []

    def flush(at: int) -> None:
        rows = tally.take(now=T0 + at)
        if at in failed:
            tally.put_back(rows, {}, now=T0 + at)
        else:
            written.extend(rows)

    for i, (source, outcome) in enumerate(events):
        if i in flushes:
            flush(i)
        tally.count(source, outcome)
    assert totals(written) + totals(tally.pending(now=T0 + 61)) == Counter(events)
    flush(61)
    assert totals(written) == Counter(events)
    assert tally.pending(now=T0 + 62) == []
