"""What every auth scheme shares: the ``AuthScheme`` base, secrets, constant-time comparison,
and ``RequestURL`` (the request's URL as seen, for a scheme that signs the URL: Twilio).

``relay.config.auth`` (the ``AuthConfig`` union) and the scheme modules beside it
(``relay.config.auth_twilio``) build on this; it imports none of them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from relay.exceptions import AuthError

__all__ = [
    "MIN_SECRET_CHARS",
    "AuthScheme",
    "RequestURL",
]


@dataclass(frozen=True, slots=True)
class RequestURL:
    """A request's URL as the relay saw it, and what a trusted proxy said about it.

    ``host`` is the ``Host`` header (with its port, if any); ``path`` the path the sender
    addressed (the hook's, also for a preview); ``query`` the raw query string, undecoded.
    ``forwarded_host``/``forwarded_proto`` are ``X-Forwarded-Host``/``-Proto`` (their first
    entry), set only when the TCP peer is a trusted proxy (``RELAY_TRUSTED_PROXIES``).
    """

    scheme: str
    host: str
    path: str
    query: str = ""
    forwarded_host: str | None = None
    forwarded_proto: str | None = None

    def base(self) -> str:
        """``scheme://host/path`` as the sender addressed it (no query)."""
        scheme = (self.forwarded_proto or self.scheme).lower()
        return f"{scheme}://{self.forwarded_host or self.host}{self.path}"


_Strings = Mapping[str, str]


#: The shortest secret accepted: one character, or whitespace, protects nothing.
MIN_SECRET_CHARS = 2


def _not_trivial(secret: SecretStr) -> SecretStr:
    """A configured secret, unless it is empty, one character or whitespace (the error names
    the field, never the value)."""
    if len(secret.get_secret_value().strip()) < MIN_SECRET_CHARS:
        raise ValueError(
            f"a secret must have at least {MIN_SECRET_CHARS} characters besides whitespace"
        )
    return secret


_Secret = Annotated[SecretStr, AfterValidator(_not_trivial)]


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


@functools.lru_cache(maxsize=256)
def _secret_digest(secret: str) -> bytes:
    """A configured secret's digest, computed once (it is compared on every webhook)."""
    return _digest(secret.encode())


def _equals_any(presented: str | None, secrets: Sequence[SecretStr]) -> bool:
    """Constant-time: no early exit, and no dependence on the presented value's length."""
    if presented is None:
        return False
    given = _digest(presented.encode("utf-8", "surrogateescape"))
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(given, _secret_digest(secret.get_secret_value()))
    return ok


def _api_key(where: str, name: str, description: str) -> dict[str, Any]:
    """An OpenAPI ``apiKey`` security scheme: a secret in a named header or query parameter."""
    return {"type": "apiKey", "in": where, "name": name, "description": description}


class AuthScheme(BaseModel):
    """A source's authentication: ``verify`` a request; ``openapi_scheme`` documents it."""

    model_config = ConfigDict(extra="forbid")

    #: Its name among the OpenAPI document's security schemes (None: no credential).
    openapi_name: ClassVar[str | None] = None
    #: Whether the query string may feed the mapping. False for a scheme that signs the body
    #: alone: an unsigned query would turn a captured request into new dials.
    query_is_mapped: ClassVar[bool] = True
    #: Whether ``verify`` needs the request's URL (``url=``): the intake builds it only then.
    needs_url: ClassVar[bool] = False
    #: Whether the secret may travel in the body (``without_secret`` then removes it there).
    secret_in_body: ClassVar[bool] = False

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        """Its OpenAPI security scheme, with the defaults (the document names no source)."""
        return None

    @property
    def public_hook_url(self) -> str | None:
        """The hook's public URL when the scheme is configured with it (Twilio's
        ``public_url``, the URL the sender signs); None for the others."""
        return None

    def without_secret(
        self, query: Mapping[str, str], content_type: str | None, body: bytes
    ) -> tuple[dict[str, str], bytes]:
        """``query`` and ``body`` without the secret, where the request carries it there."""
        return dict(query), body

    def verify(
        self,
        *,
        headers: _Strings,
        query: _Strings,
        body: bytes,
        now: float | None = None,
        url: RequestURL | None = None,
    ) -> None:
        """Raise ``AuthError`` unless the request carries a valid credential.

        ``headers`` has lower-case names; ``now`` (epoch seconds) defaults to the wall clock.
        ``url`` is the request's URL as the relay saw it: only a scheme that signs the URL
        (``needs_url``) reads it, and fails without it.
        """
        if not self._accepts_request(headers, query, body, now, url):
            raise AuthError("authentication failed")

    def _accepts_request(
        self,
        headers: _Strings,
        query: _Strings,
        body: bytes,
        now: float | None,
        url: RequestURL | None,
    ) -> bool:
        """A scheme that signs the URL overrides this; the others implement ``_accepts``."""
        return self._accepts(headers, query, body, now)

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        raise NotImplementedError

    def handshake(self, headers: _Strings, body: bytes) -> str | None:
        """The token to echo when the request is the sender's set-up handshake (answered
        before ``verify``, storing nothing); None for every scheme but RingCentral's."""
        return None


class _Secrets(AuthScheme):
    secret: _Secret | None = None
    secrets: list[_Secret] = Field(default_factory=list)

    @model_validator(mode="after")
    def _need_one(self) -> _Secrets:
        if self.secret is None and not self.secrets:
            raise ValueError("set `secret` (or `secrets`, a list, to rotate)")
        return self

    def all_secrets(self) -> list[SecretStr]:
        return ([self.secret] if self.secret is not None else []) + list(self.secrets)
