"""Source authentication: who may POST to ``/hooks/<source>``.

Schemes: ``none``, ``header`` (a named header equals a secret), ``bearer``, ``query`` (a query
parameter equals a secret; for Five9 and VICIdial, which can send nothing else), ``basic``,
and ``hmac`` (HMAC-SHA256 of the raw body, optionally with a signed timestamp and message id;
``preset: standard-webhooks`` sets the Standard Webhooks headers and format).

Every comparison is constant-time, and independent of the presented value's length (both
sides are hashed first). Every scheme accepts several secrets so one can be rotated without
downtime. Failures raise one ``AuthError`` that never says which part failed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from relay.exceptions import AuthError

__all__ = ["AuthConfig", "hmac_key", "verify"]

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_WHSEC = "whsec_"
_STANDARD_WEBHOOKS = {
    "header": "webhook-signature",
    "timestamp_header": "webhook-timestamp",
    "id_header": "webhook-id",
    "prefix": "v1,",
    "encoding": "base64",
}


def _header_name(value: str | None) -> str | None:
    if value is not None and not _HEADER_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid HTTP header name")
    return value


class _Secrets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: SecretStr | None = None
    secrets: list[SecretStr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _need_one(self) -> _Secrets:
        if self.secret is None and not self.secrets:
            raise ValueError("set `secret` (or `secrets`, a list, to rotate)")
        if any(not s.get_secret_value() for s in self.all_secrets()):
            raise ValueError("secrets must not be empty")
        return self

    def all_secrets(self) -> list[SecretStr]:
        return ([self.secret] if self.secret is not None else []) + list(self.secrets)


class _HeaderSecrets(_Secrets):
    """Secrets sent in an HTTP header: printable ASCII only, or no client could send them."""

    @model_validator(mode="after")
    def _printable(self) -> _HeaderSecrets:
        for s in self.all_secrets():
            value = s.get_secret_value()
            if not (value.isascii() and value.isprintable()) or value != value.strip():
                raise ValueError("a secret sent in a header must be printable ASCII")
        return self


class NoAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["none"]


class HeaderAuth(_HeaderSecrets):
    type: Literal["header"]
    header: str = "X-Relay-Token"

    _name = field_validator("header")(_header_name)


class BearerAuth(_HeaderSecrets):
    type: Literal["bearer"]


class QueryAuth(_Secrets):
    type: Literal["query"]
    param: str = Field(default="token", min_length=1)


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    passwords: list[SecretStr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _need_one(self) -> BasicAuth:
        if ":" in self.username:
            raise ValueError("a Basic username cannot contain ':'")
        if self.password is None and not self.passwords:
            raise ValueError("set `password` (or `passwords`, a list, to rotate)")
        if any(not p.get_secret_value() for p in self.all_passwords()):
            raise ValueError("passwords must not be empty")
        return self

    def all_passwords(self) -> list[SecretStr]:
        return ([self.password] if self.password is not None else []) + list(self.passwords)


class HmacAuth(_Secrets):
    """HMAC-SHA256 signatures; ``preset: standard-webhooks`` fills in that spec's choices.

    Signed content: the raw body; ``<timestamp>.<body>`` with ``timestamp_header``;
    ``<id>.<timestamp>.<body>`` with ``id_header`` too (Standard Webhooks). The signature
    header may carry several space-separated signatures. A secret written ``whsec_<base64>``
    is a Standard Webhooks key: its HMAC key is the decoded bytes.
    """

    type: Literal["hmac"]
    preset: Literal["standard-webhooks"] | None = None
    header: str = "X-Signature"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""  # e.g. "sha256=" (GitHub style) or "v1," (standard-webhooks)
    timestamp_header: str | None = None
    id_header: str | None = None
    tolerance_seconds: float = Field(default=300.0, gt=0)

    _names = field_validator("header", "timestamp_header", "id_header")(_header_name)

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") == "standard-webhooks":
            return {**_STANDARD_WEBHOOKS, **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> HmacAuth:
        if self.id_header and not self.timestamp_header:
            raise ValueError("`id_header` needs `timestamp_header` (both are signed)")
        for s in self.all_secrets():
            hmac_key(s)  # raises ValueError for a malformed whsec_ key
        return self


AuthConfig = Annotated[
    NoAuth | HeaderAuth | BearerAuth | QueryAuth | BasicAuth | HmacAuth,
    Field(discriminator="type"),
]


def hmac_key(secret: SecretStr) -> bytes:
    """The HMAC key of ``secret``: base64-decoded for ``whsec_`` keys, else its UTF-8 bytes."""
    value = secret.get_secret_value()
    if not value.startswith(_WHSEC):
        return value.encode()
    try:
        key = base64.b64decode(value[len(_WHSEC) :], validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    if not key:
        raise ValueError("a whsec_ secret must not be empty")
    return key


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def _equals_any(presented: str | None, secrets: Sequence[SecretStr]) -> bool:
    """Constant-time: no early exit, and no dependence on the presented value's length."""
    if presented is None:
        return False
    given = _digest(presented.encode("utf-8", "surrogateescape"))
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(given, _secret_digest(secret.get_secret_value()))
    return ok


@functools.lru_cache(maxsize=256)
def _secret_digest(secret: str) -> bytes:
    """A configured secret's digest, computed once (it is compared on every webhook)."""
    return _digest(secret.encode())


def verify(
    auth: AuthConfig,
    *,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise ``AuthError`` unless the request satisfies ``auth`` (``headers``: lower-case keys)."""
    if isinstance(auth, NoAuth):
        return
    if isinstance(auth, HeaderAuth):
        ok = _equals_any(headers.get(auth.header.lower()), auth.all_secrets())
    elif isinstance(auth, BearerAuth):
        scheme, _, token = headers.get("authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and _equals_any(token.strip(), auth.all_secrets())
    elif isinstance(auth, QueryAuth):
        ok = _equals_any(query.get(auth.param), auth.all_secrets())
    elif isinstance(auth, BasicAuth):
        ok = _verify_basic(auth, headers.get("authorization", ""))
    else:
        ok = _verify_hmac(auth, headers, body, time.time() if now is None else now)
    if not ok:
        raise AuthError("authentication failed")


def _verify_basic(auth: BasicAuth, header: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    user_ok = hmac.compare_digest(_digest(user.encode()), _digest(auth.username.encode()))
    password_ok = _equals_any(password, auth.all_passwords())
    return bool(sep) & user_ok & password_ok


def _signed_content(auth: HmacAuth, headers: Mapping[str, str], body: bytes, now: float) -> bytes:
    """What the sender signed; ``AuthError`` when its timestamp or id is missing or bad."""
    if not auth.timestamp_header:
        return body
    stamp = headers.get(auth.timestamp_header.lower(), "")
    if not _TIMESTAMP.match(stamp):  # integer seconds only: no NaN, no 1e9, no spaces
        raise AuthError("authentication failed")
    if abs(now - int(stamp)) > auth.tolerance_seconds:  # too old (a replay) or too new
        raise AuthError("authentication failed")
    if not auth.id_header:
        return stamp.encode() + b"." + body
    msg_id = headers.get(auth.id_header.lower(), "")
    if not msg_id or "." in msg_id:  # the spec forbids '.', which would shift the fields
        raise AuthError("authentication failed")
    return msg_id.encode() + b"." + stamp.encode() + b"." + body


def _decode_signature(auth: HmacAuth, candidate: str) -> bytes | None:
    if not candidate.startswith(auth.prefix):
        return None  # e.g. a "v1a," (asymmetric) signature next to our "v1," one
    encoded = candidate[len(auth.prefix) :]
    try:
        if auth.encoding == "hex":
            return bytes.fromhex(encoded) if len(encoded) == 64 else None
        return base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        return None


def _verify_hmac(auth: HmacAuth, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    presented = headers.get(auth.header.lower())
    if not presented:
        return False
    try:
        signed = _signed_content(auth, headers, body, now)
    except AuthError:
        return False
    # Several space-separated signatures: the sender's rotation (standard-webhooks).
    candidates = [c for c in (_decode_signature(auth, p) for p in presented.split()) if c]
    ok = False
    for secret in auth.all_secrets():
        expected = hmac.new(hmac_key(secret), signed, hashlib.sha256).digest()
        for candidate in candidates:
            ok |= hmac.compare_digest(candidate, expected)
    return ok
