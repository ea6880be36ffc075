"""The Firehose envelope, its records, gzip within a bound, and the latest copy of a record."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.firehose import gunzip, items_of, json_objects, keep_latest, parse_delivery
from relay.exceptions import BodyTooLarge, MappingError, UnsupportedMediaType

_json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
_objects = st.dictionaries(
    st.text(max_size=10), _json_scalars | st.lists(_json_scalars, max_size=3), max_size=5
)


@given(data=st.binary(max_size=5000), limit=st.integers(min_value=1, max_value=6000))
def test_gunzip_returns_the_data_or_refuses_past_the_limit(data: bytes, limit: int) -> None:
    packed = gzip.compress(data)
    if len(data) <= limit:
        assert gunzip(packed, limit) == data
    else:
        with pytest.raises(BodyTooLarge):
            gunzip(packed, limit)


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))  # 8 MiB of zeros, ~8 KB packed
    with pytest.raises(BodyTooLarge):
        gunzip(bomb, 1024 * 1024)


@given(junk=st.binary(min_size=1, max_size=200))
def test_gunzip_refuses_what_is_not_gzip(junk: bytes) -> None:
    try:
        gunzip(junk, 10_000)
    except UnsupportedMediaType:
        return
    # only a valid gzip stream gets here
    assert zlib.decompress(junk, wbits=16 + zlib.MAX_WBITS) is not None


def test_a_cut_gzip_stream_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        gunzip(gzip.compress(b"x" * 1000)[:-8], 10_000)


@given(
    values=st.lists(_objects, max_size=6),
    gaps=st.lists(st.sampled_from(["", " ", "\n", "\r\n", "\t"]), min_size=7, max_size=7),
)
def test_json_objects_reads_values_back_to_back(values: list[object], gaps: list[str]) -> None:
    text = gaps[0] + "".join(json.dumps(v) + gap for v, gap in zip(values, gaps[1:], strict=False))
    assert list(json_objects(text)) == values


@given(records=st.lists(_objects, max_size=8))
def test_a_delivery_carries_each_record(records: list[dict[str, object]]) -> None:
    body = orjson.dumps(
        {
            "requestId": "r-1",
            "timestamp": 1578090901599,
            "records": [{"data": base64.b64encode(orjson.dumps(r)).decode()} for r in records],
        }
    )
    delivery = parse_delivery(body)
    assert (delivery.request_id, delivery.timestamp) == ("r-1", 1578090901599)
    assert [obj for obj, _raw in items_of(delivery.records)] == records


def test_records_that_cannot_be_read_say_why() -> None:
    body = orjson.dumps(
        {
            "requestId": "r-2",
            "records": [{"data": "%%%"}, {"data": base64.b64encode(b"nope").decode()}, {}, 3],
        }
    )
    problems = [r.problem for r in parse_delivery(body).records]
    assert problems[0] == "the record's data is not base64"
    assert problems[1] is not None and problems[1].startswith("the record is not JSON")
    assert problems[2] == problems[3] == "a record without base64 `data`"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),
        (b"{", "body"),
        (b'{"records": []}', "requestId"),
        (b'{"requestId": "x"}', "records"),
    ],
)
def test_an_envelope_that_is_not_one_is_refused(body: bytes, field: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_delivery(body)
    assert caught.value.problems[0].field == field


_copies = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", None]),
        st.sampled_from(
            ["", "2022-01-05T17:48:35Z", "2022-01-11T03:41:32Z", "2022-01-11T04:09:47Z"]
        ),
    ),
    max_size=12,
)


@given(copies=_copies)
def test_keep_latest_keeps_one_per_contact_the_newest(
    copies: list[tuple[str | None, str]],
) -> None:
    items = [
        ({"ContactId": cid, "LastUpdateTimestamp": at, "n": i} if cid else {"n": i}, b"")
        for i, (cid, at) in enumerate(copies)
    ]
    kept = [obj for obj, _ in keep_latest(items, "ContactId", "LastUpdateTimestamp")]
    ids = [o["ContactId"] for o in kept if "ContactId" in o]
    assert sorted(ids) == sorted({cid for cid, _ in copies if cid})
    for obj in kept:
        if "ContactId" not in obj:
            continue
        versions = [at for cid, at in copies if cid == obj["ContactId"]]
        assert obj["LastUpdateTimestamp"] == max(versions)
        first = next(
            i
            for i, (cid, at) in enumerate(copies)
            if cid == obj["ContactId"] and at == max(versions)
        )
        assert obj["n"] == first  # of equal copies, the first
    assert len([o for o in kept if "ContactId" not in o]) == len([c for c, _ in copies if not c])
