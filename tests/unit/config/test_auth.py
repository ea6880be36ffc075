"""Source authentication: every scheme accepts its secrets and nothing else."""

from __future__ import annotations

import hashlib
import hmac
import time
import typing
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, TypeAdapter, ValidationError

from relay.config.auth import AUTH_SCHEMES, AuthConfig, HeaderAuth, HmacAuth, NoAuth, QueryAuth
from relay.exceptions import AuthError
from tests.support.credentials import (
    BODY,
    GOOD,
    NOW,
    OTHER,
    SCHEMES,
    WRONG,
    Req,
    b64,
    config_for,
    header_req,
    hmac_hex,
    hmac_req,
    standard_signature,
)

_auth = TypeAdapter(AuthConfig)


def passes(config: Mapping[str, object], req: Req) -> bool:
    auth = _auth.validate_python(config)
    headers = {k.lower(): v for k, v in req.headers.items()}
    try:
        auth.verify(headers=headers, query=req.query, body=req.body, now=req.now)
    except AuthError as exc:
        message = str(exc)
    else:
        return True
    assert message == "authentication failed"  # one message, whatever failed
    return False


def _truncate(req: Req) -> Req:
    """The same request with its credential one character short."""
    headers = {k: (v[:-1] if k != "X-Ts" else v) for k, v in req.headers.items()}
    return Req(headers=headers, query={k: v[:-1] for k, v in req.query.items()})


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_good_secret_accepted(scheme: str) -> None:
    """Each scheme accepts a request carrying its secret."""
    _, make = SCHEMES[scheme]
    assert passes(config_for(scheme, GOOD), make(GOOD))


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_wrong_secret_rejected(scheme: str) -> None:
    """Each scheme rejects a different secret of the same shape."""
    _, make = SCHEMES[scheme]
    assert not passes(config_for(scheme, GOOD), make(WRONG))


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_missing_credential_rejected(scheme: str) -> None:
    """Each scheme rejects a request that carries no credential at all."""
    assert not passes(config_for(scheme, GOOD), Req())


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_truncated_credential_rejected(scheme: str) -> None:
    """Each scheme rejects its credential cut one character short."""
    _, make = SCHEMES[scheme]
    assert not passes(config_for(scheme, GOOD), _truncate(make(GOOD)))


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_differently_cased_secret_rejected(scheme: str) -> None:
    """Secrets are case-sensitive in every scheme (hmac: a signature made with the swapped case)."""
    _, make = SCHEMES[scheme]
    assert not passes(config_for(scheme, GOOD), make(GOOD.swapcase()))
    assert not passes(config_for(scheme, GOOD), make(GOOD.upper()))


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_rotation_with_two_secrets(scheme: str) -> None:
    """With two active secrets both are accepted; once the old one is removed it is refused."""
    _, make = SCHEMES[scheme]
    both = config_for(scheme, GOOD, OTHER)
    assert passes(both, make(GOOD))
    assert passes(both, make(OTHER))
    assert not passes(both, make(WRONG))
    assert not passes(config_for(scheme, OTHER), make(GOOD))


def test_single_secret_key_still_works() -> None:
    """`secret:` (one) and `secrets:` (a list) can be combined during a rotation."""
    config = {"type": "header", "secret": GOOD, "secrets": [OTHER]}
    assert passes(config, header_req(GOOD))
    assert passes(config, header_req(OTHER))


def test_bearer_needs_the_bearer_scheme() -> None:
    """A bare token or another scheme in Authorization is not a bearer token."""
    config = config_for("bearer", GOOD)
    assert not passes(config, Req(headers={"Authorization": GOOD}))
    assert not passes(config, Req(headers={"Authorization": f"Token {GOOD}"}))
    assert passes(config, Req(headers={"Authorization": f"bearer {GOOD}"}))


def test_basic_checks_the_username() -> None:
    """Basic needs the configured username, a colon, and valid base64."""
    config = config_for("basic", GOOD)
    for raw in (f"other:{GOOD}", GOOD, f"genesys{GOOD}"):
        assert not passes(config, Req(headers={"Authorization": "Basic " + b64(raw.encode())}))
    assert not passes(config, Req(headers={"Authorization": "Basic !!not-base64!!"}))


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_hmac_replayed_or_future_timestamp_rejected(age: int) -> None:
    """A correctly signed request whose timestamp is outside the tolerance is refused."""
    ts = str(int(NOW) - age)
    req = Req(headers={"X-Sig": "sha256=" + hmac_hex(GOOD, f"{ts}.".encode() + BODY), "X-Ts": ts})
    assert not passes(config_for("hmac", GOOD), req)
    assert passes({**config_for("hmac", GOOD), "tolerance_seconds": 90_000}, req)


@pytest.mark.parametrize("stamp", ["nan", "inf", "1e9", f" {int(NOW)}", f"{int(NOW)}.0", ""])
def test_hmac_timestamp_must_be_integer_seconds(stamp: str) -> None:
    """Only integer seconds are timestamps: NaN, floats or padded values never pass."""
    req = Req(headers={"X-Sig": "sha256=" + hmac_hex(GOOD, f"{stamp}.".encode() + BODY)})
    req.headers["X-Ts"] = stamp
    assert not passes(config_for("hmac", GOOD), req)


def test_hmac_signs_the_raw_body() -> None:
    """A valid signature over another body (a tampered payload) is refused."""
    req = hmac_req(GOOD)
    req.body = BODY.replace(b"0100", b"0199")
    assert not passes(config_for("hmac", GOOD), req)


def test_hmac_without_timestamp_and_base64() -> None:
    """Body-only signatures work in base64 too; a case-flipped base64 signature is refused."""
    config = {"type": "hmac", "encoding": "base64", "secrets": [GOOD]}
    sig = b64(hmac.new(GOOD.encode(), BODY, hashlib.sha256).digest())
    assert passes(config, Req(headers={"X-Signature": sig}))
    assert not passes(config, Req(headers={"X-Signature": sig.swapcase()}))
    assert not passes(config, Req(headers={"X-Signature": sig[:-2]}))


def test_hmac_hex_digits_in_either_case_are_one_signature() -> None:
    """Hex is compared as the MAC's bytes, so upper-case hex digits are the same signature."""
    config = {"type": "hmac", "secrets": [GOOD]}
    sig = hmac_hex(GOOD, BODY)
    assert passes(config, Req(headers={"X-Signature": sig.upper()}))
    assert not passes(config, Req(headers={"X-Signature": sig[:-1] + "g"}))


def test_standard_webhooks_published_vector() -> None:
    """The Standard Webhooks test vector (whsec_ key, id.timestamp.body) verifies."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    config = {"type": "hmac", "preset": "standard-webhooks", "secret": secret}
    assert passes(config, Req(headers=headers, body=body, now=1614265330))
    assert not passes(config, Req(headers=headers, body=body, now=1614265330 + 301))
    changed = {**headers, "webhook-id": "msg_other"}
    assert not passes(config, Req(headers=changed, body=body, now=1614265330))


def test_standard_webhooks_rotation_and_other_versions() -> None:
    """Several space-separated signatures: one valid v1 is enough; v1a or junk are skipped."""
    old, new = "whsec_" + b64(b"o" * 24), "whsec_" + b64(b"n" * 24)
    ts = int(NOW)
    old_sig = standard_signature(old, "msg_1", ts, BODY)
    new_sig = standard_signature(new, "msg_1", ts, BODY)
    config = {"type": "hmac", "preset": "standard-webhooks", "secret": new}

    def req(signatures: str) -> Req:
        headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts)}
        return Req(headers={**headers, "webhook-signature": signatures})

    assert passes(config, req(f"v1a,AAAA v1,garbage {old_sig} {new_sig}"))
    assert not passes(config, req(f"v1a,AAAA v1,garbage {old_sig}"))


def test_standard_webhooks_id_with_a_dot_rejected() -> None:
    """A message id containing '.' could shift the signed fields, so it is refused."""
    secret = "whsec_" + b64(b"k" * 24)
    ts = int(NOW)
    headers = {
        "webhook-id": "msg.1",
        "webhook-timestamp": str(ts),
        "webhook-signature": standard_signature(secret, "msg.1", ts, BODY),
    }
    assert not passes(
        {"type": "hmac", "preset": "standard-webhooks", "secret": secret}, Req(headers)
    )


@pytest.mark.parametrize(
    "config",
    [
        {"type": "header"},
        {"type": "header", "secret": ""},
        {"type": "header", "secret": "tab\there"},
        {"type": "header", "header": "Bad Header", "secret": GOOD},
        {"type": "basic", "username": "", "password": GOOD},
        {"type": "basic", "username": "a:b", "password": GOOD},
        {"type": "basic", "username": "u", "password": ""},
        {"type": "hmac", "secret": "whsec_***"},
        {"type": "hmac", "secret": GOOD, "id_header": "webhook-id"},
        {"type": "hmac", "secret": GOOD, "tolerance_seconds": 0},
    ],
)
def test_invalid_auth_configs_refused(config: dict[str, object]) -> None:
    """Configurations that could never authenticate anyone are start-up errors."""
    with pytest.raises(ValidationError):
        _auth.validate_python(config)


WEAK = ["a", " ", "  \t ", " b ", "\n"]


@pytest.mark.parametrize("weak", WEAK)
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_one_character_or_blank_secrets_refused(scheme: str, weak: str) -> None:
    """A secret of one character, or of whitespace, is a configuration error in every scheme,
    at the field that holds it (its index in a list), never quoting it."""
    with pytest.raises(ValidationError) as info:
        _auth.validate_python(config_for(scheme, GOOD, weak))
    [error] = info.value.errors(include_input=False)
    key = "passwords" if scheme == "basic" else "secrets"
    assert error["loc"][-2:] == (key, 1)
    assert "at least 2 characters" in error["msg"]
    single = "password" if scheme == "basic" else "secret"
    with pytest.raises(ValidationError) as info:
        _auth.validate_python({**SCHEMES[scheme][0], single: weak})
    assert info.value.errors()[0]["loc"][-1] == single


def test_a_one_byte_standard_webhooks_key_refused() -> None:
    """A whsec_ secret is its decoded bytes: one byte is a one-character secret."""
    with pytest.raises(ValidationError, match="at least 2"):
        _auth.validate_python({"type": "hmac", "secret": "whsec_" + b64(b"k")})


def test_auth_config_repr_hides_secrets() -> None:
    """repr() and model dumps of every scheme keep secrets masked."""
    for scheme in SCHEMES:
        auth = _auth.validate_python(config_for(scheme, GOOD, OTHER))
        assert GOOD not in repr(auth) and OTHER not in repr(auth)
        assert GOOD not in str(auth.model_dump()) and GOOD not in auth.model_dump_json()
        assert isinstance(
            (auth.model_dump().get("secrets") or auth.model_dump().get("passwords"))[0], SecretStr
        )


def test_wall_clock_is_used_by_default() -> None:
    """Without `now`, the tolerance is checked against the current time: a request signed
    now passes, and one signed just outside the tolerance of now is refused."""
    config = config_for("hmac", GOOD)
    now = int(time.time())
    fresh = hmac_req(GOOD, ts=now)
    fresh.now = None
    assert passes(config, fresh)
    for ts in (now - 330, now + 330):
        stale = hmac_req(GOOD, ts=ts)
        stale.now = None
        assert not passes(config, stale), ts


def test_no_auth_accepts_anything() -> None:
    """`type: none` takes every request, with or without credentials."""
    assert passes({"type": "none"}, Req())
    assert passes({"type": "none"}, header_req(WRONG))


def test_every_scheme_is_documented_in_order() -> None:
    """AUTH_SCHEMES lists every configurable scheme once: the OpenAPI `security` order."""
    union = typing.get_args(typing.get_args(AuthConfig)[0])
    assert set(AUTH_SCHEMES) == set(union) and len(AUTH_SCHEMES) == len(union)
    names = [scheme.openapi_name for scheme in AUTH_SCHEMES]
    assert names == [
        "headerToken",
        "bearerToken",
        "queryToken",
        "bodyToken",
        "basicAuth",
        "hmacSignature",
        "twilioSignature",
        "jwtBody",
        "verificationToken",
        "firehoseAccessKey",
        None,
    ]


def test_openapi_schemes_show_the_defaults() -> None:
    """Each scheme documents itself with its default header or parameter name; `none` needs
    no scheme."""
    header = HeaderAuth.openapi_scheme()
    assert header is not None and header["in"] == "header"
    assert header["name"] == HeaderAuth(type="header", secret=SecretStr(GOOD)).header
    query = QueryAuth.openapi_scheme()
    assert query is not None and query["in"] == "query"
    assert query["name"] == QueryAuth(type="query", secret=SecretStr(GOOD)).param
    signature = HmacAuth.openapi_scheme()
    assert signature is not None and signature["name"] == "X-Signature"
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert f"`{name}`" in signature["description"]
    assert NoAuth.openapi_scheme() is None


FORM_TYPE = {"content-type": "application/x-www-form-urlencoded; charset=UTF-8"}
_query_auth = QueryAuth(type="query", param="token", secret=SecretStr(GOOD))


def _query_passes(headers: dict[str, str], query: dict[str, str], body: bytes) -> bool:
    try:
        _query_auth.verify(headers=headers, query=query, body=body)
    except AuthError:
        return False
    return True


def test_query_secret_in_a_form_body() -> None:
    """A Five9 POST constant: the parameter in a form body authenticates; the URL's comes
    first; a JSON body, or a form without the content type, is never read for it."""
    body = f"call_id=1&token={GOOD}&ani=5125550100".encode()
    assert _query_passes(FORM_TYPE, {}, body)
    assert _query_passes(FORM_TYPE, {"token": GOOD}, b"token=wrong")
    assert not _query_passes(FORM_TYPE, {"token": WRONG}, body)  # URL first
    assert not _query_passes({"content-type": "application/json"}, {}, body)
    assert not _query_passes({}, {}, body)
    assert not _query_passes(FORM_TYPE, {}, b"call_id=1&tokens=" + GOOD.encode())
    encoded = urlencode({"a": "1", "token": "p@ss w+rd/ü"}).encode()
    special = QueryAuth(type="query", param="token", secret=SecretStr("p@ss w+rd/ü"))
    special.verify(headers=FORM_TYPE, query={}, body=encoded)


def test_without_secret_keeps_the_rest_byte_for_byte() -> None:
    """The secret parameter leaves the URL's query and the form body; nothing else changes."""
    body = b"call_id=1&token=" + GOOD.encode() + b"&zip=%40Contact.zip%40&tok%65n=x&note=a+b"
    query, stripped = _query_auth.without_secret(
        {"token": GOOD, "a": "1"}, "application/x-www-form-urlencoded", body
    )
    assert query == {"a": "1"}
    assert stripped == b"call_id=1&zip=%40Contact.zip%40&note=a+b"
    json_body = b'{"token": "x"}'
    assert _query_auth.without_secret({}, "application/json", json_body) == ({}, json_body)
    plain = b"call_id=1&ani=2"
    assert _query_auth.without_secret({}, "application/x-www-form-urlencoded", plain)[1] is plain


_pairs = st.lists(
    st.tuples(st.sampled_from(["token", "call_id", "ani", "tok en", "TOKEN"]), st.text(max_size=8)),
    max_size=6,
)


@given(_pairs)
def test_without_secret_property(pairs: list[tuple[str, str]]) -> None:
    """Whatever the form, the stripped body parses to the same pairs minus the secret's."""
    body = urlencode(pairs).encode()
    _, stripped = _query_auth.without_secret({}, "application/x-www-form-urlencoded", body)
    expected = [(k, v) for k, v in pairs if k != "token"]
    assert parse_qsl(stripped.decode(), keep_blank_values=True) == expected
