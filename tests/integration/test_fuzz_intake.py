"""Fuzzing the intake of a real relay: whatever arrives, a clear 4xx or success, never a 5xx.

Random bodies, content types, encodings, methods (HEAD included), huge numbers, deep nesting,
invalid UTF-8 and duplicate keys go to ``/hooks/<source>``; afterwards every answer is counted
in ``relay_webhooks_total`` and the relay still accepts a good webhook. Then the hardened
paths: values past every limit in each Dials field (numbers past 64 bits, times past the
calendar once in UTC, huge, control and structured strings), huge or structured dial ids, and
any query replayed with a signed (HMAC) request.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.core.dial import DIAL_FIELDS, Dial
from relay.core.pipeline import FORM_TYPE, map_request, media_type, parse_request
from relay.core.sources import parse_sources
from relay.exceptions import MappingError, UnsupportedMediaType
from tests.conftest import dial_body
from tests.support import scrape
from tests.support.credentials import hmac_hex
from tests.support.relay_server import RelayThread

SOURCES = """
sources:
  crm:
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
    timezone: America/Chicago
  open: {auth: {type: none}}
  mapped:
    auth: {type: query, param: key, secret: mapped-query-secret}
    options:
      fields:
        dial_id: call.id
        ani: call.from
        prospect_phone: call.to
        datetime: call.ended_at
        disposition_name: call.result
  signed: {auth: {type: hmac, header: X-Sig, prefix: "sha256=", secret: signed-hook-secret}}
  g:
    mapping: genesys
    auth: {type: none}
    options: {client_id: relay-client, client_secret: relay-client-secret}
"""
FUZZ_SOURCES = parse_sources(SOURCES, env={}, default_api_key=None)
CLEAR_ANSWERS = {200, 202, 400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 431}
ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=25,
)
dial_shaped = st.fixed_dictionaries(
    {}, optional={name: json_values for name in (*DIAL_FIELDS, "unknown_field")}
).map(lambda d: {**dial_body(), **d})
huge_numbers = st.sampled_from(
    [b"1" * 400, b"-" + b"9" * 30, b"1e999", b"-1e-999", b"18446744073709551616", b"1.5e308"]
).map(lambda n: b'{"total_dial_attempts": ' + n + b', "ani": ' + n + b', "dial_id": "h"}')
deep = st.tuples(st.integers(1, 3000), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")])).map(
    lambda t: t[1][0] * t[0] + b"1" + t[1][1] * t[0]
)
duplicate_keys = st.lists(st.text(max_size=20), min_size=2, max_size=4).map(
    lambda vs: ("{" + ", ".join(f'"ani": {orjson.dumps(v).decode()}' for v in vs) + "}").encode()
)
invalid_utf8 = st.tuples(st.binary(min_size=1, max_size=8), st.sampled_from([b"\xff", b"\xc3("]))
encoded_text = st.tuples(
    json_values.map(lambda v: orjson.dumps(v).decode()),
    st.sampled_from(["utf-16", "utf-32", "latin-1", "utf-8-sig"]),
).map(lambda t: t[0].encode(t[1], "replace"))
forms = st.dictionaries(st.text(max_size=15), st.text(max_size=30), max_size=6).map(
    lambda d: urlencode(d).encode()
)


def weighted(common: list[Any], rare: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly one of ``common``, one time in five one of ``rare`` (Hypothesis favours 0)."""
    return st.integers(0, 9).flatmap(
        lambda n: st.sampled_from(rare) if n >= 8 else st.sampled_from(common)
    )


known_types = weighted(
    ["application/json", "application/x-www-form-urlencoded"],
    ["application/json; charset=utf-16", "application/vnd.five9+json", "text/plain", ""],
)
content_types = st.integers(0, 9).flatmap(
    lambda n: ASCII.filter(lambda t: t == t.strip()) if n == 9 else known_types
)
credentials = weighted(
    [{"X-Relay-Token": "crm-hook-secret"}],
    [{"X-Relay-Token": "crm-hook-secreT"}, {"Authorization": "Bearer crm-hook-secret"}, {}],
)
sources = weighted(["crm", "open", "mapped"], ["nope", "a.b-c_9"])
mapped_shaped = st.fixed_dictionaries(
    {
        "call": st.fixed_dictionaries(
            {}, optional=dict.fromkeys(["id", "from", "to", "ended_at", "result"], json_values)
        )
    }
)
one_field_off = st.tuples(st.sampled_from(DIAL_FIELDS), json_values, st.uuids()).map(
    lambda t: {**dial_body(dial_id=str(t[2])), t[0]: t[1]}
)
dials = st.one_of(one_field_off, one_field_off, dial_shaped).map(orjson.dumps)
bodies = st.one_of(
    dials,
    dials,
    dials,
    mapped_shaped.map(orjson.dumps),
    json_values.map(orjson.dumps),
    st.binary(max_size=3000),
    huge_numbers,
    deep,
    duplicate_keys,
    invalid_utf8.map(lambda t: b'{"ani": "' + t[0] + t[1] + b'"}'),
    encoded_text,
    forms,
    st.just(b""),
)


def _request(draw: Any) -> dict[str, Any]:
    source = draw(sources)
    query = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4))
    if source == "mapped" and draw(st.integers(0, 3)) < 3:
        query["key"] = "mapped-query-secret"
    headers = dict(draw(credentials))
    content_type = draw(content_types)
    if content_type:
        headers["Content-Type"] = content_type
    if draw(st.integers(0, 9)) == 0:
        headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "br", "identity", "x"]))
    return {
        "method": draw(weighted(["POST"], ["GET", "HEAD"])),
        "url": f"/hooks/{source}",
        "params": query,
        "headers": headers,
        "content": draw(bodies),
    }


requests = st.composite(_request)()


def outcome_of_parsing_and_mapping(
    content_type: str, body: bytes, query: dict[str, str], mapping: str
) -> str:
    """``dial``, ``rejected`` or ``unsupported``; fails on anything else, or on an outcome
    that does not fit the request."""
    refused: UnsupportedMediaType | MappingError | None = None
    try:
        request = parse_request("POST", content_type, query, body, max_depth=32)
        mapped = map_request(FUZZ_SOURCES[mapping], request)
    except (UnsupportedMediaType, MappingError) as exc:
        refused = exc
    if isinstance(refused, UnsupportedMediaType):
        media = media_type(content_type)
        assert body.strip(), "an empty body maps the query alone, whatever its type"
        assert media not in ("application/json", FORM_TYPE) and not media.endswith("+json")
        assert str(refused) == (media or "(none)")
        return "unsupported"
    if isinstance(refused, MappingError):
        assert refused.problems
        assert all(p.field and p.problem for p in refused.problems), refused.problems
        return "rejected"
    assert isinstance(mapped.dial, Dial), mapped
    assert mapped.job is None and mapped.ignored is None
    assert tuple(mapped.dial.model_dump()) == DIAL_FIELDS
    return "dial"


def test_parse_and_map_raise_only_clear_errors() -> None:
    """Parsing and mapping any request ends in a complete Dial, a MappingError naming its
    problems, or UnsupportedMediaType for a body neither JSON nor a form: nothing else, and
    each of the three is reached."""
    seen: Counter[str] = Counter()

    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(
        content_type=content_types,
        body=bodies,
        query=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4),
        mapping=st.sampled_from(["crm", "mapped"]),
    )
    def check(content_type: str, body: bytes, query: dict[str, str], mapping: str) -> None:
        seen[outcome_of_parsing_and_mapping(content_type, body, query, mapping)] += 1

    check()
    assert set(seen) == {"dial", "rejected", "unsupported"}, seen


def hooks_total(relay: RelayThread) -> float:
    return scrape.value(relay.url, "relay_webhooks_total")


def test_intake_survives_random_requests(start_relay: Callable[..., RelayThread]) -> None:
    """Random webhooks get clear 4xx answers or succeed, each is counted, the relay lives on."""
    relay = start_relay(SOURCES, max_body_bytes=16 * 1024)
    before = hooks_total(relay)
    sent = 0
    with httpx.Client(base_url=relay.url, timeout=10) as client:

        @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
        @given(request=requests)
        def send(request: dict[str, Any]) -> None:
            nonlocal sent
            method = request.pop("method")
            if method != "POST":
                request.pop("content")
            response = client.request(method, **request)
            sent += 1
            if method == "HEAD":  # never queues, never reaches a mapping: refused, no body
                assert response.status_code == 405
                assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}
                return
            assert response.status_code in CLEAR_ANSWERS, response.text
            assert response.headers["content-type"] == "application/json"
            assert isinstance(response.json(), dict)

        send()
    assert hooks_total(relay) - before == sent
    ok = httpx.post(f"{relay.url}/hooks/open", json=dial_body(dial_id="after-fuzz"))
    assert ok.status_code == 202


def test_protocol_survives_random_bytes(start_relay: Callable[..., RelayThread]) -> None:
    """Random bytes on a raw connection never get a 5xx, and the relay keeps serving."""
    relay = start_relay(SOURCES, header_timeout_seconds=0.2)
    port = relay.settings.port

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
    @given(
        prefix=st.sampled_from([b"", b"POST /hooks/open HTTP/1.1\r\n", b"GET / HTTP/1.1\r\n"]),
        junk=st.binary(max_size=300),
    )
    def send(prefix: bytes, junk: bytes) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(5)
            sock.sendall(prefix + junk)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass
        if answer:
            assert answer.startswith(b"HTTP/1.1 ")
            assert answer[9:10] != b"5", answer[:200]

    send()
    assert httpx.post(f"{relay.url}/hooks/open", json=dial_body()).status_code == 202


# --- extreme values through the whole intake ------------------------------------------------

OFFSETS = st.integers(-14 * 60, 14 * 60).map(
    lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
)
extreme_numbers = st.one_of(
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63), 1e20, 1.5e308, 5e-324]),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e20", "18446744073709551616", "1" * 400, "-0", "0x10", "1_000", "NaN"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
extreme_dates = st.one_of(
    st.sampled_from(
        [
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T01:00:00+14:00",
            "9999-12-31 23:59:59",
            "0001-01-01 00:00:00",
            "99991231235959999",
            "Fri, 31 Dec 9999 23:59:59 -1400",
            "253402300799",
            "253402300800000",
        ]
    ),
    st.tuples(st.datetimes(), OFFSETS).map(lambda t: t[0].isoformat() + t[1]),
    st.datetimes().map(lambda d: d.strftime("%m/%d/%Y %H:%M:%S")),
)
extreme_strings = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(max_codepoint=0x1F), max_size=50),  # control characters
    st.integers(250, 4000).map(lambda n: "x" * n),
    st.sampled_from(["", " ", "\u2028", "\ufeff", "null", "None", "{'a': 1}", "\x00"]),
)
structured = st.one_of(
    st.dictionaries(st.text(max_size=5), scalars, max_size=3), st.lists(scalars, max_size=3)
)
extreme_values = st.one_of(extreme_numbers, extreme_dates, extreme_strings, structured)
extreme_dials = st.tuples(
    st.dictionaries(st.sampled_from(DIAL_FIELDS), extreme_values, min_size=1, max_size=3),
    st.uuids(),
    st.sampled_from(["json", "form"]),
)


def _encode(fields: dict[str, Any], as_form: bool) -> tuple[bytes, str]:
    if as_form:  # a form carries text only: numbers and objects as the sender would print them
        return urlencode({k: str(v) for k, v in fields.items()}).encode(), FORM_TYPE
    # the standard library writes integers past 64 bits, which orjson would refuse
    return json.dumps(fields, allow_nan=False).encode(), "application/json"


def test_extreme_values_through_the_whole_intake(
    start_relay: Callable[..., RelayThread],
) -> None:
    """Numbers past 64 bits, times past the calendar once converted, huge, empty, control
    and structured values in any Dials field, through a real relay: never a 5xx but 503;
    every 422 is a field error kept for replay; /preview says ok exactly when the hook
    stores (or finds stored) the dial."""
    relay = start_relay(SOURCES, max_body_bytes=64 * 1024)
    seen: Counter[int] = Counter()
    with httpx.Client(base_url=relay.url, timeout=10) as client:

        @settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
        @given(case=extreme_dials)
        def send(case: tuple[dict[str, Any], Any, str]) -> None:
            overrides, uuid, encoding = case
            body, content_type = _encode(
                {**dial_body(dial_id=str(uuid)), **overrides}, encoding == "form"
            )
            headers = {"Content-Type": content_type}
            preview = client.post("/preview/open", content=body, headers=headers)
            hook = client.post("/hooks/open", content=body, headers=headers)
            seen[hook.status_code] += 1
            assert hook.status_code < 500 or hook.status_code == 503, hook.text
            assert preview.status_code < 500, preview.text
            assert hook.status_code in (200, 202, 422), hook.text
            assert (preview.status_code == 200) == (hook.status_code in (200, 202)), (
                preview.text,
                hook.text,
            )
            if hook.status_code == 422:
                answer = hook.json()
                assert answer["errors"] and all(e["field"] for e in answer["errors"])
                kept = relay.call(relay.runtime.queue.get_rejected(answer["rejected_id"]))
                assert kept is not None and kept.body == body

        send()
    assert seen[422] and (seen[202] or seen[200]), seen


huge_or_structured_ids = st.one_of(
    st.integers(256, 200_000).map(lambda n: "d" * n),
    st.dictionaries(st.text(max_size=5), scalars, max_size=3),
    st.lists(scalars, max_size=3),
)


def _with_id(where: str, dial_id: Any) -> tuple[str, bytes, dict[str, str]]:
    """A request to ``where`` whose vendor id is ``dial_id`` (and is otherwise good)."""
    headers = {"Content-Type": "application/json"}
    if where == "crm":
        headers["X-Relay-Token"] = "crm-hook-secret"
        return "/hooks/crm", orjson.dumps(dial_body(dial_id=dial_id)), headers
    if where == "mapped":
        call = {"id": dial_id, "from": "5125550100", "to": "5125550187", "result": "Sale"}
        body = orjson.dumps({"call": {**call, "ended_at": "2026-04-10T14:32:15Z"}})
        return "/hooks/mapped?key=mapped-query-secret", body, headers
    record = {"conversationId": dial_id, "participants": [], "conversationEnd": "2026-04-10"}
    return "/hooks/g", orjson.dumps(record), headers


def test_huge_or_structured_dial_ids_are_field_errors(
    start_relay: Callable[..., RelayThread],
) -> None:
    """A vendor id that is an object, a list or longer than 255 characters, given as the
    Dials field, through a declarative mapping or as a Genesys conversation: 422 on
    ``dial_id`` (``conversationId`` for Genesys, which must be a UUID), kept for replay, and
    never echoed back."""
    relay = start_relay(SOURCES, max_body_bytes=512 * 1024)
    with httpx.Client(base_url=relay.url, timeout=10) as client:

        @settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
        @given(dial_id=huge_or_structured_ids, where=st.sampled_from(["crm", "mapped", "g"]))
        def send(dial_id: Any, where: str) -> None:
            url, body, headers = _with_id(where, dial_id)
            r = client.post(url, content=body, headers=headers)
            assert r.status_code == 422, r.text[:300]
            # a Genesys conversation id is checked as such first (a UUID: path traversal)
            field = "conversationId" if where == "g" else "dial_id"
            assert [e["field"] for e in r.json()["errors"]] == [field], r.text[:300]
            assert len(r.content) < 500
            kept = relay.call(relay.runtime.queue.get_rejected(r.json()["rejected_id"]))
            assert kept is not None and kept.body == body

        send()


def test_the_query_of_a_signed_request_changes_nothing(
    start_relay: Callable[..., RelayThread],
) -> None:
    """An HMAC source signs the body alone: whatever query a captured request is replayed
    with, the answer is the first dial's duplicate; a signed empty body maps to nothing."""
    relay = start_relay(SOURCES)
    body = orjson.dumps({k: v for k, v in dial_body().items() if k != "dial_id"})
    signed = {"X-Sig": "sha256=" + hmac_hex("signed-hook-secret", body)}
    empty = {"X-Sig": "sha256=" + hmac_hex("signed-hook-secret", b"")}
    json_type = {"Content-Type": "application/json"}
    with httpx.Client(base_url=relay.url, timeout=10) as client:
        first = client.post("/hooks/signed", content=body, headers={**signed, **json_type})
        assert first.status_code == 202
        duplicate = {"status": "duplicate", "dial_id": first.json()["dial_id"]}
        dial_keys = st.sampled_from(DIAL_FIELDS)

        @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
        @given(
            query=st.dictionaries(dial_keys | st.text(max_size=8), st.text(max_size=30)),
            method=st.sampled_from(["GET", "POST"]),
            with_body=st.booleans(),
        )
        def replay(query: dict[str, str], method: str, with_body: bool) -> None:
            query = {**dial_body(dial_id=f"forged-{len(query)}"), **query}
            if with_body:
                r = client.request(
                    method,
                    "/hooks/signed",
                    params=query,
                    content=body,
                    headers={**signed, **json_type},
                )
                assert (r.status_code, r.json()) == (200, duplicate), r.text
            else:
                r = client.request(method, "/hooks/signed", params=query, headers=empty)
                assert r.status_code == 422, r.text
                assert {e["field"] for e in r.json()["errors"]} >= {"ani", "prospect_phone"}

        replay()
