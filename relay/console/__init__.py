"""The console: web pages served by the relay at ``/console`` (docs/console.md).

Off unless ``RELAY_ADMIN_TOKEN`` is set. ``console_routes(runtime)`` is the ``Mount`` the app
adds; each page lives in its own module and is wrapped by ``Console.page`` (``relay.console.web``:
sign-in, CSRF, audit log, security headers).
"""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from relay.console import dials, live, login, overview, playground, stores
from relay.console.dead import DeadPage
from relay.console.rejected import RejectedPage
from relay.console.web import PREFIX, Console
from relay.intake.runtime import RelayRuntime

__all__ = ["console_routes"]


def console_routes(runtime: RelayRuntime) -> Mount:
    """Every console route, under ``/console``."""
    console = Console(runtime)
    routes = [
        Route("/", console.page(overview.handler(console)), methods=["GET"]),
        Route("/overview", console.page(overview.fragment(console)), methods=["GET"]),
        Route("/playground", console.page(playground.handler(console)), methods=["GET", "POST"]),
        Route("/playground/result", console.page(playground.fragment(console)), methods=["POST"]),
        Route("/live", console.page(live.handler(console)), methods=["GET"]),
        Route("/events", live.stream(console), methods=["GET"]),
        Route("/dials", console.page(dials.handler(console)), methods=["GET", "POST"]),
        Route(
            "/dials/{source}/{dial_id:path}",
            console.page(dials.timeline(console)),
            methods=["GET"],
        ),
        *login.routes(console),
        *stores.routes(console, RejectedPage(console)),
        *stores.routes(console, DeadPage(console)),
        Mount("/static", StaticFiles(packages=[("relay.console", "static")]), name="static"),
    ]
    return Mount(PREFIX, routes=routes)
