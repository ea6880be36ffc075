"""Source authentication: who may POST to ``/hooks/<source>``.

Schemes: ``none``, ``header`` (a named header equals a secret), ``bearer``, ``query`` (a query
parameter equals a secret; for Five9 and VICIdial, which can send nothing else), ``basic``,
and ``hmac`` (HMAC-SHA256 of the raw body, optionally with a signed timestamp). Every
comparison is constant-time; every scheme accepts several secrets so one can be rotated
without downtime. Failures raise one ``AuthError`` that never says which part failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from relay.exceptions import AuthError

__all__ = ["AuthConfig", "verify"]


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


class NoAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["none"]


class HeaderAuth(_Secrets):
    type: Literal["header"]
    header: str = "X-Relay-Token"


class BearerAuth(_Secrets):
    type: Literal["bearer"]


class QueryAuth(_Secrets):
    type: Literal["query"]
    param: str = "token"


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["basic"]
    username: str
    password: SecretStr | None = None
    passwords: list[SecretStr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _need_one(self) -> BasicAuth:
        if self.password is None and not self.passwords:
            raise ValueError("set `password` (or `passwords`, a list, to rotate)")
        return self

    def all_passwords(self) -> list[SecretStr]:
        return ([self.password] if self.password is not None else []) + list(self.passwords)


class HmacAuth(_Secrets):
    type: Literal["hmac"]
    header: str = "X-Signature"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""  # e.g. "sha256=" (GitHub style) or "v1," (standard-webhooks)
    timestamp_header: str | None = None  # when set, the signed content is "<ts>.<body>"
    tolerance_seconds: float = 300.0


AuthConfig = Annotated[
    NoAuth | HeaderAuth | BearerAuth | QueryAuth | BasicAuth | HmacAuth,
    Field(discriminator="type"),
]


def _equals_any(presented: str | bytes | None, secrets: Sequence[SecretStr]) -> bool:
    if presented is None:
        return False
    given = presented.encode() if isinstance(presented, str) else presented
    ok = False
    for secret in secrets:  # no early exit: time does not depend on which secret matched
        ok |= hmac.compare_digest(given, secret.get_secret_value().encode())
    return ok


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
    user_ok = hmac.compare_digest(user.encode(), auth.username.encode())
    return bool(sep) and user_ok & _equals_any(password, auth.all_passwords())


def _verify_hmac(auth: HmacAuth, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    presented = headers.get(auth.header.lower())
    if presented is None:
        return False
    signed = body
    if auth.timestamp_header:
        stamp = headers.get(auth.timestamp_header.lower(), "")
        try:
            when = float(stamp)
        except ValueError:
            return False
        if abs(now - when) > auth.tolerance_seconds:
            return False
        signed = stamp.encode() + b"." + body
    # A header may carry several space-separated signatures (standard-webhooks rotation).
    candidates = [c for c in presented.split(" ") if c]
    ok = False
    for secret in auth.all_secrets():
        digest = hmac.new(secret.get_secret_value().encode(), signed, hashlib.sha256).digest()
        expected = auth.prefix + (
            digest.hex() if auth.encoding == "hex" else base64.b64encode(digest).decode()
        )
        for candidate in candidates:
            ok |= hmac.compare_digest(candidate.encode(), expected.encode())
    return ok
