"""``type: jwt``: the request body is a compact JWT signed with HMAC (Dialpad call events;
docs/vendors/dialpad.md). The codec is ``relay.config.jwt``."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from relay.config import jwt
from relay.config.auth_base import _Secrets, _Strings
from relay.exceptions import MappingError, Problem

__all__ = ["JwtAuth"]


class JwtAuth(_Secrets):
    """``type: jwt``: the body is a compact JWT signed with one of the secrets (UTF-8 bytes),
    by an algorithm of ``algorithms`` (pinned: the token's header cannot choose another, nor
    ``none``); ``exp``/``nbf``, when present, are honoured give or take ``leeway_seconds``.
    The claims are the request's data, whatever the Content-Type (``body_data``); the query
    is not signed, so it is not mapped."""

    type: Literal["jwt"]
    algorithms: list[Literal["HS256", "HS384", "HS512"]] = Field(default=["HS256"], min_length=1)
    leeway_seconds: float = Field(default=60.0, ge=0, le=3600)

    openapi_name: ClassVar[str | None] = "jwtBody"
    query_is_mapped: ClassVar[bool] = False

    @classmethod
    def openapi_scheme(cls) -> dict[str, Any] | None:
        text = "`type: jwt` (Dialpad): no header; the request body itself is a JWT (HS256)."
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": text}

    def _accepts(self, headers: _Strings, query: _Strings, body: bytes, now: float | None) -> bool:
        keys = [s.get_secret_value().encode() for s in self.all_secrets()]
        moment = time.time() if now is None else now
        try:
            jwt.verify(body, keys, self.algorithms, now=moment, leeway=self.leeway_seconds)
        except jwt.JwtError:
            return False
        return True

    def body_data(self, body: bytes) -> dict[str, Any]:
        """The claims of a body ``verify`` accepted (or of a kept one, for a replay); a JSON
        object body is taken as claims already decoded (``relay preview`` of an event)."""
        try:
            if body.lstrip().startswith(b"{"):
                return jwt.json_object(body)
            return jwt.claims(body)
        except jwt.JwtError as exc:
            raise MappingError([Problem("body", f"expected a JWT: {exc}")]) from None
