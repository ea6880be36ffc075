"""Source authentication: who may POST to ``/hooks/<source>``.

Schemes: ``none``, ``header`` (a named header equals a secret), ``bearer``, ``query`` (a
parameter equals a secret, in the URL or else in a form body; for Five9 and VICIdial, which can
send nothing else), ``body-token`` (a field of the JSON body equals a secret; Aircall),
``basic``,
``hmac`` (HMAC-SHA256 of the raw body, optionally with a signed timestamp and message id;
``preset: standard-webhooks`` sets the Standard Webhooks headers and format),
``twilio-signature`` (``relay.config.auth_twilio``: Twilio signs the URL and the form),
``jwt`` (``relay.config.auth_jwt``: the body is an HMAC-signed JWT; Dialpad),
``verification-token`` (RingCentral: a header equals a secret, and the subscription's
``Validation-Token`` handshake is answered: ``handshake``), and ``firehose`` (a Kinesis Data
Firehose access key; the source speaks Firehose's delivery protocol).

Each scheme is a class (its config model, on ``relay.config.auth_base.AuthScheme``) with
``verify(headers=, query=, body=)`` (and ``url=``, the request's URL as seen, which only a
scheme with ``needs_url`` reads), which
raises ``AuthError`` unless the request carries a valid credential, and ``openapi_scheme()``,
its OpenAPI security scheme (``relay.intake.openapi`` lists ``AUTH_SCHEMES`` in that order).

Every comparison is constant-time, and independent of the presented value's length (both
sides are hashed first). Every scheme accepts several secrets so one can be rotated without
downtime. Failures raise one ``AuthError`` that never says which part failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import unquote_plus, unquote_to_bytes

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from relay.config.auth_base import (
    MIN_SECRET_CHARS,
    AuthScheme,
    RequestURL,
    _api_key,
    _digest,
    _equals_any,
    _Secret,
    _Secrets,
    _Strings,
)
from relay.config.auth_jwt import JwtAuth
from relay.config.auth_twilio import TwilioSignatureAuth
from relay.config.body_token import checked_path, split_path, token_at, without_token
from relay.exceptions import AuthError

__all__ = [
    "AUTH_SCHEMES",
    "AuthConfig",
    "AuthScheme",
    "BasicAuth",
    "BearerAuth",
    "BodyTokenAuth",
    "FirehoseAuth",
    "HeaderAuth",
    "HmacAuth",
    "JwtAuth",
    "NoAuth",
    "QueryAuth",
    "RequestURL",
    "TwilioSignatureAuth",
    "VerificationTokenAuth",
    "hmac_key",
]

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


class _HeaderSecrets(_Secrets):
    """Secrets sent in an HTTP header: printable ASCII only, or no client could send them."""

    @model_validator(mode="after")
    def _printable(self) -> _HeaderSecrets:
        for s in self.all_secrets():
            value = s.get_secret_value()
            if not (value.isascii() and value.isprintable()) or value != value.strip():
                raise ValueError("a secret sent in a header must be printable ASCII")
        return self


class NoAuth(AuthScheme):
    """``type: none``: anyone may send (pair it with ``allow_ips``)."""

    type: Literal["none"]

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        return True


class HeaderAuth(_HeaderSecrets):
    """``type: header``: a named header equals a secret."""

    type: Literal["header"]
    header: str = "X-Relay-Token"

    _name = field_validator("header")(_header_name)

    openapi_name: ClassVar[str | None] = "headerToken"

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        name = cls.model_fields["header"].default
        return _api_key("header", name, "`auth: {type: header}`; the header name is per source.")

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        return _equals_any(headers.get(self.header.lower()), self.all_secrets())


class FirehoseAuth(_HeaderSecrets):
    """``type: firehose``: a Kinesis Data Firehose HTTP endpoint destination's access key
    (``X-Amz-Firehose-Access-Key``, sent as configured). The source then speaks Firehose's
    delivery protocol: a batch of base64 records in, Firehose's JSON answer out
    (``relay.intake.firehose``)."""

    type: Literal["firehose"]

    openapi_name: ClassVar[str | None] = "firehoseAccessKey"
    HEADER: ClassVar[str] = "x-amz-firehose-access-key"

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        return _api_key("header", "X-Amz-Firehose-Access-Key", "`type: firehose`.")

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        return _equals_any(headers.get(self.HEADER), self.all_secrets())


class BearerAuth(_HeaderSecrets):
    """``type: bearer``: ``Authorization: Bearer <secret>``."""

    type: Literal["bearer"]

    openapi_name: ClassVar[str | None] = "bearerToken"

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        return {"type": "http", "scheme": "bearer", "description": "`type: bearer`."}

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and _equals_any(token.strip(), self.all_secrets())


_FORM_TYPE = "application/x-www-form-urlencoded"


def _is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == _FORM_TYPE


def _field_name(pair: bytes) -> bytes:
    """The decoded name of one ``name=value`` pair of a form body."""
    return unquote_to_bytes(pair.split(b"=", 1)[0].replace(b"+", b" "))


class QueryAuth(_Secrets):
    """``type: query``: a parameter equals a secret (for senders that can do nothing else).

    The parameter is read from the URL's query string, else (when the URL has none) from an
    ``application/x-www-form-urlencoded`` body: a Five9 POST connector sends its constants
    there. Wherever it came from, ``without_secret`` removes it before anything maps, logs,
    previews or stores the request.
    """

    type: Literal["query"]
    param: str = Field(default="token", min_length=1)

    openapi_name: ClassVar[str | None] = "queryToken"
    secret_in_body: ClassVar[bool] = True

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        name = cls.model_fields["param"].default
        return _api_key(
            "query",
            name,
            "`type: query` (Five9, VICIdial); the parameter is per source. A form body may "
            "carry it instead (a Five9 POST constant); the URL's wins.",
        )

    def presented(self, headers: _Strings, query: _Strings, body: bytes) -> str | None:
        """The secret the request presents: the URL's parameter first, else the form body's
        (its last occurrence, as the form is parsed for the mapping)."""
        if self.param in query:
            return query[self.param]
        if not body or not _is_form(headers.get("content-type")):
            return None
        wanted = self.param.encode("utf-8")
        found: bytes | None = None
        for pair in body.split(b"&"):
            if _field_name(pair) == wanted:
                found = pair.partition(b"=")[2]  # b"" when the pair has no value
        if found is None:
            return None
        return unquote_plus(found.decode("utf-8", "surrogateescape"), errors="surrogateescape")

    def without_secret(
        self, query: Mapping[str, str], content_type: str | None, body: bytes
    ) -> tuple[dict[str, str], bytes]:
        """``query`` and ``body`` without the secret parameter; the rest of a form body is
        kept byte for byte (a replay parses what the dialer sent)."""
        kept = {k: v for k, v in query.items() if k != self.param}
        if not body or not _is_form(content_type):
            return kept, body
        wanted = self.param.encode("utf-8")
        pairs = body.split(b"&")
        remaining = [pair for pair in pairs if _field_name(pair) != wanted]
        return kept, body if len(remaining) == len(pairs) else b"&".join(remaining)

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        return _equals_any(self.presented(headers, query, body), self.all_secrets())


class BodyTokenAuth(_Secrets):
    """``type: body-token``: the JSON body's string at ``path`` (dotted) equals a secret
    (Aircall); ``without_secret`` removes the field before anything maps, logs or stores."""

    type: Literal["body-token"]
    path: str = "token"

    openapi_name: ClassVar[str | None] = "bodyToken"
    secret_in_body: ClassVar[bool] = True

    _dotted = field_validator("path")(checked_path)

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        return _api_key(  # OpenAPI has no body field: the description says where it is
            "header",
            "X-Body-Token",
            "`type: body-token` (Aircall): not a header; the JSON body's field at `path` "
            "(default `token`) equals the secret.",
        )

    def without_secret(
        self, query: Mapping[str, str], content_type: str | None, body: bytes
    ) -> tuple[dict[str, str], bytes]:
        return dict(query), without_token(body, split_path(self.path))

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        return _equals_any(token_at(body, split_path(self.path)), self.all_secrets())


class BasicAuth(AuthScheme):
    """``type: basic``: HTTP Basic with the configured username and one of the passwords."""

    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: _Secret | None = None
    passwords: list[_Secret] = Field(default_factory=list)

    openapi_name: ClassVar[str | None] = "basicAuth"

    @model_validator(mode="after")
    def _need_one(self) -> BasicAuth:
        if ":" in self.username:
            raise ValueError("a Basic username cannot contain ':'")
        if self.password is None and not self.passwords:
            raise ValueError("set `password` (or `passwords`, a list, to rotate)")
        return self

    def all_passwords(self) -> list[SecretStr]:
        return ([self.password] if self.password is not None else []) + list(self.passwords)

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        return {"type": "http", "scheme": "basic", "description": "`type: basic`."}

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        user_ok = hmac.compare_digest(_digest(user.encode()), _digest(self.username.encode()))
        password_ok = _equals_any(password, self.all_passwords())
        return bool(sep) & user_ok & password_ok


class HmacAuth(_Secrets):
    """HMAC-SHA256 signatures; ``preset: standard-webhooks`` fills in that spec's choices.

    Signed content: the raw body; ``<timestamp>.<body>`` with ``timestamp_header``;
    ``<id>.<timestamp>.<body>`` with ``id_header`` too (Standard Webhooks). The signature
    header may carry several space-separated signatures. A secret written ``whsec_<base64>``
    is a Standard Webhooks key: its HMAC key is the decoded bytes. The query string is not
    signed, so it never reaches the mapping (``query_is_mapped``).
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

    openapi_name: ClassVar[str | None] = "hmacSignature"
    query_is_mapped: ClassVar[bool] = False  # the signature does not cover it

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

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        preset = ", ".join(
            f"`{_STANDARD_WEBHOOKS[h]}`" for h in ("id_header", "timestamp_header", "header")
        )
        return _api_key(
            "header",
            cls.model_fields["header"].default,
            "`type: hmac`: HMAC-SHA256 of the raw body "
            f"(with `preset: standard-webhooks`: {preset}).",
        )

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        presented = headers.get(self.header.lower())
        if not presented:
            return False
        try:
            signed = self._signed_content(headers, body, time.time() if now is None else now)
        except AuthError:
            return False
        # Several space-separated signatures: the sender's rotation (standard-webhooks).
        candidates = [c for c in (self._decode_signature(p) for p in presented.split()) if c]
        ok = False
        for secret in self.all_secrets():
            expected = hmac.new(hmac_key(secret), signed, hashlib.sha256).digest()
            for candidate in candidates:
                ok |= hmac.compare_digest(candidate, expected)
        return ok

    def _signed_content(self, headers: Mapping[str, str], body: bytes, now: float) -> bytes:
        """What the sender signed; ``AuthError`` when its timestamp or id is missing or bad."""
        if not self.timestamp_header:
            return body
        stamp = headers.get(self.timestamp_header.lower(), "")
        if not _TIMESTAMP.match(stamp):  # integer seconds only: no NaN, no 1e9, no spaces
            raise AuthError("authentication failed")
        if abs(now - int(stamp)) > self.tolerance_seconds:  # too old (a replay) or too new
            raise AuthError("authentication failed")
        if not self.id_header:
            return stamp.encode() + b"." + body
        msg_id = headers.get(self.id_header.lower(), "")
        if not msg_id or "." in msg_id:  # the spec forbids '.', which would shift the fields
            raise AuthError("authentication failed")
        return msg_id.encode() + b"." + stamp.encode() + b"." + body

    def _decode_signature(self, candidate: str) -> bytes | None:
        if not candidate.startswith(self.prefix):
            return None  # e.g. a "v1a," (asymmetric) signature next to our "v1," one
        encoded = candidate[len(self.prefix) :]
        try:
            if self.encoding == "hex":
                return bytes.fromhex(encoded) if len(encoded) == 64 else None
            return base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            return None


#: RingCentral's handshake token: what is echoed must look like a token (no CR/LF, bounded).
_ECHOABLE = re.compile(r"^[A-Za-z0-9._~+/=-]{1,128}$")


class VerificationTokenAuth(HeaderAuth):
    """``type: verification-token``: RingCentral webhook subscriptions.

    Each notification carries the subscription's ``verificationToken`` in ``Verification-Token``
    (RingCentral's guide also shows it as ``Validation-Token``: accepted as well). Creating the
    subscription sends a request with a ``Validation-Token`` header, no ``Verification-Token``
    and no notification body: ``handshake`` returns the token to echo (token-shaped only).
    """

    type: Literal["verification-token"]  # type: ignore[assignment]
    header: str = "Verification-Token"

    openapi_name: ClassVar[str | None] = "verificationToken"

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        text = "`type: verification-token` (RingCentral); `Validation-Token` is echoed."
        return _api_key("header", cls.model_fields["header"].default, text)

    def handshake(self, headers: _Strings, body: bytes) -> str | None:
        token = headers.get("validation-token")
        if token is None or self.header.lower() in headers or body.strip(b" \t\r\n{}"):
            return None
        return token if _ECHOABLE.match(token) else None

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        presented = headers.get(self.header.lower(), headers.get("validation-token"))
        return _equals_any(presented, self.all_secrets())


AuthConfig = Annotated[
    NoAuth
    | HeaderAuth
    | BearerAuth
    | QueryAuth
    | BodyTokenAuth
    | BasicAuth
    | HmacAuth
    | TwilioSignatureAuth
    | JwtAuth
    | VerificationTokenAuth
    | FirehoseAuth,
    Field(discriminator="type"),
]

#: Every scheme, in the order of the OpenAPI document's ``security`` alternatives.
AUTH_SCHEMES: tuple[type[AuthScheme], ...] = (
    HeaderAuth,
    BearerAuth,
    QueryAuth,
    BodyTokenAuth,
    BasicAuth,
    HmacAuth,
    TwilioSignatureAuth,
    JwtAuth,
    VerificationTokenAuth,
    FirehoseAuth,
    NoAuth,
)


def hmac_key(secret: SecretStr) -> bytes:
    """The HMAC key of ``secret``: base64-decoded for ``whsec_`` keys, else its UTF-8 bytes."""
    value = secret.get_secret_value()
    if not value.startswith(_WHSEC):
        return value.encode()
    try:
        key = base64.b64decode(value[len(_WHSEC) :], validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    if len(key) < MIN_SECRET_CHARS:
        raise ValueError(f"a whsec_ secret must decode to at least {MIN_SECRET_CHARS} bytes")
    return key
