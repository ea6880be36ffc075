"""``type: twilio-signature``: Twilio's ``X-Twilio-Signature`` (docs/vendors/twilio.md).

Twilio signs the full URL it requested (scheme, host, path and query string, as configured in
its console or API), followed by every POST parameter, sorted by name, each written as its
name immediately followed by its value (empty values included; a repeated name: its distinct
values, sorted). The key is the account's Auth Token; the digest HMAC-SHA1, in base64. A GET
callback signs the URL alone. A JSON body is not signed itself: Twilio adds ``bodySHA256``
(the body's hex SHA-256) to the URL and signs the URL only.

An account that opted into Webhook shared keys (Twilio's webhook configuration API) announces
it in ``X-Twilio-Webhooks-Signature-Settings: key=<name>,algorithm=HMAC_SHA256``: the same
string is then signed with a shared key (``shared_keys``) and that algorithm.

The URL Twilio signed is the public one; behind an ingress the relay sees another. A source's
``public_url`` (the hook's public URL, no query) decides; without it, a trusted proxy's
``X-Forwarded-Proto``/``-Host``, else the request's own scheme and ``Host``. As Twilio's own
validators do, the URL is tried with and without its port (Twilio drops the port of an https
URL before signing; some of its products keep it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from relay.config.auth_base import AuthScheme, RequestURL, _api_key, _Secret, _Strings

__all__ = [
    "SETTINGS_HEADER",
    "SIGNATURE_HEADER",
    "TwilioSignatureAuth",
    "signed_string",
    "twilio_signature",
    "url_variants",
]

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
_FORM = "application/x-www-form-urlencoded"


def signed_string(url: str, params: Iterable[tuple[str, str]]) -> str:
    """What Twilio signs: ``url``, then each parameter name followed by its value, by name
    (a repeated name: each distinct value, sorted), no separators."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    parts = [url]
    for name in sorted(by_name):
        parts.extend(name + value for value in sorted(by_name[name]))
    return "".join(parts)


def twilio_signature(
    key: str, url: str, params: Iterable[tuple[str, str]], sha256: bool = False
) -> str:
    """The ``X-Twilio-Signature`` of a request (what Twilio sends; tests sign with it)."""
    digest = hashlib.sha256 if sha256 else hashlib.sha1
    mac = hmac.new(key.encode(), signed_string(url, params).encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def url_variants(url: str) -> list[str]:
    """``url`` as given, and with its port removed or the scheme's default port added (the
    two forms Twilio's validators accept)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return [url]
    host = parts.netloc.rpartition("@")[2]
    if port is not None:
        bare = host[: host.rindex(":")]
        other = urlunsplit(parts._replace(netloc=bare))
    else:
        default = 443 if parts.scheme == "https" else 80
        other = urlunsplit(parts._replace(netloc=f"{host}:{default}"))
    return [url] if other == url else [url, other]


def _form_params(body: bytes) -> list[tuple[str, str]] | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return parse_qsl(text, keep_blank_values=True)


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class TwilioSignatureAuth(AuthScheme):
    """``type: twilio-signature``: Twilio's request signature (module doc)."""

    type: Literal["twilio-signature"]
    #: The Auth Token (``secrets``: several, e.g. primary and secondary while rotating).
    secret: _Secret | None = None
    secrets: list[_Secret] = Field(default_factory=list)
    #: Webhook shared keys, used when Twilio announces one in ``SETTINGS_HEADER``.
    shared_keys: list[_Secret] = Field(default_factory=list)
    #: The hook's public URL as configured at Twilio, without a query string.
    public_url: str | None = None

    openapi_name: ClassVar[str | None] = "twilioSignature"
    needs_url: ClassVar[bool] = True  # the URL (with its query) is what Twilio signs

    @model_validator(mode="after")
    def _need_one(self) -> TwilioSignatureAuth:
        if self.secret is None and not self.secrets and not self.shared_keys:
            raise ValueError("set `secret` (the Auth Token; `secrets`, a list, to rotate)")
        return self

    @property
    def public_hook_url(self) -> str | None:
        return self.public_url

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("public_url must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError(
                "public_url has no query string: Twilio's query is read from the request"
            )
        return value.strip()

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        return _api_key(
            "header",
            SIGNATURE_HEADER,
            "`type: twilio-signature`: base64 HMAC-SHA1 (Auth Token) of the public URL and "
            "the sorted form parameters (HMAC-SHA256 with a shared key when "
            f"`{SETTINGS_HEADER}` says so).",
        )

    def all_tokens(self) -> list[SecretStr]:
        return ([self.secret] if self.secret is not None else []) + list(self.secrets)

    def signed_url(self, url: RequestURL) -> str:
        """The URL Twilio signed: ``public_url`` (else the URL as seen) with the raw query."""
        base = self.public_url or url.base()
        return f"{base}?{url.query}" if url.query else base

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        return False  # the URL is signed: without it nothing verifies

    def _accepts_request(
        self,
        headers: _Strings,
        query: _Strings,
        body: bytes,
        now: float | None,
        url: RequestURL | None,
    ) -> bool:
        presented = _decode(headers.get(SIGNATURE_HEADER.lower()))
        keys, digest = self._keys(headers.get(SETTINGS_HEADER.lower()))
        if url is None or presented is None or digest is None or not keys:
            return False
        signed_url = self.signed_url(url)
        params: Sequence[tuple[str, str]] = []
        body_ok = True
        if body and _media(headers.get("content-type")) == _FORM:
            parsed = _form_params(body)
            if parsed is None:
                return False
            params = parsed
        elif body and not body.isspace():  # JSON: the URL's bodySHA256 vouches for the body
            declared = query.get("bodySHA256", "")
            actual = hashlib.sha256(body).hexdigest()
            body_ok = hmac.compare_digest(actual.encode(), declared.lower().encode("utf-8"))
        ok = False
        for candidate in url_variants(signed_url):
            message = signed_string(candidate, params).encode("utf-8")
            for key in keys:
                expected = hmac.new(key.get_secret_value().encode(), message, digest).digest()
                ok |= hmac.compare_digest(expected, presented)
        return ok and body_ok

    def _keys(self, settings: str | None) -> tuple[list[SecretStr], Any]:
        """The keys and digest to check: the Auth Tokens and SHA-1, or the shared keys and
        the algorithm ``settings`` names (no digest: an algorithm the relay does not know)."""
        if settings is None:
            return self.all_tokens(), hashlib.sha1
        fields = dict(
            item.strip().partition("=")[::2] for item in settings.split(",") if item.strip()
        )
        return list(self.shared_keys), _ALGORITHMS.get(fields.get("algorithm", "").upper())


def _decode(signature: str | None) -> bytes | None:
    if not signature:
        return None
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
