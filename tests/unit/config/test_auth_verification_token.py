"""``type: verification-token`` (RingCentral): the token on deliveries, and the subscription's
``Validation-Token`` handshake that is answered before any token check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from relay.config.auth import AuthConfig, VerificationTokenAuth
from relay.exceptions import AuthError

GOOD = "rc-verification-0001"
NEXT = "rc-verification-0002"
NOTIFICATION = b'{"uuid": "1", "body": {"telephonySessionId": "s-1", "parties": []}}'


def auth(**extra: object) -> VerificationTokenAuth:
    config = {"type": "verification-token", "secrets": [GOOD, NEXT], **extra}
    scheme = TypeAdapter(AuthConfig).validate_python(config)
    assert isinstance(scheme, VerificationTokenAuth)
    return scheme


@pytest.mark.parametrize("header", ["verification-token", "validation-token"])
@pytest.mark.parametrize("token", [GOOD, NEXT])
def test_either_header_carries_the_token_on_a_delivery(header: str, token: str) -> None:
    auth().verify(headers={header: token}, query={}, body=NOTIFICATION)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"verification-token": "rc-verification-0003"},
        {"verification-token": ""},
        {"x-relay-token": GOOD},
        {"verification-token": "wrong", "validation-token": GOOD},  # the named header decides
    ],
)
def test_anything_else_fails(headers: dict[str, str]) -> None:
    with pytest.raises(AuthError):
        auth().verify(headers=headers, query={}, body=NOTIFICATION)


def test_a_configured_header_name() -> None:
    scheme = auth(header="X-RC-Token")
    scheme.verify(headers={"x-rc-token": GOOD}, query={}, body=NOTIFICATION)
    with pytest.raises(AuthError):
        scheme.verify(headers={"verification-token": "nope"}, query={}, body=NOTIFICATION)


@pytest.mark.parametrize("body", [b"", b"{}", b" \r\n"])
def test_the_handshake_is_a_validation_token_and_no_notification(body: bytes) -> None:
    assert auth().handshake({"validation-token": "0f1e-2d3c"}, body) == "0f1e-2d3c"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b""),  # no Validation-Token
        ({"validation-token": GOOD}, NOTIFICATION),  # a delivery: checked, not echoed
        ({"validation-token": "a1", "verification-token": GOOD}, b""),  # carries the token
        ({"validation-token": "a\r\nSet-Cookie: x=1"}, b""),
        ({"validation-token": "x" * 129}, b""),
        ({"validation-token": ""}, b""),
    ],
)
def test_no_handshake(headers: dict[str, str], body: bytes) -> None:
    assert auth().handshake(headers, body) is None


@given(st.text(max_size=300))
def test_only_token_shaped_values_are_ever_echoed(token: str) -> None:
    """Whatever the header holds, the echo is that very value, and only if it is at most 128
    characters of letters, digits and -._~+/= (nothing that could split or inject a header)."""
    echoed = auth().handshake({"validation-token": token}, b"")
    shaped = 0 < len(token) <= 128 and all(
        c.isascii() and (c.isalnum() or c in "-._~+/=") for c in token
    )
    assert (echoed is not None) == shaped
    if echoed is not None:
        assert echoed == token


def test_other_schemes_have_no_handshake() -> None:
    header = TypeAdapter(AuthConfig).validate_python({"type": "header", "secret": GOOD})
    assert header.handshake({"validation-token": "abc"}, b"") is None
