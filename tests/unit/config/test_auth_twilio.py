"""``type: twilio-signature``: Twilio's official test vectors, the URL the relay rebuilds, and
properties of the signed-string builder."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from relay.config.auth import AuthConfig, RequestURL, TwilioSignatureAuth
from relay.config.auth_twilio import signed_string, twilio_signature, url_variants
from relay.config.network import parse_networks, peer_is_trusted
from relay.exceptions import AuthError

_auth = TypeAdapter(AuthConfig)
FORM = {"content-type": "application/x-www-form-urlencoded"}

# Twilio's docs (https://www.twilio.com/docs/usage/security, "Explore the algorithm yourself")
DOCS_TOKEN = "12345"
DOCS_URL = "https://example.com/myapp.php?foo=1&bar=2"
DOCS_FORM = {
    "Digits": "1234",
    "To": "+18005551212",
    "From": "+14158675310",
    "Caller": "+14158675310",
    "CallSid": "CA1234567890ABCDE",
}
DOCS_STRING = (
    "https://example.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675310"
    "Digits1234From+14158675310To+18005551212"
)
DOCS_SIGNATURE = "L/OH5YylLD5NRKLltdqwSvS0BnU="

# twilio/twilio-python tests/unit/test_request_validator.py @306691e
SDK_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
SDK_FORM = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
SDK_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SDK_SIGNATURE_WITH_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="
SDK_JSON_BODY = b'{"property": "value", "boolean": true}'
SDK_JSON_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
SDK_JSON_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="
SDK_DUPLICATES = [
    ("Sid", "CA123"),
    ("SidAccount", "AC123"),
    ("Digits", "5678"),
    ("Digits", "1234"),
    ("Digits", "1234"),
]
SDK_DUPLICATES_SIGNATURE = "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def seen(url: str, **forwarded: str) -> RequestURL:
    """``url`` as the relay sees it (the path taken as the hook's)."""
    scheme, _, rest = url.partition("://")
    host, _, path_query = rest.partition("/")
    path, _, query = path_query.partition("?")
    return RequestURL(scheme=scheme, host=host, path="/" + path, query=query, **forwarded)


def auth(**config: object) -> TwilioSignatureAuth:
    parsed = _auth.validate_python({"type": "twilio-signature", **config})
    assert isinstance(parsed, TwilioSignatureAuth)
    return parsed


def accepts(
    scheme: TwilioSignatureAuth,
    url: RequestURL | None,
    signature: str | None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> bool:
    all_headers = {**FORM, **(headers or {})}
    if signature is not None:
        all_headers["x-twilio-signature"] = signature
    try:
        scheme.verify(headers=all_headers, query=query or {}, body=body, url=url)
    except AuthError as exc:
        message = str(exc)
    else:
        return True
    assert message == "authentication failed"  # one message, whatever failed
    return False


def test_docs_vector_string_and_signature() -> None:
    assert signed_string(DOCS_URL, DOCS_FORM.items()) == DOCS_STRING
    assert twilio_signature(DOCS_TOKEN, DOCS_URL, DOCS_FORM.items()) == DOCS_SIGNATURE
    body = urlencode(DOCS_FORM).encode()
    assert accepts(auth(secret=DOCS_TOKEN), seen(DOCS_URL), DOCS_SIGNATURE, body)


def test_sdk_form_vector_and_its_port_variants() -> None:
    """The SDK's vector verifies as sent, with a port Twilio dropped, and as signed with the
    explicit default port."""
    scheme = auth(secret=DOCS_TOKEN)
    body = urlencode(SDK_FORM).encode()
    assert twilio_signature(DOCS_TOKEN, SDK_URL, SDK_FORM.items()) == SDK_SIGNATURE
    assert accepts(scheme, seen(SDK_URL), SDK_SIGNATURE, body)
    with_port = "https://mycompany.com:1234/myapp.php?foo=1&bar=2"
    assert accepts(scheme, seen(with_port), SDK_SIGNATURE, body)
    assert accepts(scheme, seen(SDK_URL), SDK_SIGNATURE_WITH_443, body)
    assert not accepts(scheme, seen(SDK_URL), SDK_SIGNATURE, body + b"&Extra=1")


def test_sdk_json_body_vector() -> None:
    """A JSON body: the URL (with bodySHA256) is signed alone; the hash vouches for the body."""
    assert hashlib.sha256(SDK_JSON_BODY).hexdigest() == SDK_JSON_HASH
    scheme = auth(secret=DOCS_TOKEN)
    url = seen(f"{SDK_URL}&bodySHA256={SDK_JSON_HASH}")
    json_headers = {"content-type": "application/json"}
    query = {"foo": "1", "bar": "2", "bodySHA256": SDK_JSON_HASH}
    assert accepts(scheme, url, SDK_JSON_SIGNATURE, SDK_JSON_BODY, json_headers, query)
    tampered = SDK_JSON_BODY.replace(b"true", b"false")
    assert not accepts(scheme, url, SDK_JSON_SIGNATURE, tampered, json_headers, query)


def test_sdk_duplicate_names_vector() -> None:
    """A repeated name: its distinct values, sorted."""
    assert twilio_signature(DOCS_TOKEN, SDK_URL, SDK_DUPLICATES) == SDK_DUPLICATES_SIGNATURE
    body = urlencode(SDK_DUPLICATES).encode()
    assert accepts(auth(secret=DOCS_TOKEN), seen(SDK_URL), SDK_DUPLICATES_SIGNATURE, body)


def test_empty_values_are_signed() -> None:
    """``ToZip=`` is part of the signed data: dropping it (parse_qs's default) breaks it."""
    form = [("CallSid", "CA1"), ("ToZip", ""), ("CallStatus", "completed")]
    signature = twilio_signature("auth-token-one", SDK_URL, form)
    without_empty = twilio_signature("auth-token-one", SDK_URL, [p for p in form if p[1]])
    assert signature != without_empty
    assert accepts(
        auth(secret="auth-token-one"), seen(SDK_URL), signature, urlencode(form).encode()
    )


def test_get_callback_signs_the_url_alone() -> None:
    url = SDK_URL + "&CallSid=CA1&CallStatus=completed"
    signature = twilio_signature("auth-token-one", url, [])
    assert accepts(auth(secret="auth-token-one"), seen(url), signature)
    assert not accepts(auth(secret="auth-token-one"), seen(url + "&x=1"), signature)


def test_public_url_decides_behind_an_ingress() -> None:
    """Twilio signed the public URL; the relay sees its own address and the same query."""
    public = "https://relay.example.com/hooks/twilio"
    signature = twilio_signature("auth-token-one", f"{public}?campaign_id=C1", [("CallSid", "CA1")])
    internal = RequestURL("http", "10.0.0.5:8080", "/hooks/twilio", "campaign_id=C1")
    body = b"CallSid=CA1"
    assert not accepts(auth(secret="auth-token-one"), internal, signature, body)
    assert accepts(auth(secret="auth-token-one", public_url=public), internal, signature, body)
    forwarded = RequestURL(
        "http",
        "10.0.0.5:8080",
        "/hooks/twilio",
        "campaign_id=C1",
        forwarded_host="relay.example.com",
        forwarded_proto="https",
    )
    assert accepts(auth(secret="auth-token-one"), forwarded, signature, body)
    changed = RequestURL("http", "10.0.0.5:8080", "/hooks/twilio", "campaign_id=C2")
    assert not accepts(auth(secret="auth-token-one", public_url=public), changed, signature, body)


def test_rotation_wrong_token_and_missing_parts() -> None:
    body = b"CallSid=CA1"
    signature = twilio_signature("old-token", SDK_URL, [("CallSid", "CA1")])
    assert accepts(auth(secrets=["new-token", "old-token"]), seen(SDK_URL), signature, body)
    assert not accepts(auth(secret="new-token"), seen(SDK_URL), signature, body)
    assert not accepts(auth(secret="old-token"), None, signature, body)  # no URL: no check
    assert not accepts(auth(secret="old-token"), seen(SDK_URL), None, body)
    assert not accepts(auth(secret="old-token"), seen(SDK_URL), "not base64!", body)
    assert not accepts(auth(secret="old-token"), seen(SDK_URL), signature[:-2], body)


def test_shared_key_with_hmac_sha256() -> None:
    """The settings header switches to the shared keys and its algorithm; the Auth Token
    does not sign such a request."""
    form = [("CallSid", "CA1")]
    body = urlencode(form).encode()
    settings = {"x-twilio-webhooks-signature-settings": "key=k1,algorithm=HMAC_SHA256"}
    sha256 = twilio_signature("shared-key", SDK_URL, form, sha256=True)
    scheme = auth(secret="auth-token", shared_keys=["shared-key"])
    assert accepts(scheme, seen(SDK_URL), sha256, body, settings)
    assert not accepts(scheme, seen(SDK_URL), sha256, body)  # no header: SHA-1 + token
    by_token = twilio_signature("auth-token", SDK_URL, form, sha256=True)
    assert not accepts(scheme, seen(SDK_URL), by_token, body, settings)
    unknown = {"x-twilio-webhooks-signature-settings": "key=k1,algorithm=HMAC_MD5"}
    assert not accepts(scheme, seen(SDK_URL), sha256, body, unknown)
    assert not accepts(auth(secret="shared-key"), seen(SDK_URL), sha256, body, settings)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"secret": "x"},
        {"secret": "auth-token-one", "public_url": "https://relay.example.com/hooks/t?a=1"},
        {"secret": "auth-token-one", "public_url": "relay.example.com/hooks/t"},
        {"secret": "auth-token-one", "public_url": "ftp://relay.example.com/hooks/t"},
    ],
)
def test_invalid_configs_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _auth.validate_python({"type": "twilio-signature", **config})


def test_repr_hides_the_tokens() -> None:
    text = repr(auth(secret="auth-token-1", shared_keys=["shared-key-1"]))
    assert "auth-token-1" not in text and "shared-key-1" not in text


def test_forwarded_headers_count_from_trusted_peers_only() -> None:
    trusted = parse_networks("10.0.0.0/8")
    assert peer_is_trusted("10.1.2.3", trusted)
    assert not peer_is_trusted("192.0.2.1", trusted)
    assert not peer_is_trusted(None, trusted)
    assert not peer_is_trusted("10.1.2.3", [])


def _reference(url: str, pairs: list[tuple[str, str]]) -> str:
    """twilio-python's compute_signature, written out (dict of name → values)."""
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    s = url
    for name in sorted(set(params)):
        for value in sorted(set(params[name])):
            s += name + value
    return s


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_pairs = st.lists(st.tuples(_text, _text), max_size=8)


@given(_pairs, st.randoms())
def test_signed_string_matches_the_sdk_in_any_order(
    pairs: list[tuple[str, str]], rnd: st.SearchStrategy[object]
) -> None:
    shuffled = list(pairs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert signed_string(SDK_URL, pairs) == _reference(SDK_URL, pairs)
    assert signed_string(SDK_URL, shuffled) == signed_string(SDK_URL, pairs)


@given(_pairs)
def test_a_form_twilio_signed_verifies_and_a_changed_one_does_not(
    pairs: list[tuple[str, str]],
) -> None:
    signature = twilio_signature("auth-token-one", SDK_URL, pairs)
    scheme = auth(secret="auth-token-one")
    assert accepts(scheme, seen(SDK_URL), signature, urlencode(pairs).encode() or b"")
    changed = [*pairs, ("Zz", "changed")]
    assert not accepts(scheme, seen(SDK_URL), signature, urlencode(changed).encode())


@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True),
    st.one_of(st.none(), st.integers(1, 65535)),
    st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,3}", fullmatch=True),
    st.from_regex(
        r"([a-z]{1,4}=[A-Za-z0-9%+]{0,5}(&[a-z]{1,4}=[A-Za-z0-9]{0,4}){0,2})?", fullmatch=True
    ),
)
def test_url_variants_toggle_the_port(
    scheme: str, host: str, port: int | None, path: str, query: str
) -> None:
    netloc = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    variants = url_variants(url)
    assert variants[0] == url and 1 <= len(variants) <= 2
    for variant in variants:
        assert variant.endswith(path + (f"?{query}" if query else ""))
    default = 443 if scheme == "https" else 80
    if port is not None:
        assert variants[1].startswith(f"{scheme}://{host}{path}")
    else:
        assert variants[1].startswith(f"{scheme}://{host}:{default}")
    if port in (None, default):  # the default port's two forms lead to each other
        assert url in url_variants(variants[1])


def test_a_signature_is_base64_of_the_hmac() -> None:
    """The encoding Twilio documents, computed independently."""
    mac = hmac.new(b"auth-token-one", DOCS_STRING.encode(), hashlib.sha1).digest()
    assert (
        twilio_signature("auth-token-one", DOCS_URL, DOCS_FORM.items())
        == base64.b64encode(mac).decode()
    )
