"""The live feed: events, fan-out to subscriptions, bounded buffers, the SSE framing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.obs.events import (
    DELIVERY_KINDS,
    INTAKE_KINDS,
    Missed,
    RelayEvent,
    Skipped,
    masked_json,
    masked_payload,
    selected_kinds,
)
from relay.obs.feed import EventFeed, FeedItem
from relay.obs.logs import mask_document, mask_phone, mask_phones_in_text
from relay.obs.sse import KEEPALIVE, SseParser, frame
from tests.log_guard import unmasked_test_phones

WIRE = orjson.dumps(
    {"ani": "5125550100", "prospect_phone": "5125550187", "agent_name": "Jane", "dial_id": "d1"}
)


def event(kind: str = "queued", source: str = "crm", dial_id: str = "d1") -> RelayEvent:
    return RelayEvent(kind, source, dial_id=dial_id, status=202, payload=WIRE)


def kinds(items: list[FeedItem] | None) -> list[str]:
    assert items is not None
    return [
        i.kind if isinstance(i, RelayEvent) else f"{i.as_dict()['kind']}:{i.count}" for i in items
    ]


def test_nobody_subscribed_is_inactive_and_publish_keeps_nothing() -> None:
    feed = EventFeed("pod-a")
    assert feed.active is False
    published = event()
    feed.publish(published)  # nobody to hand it to: not even stamped with the replica
    assert published.replica == ""
    subscription = feed.subscribe()
    assert feed.active is True
    assert subscription.pending() == []  # what was published before it is not there
    subscription.close()
    assert feed.active is False and feed.subscribers == 0


@pytest.mark.anyio
async def test_every_subscription_gets_every_event_it_selects_in_order() -> None:
    feed = EventFeed("pod-a")
    everything = feed.subscribe()
    other = feed.subscribe(sources=["other"])
    delivered = feed.subscribe(outcomes=["delivered", "dead_lettered"])
    received = feed.subscribe(outcomes=["received"])
    for e in (
        event("queued"),
        event("delivered"),
        event("rejected", "other"),
        event("dead_lettered", "other"),
        event("unauthorized"),
    ):
        feed.publish(e)
    items = await everything.get()
    assert kinds(items) == ["queued", "delivered", "rejected", "dead_lettered", "unauthorized"]
    assert items is not None and {i.replica for i in items} == {"pod-a"}  # stamped
    assert kinds(await other.get()) == ["rejected", "dead_lettered"]
    assert kinds(await delivered.get()) == ["delivered", "dead_lettered"]
    assert kinds(await received.get()) == ["queued", "rejected", "unauthorized"]
    got = await everything.get(within=0.01)
    assert got == []  # nothing more came


@pytest.mark.anyio
async def test_a_slow_subscriber_loses_its_oldest_events_and_is_told_how_many() -> None:
    feed = EventFeed("pod-a")
    slow = feed.subscribe(buffer=3)
    fast = feed.subscribe(buffer=100)
    for n in range(10):
        feed.publish(event(dial_id=f"d{n}"))
    items = await slow.get()
    assert items is not None
    missed, *kept = items
    assert isinstance(missed, Missed) and missed.count == 7
    assert missed.as_dict() == {"kind": "missed", "missed": 7, "replica": "pod-a"}
    assert [e.dial_id for e in kept if isinstance(e, RelayEvent)] == ["d7", "d8", "d9"]
    fast_items = await fast.get()
    assert fast_items is not None and len(fast_items) == 10  # the other one lost nothing
    feed.publish(event(dial_id="d10"))
    assert kinds(await slow.get()) == ["queued"]  # the count starts again


@pytest.mark.anyio
async def test_a_rate_limited_subscription_counts_what_it_skips_and_a_rare_kind_gets_through() -> (
    None
):
    feed = EventFeed("pod-a")
    limited = feed.subscribe(per_second=5)
    every = feed.subscribe()
    for n in range(12):
        feed.publish(event("queued", dial_id=f"q{n}"))
    feed.publish(event("rejected", dial_id="r1"))
    items = await limited.get()
    assert items is not None
    skipped, *kept = items
    assert isinstance(skipped, Skipped) and skipped.count == 7
    assert skipped.as_dict() == {
        "kind": "skipped",
        "skipped": 7,
        "per_second": 5,
        "replica": "pod-a",
    }
    assert [e.dial_id for e in kept if isinstance(e, RelayEvent)] == [
        "q0",
        "q1",
        "q2",
        "q3",
        "q4",
        "r1",
    ]
    every_items = await every.get()
    assert every_items is not None and len(every_items) == 13  # no limit: nothing skipped
    feed.publish(event("queued", dial_id="q12"))  # still over the limit: only counted...
    assert kinds(await limited.get(within=5)) == ["skipped:1"]  # ...and told at once
    await asyncio.sleep(1.05)  # the next second takes events again
    feed.publish(event("queued", dial_id="q13"))
    assert kinds(await limited.get()) == ["queued"]


@pytest.mark.anyio
async def test_an_event_published_lazily_is_built_only_when_a_subscription_takes_it() -> None:
    """The hot paths hand the feed a builder: with only the Live page following (5 a second
    here), a burst builds 5 events, not one per webhook; the rest are counted as skipped, as
    if they had been built; one build serves every subscription that takes it."""
    feed = EventFeed("pod-a")
    built: list[str] = []

    def build(dial_id: str, kind: str = "queued", source: str = "crm") -> RelayEvent:
        built.append(dial_id)
        return event(kind, source, dial_id)

    feed.publish_lazily("queued", "crm", lambda: build("nobody"))
    assert built == []  # no subscription: nothing built
    limited = feed.subscribe(per_second=5)
    other_source = feed.subscribe(sources=["five9"])
    for n in range(12):
        feed.publish_lazily("queued", "crm", lambda n=n: build(f"q{n}"))
    assert built == [f"q{n}" for n in range(5)]
    items = await limited.get()
    assert items is not None
    assert isinstance(items[0], Skipped) and items[0].count == 7
    assert [e.dial_id for e in items[1:] if isinstance(e, RelayEvent)] == built
    assert all(e.replica == "pod-a" for e in items[1:] if isinstance(e, RelayEvent))
    assert other_source.pending() == []
    every = feed.subscribe()
    feed.publish_lazily("rejected", "crm", lambda: build("r1", "rejected"))
    assert built[-1:] == ["r1"] and built.count("r1") == 1
    taken = [await limited.get(), await every.get()]
    assert [[e.dial_id for e in i or [] if isinstance(e, RelayEvent)] for i in taken] == [
        ["r1"],
        ["r1"],
    ]


@pytest.mark.anyio
async def test_a_rate_limited_subscription_tells_what_it_skipped_as_an_iterator() -> None:
    feed = EventFeed("pod-a")
    limited = feed.subscribe(per_second=1)
    for n in range(3):
        feed.publish(event("queued", dial_id=f"q{n}"))
    first = await anext(limited)
    assert isinstance(first, Skipped) and first.count == 2
    second = await anext(limited)
    assert isinstance(second, RelayEvent) and second.dial_id == "q0"
    with pytest.raises(ValueError, match="at least one event a second"):
        feed.subscribe(per_second=0)


@pytest.mark.anyio
async def test_a_subscription_reads_as_an_async_iterator_until_closed() -> None:
    feed = EventFeed("pod-a")
    subscription = feed.subscribe(buffer=2)
    seen: list[str] = []

    async def read() -> None:
        async for item in subscription:
            seen.append(item.dial_id if isinstance(item, RelayEvent) else f"missed:{item.count}")

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    feed.publish(event(dial_id="a"))
    await asyncio.sleep(0)
    for name in ("b", "c", "d"):
        feed.publish(event(dial_id=name))
    await asyncio.sleep(0)
    feed.close()
    await asyncio.wait_for(reader, 5)
    assert seen == ["a", "missed:1", "c", "d"]
    assert feed.active is False
    late = feed.subscribe()
    assert await late.get() is None  # after close: closed from the start


@pytest.mark.anyio
async def test_closing_wakes_a_waiting_reader() -> None:
    feed = EventFeed()
    subscription = feed.subscribe()
    waiting = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)
    subscription.close()
    assert await asyncio.wait_for(waiting, 5) is None


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'delivred'"):
        EventFeed().subscribe(outcomes=["delivred"])
    assert selected_kinds([]) == frozenset()
    assert selected_kinds(["received", "delivered"]) == {*INTAKE_KINDS, "delivered"}


def test_an_event_renders_masked_and_without_secrets_in_its_repr() -> None:
    e = RelayEvent(
        "retried",
        "crm",
        dial_id="d1",
        queue_id="42",
        status=503,
        reason="http_503",
        detail="outboundIQ said 512-555-0187 is busy",
        attempt=2,
        payload=WIRE,
        replica="pod-a",
        at=1775831535.25,
    )
    shown = e.as_dict()
    assert shown == {
        "at": 1775831535.25,
        "replica": "pod-a",
        "stage": "delivery",
        "kind": "retried",
        "source": "crm",
        "dial_id": "d1",
        "queue_id": "42",
        "status": 503,
        "attempt": 2,
        "reason": "http_503",
        "detail": "outboundIQ said ******0187 is busy",
        "payload": {
            "ani": "******0100",
            "prospect_phone": "******0187",
            "agent_name": "Jane",
            "dial_id": "d1",
        },
    }
    assert json.loads(e.line()) == shown
    assert e.line() is e.line()  # rendered once for every subscriber
    assert "5125550" not in repr(e)
    assert RelayEvent("queued", "crm").stage == "intake"


def test_a_payload_that_is_not_json_is_shown_masked() -> None:
    assert masked_payload(b"call 5125550187 ended") == "call ******0187 ended"


_PHONES = st.sampled_from(["5125550187", "+1 (512) 555-0100", "512.555.0199", "15125550142"])
_KEYS = st.sampled_from(["ani", "ANI", "prospect_phone", "dnis", "notes", "body", "campaign"])
_DOCS = st.recursive(
    st.one_of(_PHONES, st.text(max_size=8), st.integers(0, 10**6), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_KEYS, inner, max_size=4),
        st.builds(lambda p, t: f"{t} {p} {t}", _PHONES, st.text(max_size=5)),
    ),
    max_leaves=12,
)


@given(_DOCS)
def test_no_phone_number_survives_masking_at_any_depth(doc: Any) -> None:
    """And masking what is masked changes nothing (``relay tail`` masks what a relay sent)."""
    masked = mask_document(doc)
    assert unmasked_test_phones(orjson.dumps(masked).decode()) == []
    assert mask_document(masked) == masked


_TIMESTAMPS = st.datetimes(
    timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30))])
).flatmap(
    lambda t: st.sampled_from(
        [
            t.isoformat(),
            t.isoformat(" "),
            t.isoformat(timespec="minutes"),
            t.date().isoformat(),
            t.isoformat().replace("+00:00", "Z"),
        ]
    )
)
_TEXTS = st.one_of(
    st.text(max_size=40),
    _TIMESTAMPS,
    st.builds(
        lambda t, p: f"{t}{p}",
        _TIMESTAMPS,
        st.sampled_from(["", "5125550187", " 512 555 0187", ".1234567890"]),
    ),
    st.from_regex(r"[\d\s().+\-/:TZ]{8,30}", fullmatch=True),
    st.builds(lambda a, p, b: f"{a}{p}{b}", st.text(max_size=6), _PHONES, st.text(max_size=6)),
)


@given(_TEXTS)
def test_a_text_in_a_document_is_masked_as_free_text_is(text: str) -> None:
    """``mask_document``'s shortcuts (short texts, timestamps, texts it has seen without a
    phone) change nothing: the second time too, from what it remembers."""
    for _ in range(2):
        assert mask_document({"notes": text}) == {"notes": mask_phones_in_text(text)}


@given(_DOCS)
def test_an_event_line_is_its_dict_as_json(doc: Any) -> None:
    """The line embeds the payload's masked JSON, rendered once for the events that share it."""
    payload = orjson.dumps(doc)
    for kind in ("queued", "delivered"):
        rendered = RelayEvent(kind, "crm", dial_id="d1", payload=payload, at=1.0)
        assert orjson.loads(rendered.line()) == orjson.loads(orjson.dumps(rendered.as_dict()))
    assert orjson.loads(orjson.dumps({"p": masked_json(payload)})) == {"p": masked_payload(payload)}


def _masked_plainly(node: Any, key: str | None = None) -> Any:
    """``mask_document`` as its docstring defines it, without its shortcuts: the reference."""
    if isinstance(node, dict):
        return {k: _masked_plainly(v, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_masked_plainly(v, key) for v in node]
    if key is not None and key.lower() in {
        "ani",
        "prospect_phone",
        "phone",
        "dnis",
        "number",
        "phone_number",
    }:
        return mask_phone(str(node)) if isinstance(node, str) or type(node) is int else node
    if isinstance(node, str) and key != "dial_id":
        return mask_phones_in_text(node)
    return node


_ANY_KEYS = st.one_of(
    _KEYS, st.sampled_from(["dial_id", "Phone", "NUMBER", "datetime"]), st.text(max_size=6)
)
_ANY_DOCS = st.recursive(
    st.one_of(_PHONES, _TEXTS, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_ANY_KEYS, inner, max_size=5)
    ),
    max_leaves=16,
)


@given(_ANY_DOCS)
def test_masking_a_document_is_its_plain_definition(doc: Any) -> None:
    for _ in range(2):  # the second time from what it remembers
        assert mask_document(doc) == _masked_plainly(doc)


def test_a_dial_id_is_never_masked() -> None:
    assert mask_document({"dial_id": "5125550187", "ani": 5125550100}) == {
        "dial_id": "5125550187",
        "ani": "******0100",
    }


def test_delivery_and_intake_kinds_do_not_overlap() -> None:
    assert not set(DELIVERY_KINDS) & set(INTAKE_KINDS)


_SSE_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@given(
    st.lists(st.tuples(st.sampled_from([None, "ready", "missed", "x y"]), _SSE_TEXT), max_size=5),
    st.lists(st.integers(1, 30), max_size=20),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_sse_frames_parse_back_however_the_stream_is_cut(
    events: list[tuple[str | None, str]], cuts: list[int], newline: bytes
) -> None:
    """What ``frame`` writes, fed to the parser in pieces cut anywhere (even inside a UTF-8
    character or a CRLF), with keep-alives between and any line ending, is each event's name
    and data (the data's own line breaks become newlines; U+2028 and the like stay)."""
    stream = KEEPALIVE.join(frame(data.encode(), name) for name, data in events)
    stream = stream.replace(b"\n", newline)
    parser = SseParser()
    got: list[tuple[str, str]] = []
    at = 0
    for cut in [*cuts, len(stream)]:
        got.extend(parser.feed(stream[at : at + cut]))
        at += cut
    got.extend(parser.feed(stream[at:]))
    want = [
        (name or "message", data.replace("\r\n", "\n").replace("\r", "\n")) for name, data in events
    ]
    assert got == want


def test_the_parser_follows_the_standard() -> None:
    parser = SseParser()
    lines = [": a comment", "event:ready", "data:{}", "id: 7", "retry: 10", "", "data", "", ""]
    assert [f for line in lines if (f := parser.line(line)) is not None] == [
        ("ready", "{}"),
        ("message", ""),
    ]
