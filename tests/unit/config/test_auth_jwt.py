"""``auth: {type: jwt}`` (Dialpad) and the JWT codec behind it (``relay.config.jwt``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from relay.config import jwt
from relay.config.auth import AuthConfig, JwtAuth
from relay.exceptions import AuthError, MappingError

NOW = 1_800_000_000.0
SECRET = "dialpad-secret"
_auth = TypeAdapter(AuthConfig)


def scheme(**extra: Any) -> JwtAuth:
    parsed = _auth.validate_python({"type": "jwt", "secret": SECRET, **extra})
    assert isinstance(parsed, JwtAuth)
    return parsed


def check(auth: JwtAuth, body: bytes) -> bool:
    try:
        auth.verify(headers={}, query={}, body=body, now=NOW)
    except AuthError:
        return False
    return True


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> bytes:
    """A token built without the codec (``key`` None: unsigned, as ``alg: none`` is)."""
    signed = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = b"" if key is None else hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64(sig)}".encode()


EVENT = {"call_id": 1, "state": "hangup"}


def test_a_token_signed_with_the_secret_passes_and_its_claims_are_the_data() -> None:
    token = hand_made({"alg": "HS256", "typ": "JWT"}, EVENT, SECRET.encode())
    auth = scheme()
    assert check(auth, token) and check(auth, token + b"\n")
    assert auth.body_data(token) == EVENT


def test_rotation_accepts_every_configured_secret() -> None:
    auth = scheme(secrets=["next-secret"])
    assert check(auth, jwt.encode(EVENT, b"next-secret"))
    assert check(auth, jwt.encode(EVENT, SECRET.encode()))
    assert not check(auth, jwt.encode(EVENT, b"other-secret"))


@pytest.mark.parametrize(
    "token",
    [
        hand_made({"alg": "none"}, EVENT, None),
        hand_made({"alg": "none"}, EVENT, SECRET.encode()),
        hand_made({"alg": "NONE"}, EVENT, None),
        hand_made({}, EVENT, SECRET.encode()),
        hand_made({"alg": "RS256"}, EVENT, SECRET.encode()),
        hand_made({"alg": "HS256", "crit": ["exp"]}, EVENT, SECRET.encode()),
        jwt.encode(EVENT, SECRET.encode(), "HS512"),  # valid, but not in the allow-list
        jwt.encode(EVENT, b"wrong-secret"),
        json.dumps(EVENT).encode(),  # what Dialpad sends without a secret
        b"",
        b"a.b",
        jwt.encode(EVENT, SECRET.encode()) + b".extra",
    ],
)
def test_refused(token: bytes) -> None:
    assert not check(scheme(), token)


def test_the_allow_list_is_configurable_and_never_none() -> None:
    assert check(scheme(algorithms=["HS512"]), jwt.encode(EVENT, SECRET.encode(), "HS512"))
    assert not check(scheme(algorithms=["HS512"]), jwt.encode(EVENT, SECRET.encode()))
    for bad in (["none"], ["RS256"], []):
        with pytest.raises(ValidationError):
            scheme(algorithms=bad)


def test_exp_and_nbf_are_honoured_with_the_leeway() -> None:
    auth = scheme(leeway_seconds=30)
    assert check(auth, jwt.encode({**EVENT, "exp": NOW - 10}, SECRET.encode()))
    assert not check(auth, jwt.encode({**EVENT, "exp": NOW - 31}, SECRET.encode()))
    assert check(auth, jwt.encode({**EVENT, "nbf": NOW + 10}, SECRET.encode()))
    assert not check(auth, jwt.encode({**EVENT, "nbf": NOW + 31}, SECRET.encode()))
    assert not check(auth, jwt.encode({**EVENT, "exp": "tomorrow"}, SECRET.encode()))
    assert not check(auth, jwt.encode({**EVENT, "exp": True}, SECRET.encode()))


def test_body_data_reads_a_kept_token_or_decoded_claims() -> None:
    auth = scheme()
    assert auth.body_data(b' {"state": "ringing"}\n') == {"state": "ringing"}
    for junk in (b"", b"not a jwt", b"[1]", b"e30.WzFd.", b"{nope"):
        with pytest.raises(MappingError):
            auth.body_data(junk)


def test_the_scheme_never_maps_the_unsigned_query() -> None:
    assert JwtAuth.query_is_mapped is False
    assert SECRET not in repr(scheme())


# --- properties ----------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_claims = st.dictionaries(st.text(max_size=10).filter(lambda k: k not in ("exp", "nbf")), _json)
_keys = st.binary(min_size=2, max_size=64)


@given(_claims, _keys, st.sampled_from(sorted(jwt.ALGORITHMS)))
def test_encode_then_verify_gives_the_claims_back(
    claims: dict[str, Any], key: bytes, alg: str
) -> None:
    token = jwt.encode(claims, key, alg)
    assert jwt.verify(token, [key], [alg], now=NOW) == claims
    assert jwt.claims(token) == claims


@given(_claims, _keys, _keys)
def test_another_key_never_verifies(claims: dict[str, Any], key: bytes, other: bytes) -> None:
    if key == other:
        return
    with pytest.raises(jwt.JwtError):
        jwt.verify(jwt.encode(claims, key), [other], ["HS256"], now=NOW)


@given(_claims, _keys, st.data())
def test_any_changed_character_is_refused_or_means_the_same(
    claims: dict[str, Any], key: bytes, data: st.DataObject
) -> None:
    """Flip one character: refused, or (a base64 padding bit) the same token content."""
    token = jwt.encode(claims, key)
    i = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(b"Aa0_-.=+/ "))
    tampered = token[:i] + bytes([replacement]) + token[i + 1 :]
    try:
        got = jwt.verify(tampered, [key], ["HS256"], now=NOW)
    except jwt.JwtError:
        return
    assert got == claims


@given(st.binary(max_size=300))
def test_arbitrary_bodies_only_ever_fail_as_jwt_errors(body: bytes) -> None:
    with pytest.raises(jwt.JwtError):
        jwt.verify(body, [b"k1"], ["HS256", "HS384", "HS512"], now=NOW)


@given(st.binary(max_size=100))
def test_base64url_round_trips(data: bytes) -> None:
    encoded = jwt.b64url_encode(data)
    assert b"=" not in encoded and jwt.b64url_decode(encoded) == data
