"""The console's sessions and CSRF tokens: signed, stateless, shared by every replica.

Signing in with ``RELAY_ADMIN_TOKEN`` gives a session cookie whose value is
``<expires>.<session id>.<signature>``: the expiry (epoch seconds), a random id, and an
HMAC-SHA256 over both, keyed by a key *derived* from the admin token (never the token itself,
which appears in no cookie, page or URL). Every replica holding the same token accepts it, and
changing the token signs every session out. A session's CSRF token is another HMAC of its id:
forms carry it in a hidden field, scripts in the ``X-CSRF-Token`` header.

``Session.who`` names a session in the audit log (``console_action``): the first characters of
its id, enough to tell sessions apart and useless for signing anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from pydantic import SecretStr

__all__ = ["COOKIE", "SESSION_SECONDS", "Session", "Signer"]

#: The session cookie's name.
COOKIE = "relay_console"
#: How long a session lasts after signing in (seconds).
SESSION_SECONDS = 12 * 3600

_KEY_LABEL = b"outboundiq-relay console session v1"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its random id and when the session ends."""

    sid: str
    expires: int

    @property
    def who(self) -> str:
        """The session's name in logs (not a credential)."""
        return f"session:{self.sid[:8]}"


class Signer:
    """Signs and checks session cookies and CSRF tokens with a key derived from the token."""

    def __init__(self, token: SecretStr, *, ttl: int = SESSION_SECONDS) -> None:
        raw = token.get_secret_value().encode()
        self._key = hmac.new(raw, _KEY_LABEL, hashlib.sha256).digest()
        self._token = hashlib.sha256(raw).digest()
        self.ttl = ttl

    def __repr__(self) -> str:
        return "Signer(<secret>)"

    def token_matches(self, presented: str) -> bool:
        """Whether ``presented`` is the admin token (constant time, whatever its length)."""
        digest = hashlib.sha256(presented.encode()).digest()
        return hmac.compare_digest(digest, self._token)

    def issue(self, *, now: float) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(secrets.token_urlsafe(18), int(now) + self.ttl)
        return session, f"{session.expires}.{session.sid}.{self._sign(session)}"

    def check(self, cookie: str | None, *, now: float) -> Session | None:
        """The session a cookie value carries, when its signature holds and it has not ended."""
        if not cookie or cookie.count(".") != 2:
            return None
        expires, sid, signature = cookie.split(".")
        if not expires.isdigit() or not sid:
            return None
        session = Session(sid, int(expires))
        if not hmac.compare_digest(signature, self._sign(session)):
            return None
        return session if session.expires > now else None

    def csrf(self, session: Session) -> str:
        """The CSRF token of ``session``."""
        return self._mac(b"csrf." + session.sid.encode())

    def csrf_matches(self, session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf(session), presented or "")

    def _sign(self, session: Session) -> str:
        return self._mac(f"session.{session.expires}.{session.sid}".encode())

    def _mac(self, message: bytes) -> str:
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
