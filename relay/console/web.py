"""What every console page shares: sign-in, CSRF, the audit log, rendering, security headers.

``Console.page(handler)`` wraps a page's handler ``(request, session) -> Response``:

* while ``RELAY_ADMIN_TOKEN`` is unset, every console route answers 404 (as ``/admin/``);
* without a valid session cookie, a GET is sent to the sign-in page (``?next=`` the page, a
  path of the console only) and anything else is a 401;
* a state-changing request (POST) must carry the session's CSRF token (form field ``csrf`` or
  header ``X-CSRF-Token``) and, when the browser sends ``Origin``, come from this host:
  otherwise 403, logged as ``console_csrf_refused``;
* every answer gets a strict Content-Security-Policy (scripts and styles from the relay only),
  no framing, no referrer sent to other sites (``same-origin``: with ``no-referrer`` a browser
  sends ``Origin: null`` on a form POST, which the Origin check refuses), no caching.

State-changing handlers call ``Console.audit`` (``console_action``: who, from where, what).
Templates live in ``relay/console/templates`` and assets in ``relay/console/static``, both
inside the package (the wheel carries them; no CDN, no build step).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from relay import __version__
from relay.config.network import peer_is_trusted
from relay.console.session import COOKIE, Session, Signer
from relay.intake.runtime import RelayRuntime
from relay.obs.logs import mask_phones_in_text

__all__ = [
    "PREFIX",
    "Console",
    "Form",
    "FormTooLarge",
    "Handler",
    "client_of",
    "form_of",
    "safe_next",
    "secured",
]

log = structlog.get_logger("relay.console")

PREFIX = "/console"
CSRF_HEADER = "x-csrf-token"
#: Failed sign-ins allowed per client address within ``LOGIN_WINDOW`` seconds.
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW = 60.0
#: The largest form a page takes (the playground's pasted request and options).
MAX_FORM_BYTES = 1024 * 1024

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": _CSP,
    "x-frame-options": "DENY",
    # not "no-referrer": with it, browsers send ``Origin: null`` on a form's POST, which the
    # Origin check refuses; the console's URLs carry no secret and no whole phone number
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}

Handler = Callable[[Request, Session], Awaitable[Response]]


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _format_time(value: float | None) -> str:
    if not value:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))


def _format_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


class Console:
    """The console of one relay: its runtime, signer, templates and sign-in limits."""

    def __init__(self, runtime: RelayRuntime) -> None:
        self.runtime = runtime
        token = runtime.settings.admin_token
        self.signer = Signer(token) if token is not None else None
        self.env = Environment(
            loader=PackageLoader("relay.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _format_time
        self.env.filters["age"] = _format_age
        self.env.filters["masked"] = mask_phones_in_text
        self.env.globals["version"] = __version__
        self.env.globals["prefix"] = PREFIX
        self._failures: dict[str, list[float]] = {}

    # -- sign-in ---------------------------------------------------------------------------

    def session_of(self, request: Request) -> Session | None:
        if self.signer is None:
            return None
        return self.signer.check(request.cookies.get(COOKIE), now=time.time())

    def login_allowed(self, client: str, *, now: float) -> bool:
        """False once ``client`` failed ``LOGIN_ATTEMPTS`` times within ``LOGIN_WINDOW``."""
        recent = [t for t in self._failures.get(client, []) if t > now - LOGIN_WINDOW]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return len(recent) < LOGIN_ATTEMPTS

    def login_failed(self, client: str, *, now: float) -> None:
        if len(self._failures) > 10_000:  # bounded: forget everyone rather than grow
            self._failures.clear()
        self._failures.setdefault(client, []).append(now)

    def set_session_cookie(self, response: Response, request: Request, value: str) -> None:
        assert self.signer is not None
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.signer.ttl,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.over_https(request),
        )

    def over_https(self, request: Request) -> bool:
        """Whether the browser reached the console over HTTPS: directly, or through a proxy of
        ``RELAY_TRUSTED_PROXIES`` that says so (``X-Forwarded-Proto``, its first entry)."""
        if request.url.scheme == "https":
            return True
        if not peer_is_trusted(client_of(request), self.runtime.settings.trusted_proxies):
            return False
        proto = request.headers.get("x-forwarded-proto", "").split(",", 1)[0]
        return proto.strip().lower() == "https"

    def clear_session_cookie(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            COOKIE,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.over_https(request),
        )

    # -- pages -----------------------------------------------------------------------------

    def page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint serving ``handler`` to signed-in sessions (module docstring)."""

        async def endpoint(request: Request) -> Response:
            if self.signer is None:
                return secured(PlainTextResponse("Not Found", status_code=404))
            session = self.session_of(request)
            if session is None:
                if request.method == "GET":
                    target = quote(request.url.path + _query(request), safe="/?=&")
                    return secured(RedirectResponse(f"{PREFIX}/login?next={target}", 303))
                return secured(PlainTextResponse("Sign in first", status_code=401))
            try:
                if request.method not in ("GET", "HEAD"):
                    refused = await self.csrf_refusal(request, session)
                    if refused is not None:
                        return refused
                return secured(await handler(request, session))
            except FormTooLarge as exc:
                return secured(PlainTextResponse(str(exc), status_code=413))

        return endpoint

    async def csrf_refusal(self, request: Request, session: Session) -> Response | None:
        assert self.signer is not None
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
            log.warning("console_csrf_refused", reason="origin", client=client_of(request))
            return secured(PlainTextResponse("Cross-site request refused", status_code=403))
        presented = request.headers.get(CSRF_HEADER)
        if presented is None and _is_form(request):
            presented = (await form_of(request)).first("csrf")
        if not self.signer.csrf_matches(session, presented):
            log.warning("console_csrf_refused", reason="token", client=client_of(request))
            return secured(PlainTextResponse("Missing or stale CSRF token", status_code=403))
        return None

    def render(
        self,
        request: Request,
        template: str,
        session: Session | None = None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """The page ``template`` rendered with ``context`` (and the session's CSRF token)."""
        csrf = self.signer.csrf(session) if session is not None and self.signer else ""
        html = self.env.get_template(template).render(
            request_path=request.url.path, signed_in=session is not None, csrf=csrf, **context
        )
        return secured(HTMLResponse(html, status_code=status_code))

    def audit(self, request: Request, session: Session, action: str, **fields: Any) -> None:
        """One ``console_action`` log line: who (the session), from where, what."""
        log.info(
            "console_action", who=session.who, client=client_of(request), action=action, **fields
        )


def secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _query(request: Request) -> str:
    query = request.url.query
    return f"?{query}" if query else ""


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/x-www-form-urlencoded"


class Form:
    """A page's submitted form (URL-encoded; empty values kept), read once per request."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def first(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.pairs if k == name), default)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


class FormTooLarge(Exception):
    pass


async def form_of(request: Request) -> Form:
    """The request's URL-encoded form (``FormTooLarge`` past ``MAX_FORM_BYTES``)."""
    cached = getattr(request.state, "console_form", None)
    if isinstance(cached, Form):
        return cached
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge(f"the form is larger than {MAX_FORM_BYTES} bytes")
    form = Form(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    request.state.console_form = form
    return form


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of the console only (no open redirect)."""
    if not value or not value.startswith(PREFIX) or value.startswith("//") or "\\" in value:
        return PREFIX
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return PREFIX
    return value
