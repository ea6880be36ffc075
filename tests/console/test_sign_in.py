"""Signing in to the console: the cookie, CSRF, the refusals, the headers."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from pydantic import SecretStr
from structlog.testing import capture_logs

from relay.console.session import COOKIE, Signer
from tests.console.conftest import ADMIN_TOKEN, csrf_of, sign_in
from tests.support.relay_server import RelayThread


def test_without_an_admin_token_the_console_is_not_there(
    start_relay: Callable[..., RelayThread],
) -> None:
    relay = start_relay()
    for path in ("/console/", "/console/login", "/console/overview"):
        assert httpx.get(relay.url + path).status_code == 404
    reply = httpx.post(relay.url + "/console/login", data={"token": "x" * 20})
    assert reply.status_code == 404


def test_a_page_sends_a_stranger_to_sign_in_and_back(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay()
    with httpx.Client(base_url=relay.url) as client:
        reply = client.get("/console/overview?x=1")
        assert reply.status_code == 303
        assert reply.headers["location"] == "/console/login?next=/console/overview?x=1"
        form = client.get(reply.headers["location"])
        assert form.status_code == 200
        assert 'name="next" value="/console/overview?x=1"' in form.text
        signed = client.post(
            "/console/login", data={"token": ADMIN_TOKEN, "next": "/console/overview?x=1"}
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console/overview?x=1"
        assert client.get("/console/overview").status_code == 200


def test_the_session_cookie_is_httponly_strict_and_holds_no_token(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay()
    with httpx.Client(base_url=relay.url) as client:
        reply = sign_in(client)
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS it is set
    assert ADMIN_TOKEN not in cookie


def test_a_wrong_token_is_refused_then_the_client_is_slowed(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay()
    with httpx.Client(base_url=relay.url) as client:
        for _ in range(5):
            reply = sign_in(client, "not-the-admin-token-at-all")
            assert reply.status_code == 401
            assert COOKIE not in reply.headers.get("set-cookie", "")
            assert "not the admin token" in reply.text
        assert sign_in(client, ADMIN_TOKEN).status_code == 429
        assert client.get("/console/").status_code == 303


def test_a_forged_or_ended_cookie_is_no_session(console_relay: Callable[..., RelayThread]) -> None:
    relay = console_relay()
    other = Signer(SecretStr("another-admin-token-0123456789"))
    ours = Signer(SecretStr(ADMIN_TOKEN), ttl=-10)
    _, forged = other.issue(now=time.time())
    _, ended = ours.issue(now=time.time())
    for value in (forged, ended, "1.2.3", "garbage", forged.rsplit(".", 1)[0] + ".x"):
        with httpx.Client(base_url=relay.url, cookies={COOKIE: value}) as client:
            assert client.get("/console/").status_code == 303, value


def test_signing_out_needs_the_csrf_token_and_this_origin(signed_in: httpx.Client) -> None:
    page = signed_in.get("/console/")
    token = csrf_of(page.text)
    assert signed_in.post("/console/logout", data={}).status_code == 403
    assert signed_in.post("/console/logout", data={"csrf": "x" * 43}).status_code == 403
    cross = signed_in.post(
        "/console/logout", data={"csrf": token}, headers={"origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert signed_in.get("/console/").status_code == 200  # still signed in
    out = signed_in.post("/console/logout", data={"csrf": token})
    assert out.status_code == 303
    assert 'relay_console=""' in out.headers["set-cookie"]
    signed_in.cookies.clear()
    assert signed_in.get("/console/").status_code == 303


def test_a_post_without_a_session_is_401(console_relay: Callable[..., RelayThread]) -> None:
    relay = console_relay()
    assert httpx.post(relay.url + "/console/logout", data={"csrf": "x"}).status_code == 401


def test_next_never_leaves_the_console(console_relay: Callable[..., RelayThread]) -> None:
    relay = console_relay()
    for target in ("https://evil.example/", "//evil.example", "/metrics", "/console\\@evil"):
        with httpx.Client(base_url=relay.url) as client:
            reply = client.post("/console/login", data={"token": ADMIN_TOKEN, "next": target})
            assert reply.headers["location"] == "/console", target


def test_every_page_is_locked_down(signed_in: httpx.Client) -> None:
    for path in ("/console/", "/console/login", "/console/overview"):
        reply = signed_in.get(path, follow_redirects=True)
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["cache-control"] == "no-store"
        assert reply.headers["referrer-policy"] == "same-origin"
        assert "<script>" not in reply.text  # no inline script: the CSP would block it


def test_assets_are_served_from_the_package(console_relay: Callable[..., RelayThread]) -> None:
    relay = console_relay()
    for name, kind in (("console.css", "text/css"), ("console.js", "javascript")):
        reply = httpx.get(f"{relay.url}/console/static/{name}")
        assert reply.status_code == 200
        assert kind in reply.headers["content-type"]


def test_signing_in_and_out_is_logged_without_the_token(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay()
    with capture_logs() as logs, httpx.Client(base_url=relay.url) as client:
        assert sign_in(client, "not-the-admin-token-at-all").status_code == 401
        assert sign_in(client).status_code == 303
        token = csrf_of(client.get("/console/").text)
        assert client.post("/console/logout", data={"csrf": token}).status_code == 303
    events = {e["event"]: e for e in logs if str(e.get("event", "")).startswith("console_")}
    assert events["console_login_failed"]["client"] == "127.0.0.1"
    who = events["console_login"]["who"]
    assert who.startswith("session:") and events["console_login"]["client"] == "127.0.0.1"
    assert events["console_action"] == {
        "event": "console_action",
        "log_level": "info",
        "who": who,
        "client": "127.0.0.1",
        "action": "logout",
    }
    text = repr(logs)
    assert ADMIN_TOKEN not in text and "not-the-admin-token-at-all" not in text
