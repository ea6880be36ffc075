"""Fuzzing the intake of a real relay: whatever arrives, a clear 4xx or success, never a 5xx.

Random bodies, content types, encodings, huge numbers, deep nesting, invalid UTF-8 and
duplicate keys go to ``/hooks/<source>``; afterwards every answer is counted in
``relay_webhooks_total`` and the relay still accepts a good webhook.
"""

from __future__ import annotations

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
        "method": draw(weighted(["POST"], ["GET"])),
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
            if method == "GET":
                request.pop("content")
            response = client.request(method, **request)
            sent += 1
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
