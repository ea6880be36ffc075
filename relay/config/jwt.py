"""Compact JSON Web Tokens signed with HMAC (RFC 7519/7515, ``HS256``/``HS384``/``HS512``).

The relay's own small codec, for ``auth: {type: jwt}`` (Dialpad POSTs its call events as a
JWT body). Only what a webhook needs: ``verify`` checks the signature against every key (no
early exit, constant-time), with the algorithm taken from the **configured allow-list** (a
header naming ``none``, an RSA/EC algorithm or any algorithm not allowed is refused, whatever
it says), then ``exp``/``nbf`` when present (with a leeway); ``claims`` reads the payload of a
token verified before (a replay of a kept request). ``encode`` builds a token (tests, docs).

Every failure is a ``JwtError`` (a ``ValueError``) whose message never holds a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson

__all__ = [
    "ALGORITHMS",
    "JwtError",
    "b64url_decode",
    "b64url_encode",
    "claims",
    "encode",
    "json_object",
    "verify",
]

#: The HMAC algorithms a JWT may be signed with, by their JOSE names.
ALGORITHMS: dict[str, Callable[..., Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}
_SEGMENT = re.compile(rb"^[A-Za-z0-9_-]*$")
_WHITESPACE = b" \t\r\n"


class JwtError(ValueError):
    """A token that is malformed, not signed by a key, of an algorithm not allowed, or
    expired/not yet valid."""


def b64url_encode(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(segment: bytes) -> bytes:
    """One base64url segment, no padding; ``JwtError`` for any other character or length."""
    if not _SEGMENT.match(segment) or len(segment) % 4 == 1:
        raise JwtError("not base64url")
    try:
        return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise JwtError("not base64url") from None


def _object(segment: bytes, what: str) -> dict[str, Any]:
    return json_object(b64url_decode(segment), what)


def json_object(raw: bytes, what: str = "payload") -> dict[str, Any]:
    """``raw`` JSON that must be an object (a header, or claims)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise JwtError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise JwtError(f"the {what} is not a JSON object")
    return value


def _split(token: bytes) -> tuple[bytes, bytes, bytes]:
    parts = token.strip(_WHITESPACE).split(b".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise JwtError("not a compact JWT (header.payload.signature)")
    return parts[0], parts[1], parts[2]


def claims(token: bytes) -> dict[str, Any]:
    """The payload of a compact JWT, **unverified**: for a token verified on arrival."""
    return _object(_split(token)[1], "payload")


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise JwtError(f"the {name} claim is not a number")
    return float(value)


def verify(
    token: bytes,
    keys: Sequence[bytes],
    algorithms: Sequence[str],
    *,
    now: float,
    leeway: float = 0.0,
) -> dict[str, Any]:
    """The claims of ``token`` if one of ``keys`` signed it with an allowed algorithm and it
    is valid at ``now`` (epoch seconds; ``exp``/``nbf`` give or take ``leeway``)."""
    head, payload, signature = _split(token)
    header = _object(head, "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in ALGORITHMS:
        raise JwtError("algorithm not allowed")
    if "crit" in header:  # extensions we would have to understand (RFC 7515 §4.1.11)
        raise JwtError("critical header extensions are not supported")
    presented = b64url_decode(signature)
    signed = head + b"." + payload
    digest = ALGORITHMS[alg]
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(presented, hmac.new(key, signed, digest).digest())
    if not ok:
        raise JwtError("bad signature")
    body = _object(payload, "payload")
    if "exp" in body and now > _number(body["exp"], "exp") + leeway:
        raise JwtError("expired")
    if "nbf" in body and now < _number(body["nbf"], "nbf") - leeway:
        raise JwtError("not yet valid")
    return body


def encode(payload: dict[str, Any], key: bytes, alg: str = "HS256") -> bytes:
    """A compact JWT of ``payload`` signed with ``key`` (what Dialpad sends)."""
    head = b64url_encode(orjson.dumps({"alg": alg, "typ": "JWT"}))
    signed = head + b"." + b64url_encode(orjson.dumps(payload))
    return signed + b"." + b64url_encode(hmac.new(key, signed, ALGORITHMS[alg]).digest())
