"""Signing in and out of the console with ``RELAY_ADMIN_TOKEN``.

``GET /console/login`` shows the form; ``POST /console/login`` checks the token (constant
time; ``LOGIN_ATTEMPTS`` failures per client address per minute, then 429) and sets the
session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, path ``/console``). Each sign-in
and each failure is logged (``console_login``, ``console_login_failed``: the client address,
never what was typed). ``POST /console/logout`` (CSRF-checked) ends the browser's session.
"""

from __future__ import annotations

import time

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from relay.console.session import Session
from relay.console.web import (
    PREFIX,
    Console,
    FormTooLarge,
    client_of,
    form_of,
    safe_next,
    secured,
)

__all__ = ["routes"]

log = structlog.get_logger("relay.console")


def routes(console: Console) -> list[Route]:
    async def show(request: Request) -> Response:
        if console.signer is None:
            return secured(PlainTextResponse("Not Found", status_code=404))
        if console.session_of(request) is not None:
            return secured(RedirectResponse(safe_next(request.query_params.get("next")), 303))
        return console.render(
            request, "login.html", next=safe_next(request.query_params.get("next"))
        )

    async def submit(request: Request) -> Response:
        signer = console.signer
        if signer is None:
            return secured(PlainTextResponse("Not Found", status_code=404))
        client, now = client_of(request), time.time()
        target = safe_next(request.query_params.get("next"))
        if not console.login_allowed(client, now=now):
            log.warning("console_login_refused", client=client, reason="too many failures")
            return console.render(
                request,
                "login.html",
                status_code=429,
                next=target,
                error="Too many failed attempts: wait a minute.",
            )
        try:
            form = await form_of(request)
        except FormTooLarge:
            return secured(PlainTextResponse("Form too large", status_code=413))
        target = safe_next(form.first("next") or target)
        if not signer.token_matches(form.first("token") or ""):
            console.login_failed(client, now=now)
            log.warning("console_login_failed", client=client)
            return console.render(
                request,
                "login.html",
                status_code=401,
                next=target,
                error="That is not the admin token.",
            )
        session, cookie = signer.issue(now=now)
        log.info("console_login", who=session.who, client=client)
        response = RedirectResponse(target, 303)
        console.set_session_cookie(response, request, cookie)
        return secured(response)

    async def logout(request: Request, session: Session) -> Response:
        console.audit(request, session, "logout")
        response = RedirectResponse(f"{PREFIX}/login", 303)
        console.clear_session_cookie(response, request)
        return response

    return [
        Route("/login", show, methods=["GET"]),
        Route("/login", submit, methods=["POST"]),
        Route("/logout", console.page(logout), methods=["POST"]),
    ]
